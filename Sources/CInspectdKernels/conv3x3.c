// Direct 3x3 convolution, stride 1, for AVX-512 and AVX2: the U-Net's convolutions are most of its
// time, and lowering them to im2col + sgemm spends a fifth of it copying (im2col, then OpenBLAS
// packing the same columns and the weights again for every tile). Here the weights are packed once
// per call and the input is read in place from a zero-padded copy.
//
// AVX-512 register block: 12 output channels x 2 vectors of 16 output positions = 24 accumulators.
// Per input channel and tap that is 2 vector loads (unaligned, so each spans two cache lines) and 12
// broadcasts for 24 FMAs, so the FMA units, not the loads, set the pace. One thread, 192->192
// channels: 149 GFLOP/s at 32x32 and 152 at 16x16, against 139 and 98-133 for 8 channels x 3
// vectors (a core's FMA peak here is about 155).
//
// AVX2 has 16 registers, not 32: 6 output channels (half a packed block) x 2 vectors of 8 positions
// = 12 accumulators, 2 inputs and a broadcast. Per tap, 8 loads for 12 FMAs, within two loads per
// cycle. Two threads at batch 8, against im2col + OpenBLAS's Haswell sgemm on the same (AVX-512)
// CPU: 96->96 at 32x32 5.7-5.9 ms against 6.8-8.0, 192->192 at 16x16 5.9-6.4 against 7.5-8.1,
// 192->192 at 8x8 1.7 against 2.0-2.1.

#include "inspectd_kernels.h"

#include <stdbool.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define INSPECTD_HAVE_DIRECT_CONV 1
#endif

enum { CO_BLOCK = INSPECTD_CONV3X3_BLOCK, VECTORS = 2, LANES16 = 16, LANES8 = 8, CO_HALF = CO_BLOCK / 2, CHUNK = 64 };

size_t inspectd_conv3x3_lanes(void) {
#ifdef INSPECTD_HAVE_DIRECT_CONV
    __builtin_cpu_init();
#ifndef INSPECTD_FLOAT_AVX2
    if (__builtin_cpu_supports("avx512f")) return LANES16;
#endif
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return LANES8;
#endif
    return 0;
}

void inspectd_conv3x3_pack(const float *weight, size_t out_channels, size_t in_channels, bool transpose_flip,
                           size_t first_block, size_t end_block, float *packed) {
    for (size_t b = first_block; b < end_block; b++)
        for (size_t c = 0; c < in_channels; c++)
            for (size_t tap = 0; tap < 9; tap++)
                for (size_t j = 0; j < CO_BLOCK; j++) {
                    size_t o = b * CO_BLOCK + j;
                    float v = 0;
                    if (o < out_channels) {
                        // The data gradient of a 3x3 convolution is the convolution of the output
                        // gradient with the weights' channel axes swapped and the taps turned 180°;
                        // `weight` is then [in_channels (the forward's outputs), out_channels, 3, 3].
                        v = transpose_flip ? weight[(c * out_channels + o) * 9 + (8 - tap)]
                                           : weight[(o * in_channels + c) * 9 + tap];
                    }
                    packed[((b * in_channels + c) * 9 + tap) * CO_BLOCK + j] = v;
                }
}

void inspectd_conv3x3_pad(const float *x, size_t channels, size_t height, size_t width, float *padded) {
    size_t pw = width + 2, plane = (height + 2) * pw;
    for (size_t c = 0; c < channels; c++) {
        float *dst = padded + c * plane;
        const float *src = x + c * height * width;
        memset(dst, 0, pw * sizeof(float));
        for (size_t y = 0; y < height; y++) {
            float *row = dst + (y + 1) * pw;
            row[0] = 0;
            memcpy(row + 1, src + y * width, width * sizeof(float));
            row[width + 1] = 0;
        }
        memset(dst + (height + 1) * pw, 0, pw * sizeof(float));
    }
}

#ifdef INSPECTD_HAVE_DIRECT_CONV
// The blocks below compute co_count (at most their channel count) output channels from co0 on, at
// VECTORS vectors of output positions: vector v starts at in_offset[v] in the padded input and
// out_offset[v] in y, and has lanes[v] positions (fewer at a row's end, 0 past the image's end).
// With `accumulate` they add onto y (a later chunk of input channels) instead of the bias.

