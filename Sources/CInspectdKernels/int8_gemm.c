// Int8 products for quantised scoring (see inspectd_int8.h for the operands and the epilogue).
//
// Register blocks, each over the whole k so no partial sums leave the registers:
//   AVX-512 VNNI  12 rows x 2 vectors of 16 columns: 24 accumulators, 2 column loads and 12
//                 broadcast dwords per quad for 24 vpdpbusd (64 products each).
//   AVX-VNNI       6 rows x 2 vectors of 8 columns: 12 accumulators in 16 registers.
//   AVX2           4 rows x 2 vectors of 8 columns: per row and quad, |s| and s broadcast, then per
//                 vector sign, vpmaddubsw, vpmaddwd by ones, add.
// Rows go in chunks of CHUNK_BLOCKS register blocks: a chunk's rows stay in cache while every column
// panel passes under them, and each panel (k x 32 bytes) while the chunk's blocks pass over it. For a
// linear layer's thousands of tokens that keeps the rows from being read again per panel.

#include "inspectd_int8.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define INSPECTD_HAVE_X86 1
#endif

enum { GROUP = INSPECTD_I8_COLUMN_GROUP, CHUNK_BLOCKS = 8 };

bool inspectd_i8_path_runs(inspectd_i8_path path) {
    switch (path) {
    case INSPECTD_I8_PORTABLE:
        return true;
#ifdef INSPECTD_HAVE_X86
    case INSPECTD_I8_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
    case INSPECTD_I8_AVX_VNNI:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avxvnni")
            || (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl"));
    case INSPECTD_I8_AVX512_VNNI:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
#endif
    default:
        return false;
    }
}

inspectd_i8_path inspectd_i8_best_path(void) {
    for (int p = INSPECTD_I8_AVX512_VNNI; p > INSPECTD_I8_PORTABLE; p--)
        if (inspectd_i8_path_runs((inspectd_i8_path)p)) return (inspectd_i8_path)p;
    return INSPECTD_I8_PORTABLE;
}

const char *inspectd_i8_path_name(inspectd_i8_path path) {
    switch (path) {
    case INSPECTD_I8_PORTABLE: return "portable";
    case INSPECTD_I8_AVX2: return "avx2";
    case INSPECTD_I8_AVX_VNNI: return "avx-vnni";
    case INSPECTD_I8_AVX512_VNNI: return "avx512-vnni";
    }
    return "unknown";
}

int32_t inspectd_i8_column_offset(inspectd_i8_path path) {
    return path == INSPECTD_I8_AVX_VNNI || path == INSPECTD_I8_AVX512_VNNI ? 128 : 0;
}

// The epilogue of one output, in the order every path follows (the vector ones lane by lane).
static inline float finish(const inspectd_i8_epilogue *e, int32_t corrected, size_t r, size_t c) {
    float y = (float)corrected;
    if (e->row_scale) y = y * e->row_scale[r];
    if (e->column_scale) y = y * e->column_scale[c];
    if (e->row_bias) y = y + e->row_bias[r];
    if (e->column_bias) y = y + e->column_bias[c];
    if (e->activation == INSPECTD_I8_RELU6) y = y < 0.0f ? 0.0f : (y > 6.0f ? 6.0f : y);
    return y;
}

static inline int32_t corrected(const inspectd_i8_epilogue *e, int32_t sum, size_t r, size_t c) {
    if (e->row_correction) sum -= e->row_correction[r];
    if (e->column_correction) sum -= e->column_correction[c];
    return sum;
}

// One row's outputs for `count` consecutive columns from c, sums in `sums`.
static void store_scalar(const inspectd_i8_epilogue *e, const int32_t *sums, size_t r, size_t c, size_t count) {
    for (size_t i = 0; i < count; i++) {
        int32_t v = corrected(e, sums[i], r, c + i);
        if (e->raw) e->raw[r * e->out_stride + c + i] = v;
        else e->out[r * e->out_stride + c + i] = finish(e, v, r, c + i);
    }
}

static void gemm_portable(const int8_t *rows, size_t row_stride, size_t first_row, size_t end_row,
                          const uint8_t *columns, size_t column_stride, size_t first_column, size_t end_column,
                          size_t quads, const inspectd_i8_epilogue *e) {
    int32_t sums[GROUP];
    for (size_t c0 = first_column; c0 < end_column; c0 += GROUP) {
        size_t count = end_column - c0 < GROUP ? end_column - c0 : GROUP;
        for (size_t r = first_row; r < end_row; r++) {
            const int8_t *s = rows + r * row_stride;
            memset(sums, 0, sizeof sums);
            for (size_t q = 0; q < quads; q++) {
                const int8_t *v = (const int8_t *)columns + (q * column_stride + c0) * 4;
                for (size_t i = 0; i < count; i++)
                    for (int j = 0; j < 4; j++) sums[i] += (int32_t)s[4 * q + j] * (int32_t)v[4 * i + j];
            }
            store_scalar(e, sums, r, c0, count);
        }
    }
}

#ifdef INSPECTD_HAVE_X86

static inline int32_t load_quad(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

// --- AVX-512 VNNI ----------------------------------------------------------------------------

enum { R512 = 12, V512 = 2 };

#define TARGET_512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

TARGET_512 static inline void store16(const inspectd_i8_epilogue *e, __m512i sum, size_t r, size_t c, size_t count) {
    __mmask16 mask = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    if (e->row_correction) sum = _mm512_sub_epi32(sum, _mm512_set1_epi32(e->row_correction[r]));
    if (e->column_correction) sum = _mm512_sub_epi32(sum, _mm512_maskz_loadu_epi32(mask, e->column_correction + c));
    if (e->raw) {
        _mm512_mask_storeu_epi32(e->raw + r * e->out_stride + c, mask, sum);
        return;
    }
    __m512 y = _mm512_cvtepi32_ps(sum);
    if (e->row_scale) y = _mm512_mul_ps(y, _mm512_set1_ps(e->row_scale[r]));
    if (e->column_scale) y = _mm512_mul_ps(y, _mm512_maskz_loadu_ps(mask, e->column_scale + c));
    if (e->row_bias) y = _mm512_add_ps(y, _mm512_set1_ps(e->row_bias[r]));
    if (e->column_bias) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, e->column_bias + c));
    if (e->activation == INSPECTD_I8_RELU6)
        y = _mm512_min_ps(_mm512_max_ps(y, _mm512_setzero_ps()), _mm512_set1_ps(6.0f));
    _mm512_mask_storeu_ps(e->out + r * e->out_stride + c, mask, y);
}

