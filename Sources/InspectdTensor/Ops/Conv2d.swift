import CInspectdKernels

/// 2-D convolution (NCHW, weight [Cout, Cin/groups, kh, kw]) and its backward.
///
/// Four paths: 1x1 stride-1 convolutions are a plain GEMM on the input; depthwise convolutions
/// (one filter per channel) are direct loops (`DepthwiseKernel` forward at strides 1 and 2), since a
/// GEMM with K = kh*kw would waste the BLAS; 3x3 stride-1 convolutions with one pixel of padding run
/// without im2col (`Conv3x3Kernel`) where the CPU has AVX-512 or AVX2; everything else lowers each image
/// (and group) to an im2col matrix and calls sgemm.

/// Zero padding on each side, possibly asymmetric (TensorFlow's "SAME" pads more after than before).
public struct Padding2d: Equatable, Sendable {
    public var top, left, bottom, right: Int

    public init(top: Int, left: Int, bottom: Int, right: Int) {
        (self.top, self.left, self.bottom, self.right) = (top, left, bottom, right)
    }

    /// The same padding on every side.
    public init(_ all: Int) { self.init(top: all, left: all, bottom: all, right: all) }

    public static let zero = Padding2d(0)

    /// TensorFlow's "SAME": the output is ceil(input / stride), the surplus padding goes after.
    public static func same(kernel: Int, stride: Int, height: Int, width: Int) -> Padding2d {
        func split(_ size: Int) -> (Int, Int) {
            let out = (size + stride - 1) / stride
            let total = max((out - 1) * stride + kernel - size, 0)
            return (total / 2, total - total / 2)
        }
        let (t, b) = split(height), (l, r) = split(width)
        return Padding2d(top: t, left: l, bottom: b, right: r)
    }
}

/// Sizes of one convolution, shared by the forward and backward kernels.
struct ConvGeometry {
    let batch, inChannels, height, width: Int
    let outChannels, kernelH, kernelW, stride, groups: Int
    let padding: Padding2d
    let outHeight, outWidth: Int

    init(input: [Int], weight: [Int], stride: Int, padding: Padding2d, groups: Int) {
        precondition(input.count == 4, "conv2d input must be NCHW, got \(input)")
        precondition(weight.count == 4, "conv2d weight must be [Cout, Cin/groups, kh, kw], got \(weight)")
        precondition(stride >= 1 && groups >= 1, "conv2d stride and groups must be positive")
        (batch, inChannels, height, width) = (input[0], input[1], input[2], input[3])
        (outChannels, kernelH, kernelW) = (weight[0], weight[2], weight[3])
        precondition(inChannels % groups == 0 && outChannels % groups == 0,
                     "conv2d channels \(inChannels)->\(outChannels) do not split into \(groups) groups")
        precondition(weight[1] == inChannels / groups,
                     "conv2d weight \(weight) expects \(weight[1] * groups) input channels, input has \(inChannels)")
        self.stride = stride
        self.groups = groups
        self.padding = padding
        outHeight = (height + padding.top + padding.bottom - kernelH) / stride + 1
        outWidth = (width + padding.left + padding.right - kernelW) / stride + 1
        precondition(outHeight > 0 && outWidth > 0, "conv2d kernel \(kernelH)x\(kernelW) larger than padded input \(input)")
    }

