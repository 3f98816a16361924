#ifndef INSPECTD_INT8_H
#define INSPECTD_INT8_H

// Int8 matrix products for quantised scoring (int8_gemm.c), one instruction-set path chosen at run
// time, and the quantisers and packers that feed them (int8_pack.c).
//
// Every product here is C[r, c] = Σ_k S[r, k] · V[k, c] over signed bytes in [-127, 127], summed
// exactly in int32, then turned into floats by an epilogue. S (the "rows") is read in place, row
// after row; V (the "columns") is packed in quads of k: byte ((q · column_stride + c) · 4 + j)
// holds V[4q + j, c] plus the path's column offset. Both are zero past k's end. A convolution
// puts its weights in S and its input patches in V (outputs come out channel after channel, as
// NCHW wants); a linear layer puts its tokens in S and its weights in V (outputs token after token).
//
// Every path gives the same bits for the same operands: the sums are exact, and the epilogue does
// the same float operations in the same order.

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// The instruction-set paths, slowest first.
typedef enum {
    /// Plain C: runs on any CPU.
    INSPECTD_I8_PORTABLE = 0,
    /// vpmaddubsw on |s| and v·sign(s), then vpmaddwd: 32 products per three instructions, never
    /// saturating int16 because neither operand reaches 128 in magnitude.
    INSPECTD_I8_AVX2 = 1,
    /// vpdpbusd on 256-bit registers (VEX-encoded where the CPU has AVX-VNNI, else the EVEX form
    /// that AVX-512 VNNI CPUs run).
    INSPECTD_I8_AVX_VNNI = 2,
    /// vpdpbusd on 512-bit registers.
    INSPECTD_I8_AVX512_VNNI = 3,
} inspectd_i8_path;

/// Whether this CPU can run `path`.
bool inspectd_i8_path_runs(inspectd_i8_path path);

/// The fastest path this CPU runs.
inspectd_i8_path inspectd_i8_best_path(void);

/// "portable", "avx2", "avx-vnni" or "avx512-vnni".
const char *inspectd_i8_path_name(inspectd_i8_path path);

/// What the packed columns add to every value on `path`: 128 on the VNNI paths, whose instruction
/// multiplies unsigned by signed bytes, 0 elsewhere. A row's sum then carries 128 · Σ_k S[r, k],
/// which the caller subtracts through the epilogue's row correction.
int32_t inspectd_i8_column_offset(inspectd_i8_path path);

/// Columns per vector on `path` (16 on AVX-512 VNNI, 8 elsewhere): the direct convolution computes
/// each output row in vectors of this many positions.
size_t inspectd_i8_lanes(inspectd_i8_path path);

/// Packed columns come in groups of this many: a packed operand's column_stride is a multiple of it.
#define INSPECTD_I8_COLUMN_GROUP 16

typedef enum {
    INSPECTD_I8_IDENTITY = 0,
    /// min(max(y, 0), 6): the backbone's activation.
    INSPECTD_I8_RELU6 = 1,
} inspectd_i8_activation;

/// How the exact sums become outputs:
///     y = float(sum − row_correction[r] − column_correction[c]) · row_scale[r] · column_scale[c]
///         + row_bias[r] + column_bias[c],
/// each step skipped when its pointer is NULL, then the activation; stored at out[r · out_stride + c].
/// With `raw` set, the corrected sums are stored there as int32 (at the same index) and `out` is
/// not touched: what the tests compare with their own loops.
typedef struct {
    const int32_t *row_correction;
    const int32_t *column_correction;
    const float *row_scale;
    const float *column_scale;
    const float *row_bias;
    const float *column_bias;
    inspectd_i8_activation activation;
    float *out;
    int32_t *raw;
    size_t out_stride;
} inspectd_i8_epilogue;

/// Rows first_row..<end_row and columns first_column..<end_column of the product described above,
/// with k running over `quads` quads. `rows` points at row 0 (row r at rows + r · row_stride
/// bytes, 4 · quads bytes of it read); `columns` at quad 0, column 0, packed with column_stride
/// (a multiple of INSPECTD_I8_COLUMN_GROUP) and the offset of `path`. first_column must be a
/// multiple of INSPECTD_I8_COLUMN_GROUP; end_column may stop anywhere up to column_stride.
/// Callers split one product between threads by rows or columns.
void inspectd_i8_gemm(inspectd_i8_path path, const int8_t *rows, size_t row_stride, size_t first_row, size_t end_row,
                      const uint8_t *columns, size_t column_stride, size_t first_column, size_t end_column,
                      size_t quads, const inspectd_i8_epilogue *epilogue);

/// A 3x3 convolution with stride 1 and one pixel of zero padding, without patches: `padded` holds
/// the image from `inspectd_i8_quantize_padded` (channel_quads quads of (height + 2) × (width + 2)
/// columns, then 64 bytes of slack that vectors running past the last row may read), `rows` the weights as for `inspectd_i8_patches` (k over taps, then channels). Computes
/// output channels first_row..<end_row of output rows first_y..<end_y; output column
/// y · width + x, so the epilogue's out_stride is height · width.
void inspectd_i8_conv3x3(inspectd_i8_path path, const int8_t *rows, size_t row_stride, size_t first_row,
                         size_t end_row, const uint8_t *padded, size_t channel_quads, size_t height, size_t width,
                         size_t first_y, size_t end_y, const inspectd_i8_epilogue *e);