// nr rows (≤ R512) from r0, nv vectors (≤ V512) of columns from c0; `count` real columns.
// Constant nr and nv at the call sites let the compiler unroll and keep acc in registers.
TARGET_512 __attribute__((always_inline))
static inline void block512(int nr, int nv, const int8_t *rows, size_t row_stride, size_t r0,
                            const uint8_t *columns, size_t column_stride, size_t c0, size_t count, size_t quads,
                            const inspectd_i8_epilogue *e) {
    __m512i acc[R512][V512];
    for (int i = 0; i < nr; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_setzero_si512();
    const int8_t *s = rows + r0 * row_stride;
    const uint8_t *col = columns + c0 * 4;
    for (size_t q = 0; q < quads; q++) {
        __m512i x[V512];
        for (int v = 0; v < nv; v++) x[v] = _mm512_loadu_si512(col + q * column_stride * 4 + v * 64);
        for (int i = 0; i < nr; i++) {
            __m512i w = _mm512_set1_epi32(load_quad(s + i * row_stride + 4 * q));
            for (int v = 0; v < nv; v++) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], x[v], w);
        }
    }
    for (int i = 0; i < nr; i++)
        for (int v = 0; v < nv; v++) {
            size_t done = (size_t)v * 16;
            if (done < count) store16(e, acc[i][v], r0 + i, c0 + done, count - done);
        }
}