    var inPerGroup: Int { inChannels / groups }
    var outPerGroup: Int { outChannels / groups }
    /// Rows of the im2col matrix of one group: input channels times kernel taps.
    var patch: Int { inPerGroup * kernelH * kernelW }
    var outPlane: Int { outHeight * outWidth }
    var inPlane: Int { height * width }
    var isPointwise: Bool {
        kernelH == 1 && kernelW == 1 && stride == 1 && padding == .zero && groups == 1
    }
    var isDepthwise: Bool { groups == inChannels && outChannels == inChannels && groups > 1 }
    var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }

    /// Output rows per forward tile: about 512 KB of im2col block or output (whichever is larger),
    /// and at least 256 columns so that each GEMM stays efficient.
    var outputRowsPerTile: Int {
        let columns = min(4096, max(256, 131_072 / max(patch, outChannels)))
        return max(1, min(outHeight, columns / outWidth))
    }

    /// The range of output columns whose input column `ox * stride + kx - left` is inside the image.
    @inline(__always)
    func validColumns(kx: Int) -> Range<Int> {
        let shift = kx - padding.left
        let lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride
        let hi = (width - 1 - shift) < 0 ? 0 : min(outWidth, (width - 1 - shift) / stride + 1)
        return lo..<max(lo, hi)
    }
}

/// An activation applied as the convolution stores its output, while the data is still in cache.
public enum ConvActivation: Sendable {
    case none, relu6
}

public func conv2d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil,
                   stride: Int = 1, padding: Padding2d = .zero, groups: Int = 1,
                   activation: ConvActivation = .none) -> Tensor {
    let g = ConvGeometry(input: x.shape, weight: weight.shape, stride: stride, padding: padding, groups: groups)
    if let bias { precondition(bias.shape == [g.outChannels], "conv2d bias must be [\(g.outChannels)], got \(bias.shape)") }
    // Training keeps the activation a separate op, whose backward needs the pre-activation values.
    if activation != .none && Autograd.shouldRecord([x, weight] + (bias.map { [$0] } ?? [])) {
        let y = conv2d(x, weight, bias: bias, stride: stride, padding: padding, groups: groups)
        switch activation {
        case .none: return y
        case .relu6: return relu6(y)
        }
    }

    let out = Tensor(shape: g.outputShape) { y in
        x.data.withUnsafeBufferPointer { px in
            weight.data.withUnsafeBufferPointer { pw in
                let bias = bias?.data
                if g.isDepthwise && DepthwiseKernel.supports(g) {
                    DepthwiseKernel.forward(g, px.baseAddress!, pw.baseAddress!, bias, activation, y.baseAddress!)
                } else if Conv3x3Kernel.supports(g) {
                    Conv3x3Kernel.forward(g, px.baseAddress!, pw.baseAddress!, bias, y.baseAddress!)
                    ConvKernels.epilogue(y.baseAddress!, channels: g.batch * g.outChannels, stride: g.outPlane,
                                         count: g.outPlane, bias: nil, activation)
                } else {
                    ConvKernels.gemmForward(g, px.baseAddress!, pw.baseAddress!, bias, activation, y.baseAddress!)
                }
            }
        }
    }
    var inputs = [x, weight]
    if let bias { inputs.append(bias) }
    return Autograd.record(out, inputs: inputs) { gradOut in
        // The direct 3x3 kernels write every element of their gradients; the other paths add into them.
        let direct = !g.isDepthwise && Conv3x3Kernel.supports(g)
        let gradient = { (shape: [Int]) in direct ? Tensor(shape: shape) { _ in } : Tensor(zeros: shape) }
        let dX = x.tracksGradient ? gradient(x.shape) : nil
        let dW = weight.tracksGradient ? gradient(weight.shape) : nil
        x.data.withUnsafeBufferPointer { px in
            weight.data.withUnsafeBufferPointer { pw in
                gradOut.data.withUnsafeBufferPointer { pg in
                    Tensor.withMutablePointer(dX) { dx in
                        Tensor.withMutablePointer(dW) { dw in
                            if g.isDepthwise {
                                ConvKernels.depthwiseBackward(g, px.baseAddress!, pw.baseAddress!, pg.baseAddress!, dx, dw)
                            } else if direct {
                                if let dx { Conv3x3Kernel.backwardData(g, pg.baseAddress!, pw.baseAddress!, dx) }
                                if let dw { Conv3x3Kernel.backwardWeight(g, px.baseAddress!, pg.baseAddress!, dw) }
                            } else {
                                ConvKernels.gemmBackward(g, px.baseAddress!, pw.baseAddress!, pg.baseAddress!, dx, dw)
                            }
                        }
                    }
                }
            }
        }
        guard let bias else { return [dX, dW] }
        let dB = bias.tracksGradient ? ConvKernels.biasGradient(g, gradOut) : nil
        return [dX, dW, dB]
    }
}

