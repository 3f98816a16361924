#ifndef INSPECTD_KERNELS_H
#define INSPECTD_KERNELS_H

#include <math.h>
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

/// Makes malloc keep freed blocks below 32 MiB for reuse instead of handing them back to the
/// kernel. Every op returns a fresh tensor of a size the same op asked for a moment ago; by
/// default glibc maps the large ones anew and unmaps them on free, so each one comes back as
/// pages the kernel must fault in and zero (a tenth of a training step, measured with perf).
/// No effect outside glibc.
void inspectd_keep_freed_memory(void);

/// Hands the freed memory that `inspectd_keep_freed_memory` keeps back to the kernel.
void inspectd_release_freed_memory(void);

#endif
