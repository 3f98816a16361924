import Foundation

/// Scaled dot-product attention: softmax(scale·Q·Kᵀ + mask)·V over the last two axes, per head.
///
/// Shapes: query [..., Tq, heads·d], key [..., Tk, heads·d], value [..., Tk, heads·dv] with the
/// same leading axes (e.g. [B, T, D]); the result is [..., Tq, heads·dv]. Head h reads and writes
/// columns h·d..<(h+1)·d of each token in place, so multi-head attention needs no split or merge
/// copies. `mask` is an additive [Tq, Tk] bias shared by every batch entry and head: −∞ blocks a
/// key, 0 leaves it alone. A query whose every key is −∞ attends to nothing: its output row is
/// zeros and it passes no gradient. Large finite negatives (−1e9) are ordinary biases; they only
/// vanish next to an unblocked key. `scale` defaults to 1/√d. The mask is a constant: no gradient
/// flows into it.
///
/// The threads take whole (batch, head) slices as they free up, with serial GEMMs. Without a
/// gradient to record, a slice's [Tq, Tk] score matrix is the only large temporary and is reused
/// slice after slice. When recording, every slice's probabilities are kept for the backward
/// (64 MiB per AMN layer at batch 8, 2 heads, 1024 tokens): rebuilding them there from a saved
/// log Σ exp cost one more Q·Kᵀ and a pass of exp per slice, about a tenth of a training step.
/// They are kept one buffer per slice (4 MiB), under malloc's mmap threshold, so that the next
/// layer reuses the memory instead of faulting in 64 MiB of fresh pages.
public func scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int = 1,
                                      mask: AttentionMask? = nil, scale: Float? = nil) -> Tensor {
    let g = AttentionGeometry(query: query.shape, key: key.shape, value: value.shape, heads: heads)
    if let mask { precondition(mask.bias.shape == [g.queries, g.keys], "attention mask must be [\(g.queries), \(g.keys)], got \(mask.bias.shape)") }
    let scale = scale ?? 1 / Float(g.depth).squareRoot()

    let recording = Autograd.shouldRecord([query, key, value])
    let kept = recording ? SliceBuffers(count: g.slices, size: g.queries * g.keys) : nil
    let out = Tensor(shape: g.outputShape) { o in
        query.data.withUnsafeBufferPointer { pq in
            key.data.withUnsafeBufferPointer { pk in
                value.data.withUnsafeBufferPointer { pv in
                    Tensor.withOptionalPointer(mask?.bias) { pm in
                        AttentionKernels.forward(g, scale: scale, pq.baseAddress!, pk.baseAddress!, pv.baseAddress!,
                                                 mask, pm, keep: kept, o.baseAddress!)
                    }
                }
            }
        }
    }
    guard let kept else { return out }
    return Autograd.record(out, inputs: [query, key, value]) { gradOut in
        // Every slice writes all its columns of every row: no zeroing needed.
        let dQ = query.tracksGradient ? Tensor(shape: query.shape) { _ in } : nil
        let dK = key.tracksGradient ? Tensor(shape: key.shape) { _ in } : nil
        let dV = value.tracksGradient ? Tensor(shape: value.shape) { _ in } : nil
        query.data.withUnsafeBufferPointer { pq in
            key.data.withUnsafeBufferPointer { pk in
                value.data.withUnsafeBufferPointer { pv in
                    gradOut.data.withUnsafeBufferPointer { pg in
                        Tensor.withMutablePointer(dQ) { dq in
                            Tensor.withMutablePointer(dK) { dk in
                                Tensor.withMutablePointer(dV) { dv in
                                    AttentionKernels.backward(
                                        g, scale: scale, pq.baseAddress!, pk.baseAddress!, pv.baseAddress!,
                                        kept, pg.baseAddress!, dq, dk, dv)
                                }
                            }
                        }
                    }
                }
            }
        }
        return [dQ, dK, dV]
    }
}

/// An additive attention mask [Tq, Tk] with, per row, the runs of its nonzero entries. A local
/// mask (the neighbour mask blocks 49 of 1024 keys) is mostly zeros, so applying only the runs
/// spares every head a read of the whole mask; and where every nonzero entry is −∞ (a mask that
/// only blocks keys) the runs are set to −∞ without reading the bias at all: on 4 MiB masks that
/// read missed the cache and was a tenth of int8 attention. Built once per mask, since finding the
/// runs reads it all.
public struct AttentionMask {
    public let bias: Tensor
    let runs: [[Range<Int>]]
    /// Every nonzero entry is −∞.
    let blocksOnly: Bool

