/// Sums and means over all elements or chosen axes, the mean squared error, and the one reduction
/// kernel behind them and behind every broadcast gradient.

/// Σ p[i] over a contiguous run, with wide independent accumulators: a single running Float sum
/// is both a latency chain and, over a million elements, a noticeable rounding error.
@inline(__always)
func sumRun(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    let raw = UnsafeRawPointer(p)
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var i = 0
    while i + 32 <= n {
        acc0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        acc1 += raw.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
        i += 32
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Σ p[i]·q[i] over a contiguous run, accumulated as `sumRun` does.
@inline(__always)
func dotRun(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ n: Int) -> Float {
    let rp = UnsafeRawPointer(p), rq = UnsafeRawPointer(q)
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var i = 0
    while i + 32 <= n {
        acc0 += rp.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            * rq.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        acc1 += rp.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
            * rq.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
        i += 32
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += p[i] * q[i]; i += 1 }
    return s
}

/// Offset of flat index `index` over axes `sizes` (row-major) read through `strides`.
@inline(__always)
private func stridedOffset(_ index: Int, _ sizes: [Int], _ strides: [Int]) -> Int {
    var index = index, offset = 0
    for axis in stride(from: sizes.count - 1, through: 0, by: -1) {
        offset += (index % sizes[axis]) * strides[axis]
        index /= sizes[axis]
    }
    return offset
}

/// scale · Σ x (or x·y, when `y` of x's shape is given) over the axes where `keep` is false.
/// The result keeps x's rank, with size 1 along the summed axes. Every output element is summed
/// in a fixed order, so results do not depend on the thread count.
func sumKernel(_ x: Tensor, times y: Tensor? = nil, keeping keep: [Bool], scale: Float = 1) -> Tensor {
    precondition(keep.count == x.rank)
    if let y { precondition(y.shape == x.shape, "sumKernel factor \(y.shape) differs from \(x.shape)") }
    let outShape = zip(x.shape, keep).map { $1 ? $0 : 1 }
    let outCount = outShape.reduce(1, *)
    if x.count == 0 { return Tensor(zeros: outShape) }
    if outCount == x.count {   // nothing to sum: the summed axes all have size 1
        switch (y, scale) {
        case (nil, 1): return Tensor(shape: outShape, data: x.data)
        case (nil, _): return mapBinary(x, Tensor(scalar: scale), MulKernel())
        case (let y?, 1): return mapBinary(x, y, MulKernel())
        case (let y?, _): return mapBinary(mapBinary(x, y, MulKernel()), Tensor(scalar: scale), MulKernel())
        }
    }

    let outStrides = zip(Tensor.strides(of: outShape), keep).map { $1 ? $0 : 0 }
    let loop = StridedLoop(shape: x.shape, strides: [x.strides, outStrides])
    let n = loop.inner
    // Outer axes by role: kept ones index the output, summed ones are looped over.
    var keptSizes: [Int] = [], keptStrides: [Int] = [], sumSizes: [Int] = [], sumStrides: [Int] = []
    for axis in 0..<(loop.sizes.count - 1) {
        if loop.strides[1][axis] != 0 {
            keptSizes.append(loop.sizes[axis]); keptStrides.append(loop.strides[0][axis])
        } else {
            sumSizes.append(loop.sizes[axis]); sumStrides.append(loop.strides[0][axis])
        }
    }
    let sumCount = sumSizes.reduce(1, *)
    let innerKept = loop.innerStride(1) != 0

    return Tensor(shape: outShape) { out in
        x.data.withUnsafeBufferPointer { px in
            Tensor.withPointer(y) { py in
                let xs = px.baseAddress!, dst = out.baseAddress!
                if innerKept {
                    // Output rows of n, each accumulating n-wide slices of x (bias gradients of
                    // [..., D] by [D], or [N,C,H,W] summed over N).
                    let outLoop = StridedLoop(shape: keptSizes + [n], strides: [keptStrides + [1]])
                    outLoop.forEachRun(work: x.count) { rows, columns in
                        let width = columns.count
                        var cursor = outLoop.cursor(at: rows.lowerBound)
                        for row in rows {
                            let acc = dst + row * outLoop.inner + columns.lowerBound
                            let base = cursor.offset0 + columns.lowerBound
                            acc.update(repeating: 0, count: width)
                            for s in 0..<sumCount {
                                let at = base + stridedOffset(s, sumSizes, sumStrides)
                                let src = xs + at
                                if let py {
                                    let f = py + at
                                    for i in 0..<width { acc[i] += src[i] * f[i] }
                                } else {
                                    for i in 0..<width { acc[i] += src[i] }
                                }
                            }
                            if scale != 1 { for i in 0..<width { acc[i] *= scale } }
                            cursor.advance()
                        }
                    }
                } else if outCount == 1 {
                    // Everything into one number: a single contiguous run, cut into fixed chunks
                    // whose partial sums are added in order.
                    let chunk = 1 << 14
                    let chunks = (n + chunk - 1) / chunk
                    var partials = [Float](repeating: 0, count: chunks)
                    partials.withUnsafeMutableBufferPointer { part in
                        Engine.parallelFor(chunks, minChunk: parallelGrain / chunk) { c in
                            let lo = c * chunk, width = min(n, lo + chunk) - lo
                            part[c] = py.map { dotRun(xs + lo, $0 + lo, width) } ?? sumRun(xs + lo, width)
                        }
                    }
                    dst[0] = partials.reduce(0, +) * scale
                } else {
                    // Each output sums runs of n contiguous elements (means over H·W, over the last axis).
                    let outLoop = StridedLoop(shape: keptSizes, strides: [keptStrides])
                    let step = outLoop.innerStride(0)
                    outLoop.forEachRun(work: x.count) { rows, columns in
                        var cursor = outLoop.cursor(at: rows.lowerBound)
                        for row in rows {
                            for o in columns {
                                let base = cursor.offset0 + o * step
                                var total: Float = 0
                                for s in 0..<sumCount {
                                    let at = base + stridedOffset(s, sumSizes, sumStrides)
                                    total += py.map { dotRun(xs + at, $0 + at, n) } ?? sumRun(xs + at, n)
                                }
                                dst[row * outLoop.inner + o] = total * scale
                            }
                            cursor.advance()
                        }
                    }
                }
            }
        }
    }
}

/// Sums `g` (times `y`, scaled) down to `shape`, which `g`'s shape is a broadcast of: the
/// gradient of an operand that was stretched to g's shape.
func reduceToShape(_ g: Tensor, times y: Tensor? = nil, scale: Float = 1, to shape: [Int]) -> Tensor {
    let lead = g.rank - shape.count
    precondition(lead >= 0, "cannot reduce \(g.shape) to the higher-rank \(shape)")
    let keep = g.shape.indices.map { axis in
        guard axis >= lead else { return false }
        precondition(shape[axis - lead] == g.shape[axis] || shape[axis - lead] == 1,
                     "\(g.shape) is not a broadcast of \(shape)")
        return shape[axis - lead] == g.shape[axis]
    }
    let summed = sumKernel(g, times: y, keeping: keep, scale: scale)
    return summed.shape == shape ? summed : Tensor(shape: shape, data: summed.data)
}

extension Tensor {
    /// Like `withMutablePointer`, read-only.
    static func withPointer<R>(_ tensor: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let tensor else { return body(nil) }
        return tensor.data.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

// MARK: - Public reductions

/// The sum of all elements, as a scalar tensor.
public func sum(_ x: Tensor) -> Tensor {
    reduceAll(x, scale: 1)
}

/// The mean of all elements, as a scalar tensor.
public func mean(_ x: Tensor) -> Tensor {
    precondition(x.count > 0, "mean of an empty tensor")
    return reduceAll(x, scale: 1 / Float(x.count))
}

private func reduceAll(_ x: Tensor, scale: Float) -> Tensor {
    let total = sumKernel(x, keeping: Array(repeating: false, count: x.rank), scale: scale)
    let out = Tensor(shape: [], data: total.data)
    return Autograd.record(out, inputs: [x]) { g in
        [expandKernel(Tensor(scalar: g.item * scale), to: x.shape)]
    }
}

/// Sums over `axes` (negative ones count from the end). With `keepDims` the summed axes stay as
/// size 1, so the result broadcasts against `x`.
public func sum(_ x: Tensor, axes: [Int], keepDims: Bool = false) -> Tensor {
    reduceAxes(x, axes: axes, keepDims: keepDims, mean: false)
}

/// Means over `axes` (negative ones count from the end), with `keepDims` as for `sum`.
public func mean(_ x: Tensor, axes: [Int], keepDims: Bool = false) -> Tensor {
    reduceAxes(x, axes: axes, keepDims: keepDims, mean: true)
}

private func reduceAxes(_ x: Tensor, axes: [Int], keepDims: Bool, mean: Bool) -> Tensor {
    let summed = Set(axes.map { normalizedAxis($0, rank: x.rank) })
    precondition(summed.count == axes.count, "repeated axis in \(axes) for shape \(x.shape)")
    let keep = x.shape.indices.map { !summed.contains($0) }
    let reducedCount = x.shape.indices.filter { summed.contains($0) }.reduce(1) { $0 * x.shape[$1] }
    precondition(!mean || reducedCount > 0, "mean over empty axes \(axes) of \(x.shape)")
    let scale = mean ? 1 / Float(reducedCount) : 1
    let kept = sumKernel(x, keeping: keep, scale: scale)
    let out = keepDims ? kept : Tensor(shape: x.shape.indices.filter { keep[$0] }.map { x.shape[$0] }, data: kept.data)
    return Autograd.record(out, inputs: [x]) { g in
        let spread = Tensor(shape: kept.shape, data: g.data)
        return [expandKernel(scale == 1 ? spread : mapBinary(spread, Tensor(scalar: scale), MulKernel()), to: x.shape)]
    }
}

/// The mean of (prediction − target)², with gradients to both.
public func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    precondition(prediction.shape == target.shape,
                 "mseLoss shapes differ: prediction \(prediction.shape), target \(target.shape)")
    precondition(prediction.count > 0, "mseLoss of empty tensors")
    let diff = mapBinary(prediction, target, SubKernel())
    let n = Float(diff.count)
    let total = sumKernel(diff, times: diff, keeping: Array(repeating: false, count: diff.rank), scale: 1 / n)
    let out = Tensor(shape: [], data: total.data)
    return Autograd.record(out, inputs: [prediction, target]) { g in
        let dPrediction = mapBinary(diff, Tensor(scalar: 2 * g.item / n), MulKernel())
        return [prediction.tracksGradient ? dPrediction : nil,
                target.tracksGradient ? mapBinary(dPrediction, Tensor(scalar: -1), MulKernel()) : nil]
    }
}