/// One float to its quantised value: clamp(nearbyint(x · inverse_scale) + zero_point, −127, 127).
/// Every quantiser below rounds exactly so (ties to even).
int32_t inspectd_i8_quantize(float x, float inverse_scale, int32_t zero_point);

/// Quantises rows of x [rows, cols] (row stride `x_stride` floats) into `out`, row r at
/// out + r · out_stride bytes: cols values, then zeros up to a whole quad. `sums[r]` gets the row's
/// sum of quantised values (the row correction a VNNI path needs), when not NULL.
void inspectd_i8_quantize_rows(const float *x, size_t rows, size_t cols, size_t x_stride, float inverse_scale,
                               int32_t zero_point, int8_t *out, size_t out_stride, int32_t *sums);

/// Quantises planes x [channels, positions] (channel c at x + c · x_stride) into the packed column layout over k = channel:
/// out[((q · column_stride + p) · 4 + j)] = quantised x[4q + j, p] + offset. Channels past the
/// last quad's end and columns positions..<column_stride hold the zero point (+ offset), so they
/// stand for 0.0. Packs quads first_quad..<end_quad (threads split by quads).
void inspectd_i8_quantize_planes(const float *x, size_t channels, size_t positions, size_t x_stride, float inverse_scale,
                                 int32_t zero_point, int32_t offset, size_t column_stride,
                                 size_t first_quad, size_t end_quad, uint8_t *out);

/// Quantises planes x [channels, height, width] with a border of one zero-point pixel for
/// `inspectd_i8_conv3x3`: out[((q · (height + 2) + y + 1) · (width + 2) + x + 1) · 4 + j] = quantised
/// x[4q + j, y, x] + offset; the border and channels past the last quad's end hold the zero point
/// (+ offset). Packs quads first_quad..<end_quad.
void inspectd_i8_quantize_padded(const float *x, size_t channels, size_t height, size_t width, float inverse_scale,
                                 int32_t zero_point, int32_t offset, size_t first_quad, size_t end_quad, uint8_t *out);

/// The largest |x| over x [rows, cols] (row stride `stride` floats), 0 when empty; NaN is passed
/// over. What a symmetric per-tensor scale is taken from.
float inspectd_largest_magnitude(const float *x, size_t rows, size_t cols, size_t stride);

/// Quantises each row of x [rows, cols] (row stride x_stride floats) symmetrically on its own scale:
/// scales[r] = max |x[r, ·]| / 127 (1 for a row of zeros), levels as `inspectd_i8_quantize` with
/// zero point 0, row r at out + r · out_stride, zeros up to a whole quad; sums[r] its levels' sum
/// when sums is not NULL. What attention's queries, keys and probabilities are quantised by.
void inspectd_i8_quantize_rows_symmetric(const float *x, size_t rows, size_t cols, size_t x_stride, int8_t *out,
                                         size_t out_stride, float *scales, int32_t *sums);

/// Softmax of each row of scores [rows, cols] (row stride `stride` floats), straight to int8: row r's
/// levels are round(127 · exp(s − max)) at out + r · out_stride (zeros up to a whole quad), and
/// scales[r] = 1 / (127 · Σ exp(s − max)), so level · scale is the probability. A row that is all
/// −∞ gets zeros. sums[r] gets the levels' sum when sums is not NULL. The exponentials and their
/// sum are those of `inspectd_softmax_row`, in the same order on every CPU.
void inspectd_i8_softmax_rows(const float *scores, size_t rows, size_t cols, size_t stride, int8_t *out,
                              size_t out_stride, float *scales, int32_t *sums);

/// Turns quantised rows (row j at rows + j · row_stride, quads quads each) into packed columns, one
/// column per row, with `offset` (0 or 128) added; columns count..<column_stride stand for 0.
void inspectd_i8_rows_to_columns(const int8_t *rows, size_t count, size_t row_stride, size_t quads, int32_t offset,
                                 size_t column_stride, uint8_t *out);

/// The packed columns of a convolution's patches from its input already packed by
/// `inspectd_i8_quantize_planes` (`planes`: channel_quads quads, a column per input position,
/// plane_stride columns apart), for a kh × kw kernel at `stride` with pad_top / pad_left
/// (outside the image: `fill`, four copies of the zero point + offset). k runs over taps, then
/// channels: quad q = (ky · kw + kx) · channel_quads + channel quad, the order the weights must be
/// packed in. Output column p = oy · out_width + ox; columns up to column_stride are filled too.
void inspectd_i8_patches(const uint8_t *planes, size_t channel_quads, size_t plane_stride, size_t height, size_t width,
                         size_t kh, size_t kw, size_t stride, size_t pad_top, size_t pad_left,
                         size_t out_height, size_t out_width, uint8_t fill, size_t column_stride, uint8_t *out);

#endif