#define ROWS_SWITCH(KERNEL, NV, ...)                                                                \
    switch (nr) {                                                                                   \
    case 1: KERNEL(1, NV, __VA_ARGS__); break;                                                      \
    case 2: KERNEL(2, NV, __VA_ARGS__); break;                                                      \
    case 3: KERNEL(3, NV, __VA_ARGS__); break;                                                      \
    case 4: KERNEL(4, NV, __VA_ARGS__); break;                                                      \
    case 5: KERNEL(5, NV, __VA_ARGS__); break;                                                      \
    case 6: KERNEL(6, NV, __VA_ARGS__); break;                                                      \
    case 7: KERNEL(7, NV, __VA_ARGS__); break;                                                      \
    case 8: KERNEL(8, NV, __VA_ARGS__); break;                                                      \
    case 9: KERNEL(9, NV, __VA_ARGS__); break;                                                      \
    case 10: KERNEL(10, NV, __VA_ARGS__); break;                                                    \
    case 11: KERNEL(11, NV, __VA_ARGS__); break;                                                    \
    default: KERNEL(12, NV, __VA_ARGS__); break;                                                    \
    }

TARGET_512 static void gemm_avx512_vnni(const int8_t *rows, size_t row_stride, size_t first_row, size_t end_row,
                                        const uint8_t *columns, size_t column_stride, size_t first_column,
                                        size_t end_column, size_t quads, const inspectd_i8_epilogue *e) {
    for (size_t chunk = first_row; chunk < end_row; chunk += CHUNK_BLOCKS * R512) {
        size_t chunk_end = end_row - chunk < CHUNK_BLOCKS * R512 ? end_row : chunk + CHUNK_BLOCKS * R512;
        for (size_t c0 = first_column; c0 < end_column; c0 += V512 * 16) {
            size_t count = end_column - c0 < V512 * 16 ? end_column - c0 : V512 * 16;
            for (size_t r0 = chunk; r0 < chunk_end; r0 += R512) {
                int nr = chunk_end - r0 < R512 ? (int)(chunk_end - r0) : R512;
                if (count > 16) {
                    ROWS_SWITCH(block512, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e)
                } else {
                    ROWS_SWITCH(block512, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e)
                }
            }
        }
    }
}

// --- 256-bit paths: AVX-VNNI (two encodings) and AVX2 ------------------------------------------

#define TARGET_AVX_VNNI __attribute__((target("avx2,avxvnni")))
#define TARGET_VNNI_VL __attribute__((target("avx2,avx512f,avx512vl,avx512vnni")))
#define TARGET_AVX2 __attribute__((target("avx2")))

