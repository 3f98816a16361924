// Depthwise convolution over one channel plane, the backbone's most frequent layer. The Swift side
// lays the plane out zero-padded and split into stride phases (inspectd_kernels.h), so every tap of
// a run of outputs reads consecutive floats; here each run of LANES outputs of four rows keeps its
// sums in registers over all taps, one broadcast filter tap feeding the four rows. Cloned per
// instruction set (vector_clones.h): the fixed-width lane loops become one AVX-512 register per
// row, two AVX2 ones, or four SSE ones; the Swift SIMD8 version it replaced left half of an AVX-512
// core's width unused.

#include "inspectd_kernels.h"
#include "vector_clones.h"

_Static_assert(LANES == INSPECTD_DEPTHWISE_LANES, "the scratch layout's vector width must be the kernel's");

enum { ROWS = 4 };

static inline void store_run(const float *acc, size_t count, bool relu6, float *out) {
    for (size_t l = 0; l < count; l++) {
        float v = acc[l];
        if (relu6) v = v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
        out[l] = v;
    }
}

INSPECTD_CLONES
void inspectd_depthwise_plane(const float *scratch, const size_t *tap_offset, const float *filter, size_t taps,
                              float bias, size_t out_height, size_t out_width, size_t row_step, bool relu6, float *out) {
    size_t y = 0;
    for (; y + ROWS <= out_height; y += ROWS)
        for (size_t x0 = 0; x0 < out_width; x0 += LANES) {
            float acc[ROWS][LANES];
            for (int r = 0; r < ROWS; r++)
                for (int l = 0; l < LANES; l++) acc[r][l] = bias;
            const float *base = scratch + y * row_step + x0;
            for (size_t t = 0; t < taps; t++) {
                const float *p = base + tap_offset[t];
                float w = filter[t];
                for (int r = 0; r < ROWS; r++)
                    for (int l = 0; l < LANES; l++) acc[r][l] += w * p[(size_t)r * row_step + (size_t)l];
            }
            size_t count = out_width - x0 < LANES ? out_width - x0 : LANES;
            for (int r = 0; r < ROWS; r++) store_run(acc[r], count, relu6, out + (y + (size_t)r) * out_width + x0);
        }
    for (; y < out_height; y++)
        for (size_t x0 = 0; x0 < out_width; x0 += LANES) {
            float acc[LANES];
            for (int l = 0; l < LANES; l++) acc[l] = bias;
            const float *base = scratch + y * row_step + x0;
            for (size_t t = 0; t < taps; t++) {
                const float *p = base + tap_offset[t];
                float w = filter[t];
                for (int l = 0; l < LANES; l++) acc[l] += w * p[l];
            }
            store_run(acc, out_width - x0 < LANES ? out_width - x0 : LANES, relu6, out + y * out_width + x0);
        }
}
