import Foundation

/// Normalization layers: group norm and layer norm (statistics of the sample), batch norm for
/// inference (running statistics), and folding batch norm into the convolution before it.
///
/// Group norm and layer norm are one kernel: the tensor is a run of contiguous segments, each
/// normalized by its own mean and variance, then scaled per affine channel. Group norm's segment is
/// one group of one image (channelsPerSegment planes of `spatial` values); layer norm's segment is
/// one row, each element its own channel.

/// Group normalization over [N, C, ...]: each image's channels split into `groups` runs, each
/// normalized over its channels and spatial positions, then `weight`·x̂ + `bias` per channel.
/// Without weight or bias the affine step is the identity.
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor? = nil, bias: Tensor? = nil,
                      eps: Float = 1e-5) -> Tensor {
    precondition(x.rank >= 2, "groupNorm input must be [N, C, ...], got \(x.shape)")
    let channels = x.shape[1]
    precondition(groups >= 1 && channels % groups == 0, "groupNorm: \(channels) channels do not split into \(groups) groups")
    let layout = SegmentLayout(segments: x.shape[0] * groups, groups: groups,
                               channelsPerSegment: channels / groups,
                               spatial: x.shape.dropFirst(2).reduce(1, *))
    return segmentNorm(x, layout, weight: weight, bias: bias, eps: eps, op: "groupNorm")
}

/// Layer normalization over the last axis, with an elementwise affine of that axis' size.
public func layerNorm(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
    precondition(x.rank >= 1, "layerNorm of a scalar")
    let width = x.shape[x.rank - 1]
    let layout = SegmentLayout(segments: width == 0 ? 0 : x.count / width, groups: 1,
                               channelsPerSegment: width, spatial: 1)
    return segmentNorm(x, layout, weight: weight, bias: bias, eps: eps, op: "layerNorm")
}

/// Batch normalization with running statistics, as at inference: per channel of [N, C, ...],
/// (x − mean)/√(variance + eps)·weight + bias. The statistics are constants; gradients flow to
/// x, weight and bias.
public func batchNorm(_ x: Tensor, mean: Tensor, variance: Tensor, weight: Tensor? = nil, bias: Tensor? = nil,
                      eps: Float = 1e-5) -> Tensor {
    precondition(x.rank >= 2, "batchNorm input must be [N, C, ...], got \(x.shape)")
    let channels = x.shape[1]
    for (name, t) in [("mean", mean), ("variance", variance), ("weight", weight), ("bias", bias)] {
        if let t { precondition(t.shape == [channels], "batchNorm \(name) must be [\(channels)], got \(t.shape)") }
    }
    let plane = x.shape.dropFirst(2).reduce(1, *)
    let planes = x.shape[0] * channels
    // Per channel, y = x·scale + shift: rstd and the affine weight collapse into one multiply.
    var rstd = [Float](repeating: 0, count: channels)
    var scale = [Float](repeating: 0, count: channels)
    var shift = [Float](repeating: 0, count: channels)
    for c in 0..<channels {
        rstd[c] = 1 / (variance.data[c] + eps).squareRoot()
        scale[c] = rstd[c] * (weight?.data[c] ?? 1)
        shift[c] = (bias?.data[c] ?? 0) - mean.data[c] * scale[c]
    }

    let out = Tensor(shape: x.shape) { y in
        x.data.withUnsafeBufferPointer { px in
            Engine.parallelFor(planes, minChunk: max(1, 4096 / max(1, plane))) { p in
                let a = scale[p % channels], b = shift[p % channels]
                let src = px.baseAddress! + p * plane, dst = y.baseAddress! + p * plane
                for i in 0..<plane { dst[i] = src[i] * a + b }
            }
        }
    }
    var inputs = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    return Autograd.record(out, inputs: inputs) { gradOut in
        let dX = x.tracksGradient ? Tensor(shape: x.shape) { d in
            gradOut.data.withUnsafeBufferPointer { pg in
                Engine.parallelFor(planes, minChunk: max(1, 4096 / max(1, plane))) { p in
                    let a = scale[p % channels]
                    let src = pg.baseAddress! + p * plane, dst = d.baseAddress! + p * plane
                    for i in 0..<plane { dst[i] = src[i] * a }
                }
            }
        } : nil
        var dWeight = [Float](repeating: 0, count: channels), dBias = [Float](repeating: 0, count: channels)
        if weight?.tracksGradient == true || bias?.tracksGradient == true {
            gradOut.data.withUnsafeBufferPointer { pg in
                x.data.withUnsafeBufferPointer { px in
                    for p in 0..<planes {
                        let c = p % channels
                        let g = pg.baseAddress! + p * plane, v = px.baseAddress! + p * plane
                        var sumG: Float = 0, sumGX: Float = 0
                        for i in 0..<plane { sumG += g[i]; sumGX += g[i] * v[i] }
                        dBias[c] += sumG
                        // Σ dy·x̂ = rstd·(Σ dy·x − mean·Σ dy)
                        dWeight[c] += rstd[c] * (sumGX - mean.data[c] * sumG)
                    }
                }
            }
        }
        var grads: [Tensor?] = [dX]
        if let weight { grads.append(weight.tracksGradient ? Tensor(shape: [channels], data: dWeight) : nil) }
        if let bias { grads.append(bias.tracksGradient ? Tensor(shape: [channels], data: dBias) : nil) }
        return grads
    }
}

