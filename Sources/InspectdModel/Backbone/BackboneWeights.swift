import InspectdTensor

/// A convolution with its BatchNorm folded in: `bn(conv(x, w))` == `conv(x, w') + b'`.
public struct FoldedConv {
    /// [Cout, Cin / groups, k, k]
    public let weight: Tensor
    /// [Cout]
    public let bias: Tensor
    public let stride: Int
    public let groups: Int

    public var kernel: Int { weight.shape[2] }
    public var outChannels: Int { weight.shape[0] }
}

public struct MBConvWeights {
    public let config: MBConvConfig
    /// 1x1 expansion, absent when the expand ratio is 1.
    public let expand: FoldedConv?
    public let depthwise: FoldedConv
    public let project: FoldedConv
}

public enum BackboneWeightsError: Error, CustomStringConvertible, Equatable {
    case missingTensor(name: String)
    case wrongShape(name: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .missingTensor(let name):
            return "EfficientNet-Lite0 weights: tensor '\(name)' is missing from the state dict"
        case .wrongShape(let name, let expected, let found):
            return "EfficientNet-Lite0 weights: tensor '\(name)' has shape \(found), expected \(expected)"
        }
    }
}

/// EfficientNet-Lite0 parameters taken from a lukemelas-style state dict (`_conv_stem.weight`,
/// `_blocks.N._depthwise_conv.weight`, ...), with every BatchNorm folded into the conv before it.
/// Inference only: the running statistics are baked in.
public struct BackboneWeights {
    public let stem: FoldedConv
    public let blocks: [MBConvWeights]
    public let head: FoldedConv
    /// [1000, 1280]
    public let classifierWeight: Tensor
    /// [1000]
    public let classifierBias: Tensor

    /// Reads and folds every tensor the network needs. Extra entries (e.g. `num_batches_tracked`)
    /// are ignored; a missing or mis-shaped tensor throws an error that names it.
    public init(stateDict: [String: Tensor], epsilon: Float = EfficientNetLite0Config.batchNormEpsilon) throws {
        let reader = StateDictReader(stateDict: stateDict, epsilon: epsilon)
        let c = EfficientNetLite0Config.self

        stem = try reader.conv("_conv_stem", bn: "_bn0", shape: [c.stemChannels, 3, 3, 3], stride: 2)
        var blocks: [MBConvWeights] = []
        for (index, block) in c.blocks.enumerated() {
            let p = "_blocks.\(index)."
            let hidden = block.hiddenChannels
            let expand = block.hasExpansion
                ? try reader.conv(p + "_expand_conv", bn: p + "_bn0", shape: [hidden, block.inChannels, 1, 1])
                : nil
            let depthwise = try reader.conv(p + "_depthwise_conv", bn: p + "_bn1",
                                            shape: [hidden, 1, block.kernel, block.kernel],
                                            stride: block.stride, groups: hidden)
            let project = try reader.conv(p + "_project_conv", bn: p + "_bn2", shape: [block.outChannels, hidden, 1, 1])
            blocks.append(MBConvWeights(config: block, expand: expand, depthwise: depthwise, project: project))
        }
        self.blocks = blocks
        let lastChannels = c.blocks.last!.outChannels
        head = try reader.conv("_conv_head", bn: "_bn1", shape: [c.headChannels, lastChannels, 1, 1])
        classifierWeight = try reader.tensor("_fc.weight", shape: [c.classCount, c.headChannels])
        classifierBias = try reader.tensor("_fc.bias", shape: [c.classCount])
    }

    /// Folds BatchNorm (running statistics) into a bias-free convolution:
    /// `w'[o] = w[o] * s[o]`, `b'[o] = beta[o] - mean[o] * s[o]`, with `s = gamma / sqrt(var + eps)`.
    /// The scale is computed in Double so folding adds no error beyond the final Float rounding.
    public static func foldBatchNorm(weight: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor,
                                     epsilon: Float) -> (weight: Tensor, bias: Tensor) {
        let outChannels = weight.shape[0]
        precondition([gamma, beta, mean, variance].allSatisfy { $0.shape == [outChannels] },
                      "BatchNorm parameters must have shape [\(outChannels)]")
        let perChannel = weight.count / max(outChannels, 1)
        var scale = [Double](repeating: 0, count: outChannels)
        for o in 0..<outChannels {
            scale[o] = Double(gamma.data[o]) / (Double(variance.data[o]) + Double(epsilon)).squareRoot()
        }
        let folded = Tensor(shape: weight.shape, uninitialized: { out in
            weight.data.withUnsafeBufferPointer { w in
                for o in 0..<outChannels {
                    let base = o * perChannel
                    for i in 0..<perChannel {
                        out[base + i] = Float(Double(w[base + i]) * scale[o])
                    }
                }
            }
        })
        let bias = Tensor(shape: [outChannels], uninitialized: { out in
            for o in 0..<outChannels {
                out[o] = Float(Double(beta.data[o]) - Double(mean.data[o]) * scale[o])
            }
        })
        return (folded, bias)
    }
}

private struct StateDictReader {
    let stateDict: [String: Tensor]
    let epsilon: Float

    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let t = stateDict[name] else { throw BackboneWeightsError.missingTensor(name: name) }
        guard t.shape == shape else { throw BackboneWeightsError.wrongShape(name: name, expected: shape, found: t.shape) }
        return t
    }

    /// `<conv>.weight` followed by the BatchNorm `<bn>.{weight,bias,running_mean,running_var}`.
    func conv(_ conv: String, bn: String, shape: [Int], stride: Int = 1, groups: Int = 1) throws -> FoldedConv {
        let weight = try tensor(conv + ".weight", shape: shape)
        let channels = [shape[0]]
        let gamma = try tensor(bn + ".weight", shape: channels)
        let beta = try tensor(bn + ".bias", shape: channels)
        let mean = try tensor(bn + ".running_mean", shape: channels)
        let variance = try tensor(bn + ".running_var", shape: channels)
        let folded = BackboneWeights.foldBatchNorm(weight: weight, gamma: gamma, beta: beta, mean: mean,
                                                   variance: variance, epsilon: epsilon)
        return FoldedConv(weight: folded.weight, bias: folded.bias, stride: stride, groups: groups)
    }
}