// Eight columns of one row (lanes from `count` on are neither read nor stored).
TARGET_AVX2 static inline void store8(const inspectd_i8_epilogue *e, __m256i sum, size_t r, size_t c, size_t count) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count < 8 ? count : 8)), lane);
    if (e->row_correction) sum = _mm256_sub_epi32(sum, _mm256_set1_epi32(e->row_correction[r]));
    if (e->column_correction) sum = _mm256_sub_epi32(sum, _mm256_maskload_epi32(e->column_correction + c, mask));
    if (e->raw) {
        _mm256_maskstore_epi32(e->raw + r * e->out_stride + c, mask, sum);
        return;
    }
    __m256 y = _mm256_cvtepi32_ps(sum);
    if (e->row_scale) y = _mm256_mul_ps(y, _mm256_set1_ps(e->row_scale[r]));
    if (e->column_scale) y = _mm256_mul_ps(y, _mm256_maskload_ps(e->column_scale + c, mask));
    if (e->row_bias) y = _mm256_add_ps(y, _mm256_set1_ps(e->row_bias[r]));
    if (e->column_bias) y = _mm256_add_ps(y, _mm256_maskload_ps(e->column_bias + c, mask));
    if (e->activation == INSPECTD_I8_RELU6)
        y = _mm256_min_ps(_mm256_max_ps(y, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
    _mm256_maskstore_ps(e->out + r * e->out_stride + c, mask, y);
}


enum { R256 = 6, V256 = 2 };

// The AVX-VNNI block, built once per encoding: DOT is the 256-bit vpdpbusd of that encoding.
#define VNNI256(TARGET, NAME, GEMM, DOT)                                                            \
    TARGET __attribute__((always_inline)) static inline void NAME(                                  \
        int nr, int nv, const int8_t *rows, size_t row_stride, size_t r0, const uint8_t *columns,   \
        size_t column_stride, size_t c0, size_t count, size_t quads, const inspectd_i8_epilogue *e) { \
        __m256i acc[R256][V256];                                                                    \
        for (int i = 0; i < nr; i++)                                                                \
            for (int v = 0; v < nv; v++) acc[i][v] = _mm256_setzero_si256();                        \
        const int8_t *s = rows + r0 * row_stride;                                                   \
        const uint8_t *col = columns + c0 * 4;                                                      \
        for (size_t q = 0; q < quads; q++) {                                                        \
            __m256i x[V256];                                                                        \
            for (int v = 0; v < nv; v++)                                                            \
                x[v] = _mm256_loadu_si256((const __m256i *)(col + q * column_stride * 4 + v * 32)); \
            for (int i = 0; i < nr; i++) {                                                          \
                __m256i w = _mm256_set1_epi32(load_quad(s + i * row_stride + 4 * q));               \
                for (int v = 0; v < nv; v++) acc[i][v] = DOT(acc[i][v], x[v], w);                   \
            }                                                                                       \
        }                                                                                           \
        for (int i = 0; i < nr; i++)                                                                \
            for (int v = 0; v < nv; v++) {                                                          \
                size_t done = (size_t)v * 8;                                                        \
                if (done < count) store8(e, acc[i][v], r0 + i, c0 + done, count - done);            \
            }                                                                                       \
    }                                                                                               \
    TARGET static void GEMM(const int8_t *rows, size_t row_stride, size_t first_row, size_t end_row,\
                            const uint8_t *columns, size_t column_stride, size_t first_column,      \
                            size_t end_column, size_t quads, const inspectd_i8_epilogue *e) {       \
        for (size_t chunk = first_row; chunk < end_row; chunk += CHUNK_BLOCKS * R256) {             \
        size_t chunk_end = end_row - chunk < CHUNK_BLOCKS * R256 ? end_row : chunk + CHUNK_BLOCKS * R256; \
        for (size_t c0 = first_column; c0 < end_column; c0 += V256 * 8) {                           \
            size_t count = end_column - c0 < V256 * 8 ? end_column - c0 : V256 * 8;                 \
            for (size_t r0 = chunk; r0 < chunk_end; r0 += R256) {                                   \
                int nr = chunk_end - r0 < R256 ? (int)(chunk_end - r0) : R256;                      \
                int nv = count > 8 ? 2 : 1;                                                         \
                switch (nr * 2 + nv - 1) {                                                          \
                case 2: NAME(1, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                case 3: NAME(1, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                case 4: NAME(2, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                case 5: NAME(2, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                case 6: NAME(3, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                case 7: NAME(3, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                case 8: NAME(4, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                case 9: NAME(4, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                case 10: NAME(5, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                case 11: NAME(5, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                case 12: NAME(6, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                default: NAME(6, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break; \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        }                                                                                           \
    }

VNNI256(TARGET_AVX_VNNI, block_avx_vnni, gemm_avx_vnni, _mm256_dpbusd_avx_epi32)
VNNI256(TARGET_VNNI_VL, block_vnni_vl, gemm_vnni_vl, _mm256_dpbusd_epi32)

enum { R2 = 4, V2 = 2 };

TARGET_AVX2 __attribute__((always_inline))
static inline void block_avx2(int nr, int nv, const int8_t *rows, size_t row_stride, size_t r0,
                              const uint8_t *columns, size_t column_stride, size_t c0, size_t count, size_t quads,
                              const inspectd_i8_epilogue *e) {
    __m256i acc[R2][V2];
    for (int i = 0; i < nr; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *s = rows + r0 * row_stride;
    const uint8_t *col = columns + c0 * 4;
    for (size_t q = 0; q < quads; q++) {
        __m256i x[V2];
        for (int v = 0; v < nv; v++) x[v] = _mm256_loadu_si256((const __m256i *)(col + q * column_stride * 4 + v * 32));
        for (int i = 0; i < nr; i++) {
            __m256i w = _mm256_set1_epi32(load_quad(s + i * row_stride + 4 * q));
            __m256i magnitude = _mm256_abs_epi8(w);
            for (int v = 0; v < nv; v++) {
                // |s|·(v·sign s) = s·v; pairs stay within ±2·127·127, inside int16.
                __m256i pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(x[v], w));
                acc[i][v] = _mm256_add_epi32(acc[i][v], _mm256_madd_epi16(pairs, ones));
            }
        }
    }
    for (int i = 0; i < nr; i++)
        for (int v = 0; v < nv; v++) {
            size_t done = (size_t)v * 8;
            if (done < count) store8(e, acc[i][v], r0 + i, c0 + done, count - done);
        }
}

TARGET_AVX2 static void gemm_avx2(const int8_t *rows, size_t row_stride, size_t first_row, size_t end_row,
                                  const uint8_t *columns, size_t column_stride, size_t first_column,
                                  size_t end_column, size_t quads, const inspectd_i8_epilogue *e) {
    for (size_t chunk = first_row; chunk < end_row; chunk += CHUNK_BLOCKS * R2) {
        size_t chunk_end = end_row - chunk < CHUNK_BLOCKS * R2 ? end_row : chunk + CHUNK_BLOCKS * R2;
        for (size_t c0 = first_column; c0 < end_column; c0 += V2 * 8) {
            size_t count = end_column - c0 < V2 * 8 ? end_column - c0 : V2 * 8;
            for (size_t r0 = chunk; r0 < chunk_end; r0 += R2) {
                int nr = chunk_end - r0 < R2 ? (int)(chunk_end - r0) : R2;
                int nv = count > 8 ? 2 : 1;
                switch (nr * 2 + nv - 1) {
                case 2: block_avx2(1, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break;
                case 3: block_avx2(1, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break;
                case 4: block_avx2(2, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break;
                case 5: block_avx2(2, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break;
                case 6: block_avx2(3, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break;
                case 7: block_avx2(3, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break;
                case 8: block_avx2(4, 1, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break;
                default: block_avx2(4, 2, rows, row_stride, r0, columns, column_stride, c0, count, quads, e); break;
                }
            }
        }
    }
}

#endif

void inspectd_i8_gemm(inspectd_i8_path path, const int8_t *rows, size_t row_stride, size_t first_row, size_t end_row,
                      const uint8_t *columns, size_t column_stride, size_t first_column, size_t end_column,
                      size_t quads, const inspectd_i8_epilogue *e) {
    if (first_row >= end_row || first_column >= end_column) return;
#ifdef INSPECTD_HAVE_X86
    switch (path) {
    case INSPECTD_I8_AVX512_VNNI:
        gemm_avx512_vnni(rows, row_stride, first_row, end_row, columns, column_stride, first_column, end_column, quads, e);
        return;
    case INSPECTD_I8_AVX_VNNI:
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avxvnni"))
            gemm_avx_vnni(rows, row_stride, first_row, end_row, columns, column_stride, first_column, end_column, quads, e);
        else
            gemm_vnni_vl(rows, row_stride, first_row, end_row, columns, column_stride, first_column, end_column, quads, e);
        return;
    case INSPECTD_I8_AVX2:
        gemm_avx2(rows, row_stride, first_row, end_row, columns, column_stride, first_column, end_column, quads, e);
        return;
    default:
        break;
    }
#endif
    gemm_portable(rows, row_stride, first_row, end_row, columns, column_stride, first_column, end_column, quads, e);
}