/// Folds an inference batch norm into the convolution that feeds it, so that
/// conv2d(x, folded.weight, bias: folded.bias) == batchNorm(conv2d(x, convWeight, bias: convBias), ...).
/// Per output channel o, with s = weight[o]/√(variance[o] + eps): w'[o] = w[o]·s and
/// b' = (b[o] − mean[o])·s + bias[o]. A missing conv bias is zero. The result is a deployment
/// artefact, outside the autograd graph.
public func foldBatchNorm(convWeight: Tensor, convBias: Tensor?, mean: Tensor, variance: Tensor,
                          weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> (weight: Tensor, bias: Tensor) {
    precondition(convWeight.rank >= 1, "foldBatchNorm conv weight must be [Cout, ...], got \(convWeight.shape)")
    let outChannels = convWeight.shape[0]
    for (name, t) in [("convBias", convBias), ("mean", mean), ("variance", variance), ("weight", weight), ("bias", bias)] {
        if let t { precondition(t.shape == [outChannels], "foldBatchNorm \(name) must be [\(outChannels)], got \(t.shape)") }
    }
    let perChannel = outChannels == 0 ? 0 : convWeight.count / outChannels
    var folded = convWeight.data
    var foldedBias = [Float](repeating: 0, count: outChannels)
    for o in 0..<outChannels {
        let s = (weight?.data[o] ?? 1) / (variance.data[o] + eps).squareRoot()
        for i in 0..<perChannel { folded[o * perChannel + i] *= s }
        foldedBias[o] = ((convBias?.data[o] ?? 0) - mean.data[o]) * s + (bias?.data[o] ?? 0)
    }
    return (Tensor(shape: convWeight.shape, data: folded), Tensor(shape: [outChannels], data: foldedBias))
}

// MARK: - Segment normalization kernel

/// How a tensor splits into normalized segments: `segments` contiguous runs of
/// `channelsPerSegment` × `spatial` values; segment s, channel j uses affine channel
/// (s mod groups)·channelsPerSegment + j.
struct SegmentLayout {
    let segments, groups, channelsPerSegment, spatial: Int
    var length: Int { channelsPerSegment * spatial }
    var affineChannels: Int { groups * channelsPerSegment }

    /// Consecutive segments per task, so that a task has enough elements to be worth a thread.
    var minChunk: Int { max(1, 8192 / max(1, length)) }
}

private func segmentNorm(_ x: Tensor, _ layout: SegmentLayout, weight: Tensor?, bias: Tensor?, eps: Float,
                         op: String) -> Tensor {
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let t { precondition(t.shape == [layout.affineChannels], "\(op) \(name) must be [\(layout.affineChannels)], got \(t.shape)") }
    }
    // A missing affine becomes ones and zeros, so the kernels read plain pointers in their loops.
    let scale = weight?.data ?? [Float](repeating: 1, count: layout.affineChannels)
    let shift = bias?.data ?? [Float](repeating: 0, count: layout.affineChannels)
    var mean = [Float](repeating: 0, count: layout.segments)
    var rstd = [Float](repeating: 0, count: layout.segments)
    let out = Tensor(shape: x.shape) { y in
        x.data.withUnsafeBufferPointer { px in
            mean.withUnsafeMutableBufferPointer { pm in
                rstd.withUnsafeMutableBufferPointer { pr in
                    scale.withUnsafeBufferPointer { w in
                        shift.withUnsafeBufferPointer { b in
                            SegmentNormKernels.forward(layout, px.baseAddress!, w.baseAddress!, b.baseAddress!, eps: eps,
                                                       y.baseAddress!, pm.baseAddress!, pr.baseAddress!)
                        }
                    }
                }
            }
        }
    }
    var inputs = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    return Autograd.record(out, inputs: inputs) { gradOut in
        let wantAffine = weight?.tracksGradient == true || bias?.tracksGradient == true
        let dWeight = wantAffine ? Tensor(zeros: [layout.affineChannels]) : nil
        let dBias = wantAffine ? Tensor(zeros: [layout.affineChannels]) : nil
        func run(_ dx: UnsafeMutablePointer<Float>?) {
            x.data.withUnsafeBufferPointer { px in
                gradOut.data.withUnsafeBufferPointer { pg in
                    scale.withUnsafeBufferPointer { w in
                        Tensor.withMutablePointer(dWeight) { dw in
                            Tensor.withMutablePointer(dBias) { db in
                                SegmentNormKernels.backward(layout, px.baseAddress!, pg.baseAddress!, w.baseAddress!, mean, rstd,
                                                            dx, dw, db)
                            }
                        }
                    }
                }
            }
        }
        var dX: Tensor?
        if x.tracksGradient {
            dX = Tensor(shape: x.shape) { run($0.baseAddress!) }
        } else {
            run(nil)
        }
        var grads: [Tensor?] = [dX]
        if let weight { grads.append(weight.tracksGradient ? dWeight : nil) }
        if let bias { grads.append(bias.tracksGradient ? dBias : nil) }
        return grads
    }
}

