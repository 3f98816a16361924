import Foundation
import InspectdTensor

/// The denoiser: a small DDPM-style U-Net on the latent grid, conditioned on the timestep (through
/// every residual block) and on the AMN's condition map (added once, after the first conv).
///
/// Level l works at 1/2^l of the latent's resolution with `unetWidths[l]` channels. The down path
/// keeps the output of every residual block as a skip; the up path mirrors it, each residual block
/// taking its input concatenated with the matching skip. The output conv starts at zero, so an
/// untrained network predicts 0 (as DDPM and Stable Diffusion initialise it).
public final class DenoisingUNet: ParameterContainer {
    /// The root of every parameter name.
    public static let name = "unet"

    public let config: CDADConfig
    public let timeFC1: Linear
    public let timeFC2: Linear
    public let convIn: Conv2d
    public let down: [Level]
    public let mid: [ResBlock]
    /// In the order they run: up[0] is level `unetWidths.count - 1`.
    public let up: [Level]
    public let normOut: GroupNorm
    public let convOut: Conv2d

    /// One resolution level of either path: residual blocks, then a resampling conv (a stride-2 conv
    /// down; up, nearest x2 then a conv to the next level's width) except at the path's last level.
    public struct Level {
        public let index: Int
        public let res: [ResBlock]
        public let resample: Conv2d?
    }

    public init(config: CDADConfig, rng: inout SeededGenerator) {
        config.validate()
        self.config = config
        let widths = config.unetWidths, e = config.timeEmbedding, groups = config.groupNormGroups
        let last = widths.count - 1
        timeFC1 = Linear(widths[0], e, rng: &rng)
        timeFC2 = Linear(e, e, rng: &rng)
        convIn = Conv2d(config.latentChannels, widths[0], kernel: 3, rng: &rng)

        var channels = widths[0]
        var skips: [Int] = []
        var down: [Level] = []
        for (l, width) in widths.enumerated() {
            var res: [ResBlock] = []
            for _ in 0..<config.unetResBlocks {
                res.append(ResBlock(channels, width, timeEmbedding: e, groups: groups, rng: &rng))
                channels = width
                skips.append(width)
            }
            let resample = l < last ? Conv2d(width, width, kernel: 3, stride: 2, rng: &rng) : nil
            down.append(Level(index: l, res: res, resample: resample))
        }
        mid = (0..<config.unetMidBlocks).map { _ in ResBlock(channels, channels, timeEmbedding: e, groups: groups, rng: &rng) }
        var up: [Level] = []
        for (l, width) in widths.enumerated().reversed() {
            var res: [ResBlock] = []
            for _ in 0..<config.unetResBlocks {
                res.append(ResBlock(channels + skips.removeLast(), width, timeEmbedding: e, groups: groups, rng: &rng))
                channels = width
            }
            // The upsampling conv runs at the finer level's resolution, so it narrows to that
            // level's width: at 32x32 a 192→192 conv was the U-Net's most expensive layer.
            let resample = l > 0 ? Conv2d(width, widths[l - 1], kernel: 3, rng: &rng) : nil
            if resample != nil { channels = widths[l - 1] }
            up.append(Level(index: l, res: res, resample: resample))
        }
        self.down = down
        self.up = up
        normOut = GroupNorm(groups: groups, channels: widths[0])
        convOut = Conv2d(widths[0], config.latentChannels, kernel: 3, zeroed: true, rng: &rng)
    }

    /// The prediction for the noised latent `z` [B, C, H, W] at per-sample `timesteps`, given the
    /// AMN condition [B, unetWidths[0], H, W]. H and W must be divisible by 2^(levels − 1).
    public func callAsFunction(_ z: Tensor, timesteps: [Int], condition: Tensor) -> Tensor {
        let (b, levels) = (z.shape[0], config.unetWidths.count)
        precondition(z.rank == 4 && z.shape[1] == config.latentChannels, "U-Net takes [B, \(config.latentChannels), H, W], got \(z.shape)")
        precondition(timesteps.count == b, "U-Net: \(timesteps.count) timesteps for a batch of \(b)")
        precondition(condition.shape == [b, config.unetWidths[0], z.shape[2], z.shape[3]],
                     "U-Net condition must be [\(b), \(config.unetWidths[0]), \(z.shape[2]), \(z.shape[3])], got \(condition.shape)")
        let factor = 1 << (levels - 1)
        precondition(z.shape[2] % factor == 0 && z.shape[3] % factor == 0, "U-Net: \(z.shape[2])x\(z.shape[3]) does not halve \(levels - 1) times")

        // Every residual block reads SiLU(temb): compute it once.
        let time = silu(timeFC2(silu(timeFC1(timestepEmbedding(timesteps, channels: config.unetWidths[0])))))
        var h = convIn(z) + condition
        var skips: [Tensor] = []
        for level in down {
            for block in level.res {
                h = block(h, time: time)
                skips.append(h)
            }
            if let resample = level.resample { h = resample(h) }
        }
        for block in mid { h = block(h, time: time) }
        for level in up {
            for block in level.res { h = block(concat([h, skips.removeLast()], axis: 1), time: time) }
            if let resample = level.resample { h = resample(upsampleNearest(h, scale: 2)) }
        }
        return convOut(silu(normOut(h)))
    }

