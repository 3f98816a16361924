// Softmax rows of the attention, the first elementwise loop hot enough (several percent of a
// training step) to want the wide vector units, cloned per instruction set (vector_clones.h).

#include "inspectd_kernels.h"
#include "vector_clones.h"

#include <math.h>
#include <string.h>

INSPECTD_CLONES
void inspectd_softmax_row(float *row, size_t n) {
    float lane[LANES];
    for (int j = 0; j < LANES; j++) lane[j] = -INFINITY;
    size_t body = n - n % LANES;
    for (size_t i = 0; i < body; i += LANES)
        for (int j = 0; j < LANES; j++) lane[j] = row[i + j] > lane[j] ? row[i + j] : lane[j];
    float m = -INFINITY;
    for (int j = 0; j < LANES; j++) m = lane[j] > m ? lane[j] : m;
    for (size_t i = body; i < n; i++) m = row[i] > m ? row[i] : m;
    if (m == -INFINITY) {
        memset(row, 0, n * sizeof *row);
        return;
    }

    for (int j = 0; j < LANES; j++) lane[j] = 0.0f;
    for (size_t i = 0; i < body; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float e = inspectd_exp(row[i + j] - m);
            row[i + j] = e;
            lane[j] += e;
        }
    float sum = 0.0f;
    for (size_t i = body; i < n; i++) {
        row[i] = inspectd_exp(row[i] - m);
        sum += row[i];
    }
    for (int j = 0; j < LANES; j++) sum += lane[j];

    float inv = 1.0f / sum;
    for (size_t i = 0; i < n; i++) row[i] *= inv;
}

const char *inspectd_kernels_isa(void) {
#if defined(__x86_64__) && defined(__clang__)
#ifdef INSPECTD_FLOAT_AVX2
    return "avx2 (forced at build)";
#endif
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
    return "baseline";
}