    public init(_ bias: Tensor) {
        precondition(bias.rank == 2, "attention mask must be [Tq, Tk], got \(bias.shape)")
        let (rows, columns) = (bias.shape[0], bias.shape[1])
        self.bias = bias
        var blocksOnly = true
        runs = bias.data.withUnsafeBufferPointer { pm in
            (0..<rows).map { i in
                let row = pm.baseAddress! + i * columns
                var runs: [Range<Int>] = []
                var j = 0
                while j < columns {
                    guard row[j] != 0 else { j += 1; continue }
                    let first = j
                    while j < columns && row[j] != 0 {
                        if row[j] != -.infinity { blocksOnly = false }
                        j += 1
                    }
                    runs.append(first..<j)
                }
                return runs
            }
        }
        self.blocksOnly = blocksOnly
    }

    /// Adds row i of the mask to `row`, the scores of query i; `bias` is the mask's data. A score
    /// under a −∞ of a blocking mask becomes −∞ whatever it was (NaN and +∞ included).
    @inline(__always)
    func apply(to row: UnsafeMutablePointer<Float>, _ i: Int, _ bias: UnsafePointer<Float>) {
        if blocksOnly {
            for run in runs[i] { (row + run.lowerBound).update(repeating: -.infinity, count: run.count) }
            return
        }
        let values = bias + i * self.bias.shape[1]
        for run in runs[i] {
            for j in run { row[j] += values[j] }
        }
    }
}

/// The additive mask that keeps each token of a height×width grid (row-major tokens) from
/// attending to the keys in the window×window square centred on it, itself included: −∞ inside
/// the square, 0 outside. Shape [height·width, height·width]; `window` is odd.
public func neighbourMask(height: Int, width: Int, window: Int = 7) -> Tensor {
    precondition(height >= 0 && width >= 0, "neighbourMask grid \(height)x\(width)")
    precondition(window >= 1 && window % 2 == 1, "neighbourMask window must be odd, got \(window)")
    let tokens = height * width, reach = window / 2
    return Tensor(shape: [tokens, tokens]) { m in
        m.initialize(repeating: 0)
        for qy in 0..<height {
            for qx in 0..<width {
                let row = m.baseAddress! + (qy * width + qx) * tokens
                for ky in max(0, qy - reach)...min(height - 1, qy + reach) {
                    let line = row + ky * width
                    for kx in max(0, qx - reach)...min(width - 1, qx + reach) { line[kx] = -.infinity }
                }
            }
        }
    }
}

/// One uninitialised buffer per attention slice, freed with the last reference (the backward's).
/// Each is written by the forward before the backward reads it.
final class SliceBuffers: @unchecked Sendable {
    let slices: [UnsafeMutablePointer<Float>]

    init(count: Int, size: Int) {
        slices = (0..<count).map { _ in .allocate(capacity: size) }
    }

    deinit {
        for slice in slices { slice.deallocate() }
    }
}

struct AttentionGeometry {
    let batch, heads, queries, keys, depth, valueDepth: Int
    let outputShape: [Int]

    init(query: [Int], key: [Int], value: [Int], heads: Int) {
        precondition(query.count >= 2 && key.count == query.count && value.count == query.count,
                     "attention needs query, key, value of one rank ≥ 2, got \(query), \(key), \(value)")
        let lead = Array(query.dropLast(2))
        precondition(Array(key.dropLast(2)) == lead && Array(value.dropLast(2)) == lead,
                     "attention leading axes differ: \(query), \(key), \(value)")
        let r = query.count
        precondition(key[r - 1] == query[r - 1], "attention query width \(query[r - 1]) != key width \(key[r - 1])")
        precondition(value[r - 2] == key[r - 2], "attention has \(key[r - 2]) keys but \(value[r - 2]) values")
        precondition(key[r - 2] > 0 && query[r - 1] > 0, "attention needs at least one key and a nonzero width")
        precondition(heads >= 1 && query[r - 1] % heads == 0 && value[r - 1] % heads == 0,
                     "attention: \(heads) heads do not divide widths \(query[r - 1]) and \(value[r - 1])")
        batch = lead.reduce(1, *)
        self.heads = heads
        (queries, keys, depth, valueDepth) = (query[r - 2], key[r - 2], query[r - 1] / heads, value[r - 1] / heads)
        outputShape = lead + [queries, value[r - 1]]
    }

