/// What the denoising U-Net is trained to predict (see `NoiseSchedule.target`).
public enum DiffusionPrediction: String, Codable, Sendable, CaseIterable {
    /// The noise ε that was added (DDPM, Stable Diffusion).
    case epsilon
    /// The clean latent itself.
    case x0
    /// v = √ᾱ·ε − √(1−ᾱ)·x0 (Salimans & Ho, progressive distillation).
    case v
}

/// Every size of the CDAD networks and of their diffusion process, so a checkpoint can say what it
/// was trained with.
public struct CDADConfig: Codable, Sendable, Equatable {
    /// Channels of the latent: EfficientNet-Lite0 stride 8 (40) + stride 16 (112).
    public var latentChannels: Int

    // Anomaly-masked network.
    /// Token width D.
    public var amnWidth: Int
    public var amnLayers: Int
    public var amnHeads: Int
    /// Hidden width of each encoder layer's feed-forward block.
    public var amnFFN: Int
    /// Side of the square neighbourhood a token may not attend to (odd, the token included).
    public var neighbourWindow: Int

    // Denoising U-Net.
    /// Channels per resolution level, from full resolution down; each further level halves H and W.
    public var unetWidths: [Int]
    /// Residual blocks per level on each of the down and up paths.
    public var unetResBlocks: Int
    /// Residual blocks at the lowest resolution, between the two paths.
    public var unetMidBlocks: Int
    /// Width E of the timestep embedding after its MLP.
    public var timeEmbedding: Int
    /// Group-norm groups; must divide every width the U-Net normalises (checked by `validate`).
    public var groupNormGroups: Int

    // Diffusion.
    public var prediction: DiffusionPrediction
    public var timesteps: Int
    public var betaStart: Double
    public var betaEnd: Double

    /// Weight of the AMN reconstruction loss in the total (the diffusion loss has weight 1).
    public var amnLossWeight: Float

    // Model manifests are read by scripts: snake_case, like the rest of the manifest.
    enum CodingKeys: String, CodingKey {
        case latentChannels = "latent_channels"
        case amnWidth = "amn_width"
        case amnLayers = "amn_layers"
        case amnHeads = "amn_heads"
        case amnFFN = "amn_ffn"
        case neighbourWindow = "neighbour_window"
        case unetWidths = "unet_widths"
        case unetResBlocks = "unet_res_blocks"
        case unetMidBlocks = "unet_mid_blocks"
        case timeEmbedding = "time_embedding"
        case groupNormGroups = "group_norm_groups"
        case prediction, timesteps
        case betaStart = "beta_start"
        case betaEnd = "beta_end"
        case amnLossWeight = "amn_loss_weight"
    }

    public init(latentChannels: Int = 152,
                amnWidth: Int = 128, amnLayers: Int = 4, amnHeads: Int = 2, amnFFN: Int = 256,
                neighbourWindow: Int = 7,
                unetWidths: [Int] = [96, 192, 192], unetResBlocks: Int = 1, unetMidBlocks: Int = 0,
                timeEmbedding: Int = 384, groupNormGroups: Int = 32,
                prediction: DiffusionPrediction = .epsilon, timesteps: Int = 1000,
                betaStart: Double = 0.000_85, betaEnd: Double = 0.012, amnLossWeight: Float = 1) {
        self.latentChannels = latentChannels
        self.amnWidth = amnWidth
        self.amnLayers = amnLayers
        self.amnHeads = amnHeads
        self.amnFFN = amnFFN
        self.neighbourWindow = neighbourWindow
        self.unetWidths = unetWidths
        self.unetResBlocks = unetResBlocks
        self.unetMidBlocks = unetMidBlocks
        self.timeEmbedding = timeEmbedding
        self.groupNormGroups = groupNormGroups
        self.prediction = prediction
        self.timesteps = timesteps
        self.betaStart = betaStart
        self.betaEnd = betaEnd
        self.amnLossWeight = amnLossWeight
    }