extension Tensor {
    /// Runs `body` with a read-only pointer to the elements of `tensor`, or nil without one.
    static func withOptionalPointer<R>(_ tensor: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let tensor else { return body(nil) }
        return tensor.data.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

enum SegmentNormKernels {
    /// Mean and 1/√(var + eps) of `n` values. Two passes over data that is in cache by the second:
    /// the one-pass Σx² − (Σx)²/n loses the variance when the mean is large next to the spread.
    @inline(__always)
    static func statistics(_ x: UnsafePointer<Float>, _ n: Int, eps: Float) -> (mean: Float, rstd: Float) {
        let mean = Reduce.sum(x, n) / Float(n)
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var i = 0
        while i + 4 <= n {
            let d0 = x[i] - mean, d1 = x[i + 1] - mean, d2 = x[i + 2] - mean, d3 = x[i + 3] - mean
            s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3
            i += 4
        }
        while i < n { let d = x[i] - mean; s0 += d * d; i += 1 }
        let variance = ((s0 + s1) + (s2 + s3)) / Float(n)
        return (mean, 1 / (variance + eps).squareRoot())
    }

    static func forward(_ l: SegmentLayout, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                        _ b: UnsafePointer<Float>, eps: Float, _ y: UnsafeMutablePointer<Float>,
                        _ mean: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>) {
        guard l.length > 0 else { return }
        Engine.parallelFor(l.segments, minChunk: l.minChunk) { s in
            let src = x + s * l.length, dst = y + s * l.length
            let (m, r) = statistics(src, l.length, eps: eps)
            mean[s] = m
            rstd[s] = r
            let base = (s % l.groups) * l.channelsPerSegment
            if l.spatial == 1 {
                let ws = w + base, bs = b + base
                for j in 0..<l.length { dst[j] = (src[j] - m) * r * ws[j] + bs[j] }
                return
            }
            for j in 0..<l.channelsPerSegment {
                let a = r * w[base + j]
                let shift = b[base + j] - m * a
                let cs = src + j * l.spatial, cd = dst + j * l.spatial
                for i in 0..<l.spatial { cd[i] = cs[i] * a + shift }
            }
        }
    }

    /// With x̂ = (x − mean)·rstd and g = dy·weight, per segment:
    /// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); dweight = Σ dy·x̂ and dbias = Σ dy per channel.
    static func backward(_ l: SegmentLayout, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ w: UnsafePointer<Float>, _ mean: [Float], _ rstd: [Float],
                         _ dx: UnsafeMutablePointer<Float>?, _ dw: UnsafeMutablePointer<Float>?,
                         _ db: UnsafeMutablePointer<Float>?) {
        guard l.length > 0, l.segments > 0 else { return }
        let wantAffine = dw != nil || db != nil
        // Affine gradients sum over segments; each task sums into its own row, reduced after.
        let tasks = wantAffine ? min(l.segments, max(1, Engine.threads)) : l.segments
        let perTask = (l.segments + tasks - 1) / tasks
        let channels = l.affineChannels
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: wantAffine ? 2 * tasks * channels : 0)
        defer { partial.deallocate() }
        if wantAffine { partial.initialize(repeating: 0, count: 2 * tasks * channels) }

        let work = l.segments * l.length
        Engine.parallelFor(tasks, minChunk: work >= 32768 ? 1 : tasks) { task in
            let pw = partial + task * 2 * channels, pb = pw + channels
            for s in (task * perTask)..<min(l.segments, (task + 1) * perTask) {
                let src = x + s * l.length, g = dy + s * l.length
                let m = mean[s], r = rstd[s]
                let base = (s % l.groups) * l.channelsPerSegment
                if l.spatial == 1 {
                    rowBackward(l.length, src, g, w + base, m, r, wantAffine ? pw + base : nil,
                                wantAffine ? pb + base : nil, dx.map { $0 + s * l.length })
                    continue
                }
                var sumG: Float = 0, sumGX: Float = 0
                for j in 0..<l.channelsPerSegment {
                    let cs = src + j * l.spatial, cg = g + j * l.spatial
                    let gy = Reduce.sum(cg, l.spatial)
                    let gyx = Reduce.centeredDot(cg, cs, m, l.spatial) * r
                    let wj = w[base + j]
                    sumG += gy * wj
                    sumGX += gyx * wj
                    if wantAffine {
                        pw[base + j] += gyx
                        pb[base + j] += gy
                    }
                }
                guard let dx else { continue }
                let meanG = sumG / Float(l.length), meanGX = sumGX / Float(l.length)
                let d = dx + s * l.length
                // dx = rstd·w·dy − rstd·mean(g) − rstd·x̂·mean(g·x̂), with x̂ = (x − m)·rstd
                let k = r * r * meanGX, c0 = r * meanG
                for j in 0..<l.channelsPerSegment {
                    let wr = w[base + j] * r
                    let cs = src + j * l.spatial, cg = g + j * l.spatial, cd = d + j * l.spatial
                    for i in 0..<l.spatial { cd[i] = wr * cg[i] - c0 - k * (cs[i] - m) }
                }
            }
        }
        guard wantAffine else { return }
        for task in 0..<tasks {
            let pw = partial + task * 2 * channels, pb = pw + channels
            for c in 0..<channels {
                dw?[c] += pw[c]
                db?[c] += pb[c]
            }
        }
    }
}

extension SegmentNormKernels {
    /// The backward of one segment whose every element is its own channel (layer norm's row):
    /// the same formula as above with spatial = 1, as loops over the row.
    @inline(__always)
    static func rowBackward(_ n: Int, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                            _ m: Float, _ r: Float, _ dw: UnsafeMutablePointer<Float>?, _ db: UnsafeMutablePointer<Float>?,
                            _ dx: UnsafeMutablePointer<Float>?) {
        var sumG: Float = 0, sumGX: Float = 0
        for j in 0..<n {
            let gw = dy[j] * w[j]
            sumG += gw
            sumGX += gw * (x[j] - m)
        }
        if let dw, let db {
            for j in 0..<n {
                dw[j] += dy[j] * (x[j] - m) * r
                db[j] += dy[j]
            }
        }
        guard let dx else { return }
        let c0 = r * sumG / Float(n), k = r * r * r * sumGX / Float(n)
        for j in 0..<n { dx[j] = r * w[j] * dy[j] - c0 - k * (x[j] - m) }
    }
}

/// Float reductions with several accumulators: a single running sum is one long dependency chain
/// the compiler may not reorder, and it rounds worse on long rows.
enum Reduce {
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
        var i = 0
        while i + 8 <= n {
            s0 += x[i]; s1 += x[i + 1]; s2 += x[i + 2]; s3 += x[i + 3]
            s4 += x[i + 4]; s5 += x[i + 5]; s6 += x[i + 6]; s7 += x[i + 7]
            i += 8
        }
        while i < n { s0 += x[i]; i += 1 }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    }