    var slices: Int { batch * heads }
    /// Row strides: a token's row holds every head.
    var width: Int { heads * depth }
    var valueWidth: Int { heads * valueDepth }

    /// Where slice s (batch entry s / heads, head s % heads) starts in Q (and K) and in V (and the output).
    func queryStart(_ s: Int) -> Int { (s / heads) * queries * width + (s % heads) * depth }
    func keyStart(_ s: Int) -> Int { (s / heads) * keys * width + (s % heads) * depth }
    func valueStart(_ s: Int) -> Int { (s / heads) * keys * valueWidth + (s % heads) * valueDepth }
    func outputStart(_ s: Int) -> Int { (s / heads) * queries * valueWidth + (s % heads) * valueDepth }
}

enum AttentionKernels {
    /// Per slice: scores = scale·QKᵀ + mask, softmax rows, out = P·V. With `keep`, slice s's
    /// probabilities stay in keep.slices[s]; without, one scratch matrix per thread serves all.
    static func forward(_ g: AttentionGeometry, scale: Float,
                        _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                        _ mask: AttentionMask?, _ bias: UnsafePointer<Float>?,
                        keep: SliceBuffers?, _ out: UnsafeMutablePointer<Float>) {
        let size = g.queries * g.keys
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: keep == nil ? Engine.threads * size : 0)
        defer { scratch.deallocate() }
        Engine.parallelItems(g.slices) { worker, s in
            let scores = keep?.slices[s] ?? scratch + worker * size
            sgemm(transposeB: true, m: g.queries, n: g.keys, k: g.depth, alpha: scale,
                  a: q + g.queryStart(s), lda: g.width, b: k + g.keyStart(s), ldb: g.width, c: scores, ldc: g.keys)
            for i in 0..<g.queries {
                let row = scores + i * g.keys
                mask?.apply(to: row, i, bias!)
                SoftmaxKernels.normalizeRow(row, g.keys)
            }
            sgemm(m: g.queries, n: g.valueDepth, k: g.keys,
                  a: scores, lda: g.keys, b: v + g.valueStart(s), ldb: g.valueWidth,
                  c: out + g.outputStart(s), ldc: g.valueWidth)
        }
    }

    /// Per slice, from the kept probabilities P: dV = Pᵀ·dO; dP = dO·Vᵀ;
    /// dS = P ⊙ (dP − rowsum(dP ⊙ P)); dQ = scale·dS·K; dK = scale·dSᵀ·Q.
    static func backward(_ g: AttentionGeometry, scale: Float,
                         _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                         _ probabilities: SliceBuffers, _ dOut: UnsafePointer<Float>,
                         _ dq: UnsafeMutablePointer<Float>?, _ dk: UnsafeMutablePointer<Float>?,
                         _ dv: UnsafeMutablePointer<Float>?) {
        let wantScores = dq != nil || dk != nil
        let size = g.queries * g.keys
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: wantScores ? Engine.threads * size : 0)
        defer { scratch.deallocate() }
        Engine.parallelItems(g.slices) { worker, s in
            let dScores = scratch + worker * size
            let qs = q + g.queryStart(s), ks = k + g.keyStart(s), vs = v + g.valueStart(s)
            let dOs = dOut + g.outputStart(s), probs = UnsafePointer(probabilities.slices[s])
            if let dv {
                sgemm(transposeA: true, m: g.keys, n: g.valueDepth, k: g.queries,
                      a: probs, lda: g.keys, b: dOs, ldb: g.valueWidth,
                      c: dv + g.valueStart(s), ldc: g.valueWidth)
            }
            guard wantScores else { return }
            sgemm(transposeB: true, m: g.queries, n: g.keys, k: g.valueDepth,
                  a: dOs, lda: g.valueWidth, b: vs, ldb: g.valueWidth, c: dScores, ldc: g.keys)
            for i in 0..<g.queries {
                let row = dScores + i * g.keys
                SoftmaxKernels.backwardRow(probs + i * g.keys, row, row, g.keys)
            }
            if let dq {
                sgemm(m: g.queries, n: g.depth, k: g.keys, alpha: scale,
                      a: dScores, lda: g.keys, b: ks, ldb: g.width, c: dq + g.queryStart(s), ldc: g.width)
            }
            if let dk {
                sgemm(transposeA: true, m: g.keys, n: g.depth, k: g.queries, alpha: scale,
                      a: dScores, lda: g.keys, b: qs, ldb: g.width, c: dk + g.keyStart(s), ldc: g.width)
            }
        }
    }
}
