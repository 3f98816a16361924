import CInspectdKernels

/// Convolution and linear layers on the int8 kernels: the input quantised per tensor with a
/// calibrated `Int8Scale`, the weights per output channel, the products summed exactly in int32 and
/// turned back into floats (scales, bias, activation) as they are stored. Packed once, at init, for
/// one kernel path; safe to call from several threads at once.

private func roundUp(_ n: Int, _ multiple: Int) -> Int { (n + multiple - 1) / multiple * multiple }
private let group = Int(INSPECTD_I8_COLUMN_GROUP)

extension ConvActivation {
    var int8Epilogue: inspectd_i8_activation {
        switch self {
        case .none: INSPECTD_I8_IDENTITY
        case .relu6: INSPECTD_I8_RELU6
        }
    }
}

/// A 2-D convolution (one group) with int8 weights [out, in, kh, kw].
public final class Int8Convolution: @unchecked Sendable {
    public let weights: Int8Weights
    public let bias: Tensor?
    public let stride: Int
    public let padding: Padding2d
    public let activation: ConvActivation
    public let input: Int8Scale
    public let path: Int8Path

    private let channelQuads: Int
    /// k in quads: taps × channel quads.
    private let quads: Int
    /// The weights as the product's rows, [out][quads · 4], k running over taps then channels (the
    /// order `inspectd_i8_patches` lays the input out in), zero past each tap's channels.
    private let rows: [Int8]
    private let rowScale: [Float]
    /// (column offset + input zero point) · Σ_k w[o, k]: removes both from the exact sums.
    private let rowCorrection: [Int32]

    public init(weights: Int8Weights, bias: Tensor?, stride: Int = 1, padding: Padding2d = .zero,
                activation: ConvActivation = .none, input: Int8Scale, path: Int8Path = .active) {
        precondition(weights.shape.count == 4, "int8 convolution weights must be [out, in, kh, kw], got \(weights.shape)")
        precondition(bias == nil || bias!.shape == [weights.shape[0]], "int8 convolution bias must be [\(weights.shape[0])]")
        precondition(path.runsHere, "the \(path.name) int8 kernels do not run on this CPU")
        (self.weights, self.bias, self.stride, self.padding, self.activation, self.input, self.path) =
            (weights, bias, stride, padding, activation, input, path)
        let (outChannels, inChannels, taps) = (weights.shape[0], weights.shape[1], weights.shape[2] * weights.shape[3])
        channelQuads = (inChannels + 3) / 4
        quads = taps * channelQuads
        let width = quads * 4
        var rows = [Int8](repeating: 0, count: outChannels * width)
        var correction = [Int32](repeating: 0, count: outChannels)
        for o in 0..<outChannels {
            var sum: Int32 = 0
            for c in 0..<inChannels {
                for tap in 0..<taps {
                    let q = weights.values[(o * inChannels + c) * taps + tap]
                    rows[o * width + tap * channelQuads * 4 + c] = q
                    sum += Int32(q)
                }
            }
            correction[o] = (path.columnOffset + input.zeroPoint) * sum
        }
        self.rows = rows
        rowCorrection = correction
        rowScale = weights.scales.map { $0 * input.scale }
    }

