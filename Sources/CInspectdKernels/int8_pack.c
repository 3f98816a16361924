// Quantisers and packers for the int8 products (inspectd_int8.h): floats to bytes in the layouts
// the kernels read. Plain loops, cloned per instruction set; rounding is nearbyintf in the default
// mode (ties to even), so every clone gives the same bytes.

#include "inspectd_int8.h"
#include "inspectd_kernels.h"
#include "vector_clones.h"

#include <math.h>
#include <string.h>

// Clamped to the levels' range before rounding, which is the same as clamping after (the bounds
// are whole numbers) and leaves no integer clamp to do; huge values and infinities cannot overflow
// the conversion, and NaN ends at the lowest level (fmaxf returns the number).
static inline int32_t quantize(float x, float inverse_scale, int32_t zero_point) {
    float v = fminf(fmaxf(x * inverse_scale, (float)(-127 - zero_point)), (float)(127 - zero_point));
    return (int32_t)nearbyintf(v) + zero_point;
}

int32_t inspectd_i8_quantize(float x, float inverse_scale, int32_t zero_point) {
    return quantize(x, inverse_scale, zero_point);
}

INSPECTD_CLONES
void inspectd_i8_quantize_rows(const float *x, size_t rows, size_t cols, size_t x_stride, float inverse_scale,
                               int32_t zero_point, int8_t *out, size_t out_stride, int32_t *sums) {
    size_t padded = (cols + 3) / 4 * 4;
    for (size_t r = 0; r < rows; r++) {
        const float *src = x + r * x_stride;
        int8_t *dst = out + r * out_stride;
        int32_t sum = 0;
        for (size_t i = 0; i < cols; i++) {
            int32_t q = quantize(src[i], inverse_scale, zero_point);
            dst[i] = (int8_t)q;
            sum += q;
        }
        for (size_t i = cols; i < padded; i++) dst[i] = 0;
        if (sums) sums[r] = sum;
    }
}

// Positions 0..<count of four channels (`src[j]` NULL: a missing channel, its byte `zero`) into
// one 32-bit word per position: assembling whole words lets the loop run on vectors of positions,
// where storing byte by byte at a stride of 4 did not. Inlined into each clone, so that each
// vectorises it for its own instruction set.
__attribute__((always_inline)) static inline void quantize_quad(const float *const src[4], size_t count, float inverse_scale, int32_t zero_point,
                                 int32_t offset, uint8_t zero, uint32_t *restrict out) {
    if (src[0] && src[1] && src[2] && src[3]) {
        const float *restrict a = src[0], *restrict b = src[1], *restrict c = src[2], *restrict d = src[3];
        for (size_t p = 0; p < count; p++) {
            uint32_t w0 = (uint8_t)(quantize(a[p], inverse_scale, zero_point) + offset);
            uint32_t w1 = (uint8_t)(quantize(b[p], inverse_scale, zero_point) + offset);
            uint32_t w2 = (uint8_t)(quantize(c[p], inverse_scale, zero_point) + offset);
            uint32_t w3 = (uint8_t)(quantize(d[p], inverse_scale, zero_point) + offset);
            out[p] = w0 | w1 << 8 | w2 << 16 | w3 << 24;
        }
        return;
    }
    for (size_t p = 0; p < count; p++) {
        uint32_t word = 0;
        for (int j = 0; j < 4; j++) {
            uint32_t byte = src[j] ? (uint8_t)(quantize(src[j][p], inverse_scale, zero_point) + offset) : zero;
            word |= byte << (8 * j);
        }
        out[p] = word;
    }
}

INSPECTD_CLONES
void inspectd_i8_quantize_planes(const float *x, size_t channels, size_t positions, size_t x_stride, float inverse_scale,
                                 int32_t zero_point, int32_t offset, size_t column_stride,
                                 size_t first_quad, size_t end_quad, uint8_t *out) {
    uint8_t zero = (uint8_t)(zero_point + offset);
    for (size_t q = first_quad; q < end_quad; q++) {
        uint8_t *dst = out + q * column_stride * 4;
        const float *src[4];
        for (size_t j = 0; j < 4; j++) src[j] = 4 * q + j < channels ? x + (4 * q + j) * x_stride : NULL;
        quantize_quad(src, positions, inverse_scale, zero_point, offset, zero, (uint32_t *)(void *)dst);
        memset(dst + positions * 4, zero, (column_stride - positions) * 4);
    }
}