    public func parameters(prefix: String) -> [NamedParameter] {
        let root = prefix + Self.name + "."
        func levels(_ path: String, _ levels: [Level], resample: String) -> [NamedParameter] {
            levels.flatMap { level in
                let p = root + "\(path).\(level.index)."
                return level.res.enumerated().flatMap { $1.parameters(prefix: p + "res.\($0).") }
                    + (level.resample?.parameters(prefix: p + resample + ".") ?? [])
            }
        }
        return timeFC1.parameters(prefix: root + "time.fc1.")
            + timeFC2.parameters(prefix: root + "time.fc2.")
            + convIn.parameters(prefix: root + "conv_in.")
            + levels("down", down, resample: "downsample")
            + mid.enumerated().flatMap { $1.parameters(prefix: root + "mid.res.\($0).") }
            + levels("up", up, resample: "upsample")
            + normOut.parameters(prefix: root + "norm_out.")
            + convOut.parameters(prefix: root + "conv_out.")
    }

    /// GN → SiLU → conv3x3 → + Linear(SiLU(temb)) per channel → GN → SiLU → conv3x3, plus the input
    /// (through a 1x1 conv when the width changes).
    public struct ResBlock: ParameterContainer {
        public let norm1: GroupNorm
        public let conv1: Conv2d
        public let timeProj: Linear
        public let norm2: GroupNorm
        public let conv2: Conv2d
        public let skip: Conv2d?

        init(_ inChannels: Int, _ outChannels: Int, timeEmbedding: Int, groups: Int, rng: inout SeededGenerator) {
            norm1 = GroupNorm(groups: groups, channels: inChannels)
            conv1 = Conv2d(inChannels, outChannels, kernel: 3, rng: &rng)
            timeProj = Linear(timeEmbedding, outChannels, rng: &rng)
            norm2 = GroupNorm(groups: groups, channels: outChannels)
            conv2 = Conv2d(outChannels, outChannels, kernel: 3, rng: &rng)
            skip = inChannels == outChannels ? nil : Conv2d(inChannels, outChannels, kernel: 1, rng: &rng)
        }

        /// `time` is SiLU(temb), [B, E].
        func callAsFunction(_ x: Tensor, time: Tensor) -> Tensor {
            let shift = timeProj(time)
            var h = conv1(silu(norm1(x)))
            h = h + reshaped(shift, [shift.shape[0], shift.shape[1], 1, 1])
            h = conv2(silu(norm2(h)))
            return h + (skip?(x) ?? x)
        }

        public func parameters(prefix: String) -> [NamedParameter] {
            norm1.parameters(prefix: prefix + "norm1.")
                + conv1.parameters(prefix: prefix + "conv1.")
                + timeProj.parameters(prefix: prefix + "time_proj.")
                + norm2.parameters(prefix: prefix + "norm2.")
                + conv2.parameters(prefix: prefix + "conv2.")
                + (skip?.parameters(prefix: prefix + "skip.") ?? [])
        }
    }
}

/// The sinusoidal timestep embedding of DDPM, [B, channels]: the first half cos(t·f_i), the second
/// sin(t·f_i), with f_i = 10000^(−i/(channels/2)) (Stable Diffusion's order and frequencies).
func timestepEmbedding(_ timesteps: [Int], channels: Int) -> Tensor {
    precondition(channels % 2 == 0, "timestep embedding needs an even width, got \(channels)")
    let half = channels / 2
    let frequencies = (0..<half).map { Foundation.exp(-Foundation.log(10_000.0) * Double($0) / Double(half)) }
    return Tensor(shape: [timesteps.count, channels]) { out in
        for (row, t) in timesteps.enumerated() {
            for i in 0..<half {
                let angle = Double(t) * frequencies[i]
                out[row * channels + i] = Float(Foundation.cos(angle))
                out[row * channels + half + i] = Float(Foundation.sin(angle))
            }
        }
    }
}