__attribute__((target("avx512f")))
static void block16(const float *padded, size_t in_channels, size_t plane, size_t pw, const float *packed,
                    const size_t in_offset[VECTORS], const size_t out_offset[VECTORS], const size_t lanes[VECTORS],
                    bool accumulate, const float *bias, size_t co0, size_t co_count, size_t out_plane, float *y) {
    __mmask16 mask[VECTORS];
    for (int v = 0; v < VECTORS; v++) mask[v] = (__mmask16)((1u << lanes[v]) - 1);
    __m512 acc[CO_BLOCK][VECTORS];
    for (int j = 0; j < CO_BLOCK; j++) {
        if (accumulate && (size_t)j < co_count) {
            for (int v = 0; v < VECTORS; v++)
                acc[j][v] = _mm512_maskz_loadu_ps(mask[v], y + (co0 + j) * out_plane + out_offset[v]);
            continue;
        }
        __m512 b = _mm512_set1_ps(bias && (size_t)j < co_count ? bias[co0 + j] : 0.0f);
        for (int v = 0; v < VECTORS; v++) acc[j][v] = b;
    }
    const size_t taps[9] = {0, 1, 2, pw, pw + 1, pw + 2, 2 * pw, 2 * pw + 1, 2 * pw + 2};
    for (size_t c = 0; c < in_channels; c++) {
        const float *base = padded + c * plane;
        const float *w = packed + c * 9 * CO_BLOCK;
        for (int t = 0; t < 9; t++) {
            __m512 in[VECTORS];
            for (int v = 0; v < VECTORS; v++)
                in[v] = _mm512_maskz_loadu_ps(mask[v], base + in_offset[v] + taps[t]);
            for (int j = 0; j < CO_BLOCK; j++) {
                __m512 wj = _mm512_set1_ps(w[t * CO_BLOCK + j]);
                for (int v = 0; v < VECTORS; v++) acc[j][v] = _mm512_fmadd_ps(wj, in[v], acc[j][v]);
            }
        }
    }
    for (size_t j = 0; j < co_count; j++)
        for (int v = 0; v < VECTORS; v++)
            _mm512_mask_storeu_ps(y + (co0 + j) * out_plane + out_offset[v], mask[v], acc[j][v]);
}

// CO_HALF output channels, their weights at stride CO_BLOCK in the packed block. `full` is a
// constant at both call sites in block8, so the compiler makes one copy with plain loads and
// stores and one with masked ones.
__attribute__((target("avx2,fma"), always_inline))
static inline void half_block8(const float *padded, size_t in_channels, size_t plane, size_t pw, const float *packed,
                               const size_t in_offset[VECTORS], const size_t out_offset[VECTORS],
                               const __m256i mask[VECTORS], bool full, bool accumulate, const float *bias,
                               size_t co0, size_t co_count, size_t out_plane, float *y) {
    __m256 acc[CO_HALF][VECTORS];
    for (int j = 0; j < CO_HALF; j++) {
        if (accumulate && (size_t)j < co_count) {
            for (int v = 0; v < VECTORS; v++) {
                const float *src = y + (co0 + j) * out_plane + out_offset[v];
                acc[j][v] = full ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, mask[v]);
            }
            continue;
        }
        __m256 b = _mm256_set1_ps(bias && (size_t)j < co_count ? bias[co0 + j] : 0.0f);
        for (int v = 0; v < VECTORS; v++) acc[j][v] = b;
    }
    const size_t taps[9] = {0, 1, 2, pw, pw + 1, pw + 2, 2 * pw, 2 * pw + 1, 2 * pw + 2};
    for (size_t c = 0; c < in_channels; c++) {
        const float *base = padded + c * plane;
        const float *w = packed + c * 9 * CO_BLOCK;
        for (int t = 0; t < 9; t++) {
            __m256 in[VECTORS];
            for (int v = 0; v < VECTORS; v++) {
                const float *src = base + in_offset[v] + taps[t];
                in[v] = full ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, mask[v]);
            }
            for (int j = 0; j < CO_HALF; j++) {
                __m256 wj = _mm256_broadcast_ss(w + t * CO_BLOCK + j);
                for (int v = 0; v < VECTORS; v++) acc[j][v] = _mm256_fmadd_ps(wj, in[v], acc[j][v]);
            }
        }
    }
    for (size_t j = 0; j < co_count; j++)
        for (int v = 0; v < VECTORS; v++) {
            float *dst = y + (co0 + j) * out_plane + out_offset[v];
            if (full) _mm256_storeu_ps(dst, acc[j][v]);
            else _mm256_maskstore_ps(dst, mask[v], acc[j][v]);
        }
}