INSPECTD_CLONES
void inspectd_i8_quantize_padded(const float *x, size_t channels, size_t height, size_t width, float inverse_scale,
                                 int32_t zero_point, int32_t offset, size_t first_quad, size_t end_quad, uint8_t *out) {
    uint8_t zero = (uint8_t)(zero_point + offset);
    size_t pw = width + 2, plane = (height + 2) * pw;
    for (size_t q = first_quad; q < end_quad; q++) {
        uint8_t *dst = out + q * plane * 4;
        memset(dst, zero, pw * 4);
        memset(dst + (height + 1) * pw * 4, zero, pw * 4);
        for (size_t y = 0; y < height; y++) {
            uint8_t *row = dst + (y + 1) * pw * 4;
            memset(row, zero, 4);
            memset(row + (width + 1) * 4, zero, 4);
            const float *src[4];
            for (size_t j = 0; j < 4; j++) src[j] = 4 * q + j < channels ? x + ((4 * q + j) * height + y) * width : NULL;
            quantize_quad(src, width, inverse_scale, zero_point, offset, zero, (uint32_t *)(void *)(row + 4));
        }
    }
}

// The largest magnitude of x[0..<n], in LANES partial maxima (a single running maximum stays
// scalar); NaN is passed over, as fmaxf does.
__attribute__((always_inline)) static inline float largest_magnitude(const float *x, size_t n) {
    float lane[LANES] = {0};
    size_t body = n - n % LANES;
    for (size_t i = 0; i < body; i += LANES)
        for (int j = 0; j < LANES; j++) lane[j] = fmaxf(lane[j], fabsf(x[i + j]));
    float largest = 0.0f;
    for (int j = 0; j < LANES; j++) largest = fmaxf(largest, lane[j]);
    for (size_t i = body; i < n; i++) largest = fmaxf(largest, fabsf(x[i]));
    return largest;
}

INSPECTD_CLONES
float inspectd_largest_magnitude(const float *x, size_t rows, size_t cols, size_t stride) {
    float largest = 0.0f;
    for (size_t r = 0; r < rows; r++) largest = fmaxf(largest, largest_magnitude(x + r * stride, cols));
    return largest;
}

INSPECTD_CLONES
void inspectd_i8_quantize_rows_symmetric(const float *x, size_t rows, size_t cols, size_t x_stride, int8_t *out,
                                         size_t out_stride, float *scales, int32_t *sums) {
    size_t padded = (cols + 3) / 4 * 4;
    for (size_t r = 0; r < rows; r++) {
        const float *src = x + r * x_stride;
        float largest = largest_magnitude(src, cols);
        float scale = largest > 0.0f && largest <= 3.0e38f ? largest / 127.0f : 1.0f;
        float inverse = 1.0f / scale;
        int8_t *dst = out + r * out_stride;
        int32_t sum = 0;
        for (size_t i = 0; i < cols; i++) {
            int32_t q = quantize(src[i], inverse, 0);
            dst[i] = (int8_t)q;
            sum += q;
        }
        for (size_t i = cols; i < padded; i++) dst[i] = 0;
        scales[r] = scale;
        if (sums) sums[r] = sum;
    }
}

typedef float lane_floats __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t lane_ints __attribute__((vector_size(LANES * sizeof(int32_t))));

