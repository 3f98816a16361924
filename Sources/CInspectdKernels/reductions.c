// Sums that a training step takes over millions of values: bias gradients (a linear layer's column
// sums, a convolution's plane sums) and the squared norm of every gradient for clipping. As Swift
// loops (baseline SSE2, and a running float sum that may not be reassociated, so one add at a time)
// they ran on one core while the other waited, about a tenth of a step in all. Cloned per
// instruction set (vector_clones.h); each clone adds in the same order, so all give the same bits.

#include "inspectd_kernels.h"
#include "vector_clones.h"

INSPECTD_CLONES
void inspectd_add_column_sums(const float *restrict x, size_t rows, size_t cols, float *restrict sums) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        for (size_t j = 0; j < cols; j++) sums[j] += row[j];
    }
}

INSPECTD_CLONES
float inspectd_sum(const float *x, size_t n) {
    float lane[LANES] = {0};
    size_t body = n - n % LANES;
    for (size_t i = 0; i < body; i += LANES)
        for (int j = 0; j < LANES; j++) lane[j] += x[i + j];
    float s = 0;
    for (int j = 0; j < LANES; j++) s += lane[j];
    for (size_t i = body; i < n; i++) s += x[i];
    return s;
}

INSPECTD_CLONES
double inspectd_sum_of_squares(const float *x, size_t n) {
    double lane[LANES] = {0};
    size_t body = n - n % LANES;
    for (size_t i = 0; i < body; i += LANES)
        for (int j = 0; j < LANES; j++) lane[j] += (double)x[i + j] * x[i + j];
    double s = 0;
    for (int j = 0; j < LANES; j++) s += lane[j];
    for (size_t i = body; i < n; i++) s += (double)x[i] * x[i];
    return s;
}
