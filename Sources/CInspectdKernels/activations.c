// SiLU and its gradient: the U-Net applies SiLU after every group norm, over millions of values
// per batch, and Swift's loop (baseline SSE2, no dispatch) spent 4-5 % of the U-Net's forward
// there. Same cloning as softmax.c.

#include "inspectd_kernels.h"

#if defined(__x86_64__) && defined(__clang__)
#define INSPECTD_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define INSPECTD_CLONES
#endif

INSPECTD_CLONES
void inspectd_silu(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + inspectd_exp(-x[i]));
}

INSPECTD_CLONES
void inspectd_silu_backward(const float *g, const float *x, float *dx, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + inspectd_exp(-x[i]));
        dx[i] = g[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}
