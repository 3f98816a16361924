// Int8 products for quantised scoring (see inspectd_int8.h for the operands and the epilogue).
//
// The GEMM and the direct 3x3 convolution share their register blocks: both read the column operand
// as vectors of consecutive columns at some byte offset, quad after quad, the GEMM from packed
// columns and the convolution from a zero-bordered copy of its input, where tap (ky, kx) of 16
// neighbouring outputs of a row is 16 neighbouring input quads (no patch matrix is written).
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

enum { CHUNK_BLOCKS = 8 };

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

static inline void store_scalar(const inspectd_i8_epilogue *e, int32_t sum, size_t r, size_t c) {
    if (e->row_correction) sum -= e->row_correction[r];
    if (e->column_correction) sum -= e->column_correction[c];
    if (e->raw) e->raw[r * e->out_stride + c] = sum;
    else e->out[r * e->out_stride + c] = finish(e, sum, r, c);
}

// Where the column operand's quads are: quad q = tap · channel_quads + channel quad lies at
// base + tap_offset[tap] + channel quad · quad_stride, plus a segment's offset.
typedef struct {
    const uint8_t *base;
    const size_t *tap_offset;
    size_t taps, channel_quads, quad_stride;
} column_source;

// Up to one vector of consecutive columns: `count` of them from byte `offset` on, which are the
// outputs' columns from `column` on.
typedef struct {
    size_t offset, column, count;
} segment;

// Runs one register block: nr rows from r0 over nv (1 or 2) segments.
typedef void (*block_runner)(int nr, int nv, const int8_t *rows, size_t row_stride, size_t r0,
                             const column_source *src, const segment *seg, const inspectd_i8_epilogue *e);

// Rows in chunks of CHUNK_BLOCKS blocks; in a chunk, segments two by two; for each pair, the
// chunk's row blocks.
static void drive(block_runner run, int block_rows, const int8_t *rows, size_t row_stride, size_t first_row,
                  size_t end_row, const column_source *src, const segment *segments, size_t count,
                  const inspectd_i8_epilogue *e) {
    size_t chunk_rows = (size_t)block_rows * CHUNK_BLOCKS;
    for (size_t chunk = first_row; chunk < end_row; chunk += chunk_rows) {
        size_t chunk_end = end_row - chunk < chunk_rows ? end_row : chunk + chunk_rows;
        for (size_t j = 0; j < count; j += 2) {
            int nv = count - j >= 2 ? 2 : 1;
            for (size_t r0 = chunk; r0 < chunk_end; r0 += (size_t)block_rows) {
                int nr = chunk_end - r0 < (size_t)block_rows ? (int)(chunk_end - r0) : block_rows;
                run(nr, nv, rows, row_stride, r0, src, segments + j, e);
            }
        }
    }
}

static void run_portable(int nr, int nv, const int8_t *rows, size_t row_stride, size_t r0,
                         const column_source *src, const segment *seg, const inspectd_i8_epilogue *e) {
    for (int v = 0; v < nv; v++)
        for (int i = 0; i < nr; i++) {
            const int8_t *s = rows + (r0 + (size_t)i) * row_stride;
            for (size_t lane = 0; lane < seg[v].count; lane++) {
                int32_t sum = 0;
                size_t q = 0;
                for (size_t t = 0; t < src->taps; t++)
                    for (size_t cq = 0; cq < src->channel_quads; cq++, q++) {
                        const int8_t *x = (const int8_t *)src->base + src->tap_offset[t] + cq * src->quad_stride
                                          + seg[v].offset + lane * 4;
                        for (int j = 0; j < 4; j++) sum += (int32_t)s[4 * q + j] * (int32_t)x[j];
                    }
                store_scalar(e, sum, r0 + (size_t)i, seg[v].column + lane);
            }
        }
}

#ifdef INSPECTD_HAVE_X86