    /// Quantises the weights of `weight` [out, in, kh, kw] per output channel.
    public convenience init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Padding2d = .zero,
                            activation: ConvActivation = .none, input: Int8Scale, path: Int8Path = .active) {
        self.init(weights: Int8Weights(quantising: weight), bias: bias, stride: stride, padding: padding,
                  activation: activation, input: input, path: path)
    }

    /// How the columns of an image reach the kernel.
    enum Layout: Equatable {
        /// A 1x1 convolution: its quantised planes are its columns.
        case planes
        /// A 3x3 stride-1 convolution over a zero-bordered copy, no patches written.
        case direct3x3
        /// Everything else: the patch matrix gathered from the quantised planes.
        case patches
    }

    /// The direct kernel computes rows in vectors of the path's lanes; on maps narrower than three
    /// quarters of the vectors it needs, gathering patches wastes less.
    func layout(_ g: ConvGeometry) -> Layout {
        if g.isPointwise { return .planes }
        let lanes = Int(inspectd_i8_lanes(path.kernel)), vectors = (g.width + lanes - 1) / lanes
        if g.kernelH == 3 && g.kernelW == 3 && g.stride == 1 && g.padding == Padding2d(1) && 4 * g.width >= 3 * lanes * vectors {
            return .direct3x3
        }
        return .patches
    }

    /// x [N, in, H, W] → [N, out, H', W'].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let g = ConvGeometry(input: x.shape, weight: weights.shape, stride: stride, padding: padding, groups: 1)
        let layout = layout(g)
        let planeStride = roundUp(g.inPlane, group), columnStride = roundUp(g.outPlane, group)
        let offset = path.columnOffset
        let fill = UInt8(truncatingIfNeeded: input.zeroPoint + offset)
        // Per image: the quantised input, and the patches where they are gathered.
        let inputBytes = layout == .direct3x3 ? channelQuads * (g.height + 2) * (g.width + 2) * 4 + 64 : channelQuads * planeStride * 4
        let patchBytes = layout == .patches ? quads * columnStride * 4 : 0
        return Tensor(shape: g.outputShape) { y in
            x.data.withUnsafeBufferPointer { px in
                rows.withUnsafeBufferPointer { rows in
                    rowScale.withUnsafeBufferPointer { scale in
                        rowCorrection.withUnsafeBufferPointer { correction in
                            Tensor.withOptionalPointer(bias) { bias in
                                func prepare(_ n: Int, _ quantised: UnsafeMutablePointer<UInt8>, _ patches: UnsafeMutablePointer<UInt8>) {
                                    let image = px.baseAddress! + n * g.inChannels * g.inPlane
                                    if layout == .direct3x3 {
                                        inspectd_i8_quantize_padded(image, g.inChannels, g.height, g.width, input.inverse,
                                                                    input.zeroPoint, offset, 0, channelQuads, quantised)
                                        return
                                    }
                                    inspectd_i8_quantize_planes(image, g.inChannels, g.inPlane, g.inPlane, input.inverse, input.zeroPoint,
                                                                offset, planeStride, 0, channelQuads, quantised)
                                    if layout == .patches {
                                        inspectd_i8_patches(quantised, channelQuads, planeStride, g.height, g.width, g.kernelH,
                                                            g.kernelW, stride, padding.top, padding.left, g.outHeight,
                                                            g.outWidth, fill, columnStride, patches)
                                    }
                                }
                                // Output image n, the part `share` of `parts` (output rows for the
                                // direct kernel, column groups otherwise).
                                func multiply(_ n: Int, _ quantised: UnsafePointer<UInt8>, _ patches: UnsafePointer<UInt8>,
                                              _ share: Range<Int>) {
                                    var e = inspectd_i8_epilogue()
                                    e.row_correction = correction.baseAddress
                                    e.row_scale = scale.baseAddress
                                    e.row_bias = bias
                                    e.activation = activation.int8Epilogue
                                    e.out = y.baseAddress! + n * g.outChannels * g.outPlane
                                    e.out_stride = g.outPlane
                                    switch layout {
                                    case .direct3x3:
                                        inspectd_i8_conv3x3(path.kernel, rows.baseAddress, quads * 4, 0, g.outChannels, quantised,
                                                            channelQuads, g.height, g.width, share.lowerBound, share.upperBound, &e)
                                    case .planes, .patches:
                                        inspectd_i8_gemm(path.kernel, rows.baseAddress, quads * 4, 0, g.outChannels,
                                                         layout == .planes ? quantised : patches, columnStride,
                                                         share.lowerBound * group, min(g.outPlane, share.upperBound * group), quads, &e)
                                    }
                                }
                                let parts = layout == .direct3x3 ? g.outHeight : columnStride / group
                                if g.batch >= Engine.threads {
                                    Engine.parallelRanges(g.batch) { _, images in
                                        withByteBuffers(inputBytes, patchBytes) { quantised, patches in
                                            for n in images {
                                                prepare(n, quantised, patches)
                                                multiply(n, quantised, patches, 0..<parts)
                                            }
                                        }
                                    }
                                } else {
                                    // Fewer images than threads: each image's outputs split between them.
                                    withByteBuffers(inputBytes, patchBytes) { quantised, patches in
                                        for n in 0..<g.batch {
                                            prepare(n, quantised, patches)
                                            Engine.parallelRanges(parts) { _, share in multiply(n, quantised, patches, share) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A linear layer over the last axis with int8 weights [out, in].
public final class Int8Linear: @unchecked Sendable {
    public let weights: Int8Weights
    public let bias: Tensor?
    public let input: Int8Scale
    public let path: Int8Path

    private let quads: Int
    private let columnStride: Int
    /// The weights as the product's packed columns (column o = output o), with the path's offset.
    private let columns: [UInt8]
    private let columnScale: [Float]
    /// The input zero point times each output's weight sum.
    private let columnCorrection: [Int32]

    public init(weights: Int8Weights, bias: Tensor?, input: Int8Scale, path: Int8Path = .active) {
        precondition(weights.shape.count == 2, "int8 linear weights must be [out, in], got \(weights.shape)")
        precondition(bias == nil || bias!.shape == [weights.shape[0]], "int8 linear bias must be [\(weights.shape[0])]")
        precondition(path.runsHere, "the \(path.name) int8 kernels do not run on this CPU")
        (self.weights, self.bias, self.input, self.path) = (weights, bias, input, path)
        let (outputs, inputs) = (weights.shape[0], weights.shape[1])
        quads = (inputs + 3) / 4
        columnStride = roundUp(outputs, group)
        let offset = path.columnOffset
        var columns = [UInt8](repeating: UInt8(offset), count: quads * columnStride * 4)
        var correction = [Int32](repeating: 0, count: outputs)
        for o in 0..<outputs {
            var sum: Int32 = 0
            for k in 0..<inputs {
                let q = Int32(weights.values[o * inputs + k])
                columns[((k / 4) * columnStride + o) * 4 + k % 4] = UInt8(truncatingIfNeeded: q + offset)
                sum += q
            }
            correction[o] = input.zeroPoint * sum
        }
        self.columns = columns
        columnCorrection = correction
        columnScale = weights.scales.map { $0 * input.scale }
    }

    /// Quantises `weight` [out, in] per output channel.
    public convenience init(weight: Tensor, bias: Tensor?, input: Int8Scale, path: Int8Path = .active) {
        self.init(weights: Int8Weights(quantising: weight), bias: bias, input: input, path: path)
    }

    /// x [..., in] → [..., out].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (outputs, inputs) = (weights.shape[0], weights.shape[1])
        precondition(x.rank >= 1 && x.shape[x.rank - 1] == inputs, "int8 linear takes [..., \(inputs)], got \(x.shape)")
        let tokens = x.count / inputs, rowBytes = quads * 4
        let offset = path.columnOffset
        return Tensor(shape: Array(x.shape.dropLast()) + [outputs]) { y in
            x.data.withUnsafeBufferPointer { px in
                columns.withUnsafeBufferPointer { columns in
                    columnScale.withUnsafeBufferPointer { scale in
                        columnCorrection.withUnsafeBufferPointer { correction in
                            Tensor.withOptionalPointer(bias) { bias in
                                let chunks = min(tokens, max(1, Engine.threads * 4))
                                Engine.parallelItems(chunks) { _, chunk in
                                    let first = chunk * tokens / chunks, end = (chunk + 1) * tokens / chunks
                                    let count = end - first
                                    guard count > 0 else { return }
                                    let rows = UnsafeMutablePointer<Int8>.allocate(capacity: count * rowBytes)
                                    let sums = UnsafeMutablePointer<Int32>.allocate(capacity: count)
                                    defer { rows.deallocate(); sums.deallocate() }
                                    inspectd_i8_quantize_rows(px.baseAddress! + first * inputs, count, inputs, inputs,
                                                              input.inverse, input.zeroPoint, rows, rowBytes, sums)
                                    for t in 0..<count { sums[t] *= offset }
                                    var e = inspectd_i8_epilogue()
                                    e.row_correction = offset == 0 ? nil : UnsafePointer(sums)
                                    e.column_correction = correction.baseAddress
                                    e.column_scale = scale.baseAddress
                                    e.column_bias = bias
                                    e.out = y.baseAddress! + first * outputs
                                    e.out_stride = outputs
                                    inspectd_i8_gemm(path.kernel, rows, rowBytes, 0, count, columns.baseAddress, columnStride,
                                                     0, outputs, quads, &e)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Two scratch byte buffers for the length of `body`.
private func withByteBuffers<R>(_ first: Int, _ second: Int,
                                _ body: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt8>) -> R) -> R {
    let a = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, first))
    let b = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, second))
    defer { a.deallocate(); b.deallocate() }
    return body(a, b)
}
