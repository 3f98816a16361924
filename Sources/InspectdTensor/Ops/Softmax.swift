import CInspectdKernels
import Foundation

/// Softmax along one axis, shifted by the maximum so that large inputs do not overflow.
/// Backward: dx = y ⊙ (dy − Σ dy⊙y) along the axis.
/// A slice that is entirely −∞ has no distribution; it comes out as zeros (and passes no gradient)
/// rather than NaN.
public func softmax(_ x: Tensor, axis: Int = -1) -> Tensor {
    precondition(x.rank >= 1, "softmax of a scalar")
    let a = axis < 0 ? axis + x.rank : axis
    precondition(a >= 0 && a < x.rank, "softmax axis \(axis) out of range for shape \(x.shape)")
    let n = x.shape[a]
    let inner = x.shape[(a + 1)...].reduce(1, *)
    let outer = x.shape[..<a].reduce(1, *)
    let block = n * inner

    let out = Tensor(shape: x.shape) { y in
        guard block > 0 else { return }
        x.data.withUnsafeBufferPointer { px in
            let src = px.baseAddress!, dst = y.baseAddress!
            if inner == 1 {
                Engine.parallelFor(outer, minChunk: max(1, 8192 / n)) { r in
                    let row = dst + r * n
                    row.update(from: src + r * n, count: n)
                    SoftmaxKernels.normalizeRow(row, n)
                }
            } else {
                Engine.parallelFor(outer, minChunk: max(1, 8192 / block)) { o in
                    SoftmaxKernels.normalizeColumns(src + o * block, dst + o * block, n, inner)
                }
            }
        }
    }
    // The backward needs y; holding the array rather than the tensor keeps the graph acyclic.
    let y = out.data
    return Autograd.record(out, inputs: [x]) { gradOut in
        let dX = Tensor(shape: x.shape) { d in
            guard block > 0 else { return }
            y.withUnsafeBufferPointer { py in
                gradOut.data.withUnsafeBufferPointer { pg in
                    let p = py.baseAddress!, g = pg.baseAddress!, dx = d.baseAddress!
                    Engine.parallelFor(outer, minChunk: max(1, 8192 / block)) { o in
                        let base = o * block
                        if inner == 1 {
                            SoftmaxKernels.backwardRow(p + base, g + base, dx + base, n)
                            return
                        }
                        for j in 0..<inner {
                            var dot: Float = 0
                            for k in 0..<n { dot += p[base + k * inner + j] * g[base + k * inner + j] }
                            for k in 0..<n {
                                let i = base + k * inner + j
                                dx[i] = p[i] * (g[i] - dot)
                            }
                        }
                    }
                }
            }
        }
        return [dX]
    }
}

enum SoftmaxKernels {
    /// Replaces a row by its softmax; a row that is all −∞ becomes zeros. In C
    /// (`CInspectdKernels`), cloned for AVX-512 and AVX2: the attention spends several percent of
    /// a training step here, and Swift compiles for baseline SSE2 with no dispatch.
    @inline(__always)
    static func normalizeRow(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        inspectd_softmax_row(row, n)
    }

    /// Softmax over k of src[k·inner + j] for every j, walking rows of `inner` contiguous values.
    static func normalizeColumns(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ inner: Int) {
        let stat = UnsafeMutablePointer<Float>.allocate(capacity: 2 * inner)
        defer { stat.deallocate() }
        let maxima = stat, sums = stat + inner
        maxima.update(repeating: -Float.infinity, count: inner)
        sums.update(repeating: 0, count: inner)
        for k in 0..<n {
            let s = src + k * inner
            for j in 0..<inner { maxima[j] = Swift.max(maxima[j], s[j]) }
        }
        // An all −∞ column would give exp(−∞ + ∞) = NaN; shifting it by 0 leaves zeros instead.
        for j in 0..<inner where maxima[j] == -Float.infinity { maxima[j] = 0 }
        for k in 0..<n {
            let s = src + k * inner, d = dst + k * inner
            for j in 0..<inner {
                d[j] = inspectd_exp(s[j] - maxima[j])
                sums[j] += d[j]
            }
        }
        for j in 0..<inner { sums[j] = sums[j] > 0 ? 1 / sums[j] : 0 }
        for k in 0..<n {
            let d = dst + k * inner
            for j in 0..<inner { d[j] *= sums[j] }
        }
    }

    /// dx = p ⊙ (g − Σ g⊙p) for one row; `dx` may alias `g`.
    @inline(__always)
    static func backwardRow(_ p: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        let dot = Reduce.dot(p, g, n)
        for i in 0..<n { dx[i] = p[i] * (g[i] - dot) }
    }
}