/// The im2col matrix of every image of `x` for a convolution of kernel `kernelH`×`kernelW`:
/// [C_in·kh·kw, batch·outH·outW] row-major, image after image along each row, rows in the order of
/// a weight [out, C_in, kh, kw] viewed as [out, C_in·kh·kw], so that the convolution is that
/// weight times these columns. What gradient projection records as a convolution's input vectors.
public func unfoldedPatches(_ x: Tensor, kernelH: Int, kernelW: Int, stride: Int, padding: Padding2d) -> [Float] {
    let g = ConvGeometry(input: x.shape, weight: [1, x.shape[1], kernelH, kernelW], stride: stride, padding: padding, groups: 1)
    let width = g.batch * g.outPlane
    var columns = [Float](repeating: 0, count: g.patch * width)
    x.data.withUnsafeBufferPointer { px in
        columns.withUnsafeMutableBufferPointer { col in
            for image in 0..<g.batch {
                ConvKernels.im2col(g, px.baseAddress! + image * g.inChannels * g.inPlane, col.baseAddress! + image * g.outPlane,
                                   rowStride: width)
            }
        }
    }
    return columns
}

enum ConvKernels {
    // MARK: GEMM path (im2col)

    static func gemmForward(_ g: ConvGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                            _ bias: [Float]?, _ activation: ConvActivation, _ y: UnsafeMutablePointer<Float>) {
        let L = g.outPlane
        // Work is cut into tiles of whole output rows, small enough that a tile's im2col block and
        // its output stay in a core's cache from the im2col through the GEMM to the epilogue (bias,
        // activation). Tiles of all images are spread over the workers, each GEMM serial: this also
        // keeps both cores busy on a single frame.
        let rows = g.outputRowsPerTile
        let tilesPerImage = (g.outHeight + rows - 1) / rows
        let colSize = g.isPointwise ? 0 : g.patch * rows * g.outWidth
        Engine.parallelRanges(g.batch * tilesPerImage) { _, tiles in
            let col = UnsafeMutablePointer<Float>.allocate(capacity: max(1, colSize))
            defer { col.deallocate() }
            for tile in tiles {
                let n = tile / tilesPerImage
                let oy0 = (tile % tilesPerImage) * rows, oy1 = min(g.outHeight, oy0 + rows)
                let first = oy0 * g.outWidth, count = (oy1 - oy0) * g.outWidth
                let yn = y + n * g.outChannels * L + first
                if g.isPointwise {
                    sgemm(m: g.outChannels, n: count, k: g.inChannels, a: w, lda: g.inChannels,
                          b: x + n * g.inChannels * L + first, ldb: L, c: yn, ldc: L)
                } else {
                    for grp in 0..<g.groups {
                        im2col(g, x + (n * g.inChannels + grp * g.inPerGroup) * g.inPlane, col, outputRows: oy0..<oy1)
                        sgemm(m: g.outPerGroup, n: count, k: g.patch, a: w + grp * g.outPerGroup * g.patch, lda: g.patch,
                              b: col, ldb: count, c: yn + grp * g.outPerGroup * L, ldc: L)
                    }
                }
                epilogue(yn, channels: g.outChannels, stride: L, count: count, bias: bias, activation)
            }
        }
    }

