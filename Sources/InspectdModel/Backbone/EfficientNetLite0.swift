import InspectdTensor

/// What one pass of the backbone produces.
public struct BackboneOutput {
    /// End of stage 3: [N, 40, H/8, W/8].
    public let stride8: Tensor
    /// End of stage 5: [N, 112, H/16, W/16].
    public let stride16: Tensor
    /// ImageNet logits [N, 1000], when asked for.
    public let logits: Tensor?
}

/// Pretrained EfficientNet-Lite0, frozen, for inference only.
///
/// Input: NCHW RGB, 8-bit samples normalised as `(v - 127) / 128` (the TF EfficientNet-Lite scaling;
/// `Image.planarFloats(normalisation: .efficientNetLite)` in InspectdImage produces it), any size:
/// each stage's output is ceil(input / stride).
/// Every convolution uses TensorFlow "SAME" padding and carries its folded BatchNorm as a bias.
/// Nothing is recorded for autograd: the features are constants to whatever consumes them.
///
/// Sendable by contract: the weights are folded once in `init` and only read afterwards, and each
/// pass allocates its own activations, so concurrent passes are safe. Do not mutate `weights`.
public final class EfficientNetLite0: @unchecked Sendable {
    public let weights: BackboneWeights

    public init(weights: BackboneWeights) {
        self.weights = weights
    }

    /// Builds the network from a lukemelas-style state dict (as read from the `.pth`).
    public convenience init(stateDict: [String: Tensor]) throws {
        self.init(weights: try BackboneWeights(stateDict: stateDict))
    }

    /// Stride-8 and stride-16 features; stages 6-7 and the head are skipped.
    public func features(_ x: Tensor) -> BackboneOutput {
        run(x, logits: false)
    }

    /// Features and ImageNet logits.
    public func forward(_ x: Tensor) -> BackboneOutput {
        run(x, logits: true)
    }

    /// Optional per-layer timing hook: called after each layer with its name and output.
    public typealias LayerObserver = (_ layer: String, _ output: Tensor) -> Void

    public func run(_ x: Tensor, logits wantLogits: Bool, observer: LayerObserver? = nil) -> BackboneOutput {
        precondition(x.rank == 4 && x.shape[1] == 3, "EfficientNet-Lite0 takes [N, 3, H, W], got \(x.shape)")
        return Autograd.withoutRecording {
            let lastBlock = wantLogits ? weights.blocks.count - 1 : EfficientNetLite0Config.stride16BlockIndex
            var h = Self.conv(x, weights.stem, activation: true)
            observer?("stem", h)
            var stride8: Tensor?
            var stride16: Tensor?
            for index in 0...lastBlock {
                let block = weights.blocks[index]
                h = Self.mbconv(h, block, index: index, observer: observer)
                if index == EfficientNetLite0Config.stride8BlockIndex { stride8 = h }
                if index == EfficientNetLite0Config.stride16BlockIndex { stride16 = h }
            }
            var logits: Tensor?
            if wantLogits {
                let head = Self.conv(h, weights.head, activation: true)
                observer?("head", head)
                let pooled = Self.globalAveragePool(head)
                logits = linear(pooled, weights.classifierWeight, bias: weights.classifierBias)
                observer?("classifier", logits!)
            }
            return BackboneOutput(stride8: stride8!, stride16: stride16!, logits: logits)
        }
    }

    static func mbconv(_ x: Tensor, _ block: MBConvWeights, index: Int, observer: LayerObserver?) -> Tensor {
        var h = x
        if let expand = block.expand {
            h = conv(h, expand, activation: true)
            observer?("blocks.\(index).expand", h)
        }
        h = conv(h, block.depthwise, activation: true)
        observer?("blocks.\(index).depthwise", h)
        h = conv(h, block.project, activation: false)
        if block.config.hasSkip { addInPlace(h, x) }
        observer?("blocks.\(index).project", h)
        return h
    }

    /// Convolution with folded BN and TF-SAME padding, then ReLU6 when `activation`.
    static func conv(_ x: Tensor, _ layer: FoldedConv, activation: Bool) -> Tensor {
        if layer.groups > 1 {
            return DepthwiseSame.forward(x, weight: layer.weight, bias: layer.bias, stride: layer.stride, relu6: activation)
        }
        let padding = Padding2d.same(kernel: layer.kernel, stride: layer.stride, height: x.shape[2], width: x.shape[3])
        let y = conv2d(x, layer.weight, bias: layer.bias, stride: layer.stride, padding: padding, groups: layer.groups)
        if activation { relu6InPlace(y) }
        return y
    }

    // The results below belong to this pass alone (fresh outputs of conv2d), so they are
    // updated in place rather than through allocating elementwise ops.

    static func relu6InPlace(_ t: Tensor) {
        t.data.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count { p[i] = min(max(p[i], 0), 6) }
        }
    }

    static func addInPlace(_ t: Tensor, _ other: Tensor) {
        precondition(t.shape == other.shape, "skip connection of \(other.shape) onto \(t.shape)")
        t.data.withUnsafeMutableBufferPointer { p in
            other.data.withUnsafeBufferPointer { o in
                for i in 0..<p.count { p[i] += o[i] }
            }
        }
    }

    /// [N, C, H, W] -> [N, C], the mean over each plane (accumulated in Double).
    static func globalAveragePool(_ t: Tensor) -> Tensor {
        let (n, c) = (t.shape[0], t.shape[1])
        let plane = t.shape[2] * t.shape[3]
        return Tensor(shape: [n, c]) { out in
            t.data.withUnsafeBufferPointer { p in
                for i in 0..<(n * c) {
                    var s: Double = 0
                    for j in 0..<plane { s += Double(p[i * plane + j]) }
                    out[i] = Float(s / Double(plane))
                }
            }
        }
    }
}
