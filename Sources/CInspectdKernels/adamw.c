// AdamW's update, run over all six million parameters every step: as a Swift loop it was 1 % of a
// step on one core. The arithmetic is the Swift loop's, operation for operation (no contraction,
// see Package.swift), so the result is the same to the bit; cloned per instruction set
// (vector_clones.h).

#include "inspectd_kernels.h"
#include "vector_clones.h"

INSPECTD_CLONES
void inspectd_adamw_update(float *restrict w, const float *restrict g, float *restrict m, float *restrict v,
                           size_t n, inspectd_adamw_step step) {
    for (size_t i = 0; i < n; i++) {
        m[i] = step.beta1 * m[i] + (1 - step.beta1) * g[i];
        v[i] = step.beta2 * v[i] + (1 - step.beta2) * g[i] * g[i];
        float denominator = sqrtf(v[i] / step.correction2) + step.epsilon;
        w[i] = w[i] * step.decay - step.step_size * m[i] / denominator;
    }
}
