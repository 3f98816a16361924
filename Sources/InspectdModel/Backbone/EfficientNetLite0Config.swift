/// The fixed shape of EfficientNet-Lite0: width and depth multipliers 1.0, no squeeze-excite,
/// ReLU6 everywhere, BatchNorm eps 1e-3, TensorFlow "SAME" padding.
public struct MBConvConfig: Sendable, Equatable {
    public var kernel: Int
    public var stride: Int
    public var expandRatio: Int
    public var inChannels: Int
    public var outChannels: Int

    /// Channels after the 1x1 expansion (equal to `inChannels` when there is none).
    public var hiddenChannels: Int { inChannels * expandRatio }
    public var hasExpansion: Bool { expandRatio != 1 }
    /// Identity skip: only when the block keeps both resolution and width.
    public var hasSkip: Bool { stride == 1 && inChannels == outChannels }
}

public enum EfficientNetLite0Config {
    /// One row per stage: (kernel, stride of the first block, expand ratio, output channels, repeats).
    public static let stages: [(kernel: Int, stride: Int, expand: Int, out: Int, repeats: Int)] = [
        (3, 1, 1, 16, 1),
        (3, 2, 6, 24, 2),
        (5, 2, 6, 40, 2),
        (3, 2, 6, 80, 3),
        (5, 1, 6, 112, 3),
        (5, 2, 6, 192, 4),
        (3, 1, 6, 320, 1),
    ]

    public static let stemChannels = 32
    public static let headChannels = 1280
    public static let classCount = 1000
    public static let batchNormEpsilon: Float = 1e-3

    /// The 16 MBConv blocks in order; `_blocks.N` in the state dict is `blocks[N]`.
    public static let blocks: [MBConvConfig] = {
        var result: [MBConvConfig] = []
        var inChannels = stemChannels
        for stage in stages {
            for repeatIndex in 0..<stage.repeats {
                result.append(MBConvConfig(kernel: stage.kernel, stride: repeatIndex == 0 ? stage.stride : 1,
                                           expandRatio: stage.expand, inChannels: inChannels, outChannels: stage.out))
                inChannels = stage.out
            }
        }
        return result
    }()

    /// Last block of stage 3: stride 8, 40 channels.
    public static let stride8BlockIndex = 4
    /// Last block of stage 5: stride 16, 112 channels.
    public static let stride16BlockIndex = 10
}