// A packed block as its two halves in turn, on the same input rows (still in L1). Whole vectors
// (every row a multiple of 8 wide, as the U-Net's) take the unmasked copy.
__attribute__((target("avx2,fma")))
static void block8(const float *padded, size_t in_channels, size_t plane, size_t pw, const float *packed,
                   const size_t in_offset[VECTORS], const size_t out_offset[VECTORS], const size_t lanes[VECTORS],
                   bool accumulate, const float *bias, size_t co0, size_t co_count, size_t out_plane, float *y) {
    __m256i mask[VECTORS];
    bool full = true;
    for (int v = 0; v < VECTORS; v++) {
        mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)lanes[v]), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        full = full && lanes[v] == LANES8;
    }
    for (size_t half = 0; half < co_count; half += CO_HALF) {
        size_t count = co_count - half < CO_HALF ? co_count - half : CO_HALF;
        if (full)
            half_block8(padded, in_channels, plane, pw, packed + half, in_offset, out_offset, mask, true, accumulate,
                        bias, co0 + half, count, out_plane, y);
        else
            half_block8(padded, in_channels, plane, pw, packed + half, in_offset, out_offset, mask, false, accumulate,
                        bias, co0 + half, count, out_plane, y);
    }
}
#endif

void inspectd_conv3x3(const float *padded, size_t in_channels, size_t height, size_t width,
                      const float *packed, size_t out_channels, const float *bias,
                      size_t first_block, size_t end_block, size_t lanes, float *y) {
#ifdef INSPECTD_HAVE_DIRECT_CONV
    size_t pw = width + 2, plane = (height + 2) * pw, out_plane = height * width;
    size_t per_row = (width + lanes - 1) / lanes, vectors = height * per_row;
    for (size_t b = first_block; b < end_block; b++) {
        size_t co0 = b * CO_BLOCK;
        size_t co_count = out_channels - co0 < CO_BLOCK ? out_channels - co0 : CO_BLOCK;
        // Input channels in chunks whose weights (27 KB) and input rows stay in L1 while the
        // block sweeps the image; each chunk after the first adds onto the stored sums.
        for (size_t c0 = 0; c0 < in_channels; c0 += CHUNK) {
            size_t chunk = in_channels - c0 < CHUNK ? in_channels - c0 : CHUNK;
            const float *w = packed + (b * in_channels + c0) * 9 * CO_BLOCK;
            const float *chunk_input = padded + c0 * plane;
            // Output vectors in row-major order, VECTORS at a time.
            for (size_t first = 0; first < vectors; first += VECTORS) {
                size_t in_offset[VECTORS], out_offset[VECTORS], used[VECTORS];
                for (int v = 0; v < VECTORS; v++) {
                    size_t k = first + v;
                    in_offset[v] = out_offset[v] = used[v] = 0;
                    if (k >= vectors) continue;
                    size_t row = k / per_row, x0 = (k % per_row) * lanes;
                    used[v] = width - x0 < lanes ? width - x0 : lanes;
                    in_offset[v] = row * pw + x0;
                    out_offset[v] = row * width + x0;
                }
                if (lanes == LANES16)
                    block16(chunk_input, chunk, plane, pw, w, in_offset, out_offset, used, c0 > 0, bias, co0, co_count,
                            out_plane, y);
                else
                    block8(chunk_input, chunk, plane, pw, w, in_offset, out_offset, used, c0 > 0, bias, co0, co_count,
                           out_plane, y);
            }
        }
    }
#else
    (void)padded; (void)in_channels; (void)height; (void)width; (void)packed;
    (void)out_channels; (void)bias; (void)first_block; (void)end_block; (void)lanes; (void)y;
#endif
}