    @inline(__always)
    static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m0 = -Float.infinity, m1 = -Float.infinity, m2 = -Float.infinity, m3 = -Float.infinity
        var i = 0
        while i + 4 <= n {
            m0 = Swift.max(m0, x[i]); m1 = Swift.max(m1, x[i + 1])
            m2 = Swift.max(m2, x[i + 2]); m3 = Swift.max(m3, x[i + 3])
            i += 4
        }
        while i < n { m0 = Swift.max(m0, x[i]); i += 1 }
        return Swift.max(Swift.max(m0, m1), Swift.max(m2, m3))
    }

    /// Σ a[i]·(b[i] − center).
    @inline(__always)
    static func centeredDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ center: Float, _ n: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var i = 0
        while i + 4 <= n {
            s0 += a[i] * (b[i] - center); s1 += a[i + 1] * (b[i + 1] - center)
            s2 += a[i + 2] * (b[i + 2] - center); s3 += a[i + 3] * (b[i + 3] - center)
            i += 4
        }
        while i < n { s0 += a[i] * (b[i] - center); i += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    /// Σ a[i]·b[i].
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var i = 0
        while i + 4 <= n {
            s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]
            s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3]
            i += 4
        }
        while i < n { s0 += a[i] * b[i]; i += 1 }
        return (s0 + s1) + (s2 + s3)
    }
}
