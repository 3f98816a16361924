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
    /// Replaces a row by its softmax; a row that is all −∞ becomes zeros.
    @inline(__always)
    static func normalizeRow(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = Reduce.max(row, n)
        guard m > -Float.infinity else {
            row.update(repeating: 0, count: n)
            return
        }
        for i in 0..<n { row[i] = FastMath.exp(row[i] - m) }
        let inv = 1 / Reduce.sum(row, n)
        for i in 0..<n { row[i] *= inv }
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
                d[j] = FastMath.exp(s[j] - maxima[j])
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

/// Elementary functions in a form the loop vectorizer can widen: no calls, no traps, no branches.
enum FastMath {
    /// e^x to within a few ulp (Cephes' expf: Cody–Waite reduction by ln 2, degree-5 polynomial),
    /// with the exponent assembled from the bits of a rounded float rather than a trapping Int
    /// conversion. Below −87.3 the result is 0, so −∞ (a masked score) gives exactly 0.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let clamped = Swift.min(Swift.max(x, -87.3), 88.3)
        // Adding 1.5·2^23 rounds to an integer held in the low mantissa bits.
        let shifted = clamped * 1.442_695_04 + 12_582_912
        let k = shifted - 12_582_912
        let r = (clamped - k * 0.693_359_375) + k * 2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let mantissa = p * r * r + r + 1
        let exponent = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000 &+ 127
        let scale = Float(bitPattern: UInt32(bitPattern: exponent &<< 23))
        return x < -87.3 ? 0 : mantissa * scale
    }
}