    /// The production model on a 152x32x32 latent: 6.07 M parameters (AMN 0.58 M, U-Net 5.49 M).
    /// Two heads and an FFN of 256 because attention and the FFN dominate the AMN's step time
    /// (CDADBenchmarkTests: 4 heads cost 1.4-1.7x the attention time of 1 or 2); no mid blocks
    /// because the U-Net with one residual block per level is already above the prototype's size.
    /// x0 prediction because its one-step reconstruction is the sharpest (docs/RESULTS.md: on
    /// bottle and magnetic_tile its diffusion map beats ε's by 5-12 AUROC points; v failed).
    public static let standard = CDADConfig(prediction: .x0)

    /// A small model for tests and CI: same structure, a fraction of the width.
    public static let quick = CDADConfig(amnWidth: 64, amnLayers: 2, amnHeads: 2, amnFFN: 128,
                                         unetWidths: [32, 64, 64], timeEmbedding: 128, groupNormGroups: 16,
                                         prediction: .x0)

    /// The channel counts the U-Net's group norms see: every level width, and every concatenation
    /// of an up-path input with its skip. Mirrors the construction in `DenoisingUNet`.
    var unetNormalisedWidths: [Int] {
        var widths = Set(unetWidths)
        var channels = unetWidths[0], skips: [Int] = []
        for width in unetWidths {
            for _ in 0..<unetResBlocks {
                widths.insert(channels)
                channels = width
                skips.append(channels)
            }
        }
        for (level, width) in unetWidths.enumerated().reversed() {
            for _ in 0..<unetResBlocks {
                widths.insert(channels + skips.removeLast())
                channels = width
            }
            if level > 0 { channels = unetWidths[level - 1] }
        }
        return widths.sorted()
    }

    /// Above this, a size is not a model's but a damaged or hostile file's: every size, width and
    /// count stays far enough from `Int`'s range that the arithmetic on them cannot overflow.
    public static let maximumSize = 1 << 16
    /// The noise schedule is an array of this many entries at most (the models use 1000).
    public static let maximumTimesteps = 100_000

    /// Why these sizes cannot build a network, or nil when they can. A manifest read from disk is
    /// checked with this, so that a bad one is refused with the reason instead of stopping the
    /// program in `validate`.
    public var problem: String? {
        let sizes = [latentChannels, amnWidth, amnLayers, amnHeads, amnFFN, neighbourWindow, unetResBlocks, unetMidBlocks,
                     timeEmbedding, groupNormGroups] + unetWidths
        if let size = sizes.first(where: { $0 > Self.maximumSize }) { return "size \(size) is above the limit of \(Self.maximumSize)" }
        guard unetWidths.count <= 16 else { return "\(unetWidths.count) U-Net levels are more than 16" }
        guard latentChannels > 0 && amnWidth > 0 && amnFFN > 0 && amnLayers >= 0 else { return "empty AMN" }
        guard amnHeads >= 1 && amnWidth % amnHeads == 0 else { return "\(amnHeads) heads do not split width \(amnWidth)" }
        // The sine encoding gives half the channels to y and half to x, each as sin/cos pairs.
        guard amnWidth % 4 == 0 else { return "the 2-D sine encoding needs amnWidth divisible by 4, got \(amnWidth)" }
        guard neighbourWindow >= 1 && neighbourWindow % 2 == 1 else { return "neighbourWindow must be odd" }
        guard !unetWidths.isEmpty && unetWidths.allSatisfy({ $0 > 0 }) else { return "bad unetWidths \(unetWidths)" }
        guard unetWidths[0] % 2 == 0 else { return "the timestep embedding needs an even unetWidths[0]" }
        guard unetResBlocks >= 1 && unetMidBlocks >= 0 && timeEmbedding > 0 else { return "bad U-Net depth" }
        guard groupNormGroups >= 1 else { return "\(groupNormGroups) group-norm groups" }
        if let width = unetNormalisedWidths.first(where: { $0 % groupNormGroups != 0 }) {
            return "\(groupNormGroups) groups do not divide \(width) channels"
        }
        guard timesteps >= 2 && timesteps <= Self.maximumTimesteps && betaStart > 0 && betaEnd < 1 && betaStart <= betaEnd else {
            return "bad noise schedule"
        }
        return nil
    }

    /// Stops with a message when the sizes cannot build a network.
    public func validate() {
        if let problem { preconditionFailure("CDADConfig: \(problem)") }
    }
}
