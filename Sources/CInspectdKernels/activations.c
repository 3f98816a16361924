// SiLU and GELU with their gradients: the U-Net applies SiLU after every group norm and the AMN
// GELU in every feed-forward, over millions of values per batch, and Swift's loops (baseline SSE2,
// no dispatch) spent 4-5 % of the U-Net's forward and a tenth of the AMN's own (non-GEMM) time
// there. Cloned per instruction set (vector_clones.h).

#include "inspectd_kernels.h"
#include "vector_clones.h"

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

// erf(x) from e = exp(-x²) by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, the form
// PyTorch's vectorised CPU kernels use); GELU has e already, as √(2π)·φ(x).
static inline float erf_given_exp(float x, float e) {
    float t = 1.0f / (1.0f + 0.3275911f * fabsf(x));
    float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t
                  + 0.254829592f) * t;
    return copysignf(1.0f - poly * e, x);
}

INSPECTD_CLONES
void inspectd_gelu(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float e = inspectd_exp(-0.5f * v * v);
        y[i] = 0.5f * v * (1.0f + erf_given_exp(v * 0.70710678f, e));
    }
}

INSPECTD_CLONES
void inspectd_gelu_backward(const float *g, const float *x, float *dx, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float e = inspectd_exp(-0.5f * v * v);
        float cdf = 0.5f * (1.0f + erf_given_exp(v * 0.70710678f, e));
        dx[i] = g[i] * (cdf + v * 0.39894228f * e);
    }
}
