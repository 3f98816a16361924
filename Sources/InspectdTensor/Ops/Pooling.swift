/// Average pooling over NCHW planes.

/// Average pooling with a kernel×kernel window (stride defaults to the kernel), zero padding on
/// every side, and output size ⌊(H + 2·padding − kernel)/stride⌋ + 1 as PyTorch's default.
/// Every window divides by kernel², padded positions included (PyTorch's count_include_pad=true);
/// without ceil mode no window reaches past the padding, so that divisor is exact.
public func avgPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
    let g = PoolGeometry(input: x.shape, kernel: kernel, stride: stride ?? kernel, padding: padding)
    let out = Tensor(shape: g.outputShape) { y in
        x.data.withUnsafeBufferPointer { px in
            Engine.parallelFor(g.planes, minChunk: g.minChunk) { p in
                PoolKernels.forward(g, px.baseAddress! + p * g.inPlane, y.baseAddress! + p * g.outPlane)
            }
        }
    }
    return Autograd.record(out, inputs: [x]) { gradOut in
        let dX = Tensor(zeros: x.shape)
        dX.data.withUnsafeMutableBufferPointer { d in
            gradOut.data.withUnsafeBufferPointer { pg in
                Engine.parallelFor(g.planes, minChunk: g.minChunk) { p in
                    PoolKernels.backward(g, pg.baseAddress! + p * g.outPlane, d.baseAddress! + p * g.inPlane)
                }
            }
        }
        return [dX]
    }
}

/// The mean of each plane of [N, C, H, W], as [N, C].
public func globalAvgPool2d(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "globalAvgPool2d input must be NCHW, got \(x.shape)")
    let planes = x.shape[0] * x.shape[1], plane = x.shape[2] * x.shape[3]
    let inv = 1 / Float(max(1, plane))
    let minChunk = max(1, 8192 / max(1, plane))
    let out = Tensor(shape: [x.shape[0], x.shape[1]]) { y in
        x.data.withUnsafeBufferPointer { px in
            Engine.parallelFor(planes, minChunk: minChunk) { p in
                y[p] = Reduce.sum(px.baseAddress! + p * plane, plane) * inv
            }
        }
    }
    return Autograd.record(out, inputs: [x]) { gradOut in
        let dX = Tensor(shape: x.shape) { d in
            Engine.parallelFor(planes, minChunk: minChunk) { p in
                (d.baseAddress! + p * plane).update(repeating: gradOut.data[p] * inv, count: plane)
            }
        }
        return [dX]
    }
}

struct PoolGeometry {
    let planes, height, width, kernel, stride, padding, outHeight, outWidth: Int
    let outputShape: [Int]

    init(input: [Int], kernel: Int, stride: Int, padding: Int) {
        precondition(input.count == 4, "avgPool2d input must be NCHW, got \(input)")
        precondition(kernel >= 1 && stride >= 1, "avgPool2d kernel and stride must be positive")
        precondition(padding >= 0 && padding <= kernel / 2, "avgPool2d padding \(padding) must be in 0...kernel/2")
        (planes, height, width) = (input[0] * input[1], input[2], input[3])
        (self.kernel, self.stride, self.padding) = (kernel, stride, padding)
        outHeight = (height + 2 * padding - kernel) / stride + 1
        outWidth = (width + 2 * padding - kernel) / stride + 1
        precondition(outHeight > 0 && outWidth > 0, "avgPool2d kernel \(kernel) larger than padded input \(input)")
        outputShape = [input[0], input[1], outHeight, outWidth]
    }

    var inPlane: Int { height * width }
    var outPlane: Int { outHeight * outWidth }
    var minChunk: Int { max(1, 8192 / max(1, outPlane * kernel * kernel)) }

    /// Input rows (or columns, with `size` = width) that the window at output index `o` covers.
    @inline(__always)
    func window(_ o: Int, size: Int) -> Range<Int> {
        let start = o * stride - padding
        return max(0, start)..<min(size, start + kernel)
    }
}

enum PoolKernels {
    static func forward(_ g: PoolGeometry, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let inv = 1 / Float(g.kernel * g.kernel)
        for oy in 0..<g.outHeight {
            let rows = g.window(oy, size: g.height)
            for ox in 0..<g.outWidth {
                let cols = g.window(ox, size: g.width)
                var s: Float = 0
                for iy in rows {
                    let line = x + iy * g.width
                    for ix in cols { s += line[ix] }
                }
                y[oy * g.outWidth + ox] = s * inv
            }
        }
    }

    /// The adjoint: each output's gradient, divided by kernel², added to the inputs of its window.
    static func backward(_ g: PoolGeometry, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        let inv = 1 / Float(g.kernel * g.kernel)
        for oy in 0..<g.outHeight {
            let rows = g.window(oy, size: g.height)
            for ox in 0..<g.outWidth {
                let cols = g.window(ox, size: g.width)
                let v = dy[oy * g.outWidth + ox] * inv
                for iy in rows {
                    let line = dx + iy * g.width
                    for ix in cols { line[ix] += v }
                }
            }
        }
    }
}