static inline int32_t load_quad(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

// The switch from run-time (nr, nv) to the compile-time block that unrolls into registers.
#define BLOCK_CASE(BLOCK, NR)                                                                       \
    case 2 * NR - 1: BLOCK(NR, 1, rows, row_stride, r0, src, seg, e); break;                        \
    case 2 * NR: BLOCK(NR, 2, rows, row_stride, r0, src, seg, e); break;

#define RUNNER_ARGS                                                                                 \
    int nr, int nv, const int8_t *rows, size_t row_stride, size_t r0, const column_source *src,     \
        const segment *seg, const inspectd_i8_epilogue *e

// Clang otherwise rolls the 12 x 2 block's loops back up, keeps its accumulators on the stack and
// zeroes them with a memset call per block: a fifth of the time at k = 64.
#define UNROLL _Pragma("clang loop unroll(full)")

// The block body shared by every vector path: VECTOR the register type, LOAD(pointer) a whole
// vector of columns (lanes past a segment's count read whatever follows, which the callers keep
// inside their buffers, and are never stored), DOT(acc, x, broadcast s) the product.
#define BLOCK_BODY(VECTOR, MAXR, LOAD, ZERO, SET1, DOT, STORE)                                      \
    VECTOR acc[MAXR][2];                                                                            \
    UNROLL for (int i = 0; i < nr; i++)                                                             \
        UNROLL for (int v = 0; v < nv; v++) acc[i][v] = ZERO();                                     \
    const int8_t *s = rows + r0 * row_stride;                                                       \
    size_t q = 0;                                                                                   \
    for (size_t t = 0; t < src->taps; t++) {                                                        \
        const uint8_t *tap = src->base + src->tap_offset[t];                                        \
        for (size_t cq = 0; cq < src->channel_quads; cq++, q++) {                                   \
            const uint8_t *quad = tap + cq * src->quad_stride;                                      \
            VECTOR x[2];                                                                            \
            UNROLL for (int v = 0; v < nv; v++) x[v] = LOAD(quad + seg[v].offset);                   \
            UNROLL for (int i = 0; i < nr; i++) {                                                   \
                VECTOR w = SET1(load_quad(s + (size_t)i * row_stride + 4 * q));                     \
                UNROLL for (int v = 0; v < nv; v++) acc[i][v] = DOT(acc[i][v], x[v], w);            \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
    UNROLL for (int i = 0; i < nr; i++)                                                             \
        UNROLL for (int v = 0; v < nv; v++) STORE(e, acc[i][v], r0 + (size_t)i, seg[v].column, seg[v].count);

// --- AVX-512 VNNI ----------------------------------------------------------------------------

enum { R512 = 12 };

#define TARGET_512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

TARGET_512 static inline __mmask16 mask16(size_t count) {
    return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
}

TARGET_512 static inline __m512i load16(const uint8_t *p) { return _mm512_loadu_si512(p); }

TARGET_512 static inline void store16(const inspectd_i8_epilogue *e, __m512i sum, size_t r, size_t c, size_t count) {
    __mmask16 mask = mask16(count);
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

TARGET_512 __attribute__((always_inline)) static inline void block512(RUNNER_ARGS) {
    BLOCK_BODY(__m512i, R512, load16, _mm512_setzero_si512, _mm512_set1_epi32,
               _mm512_dpbusd_epi32, store16)
}

TARGET_512 static void run512(RUNNER_ARGS) {
    switch (2 * nr + nv - 2) {
        BLOCK_CASE(block512, 1) BLOCK_CASE(block512, 2) BLOCK_CASE(block512, 3) BLOCK_CASE(block512, 4)
        BLOCK_CASE(block512, 5) BLOCK_CASE(block512, 6) BLOCK_CASE(block512, 7) BLOCK_CASE(block512, 8)
        BLOCK_CASE(block512, 9) BLOCK_CASE(block512, 10) BLOCK_CASE(block512, 11) BLOCK_CASE(block512, 12)
    }
}

// --- 256-bit paths: AVX-VNNI (two encodings) and AVX2 ------------------------------------------

#define TARGET_AVX_VNNI __attribute__((target("avx2,avxvnni")))
#define TARGET_VNNI_VL __attribute__((target("avx2,avx512f,avx512vl,avx512vnni")))
#define TARGET_AVX2 __attribute__((target("avx2")))

TARGET_AVX2 static inline __m256i mask8(size_t count) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count < 8 ? count : 8)), lane);
}

TARGET_AVX2 static inline __m256i load8(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }

// Eight columns of one row (lanes from `count` on are neither read nor stored).
TARGET_AVX2 static inline void store8(const inspectd_i8_epilogue *e, __m256i sum, size_t r, size_t c, size_t count) {
    __m256i mask = mask8(count);
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

enum { R256 = 6, R2 = 4 };

// The 256-bit VNNI runner, once per encoding of vpdpbusd (DOT): the same blocks either way.
#define VNNI256_RUNNER(TARGET, BLOCK, RUN, DOT)                                                     \
    TARGET __attribute__((always_inline)) static inline void BLOCK(RUNNER_ARGS) {                   \
        BLOCK_BODY(__m256i, R256, load8, _mm256_setzero_si256, _mm256_set1_epi32, DOT, store8)      \
    }                                                                                               \
    TARGET static void RUN(RUNNER_ARGS) {                                                           \
        switch (2 * nr + nv - 2) {                                                                  \
            BLOCK_CASE(BLOCK, 1) BLOCK_CASE(BLOCK, 2) BLOCK_CASE(BLOCK, 3)                          \
            BLOCK_CASE(BLOCK, 4) BLOCK_CASE(BLOCK, 5) BLOCK_CASE(BLOCK, 6)                          \
        }                                                                                           \
    }

VNNI256_RUNNER(TARGET_AVX_VNNI, block_avx_vnni, run_avx_vnni, _mm256_dpbusd_avx_epi32)
VNNI256_RUNNER(TARGET_VNNI_VL, block_vnni_vl, run_vnni_vl, _mm256_dpbusd_epi32)

// |s|·(v·sign s) = s·v, and a pair of such products stays within ±2·127·127, inside int16.
TARGET_AVX2 static inline __m256i dot_avx2(__m256i acc, __m256i x, __m256i w) {
    __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

TARGET_AVX2 __attribute__((always_inline)) static inline void block_avx2(RUNNER_ARGS) {
    BLOCK_BODY(__m256i, R2, load8, _mm256_setzero_si256, _mm256_set1_epi32, dot_avx2, store8)
}

TARGET_AVX2 static void run_avx2(RUNNER_ARGS) {
    switch (2 * nr + nv - 2) {
        BLOCK_CASE(block_avx2, 1) BLOCK_CASE(block_avx2, 2) BLOCK_CASE(block_avx2, 3) BLOCK_CASE(block_avx2, 4)
    }
}

#endif

// The block runner of `path` and its rows and columns per block.
static block_runner runner(inspectd_i8_path path, int *block_rows, size_t *lanes) {
#ifdef INSPECTD_HAVE_X86
    switch (path) {
    case INSPECTD_I8_AVX512_VNNI:
        *block_rows = R512, *lanes = 16;
        return run512;
    case INSPECTD_I8_AVX_VNNI:
        *block_rows = R256, *lanes = 8;
        __builtin_cpu_init();
        return __builtin_cpu_supports("avxvnni") ? run_avx_vnni : run_vnni_vl;
    case INSPECTD_I8_AVX2:
        *block_rows = R2, *lanes = 8;
        return run_avx2;
    default:
        break;
    }
#endif
    (void)path;
    *block_rows = 4, *lanes = 8;
    return run_portable;
}

size_t inspectd_i8_lanes(inspectd_i8_path path) {
    int block_rows;
    size_t lanes;
    runner(path, &block_rows, &lanes);
    return lanes;
}

void inspectd_i8_gemm(inspectd_i8_path path, const int8_t *rows, size_t row_stride, size_t first_row, size_t end_row,
                      const uint8_t *columns, size_t column_stride, size_t first_column, size_t end_column,
                      size_t quads, const inspectd_i8_epilogue *e) {
    if (first_row >= end_row || first_column >= end_column) return;
    int block_rows;
    size_t lanes;
    block_runner run = runner(path, &block_rows, &lanes);
    const size_t no_offset = 0;
    column_source src = {columns, &no_offset, 1, quads, column_stride * 4};
    size_t count = (end_column - first_column + lanes - 1) / lanes;
    segment *segments = malloc(count * sizeof *segments);
    if (!segments) abort();
    for (size_t i = 0; i < count; i++) {
        size_t c = first_column + i * lanes;
        segments[i] = (segment){c * 4, c, end_column - c < lanes ? end_column - c : lanes};
    }
    drive(run, block_rows, rows, row_stride, first_row, end_row, &src, segments, count, e);
    free(segments);
}

void inspectd_i8_conv3x3(inspectd_i8_path path, const int8_t *rows, size_t row_stride, size_t first_row,
                         size_t end_row, const uint8_t *padded, size_t channel_quads, size_t height, size_t width,
                         size_t first_y, size_t end_y, const inspectd_i8_epilogue *e) {
    if (first_row >= end_row || first_y >= end_y) return;
    int block_rows;
    size_t lanes;
    block_runner run = runner(path, &block_rows, &lanes);
    size_t pw = width + 2;
    size_t taps[9];
    for (size_t t = 0; t < 9; t++) taps[t] = ((t / 3) * pw + t % 3) * 4;
    column_source src = {padded, taps, 9, channel_quads, (height + 2) * pw * 4};
    size_t per_row = (width + lanes - 1) / lanes, count = (end_y - first_y) * per_row;
    segment *segments = malloc(count * sizeof *segments);
    if (!segments) abort();
    for (size_t y = first_y, i = 0; y < end_y; y++)
        for (size_t x = 0; x < width; x += lanes, i++)
            segments[i] = (segment){(y * pw + x) * 4, y * width + x, width - x < lanes ? width - x : lanes};
    drive(run, block_rows, rows, row_stride, first_row, end_row, &src, segments, count, e);
    free(segments);
}