INSPECTD_CLONES
void inspectd_i8_softmax_rows(const float *scores, size_t rows, size_t cols, size_t stride, int8_t *out,
                              size_t out_stride, float *scales, int32_t *sums) {
    size_t padded = (cols + 3) / 4 * 4, body = cols - cols % LANES;
    for (size_t r = 0; r < rows; r++) {
        const float *row = scores + r * stride;
        int8_t *dst = out + r * out_stride;
        float lane[LANES];
        for (int j = 0; j < LANES; j++) lane[j] = -INFINITY;
        for (size_t i = 0; i < body; i += LANES)
            for (int j = 0; j < LANES; j++) lane[j] = row[i + j] > lane[j] ? row[i + j] : lane[j];
        float m = -INFINITY;
        for (int j = 0; j < LANES; j++) m = lane[j] > m ? lane[j] : m;
        for (size_t i = body; i < cols; i++) m = row[i] > m ? row[i] : m;
        if (m == -INFINITY) {
            memset(dst, 0, padded);
            scales[r] = 1.0f;
            if (sums) sums[r] = 0;
            continue;
        }
        // e = exp(s − m) is at most 1, reached by the largest score: 127·e are the levels, and the
        // row's 1/Σe goes into its scale, so the probabilities are never written as floats.
        // Both sums per lane, in registers (lane arrays were kept in memory, a store and reload
        // in every step's dependency chain; one running int32 was reduced across the vector).
        lane_floats lane_total = {0};
        lane_ints lane_sum = {0};
        for (size_t i = 0; i < body; i += LANES) {
            float e[LANES];
            int32_t q[LANES];
            for (int j = 0; j < LANES; j++) {
                e[j] = inspectd_exp(row[i + j] - m);
                q[j] = (int32_t)nearbyintf(e[j] * 127.0f);
                dst[i + j] = (int8_t)q[j];
            }
            lane_floats ev;
            lane_ints qv;
            memcpy(&ev, e, sizeof ev);
            memcpy(&qv, q, sizeof qv);
            lane_total += ev;
            lane_sum += qv;
        }
        float total = 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < LANES; j++) {
            total += lane_total[j];
            sum += lane_sum[j];
        }
        for (size_t i = body; i < cols; i++) {
            float e = inspectd_exp(row[i] - m);
            int32_t q = (int32_t)nearbyintf(e * 127.0f);
            dst[i] = (int8_t)q;
            sum += q;
            total += e;
        }
        for (size_t i = cols; i < padded; i++) dst[i] = 0;
        scales[r] = 1.0f / (127.0f * total);
        if (sums) sums[r] = sum;
    }
}

void inspectd_i8_rows_to_columns(const int8_t *rows, size_t count, size_t row_stride, size_t quads, int32_t offset,
                                 size_t column_stride, uint8_t *out) {
    uint32_t shift = 0x01010101u * (uint32_t)(uint8_t)offset;
    for (size_t q = 0; q < quads; q++) {
        uint32_t *dst = (uint32_t *)(void *)(out + q * column_stride * 4);
        for (size_t j = 0; j < count; j++) {
            uint32_t word;
            memcpy(&word, rows + j * row_stride + 4 * q, sizeof word);
            // Adding the offset bytewise: 0 or 128 flips each byte's top bit, no carries.
            dst[j] = word ^ shift;
        }
        for (size_t j = count; j < column_stride; j++) dst[j] = shift;
    }
}

void inspectd_i8_patches(const uint8_t *planes, size_t channel_quads, size_t plane_stride, size_t height, size_t width,
                         size_t kh, size_t kw, size_t stride, size_t pad_top, size_t pad_left,
                         size_t out_height, size_t out_width, uint8_t fill, size_t column_stride, uint8_t *out) {
    uint32_t fill4 = 0x01010101u * fill;
    size_t columns = out_height * out_width;
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++)
            for (size_t cq = 0; cq < channel_quads; cq++) {
                size_t q = (ky * kw + kx) * channel_quads + cq;
                uint32_t *dst = (uint32_t *)(void *)(out + q * column_stride * 4);
                const uint32_t *src = (const uint32_t *)(const void *)(planes + cq * plane_stride * 4);
                // The output columns whose input column ox·stride + kx − pad_left is inside the image.
                size_t lo = kx >= pad_left ? 0 : (pad_left - kx + stride - 1) / stride;
                size_t hi = width + pad_left > kx ? (width + pad_left - kx - 1) / stride + 1 : 0;
                if (hi > out_width) hi = out_width;
                if (lo > hi) lo = hi;
                for (size_t oy = 0; oy < out_height; oy++) {
                    uint32_t *row = dst + oy * out_width;
                    size_t iy = oy * stride + ky;
                    if (iy < pad_top || iy - pad_top >= height) {
                        for (size_t ox = 0; ox < out_width; ox++) row[ox] = fill4;
                        continue;
                    }
                    const uint32_t *in = src + (iy - pad_top) * width;
                    for (size_t ox = 0; ox < lo; ox++) row[ox] = fill4;
                    if (stride == 1) {
                        memcpy(row + lo, in + lo + kx - pad_left, (hi - lo) * sizeof *row);
                    } else {
                        for (size_t ox = lo; ox < hi; ox++) row[ox] = in[ox * stride + kx - pad_left];
                    }
                    for (size_t ox = hi; ox < out_width; ox++) row[ox] = fill4;
                }
                for (size_t p = columns; p < column_stride; p++) dst[p] = fill4;
            }
}
