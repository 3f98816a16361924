/// Spatial resizing of NCHW tensors; each backward is the adjoint of its forward, a scatter of the
/// output gradient onto the input pixels it was read from.

/// Nearest-neighbour upsampling by an integer factor: every pixel becomes a scale×scale block.
public func upsampleNearest(_ x: Tensor, scale: Int) -> Tensor {
    precondition(x.rank == 4, "upsampleNearest input must be NCHW, got \(x.shape)")
    precondition(scale >= 1, "upsampleNearest scale must be positive, got \(scale)")
    let (height, width) = (x.shape[2], x.shape[3])
    let (outHeight, outWidth) = (height * scale, width * scale)
    let planes = x.shape[0] * x.shape[1]
    let inPlane = height * width, outPlane = outHeight * outWidth
    let minChunk = max(1, 8192 / max(1, outPlane))

    let out = Tensor(shape: [x.shape[0], x.shape[1], outHeight, outWidth]) { y in
        x.data.withUnsafeBufferPointer { px in
            Engine.parallelFor(planes, minChunk: minChunk) { p in
                let src = px.baseAddress! + p * inPlane, dst = y.baseAddress! + p * outPlane
                for iy in 0..<height {
                    let first = dst + iy * scale * outWidth
                    for ix in 0..<width {
                        (first + ix * scale).update(repeating: src[iy * width + ix], count: scale)
                    }
                    for r in 1..<scale { (first + r * outWidth).update(from: first, count: outWidth) }
                }
            }
        }
    }
    return Autograd.record(out, inputs: [x]) { gradOut in
        let dX = Tensor(shape: x.shape) { d in
            gradOut.data.withUnsafeBufferPointer { pg in
                Engine.parallelFor(planes, minChunk: minChunk) { p in
                    let g = pg.baseAddress! + p * outPlane, dst = d.baseAddress! + p * inPlane
                    dst.update(repeating: 0, count: inPlane)
                    for oy in 0..<outHeight {
                        let line = g + oy * outWidth, row = dst + (oy / scale) * width
                        for ix in 0..<width { row[ix] += Reduce.sum(line + ix * scale, scale) }
                    }
                }
            }
        }
        return [dX]
    }
}

/// Bilinear resize to height×width with PyTorch's align_corners=false: output pixel o reads the
/// input at (o + 0.5)·in/out − 0.5, clamped below at 0; the right neighbour is clamped to the edge.
public func resizeBilinear(_ x: Tensor, height outHeight: Int, width outWidth: Int) -> Tensor {
    precondition(x.rank == 4, "resizeBilinear input must be NCHW, got \(x.shape)")
    precondition(outHeight >= 1 && outWidth >= 1, "resizeBilinear to \(outHeight)x\(outWidth)")
    let (height, width) = (x.shape[2], x.shape[3])
    precondition(height >= 1 && width >= 1, "resizeBilinear of an empty image \(x.shape)")
    let rows = LinearTaps(input: height, output: outHeight)
    let cols = LinearTaps(input: width, output: outWidth)
    let planes = x.shape[0] * x.shape[1]
    let inPlane = height * width, outPlane = outHeight * outWidth
    let minChunk = max(1, 4096 / outPlane)

    let out = Tensor(shape: [x.shape[0], x.shape[1], outHeight, outWidth]) { y in
        x.data.withUnsafeBufferPointer { px in
            Engine.parallelFor(planes, minChunk: minChunk) { p in
                let src = px.baseAddress! + p * inPlane, dst = y.baseAddress! + p * outPlane
                for oy in 0..<outHeight {
                    let top = src + rows.low[oy] * width, bottom = src + rows.high[oy] * width
                    let wy = rows.weight[oy]
                    let line = dst + oy * outWidth
                    for ox in 0..<outWidth {
                        let l = cols.low[ox], h = cols.high[ox], wx = cols.weight[ox]
                        let upper = (1 - wx) * top[l] + wx * top[h]
                        let lower = (1 - wx) * bottom[l] + wx * bottom[h]
                        line[ox] = (1 - wy) * upper + wy * lower
                    }
                }
            }
        }
    }
    return Autograd.record(out, inputs: [x]) { gradOut in
        let dX = Tensor(shape: x.shape) { d in
            gradOut.data.withUnsafeBufferPointer { pg in
                Engine.parallelFor(planes, minChunk: minChunk) { p in
                    let g = pg.baseAddress! + p * outPlane, dst = d.baseAddress! + p * inPlane
                    dst.update(repeating: 0, count: inPlane)
                    for oy in 0..<outHeight {
                        let top = dst + rows.low[oy] * width, bottom = dst + rows.high[oy] * width
                        let wy = rows.weight[oy]
                        let line = g + oy * outWidth
                        for ox in 0..<outWidth {
                            let l = cols.low[ox], h = cols.high[ox], wx = cols.weight[ox]
                            let upper = (1 - wy) * line[ox], lower = wy * line[ox]
                            top[l] += (1 - wx) * upper
                            top[h] += wx * upper
                            bottom[l] += (1 - wx) * lower
                            bottom[h] += wx * lower
                        }
                    }
                }
            }
        }
        return [dX]
    }
}

/// For each output index along one axis: the two input indices it blends and the weight of the
/// second, computed once per call instead of per pixel.
struct LinearTaps: Sendable {
    let low: [Int], high: [Int], weight: [Float]

    init(input: Int, output: Int) {
        let ratio = Float(input) / Float(output)
        var low = [Int](repeating: 0, count: output), high = low
        var weight = [Float](repeating: 0, count: output)
        for o in 0..<output {
            let source = max(0, (Float(o) + 0.5) * ratio - 0.5)
            let l = min(Int(source), input - 1)
            low[o] = l
            high[o] = min(l + 1, input - 1)
            weight[o] = source - Float(l)
        }
        (self.low, self.high, self.weight) = (low, high, weight)
    }
}