    /// Adds the per-channel bias and applies the activation to `count` values of each channel,
    /// channels `stride` apart.
    static func epilogue(_ y: UnsafeMutablePointer<Float>, channels: Int, stride: Int, count: Int,
                         bias: [Float]?, _ activation: ConvActivation) {
        guard bias != nil || activation != .none else { return }
        for c in 0..<channels {
            let b = bias?[c] ?? 0
            let row = y + c * stride
            switch activation {
            case .none: for i in 0..<count { row[i] += b }
            case .relu6: for i in 0..<count { let v = row[i] + b; row[i] = v > 0 ? (v < 6 ? v : 6) : 0 }
            }
        }
    }

    static func gemmBackward(_ g: ConvGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                             _ dy: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>?, _ dw: UnsafeMutablePointer<Float>?) {
        let L = g.outPlane
        let colSize = g.isPointwise ? 0 : g.patch * L
        let weightCount = g.outChannels * g.patch
        // Each worker sums its images' weight gradients privately; the partial sums are added at the end.
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: weightCount * Engine.threads)
        partials.initialize(repeating: 0, count: weightCount * Engine.threads)
        defer { partials.deallocate() }
        Engine.parallelRanges(g.batch) { worker, images in
            let col = UnsafeMutablePointer<Float>.allocate(capacity: max(1, colSize))
            defer { col.deallocate() }
            let dwPart = partials + worker * weightCount
            for n in images {
                let dyn = dy + n * g.outChannels * L
                if g.isPointwise {
                    if dw != nil {   // dW += dY_n · X_nᵀ
                        sgemm(transposeB: true, m: g.outChannels, n: g.inChannels, k: L, a: dyn, lda: L,
                              b: x + n * g.inChannels * L, ldb: L, beta: 1, c: dwPart, ldc: g.inChannels)
                    }
                    if let dx {   // dX_n = Wᵀ · dY_n
                        sgemm(transposeA: true, m: g.inChannels, n: L, k: g.outChannels, a: w, lda: g.inChannels,
                              b: dyn, ldb: L, c: dx + n * g.inChannels * L, ldc: L)
                    }
                    continue
                }
                for grp in 0..<g.groups {
                    let xg = x + (n * g.inChannels + grp * g.inPerGroup) * g.inPlane
                    let dyg = dyn + grp * g.outPerGroup * L
                    if dw != nil {   // dW_g += dY_g · colᵀ
                        im2col(g, xg, col)
                        sgemm(transposeB: true, m: g.outPerGroup, n: g.patch, k: L, a: dyg, lda: L,
                              b: col, ldb: L, beta: 1, c: dwPart + grp * g.outPerGroup * g.patch, ldc: g.patch)
                    }
                    if let dx {   // dcol = W_gᵀ · dY_g, scattered back onto the image
                        sgemm(transposeA: true, m: g.patch, n: L, k: g.outPerGroup, a: w + grp * g.outPerGroup * g.patch,
                              lda: g.patch, b: dyg, ldb: L, c: col, ldc: L)
                        col2im(g, col, dx + (n * g.inChannels + grp * g.inPerGroup) * g.inPlane)
                    }
                }
            }
        }
        if let dw {
            for worker in 0..<Engine.threads {
                let part = partials + worker * weightCount
                for i in 0..<weightCount { dw[i] += part[i] }
            }
        }
    }

    /// Unfolds output rows `outputRows` (all by default) of one group of one image into `col`
    /// [inPerGroup*kh*kw, rows*outW], each of its rows `rowStride` apart (by default packed).
    static func im2col(_ g: ConvGeometry, _ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>,
                       outputRows: Range<Int>? = nil, rowStride: Int? = nil) {
        let taps = g.kernelH * g.kernelW
        let outputRows = outputRows ?? 0..<g.outHeight
        let width = rowStride ?? outputRows.count * g.outWidth
        for row in 0..<g.patch {
            let c = row / taps, ky = (row % taps) / g.kernelW, kx = row % g.kernelW
            let plane = x + c * g.inPlane
            let dst = col + row * width
            let cols = g.validColumns(kx: kx)
            let shift = kx - g.padding.left
            for oy in outputRows {
                let iy = oy * g.stride + ky - g.padding.top
                let line = dst + (oy - outputRows.lowerBound) * g.outWidth
                guard iy >= 0 && iy < g.height else {
                    line.update(repeating: 0, count: g.outWidth)
                    continue
                }
                if cols.lowerBound > 0 { line.update(repeating: 0, count: cols.lowerBound) }
                if cols.upperBound < g.outWidth {
                    (line + cols.upperBound).update(repeating: 0, count: g.outWidth - cols.upperBound)
                }
                let src = plane + iy * g.width + shift
                if g.stride == 1 {
                    (line + cols.lowerBound).update(from: src + cols.lowerBound, count: cols.count)
                } else {
                    for ox in cols { line[ox] = src[ox * g.stride] }
                }
            }
        }
    }

    /// Adds the columns of `col` back onto the image they were unfolded from (im2col's adjoint).
    static func col2im(_ g: ConvGeometry, _ col: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        let taps = g.kernelH * g.kernelW
        for c in 0..<g.inPerGroup {
            let plane = dx + c * g.inPlane
            for tap in 0..<taps {
                let ky = tap / g.kernelW, kx = tap % g.kernelW
                let src = col + (c * taps + tap) * g.outPlane
                let cols = g.validColumns(kx: kx)
                let shift = kx - g.padding.left
                for oy in 0..<g.outHeight {
                    let iy = oy * g.stride + ky - g.padding.top
                    guard iy >= 0 && iy < g.height else { continue }
                    let dst = plane + iy * g.width + shift
                    let line = src + oy * g.outWidth
                    for ox in cols { dst[ox * g.stride] += line[ox] }
                }
            }
        }
    }

    // MARK: Depthwise path (direct loops)

    static func depthwiseBackward(_ g: ConvGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                  _ dy: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>?, _ dw: UnsafeMutablePointer<Float>?) {
        let taps = g.kernelH * g.kernelW
        // Parallel over channels so that each filter's gradient is summed by one thread.
        Engine.parallelFor(g.inChannels) { c in
            for n in 0..<g.batch {
                let plane = n * g.inChannels + c
                let src = x + plane * g.inPlane
                let grad = dy + plane * g.outPlane
                for ky in 0..<g.kernelH {
                    for kx in 0..<g.kernelW {
                        let tap = ky * g.kernelW + kx
                        let weight = w[c * taps + tap]
                        let cols = g.validColumns(kx: kx)
                        let shift = kx - g.padding.left
                        var wSum: Float = 0
                        for oy in 0..<g.outHeight {
                            let iy = oy * g.stride + ky - g.padding.top
                            guard iy >= 0 && iy < g.height else { continue }
                            let gline = grad + oy * g.outWidth
                            let offset = iy * g.width + shift
                            for ox in cols {
                                wSum += gline[ox] * src[offset + ox * g.stride]
                            }
                            if let dx {
                                let dline = dx + plane * g.inPlane + offset
                                for ox in cols { dline[ox * g.stride] += weight * gline[ox] }
                            }
                        }
                        dw?[c * taps + tap] += wSum
                    }
                }
            }
        }
    }

    static func biasGradient(_ g: ConvGeometry, _ gradOut: Tensor) -> Tensor {
        Tensor(shape: [g.outChannels]) { d in
            gradOut.data.withUnsafeBufferPointer { pg in
                let sum = { (channels: Range<Int>) in
                    for c in channels {
                        d[c] = 0
                        for n in 0..<g.batch {
                            d[c] += inspectd_sum(pg.baseAddress! + (n * g.outChannels + c) * g.outPlane, g.outPlane)
                        }
                    }
                }
                if gradOut.count < parallelGrain { sum(0..<g.outChannels) } else { Engine.parallelRanges(g.outChannels) { sum($1) } }
            }
        }
    }
}
