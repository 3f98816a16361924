import InspectdTensor

/// The trainable layers the CDAD networks are made of, each PyTorch's module of the same name in
/// parameters, names and default initialisation, so checkpoints and behaviour carry over from the
/// prototype.

/// nn.Linear: weight [out, in], bias [out], both U(−1/√in, 1/√in).
public struct Linear: ParameterContainer {
    public let weight: Tensor
    public let bias: Tensor

    public init(_ inFeatures: Int, _ outFeatures: Int, rng: inout SeededGenerator) {
        weight = Initialiser.defaultWeight([outFeatures, inFeatures], fanIn: inFeatures, using: &rng)
        bias = Initialiser.defaultWeight([outFeatures], fanIn: inFeatures, using: &rng)
    }

    /// Over the last axis of `x`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        LayerInputs.observer?.linearInput(x, weight: weight)
        if let int8 = QuantisedLayers.current?.linear(for: weight) { return int8(x) }
        return linear(x, weight, bias: bias)
    }

    public func parameters(prefix: String) -> [NamedParameter] {
        [NamedParameter(prefix + "weight", weight), NamedParameter(prefix + "bias", bias)]
    }
}

/// nn.Conv2d with square kernels and "same" padding for odd kernels: weight [out, in, k, k],
/// bias [out], both U(−1/√(in·k²), 1/√(in·k²)) unless `zeroed`.
public struct Conv2d: ParameterContainer {
    public let weight: Tensor
    public let bias: Tensor
    public let stride: Int

    /// `zeroed` starts weight and bias at zero: DDPM's output conv, so an untrained U-Net predicts 0.
    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, zeroed: Bool = false,
                rng: inout SeededGenerator) {
        precondition(kernel % 2 == 1, "Conv2d: odd kernels only, got \(kernel)")
        let fanIn = inChannels * kernel * kernel
        if zeroed {
            weight = Initialiser.constant([outChannels, inChannels, kernel, kernel], 0)
            bias = Initialiser.constant([outChannels], 0)
        } else {
            weight = Initialiser.defaultWeight([outChannels, inChannels, kernel, kernel], fanIn: fanIn, using: &rng)
            bias = Initialiser.defaultWeight([outChannels], fanIn: fanIn, using: &rng)
        }
        self.stride = stride
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let padding = Padding2d(weight.shape[2] / 2)
        LayerInputs.observer?.convolutionInput(x, weight: weight, stride: stride, padding: padding)
        if let int8 = QuantisedLayers.current?.convolution(for: weight, stride: stride, padding: padding) { return int8(x) }
        return conv2d(x, weight, bias: bias, stride: stride, padding: padding)
    }

    public func parameters(prefix: String) -> [NamedParameter] {
        [NamedParameter(prefix + "weight", weight), NamedParameter(prefix + "bias", bias)]
    }
}

/// nn.LayerNorm over the last axis (eps 1e-5), weight 1 and bias 0 at the start.
public struct LayerNorm: ParameterContainer {
    public let weight: Tensor
    public let bias: Tensor

    public init(_ width: Int) {
        weight = Initialiser.constant([width], 1)
        bias = Initialiser.constant([width], 0)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias) }

    public func parameters(prefix: String) -> [NamedParameter] {
        [NamedParameter(prefix + "weight", weight), NamedParameter(prefix + "bias", bias)]
    }
}

/// nn.GroupNorm (eps 1e-5), weight 1 and bias 0 at the start.
public struct GroupNorm: ParameterContainer {
    public let groups: Int
    public let weight: Tensor
    public let bias: Tensor

    public init(groups: Int, channels: Int) {
        precondition(channels % groups == 0, "GroupNorm: \(groups) groups do not divide \(channels) channels")
        self.groups = groups
        weight = Initialiser.constant([channels], 1)
        bias = Initialiser.constant([channels], 0)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { groupNorm(x, groups: groups, weight: weight, bias: bias) }

    public func parameters(prefix: String) -> [NamedParameter] {
        [NamedParameter(prefix + "weight", weight), NamedParameter(prefix + "bias", bias)]
    }
}

/// [B, C, H, W] → [B, H·W, C]: one token per position, row-major.
func tokens(fromMap x: Tensor) -> Tensor {
    let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    return reshaped(permuted(x, [0, 2, 3, 1]), [b, h * w, c])
}

/// [B, H·W, C] → [B, C, H, W], the inverse of `tokens(fromMap:)`.
func featureMap(fromTokens x: Tensor, height: Int, width: Int) -> Tensor {
    let (b, c) = (x.shape[0], x.shape[2])
    return permuted(reshaped(x, [b, height, width, c]), [0, 3, 1, 2])
}
