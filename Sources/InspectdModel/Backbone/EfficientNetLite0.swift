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
        let n = x.shape[0]
        guard n > 1, observer == nil else { return runBatch(x, logits: wantLogits, observer: observer) }
        // A batch runs as single frames, one per worker: a 256x256 frame's largest activation
        // (96x128x128) stays in cache, a batch of 8 does not (measured: 16.7 ms per frame batched,
        // 10.9 ms for one frame on 2 threads).
        let results = UnsafeMutableBufferPointer<BackboneOutput?>.allocate(capacity: n)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        Engine.parallelRanges(n) { _, frames in
            for i in frames {
                results[i] = runBatch(slice(x, axis: 0, range: i..<(i + 1)), logits: wantLogits, observer: nil)
            }
        }
        let outputs = results.map { $0! }
        return BackboneOutput(
            stride8: concat(outputs.map(\.stride8), axis: 0),
            stride16: concat(outputs.map(\.stride16), axis: 0),
            logits: wantLogits ? concat(outputs.map { $0.logits! }, axis: 0) : nil
        )
    }

    private func runBatch(_ x: Tensor, logits wantLogits: Bool, observer: LayerObserver?) -> BackboneOutput {
        Autograd.withoutRecording {
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
                let pooled = globalAvgPool2d(head)
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
        if block.config.hasSkip { h = h + x }
        observer?("blocks.\(index).project", h)
        return h
    }

    /// Convolution with folded BN and TF-SAME padding, then ReLU6 when `activation`.
    static func conv(_ x: Tensor, _ layer: FoldedConv, activation: Bool) -> Tensor {
        let padding = Padding2d.same(kernel: layer.kernel, stride: layer.stride, height: x.shape[2], width: x.shape[3])
        return conv2d(x, layer.weight, bias: layer.bias, stride: layer.stride, padding: padding,
                      groups: layer.groups, activation: activation ? .relu6 : .none)
    }
}
