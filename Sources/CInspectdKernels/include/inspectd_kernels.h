#ifndef INSPECTD_KERNELS_H
#define INSPECTD_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/// e^x to within a few ulp (Cephes' expf: Cody-Waite reduction by ln 2, degree-5 polynomial), with
/// the exponent assembled from the bits of a rounded float rather than a trapping conversion, and
/// no branches or calls, so loops over it vectorise. Below -87.3 the result is 0, so -inf (a masked
/// attention score) gives exactly 0. Inline in the header so that Swift loops inline it too.
static inline float inspectd_exp(float x) {
    float clamped = fminf(fmaxf(x, -87.3f), 88.3f);
    // Adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits.
    float shifted = clamped * 1.44269504f + 12582912.0f;
    float k = shifted - 12582912.0f;
    float r = (clamped - k * 0.693359375f) + k * 2.1219444e-4f;
    float p = 1.98756915e-4f;
    p = p * r + 1.39819995e-3f;
    p = p * r + 8.3334519e-3f;
    p = p * r + 4.16657959e-2f;
    p = p * r + 1.66666655e-1f;
    p = p * r + 5.00000012e-1f;
    float mantissa = p * r * r + r + 1.0f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    uint32_t exponent = (uint32_t)(bits - 0x4B400000 + 127) << 23;
    float scale;
    memcpy(&scale, &exponent, sizeof scale);
    return x < -87.3f ? 0.0f : mantissa * scale;
}


/// Replaces row[0..<n] by its softmax (shifted by the row's maximum). A row that is all -inf
/// becomes zeros. Built for AVX-512, AVX2+FMA and baseline x86-64; the loader picks the widest
/// the CPU has (an ifunc), so the same binary runs everywhere.
void inspectd_softmax_row(float *row, size_t n);

/// The name of the variant `inspectd_softmax_row` runs on this CPU: "avx512", "avx2" or "baseline".
const char *inspectd_kernels_isa(void);

/// y[i] = x[i]·σ(x[i]) for i < n (y may be x). Cloned per instruction set like the softmax.
void inspectd_silu(const float *x, float *y, size_t n);

/// dx[i] = g[i]·σ(1 + x(1 − σ)) with σ = σ(x[i]): SiLU's backward from its input.
void inspectd_silu_backward(const float *g, const float *x, float *dx, size_t n);

/// y[i] = x·Φ(x), the exact GELU (Φ the standard normal CDF, erf to within 1.5e-7), y may be x.
void inspectd_gelu(const float *x, float *y, size_t n);

/// dx[i] = g[i]·(Φ(x) + x·φ(x)): GELU's backward from its input.
void inspectd_gelu_backward(const float *g, const float *x, float *dx, size_t n);

/// sums[j] += the sum over rows of x[r * cols + j]: the bias gradient of a linear layer from its
/// output gradient [rows, cols]. Cloned per instruction set like the softmax.
void inspectd_add_column_sums(const float *x, size_t rows, size_t cols, float *sums);

/// The sum of x[0..<n], in 16 interleaved partial sums (the same order on every CPU).
float inspectd_sum(const float *x, size_t n);

/// The sum of x[i]² over x[0..<n], accumulated in double.
double inspectd_sum_of_squares(const float *x, size_t n);

/// The scalars of one AdamW step: moments' decay rates, epsilon, the bias correction of the
/// second moment, the step size (learning rate over the first moment's correction) and the
/// decoupled weight decay factor (1 − learning rate · weight decay).
typedef struct {
    float beta1, beta2, epsilon, correction2, step_size, decay;
} inspectd_adamw_step;

/// One AdamW step over n parameters w with gradients g and moments m, v (all updated in place).
void inspectd_adamw_update(float *w, const float *g, float *m, float *v, size_t n, inspectd_adamw_step step);

/// Outputs per run of the depthwise kernel below: the scratch plane's rows must hold whole runs.
#define INSPECTD_DEPTHWISE_LANES 16

/// One channel plane of a depthwise convolution: out[y][x] = bias + Σ_t filter[t] ·
/// scratch[y · row_step + x + tap_offset[t]] for y < out_height, x < out_width, then ReLU6 if asked.
/// The scratch (zero-padded, split into stride phases by the caller) must be readable for whole
/// runs of INSPECTD_DEPTHWISE_LANES outputs past each row's end. Cloned per instruction set.
void inspectd_depthwise_plane(const float *scratch, const size_t *tap_offset, const float *filter, size_t taps,
                              float bias, size_t out_height, size_t out_width, size_t row_step, bool relu6, float *out);

/// The vector width, in floats, of the direct 3x3 convolution below on this CPU: 16 with AVX-512F,
/// 8 with AVX2 and FMA, 0 where it cannot run (the caller then lowers to im2col and sgemm).
size_t inspectd_conv3x3_lanes(void);

/// Output channels per block of the direct 3x3 convolution (its register block).
#define INSPECTD_CONV3X3_BLOCK 12

/// Packs 3x3 weights [out_channels, in_channels, 3, 3] for `inspectd_conv3x3`: blocks of
/// INSPECTD_CONV3X3_BLOCK output channels, [block][in_channel][tap][INSPECTD_CONV3X3_BLOCK],
/// zero-filled past out_channels; needs ceil(out_channels / B) * B * in_channels * 9 floats. With `transpose_flip`, `weight` is
/// [in_channels, out_channels, 3, 3] and is packed transposed and turned 180 degrees: the
/// convolution that gives the data gradient of the forward convolution with those weights.
/// Packs blocks first_block..<end_block, so callers can split the work between threads.
void inspectd_conv3x3_pack(const float *weight, size_t out_channels, size_t in_channels, bool transpose_flip,
                           size_t first_block, size_t end_block, float *packed);

/// Copies one image x [channels, height, width] into `padded` [channels, height + 2, width + 2]
/// with a border of zeros.
void inspectd_conv3x3_pad(const float *x, size_t channels, size_t height, size_t width, float *padded);

/// y[o] = bias[o] + sum over c, taps of w[o, c, tap] * x[c, shifted by the tap], for one image:
/// a 3x3 convolution with stride 1 and one pixel of zero padding, `padded` from
/// `inspectd_conv3x3_pad`, `packed` from `inspectd_conv3x3_pack`, y [out_channels, height, width].
/// Computes the output channels of blocks first_block..<end_block, so callers
/// can split one image between threads. `bias` may be NULL. `lanes` picks the AVX-512 (16) or the
/// AVX2 (8) kernel; it must not exceed `inspectd_conv3x3_lanes()`.
void inspectd_conv3x3(const float *padded, size_t in_channels, size_t height, size_t width,
                      const float *packed, size_t out_channels, const float *bias,
                      size_t first_block, size_t end_block, size_t lanes, float *y);

// allocator.c tunes glibc's malloc when the program loads: freed blocks below 32 MiB stay in the
// process for reuse, in one arena for all threads.

/// Hands the freed memory that malloc keeps for reuse (allocator.c) back to the kernel.
void inspectd_release_freed_memory(void);

#endif
