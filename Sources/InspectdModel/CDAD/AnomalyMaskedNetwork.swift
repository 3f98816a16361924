import Foundation
import InspectdTensor

/// What one AMN pass produces.
public struct AMNOutput {
    /// The network's estimate of the clean latent, [B, C, H, W]: the AMN's own anomaly signal.
    public let reconstruction: Tensor
    /// The U-Net's condition, [B, unetWidths[0], H, W], added after its first conv.
    public let condition: Tensor
}

/// The anomaly-masked network: a transformer encoder over the latent's positions in which no token
/// may attend to the keys of its own neighbourhood (itself included), so what it writes about a
/// position comes from the surroundings and an anomaly there is not copied through attention.
///
/// Tokens are a 1x1 projection of the latent; a fixed 2-D sine encoding is added to the queries and
/// keys (not the values) of every layer, DETR-style. Layers are pre-norm. Two linear heads read the
/// final normalised tokens: the reconstruction of the clean latent and the U-Net's condition.
///
/// What the mask guarantees, exactly: after one layer, a token's output depends on its own input
/// (through the residual and through its query, which only decides how to weigh the far tokens) and
/// on the inputs of the tokens outside its window, never on the other tokens inside it. Deeper
/// stacks relay neighbours' information through far tokens, and the residual keeps the token's own
/// value, so the mask makes copying harder, not impossible.
public final class AnomalyMaskedNetwork: ParameterContainer {
    /// The root of every parameter name.
    public static let name = "amn"

    public let config: CDADConfig
    public let proj: Linear
    public let layers: [EncoderLayer]
    public let norm: LayerNorm
    public let recon: Linear
    public let cond: Linear

    /// Masks and position encodings per grid size: built once, shared by every layer and pass.
    private let gridCache = GridCache()

    public init(config: CDADConfig, rng: inout SeededGenerator) {
        config.validate()
        self.config = config
        let d = config.amnWidth
        proj = Linear(config.latentChannels, d, rng: &rng)
        layers = (0..<config.amnLayers).map { _ in EncoderLayer(width: d, ffn: config.amnFFN, rng: &rng) }
        norm = LayerNorm(d)
        recon = Linear(d, config.latentChannels, rng: &rng)
        cond = Linear(d, config.unetWidths[0], rng: &rng)
    }

    /// `latent` [B, C, H, W] → reconstruction and condition.
    public func callAsFunction(_ latent: Tensor) -> AMNOutput {
        precondition(latent.rank == 4 && latent.shape[1] == config.latentChannels,
                     "AMN takes [B, \(config.latentChannels), H, W], got \(latent.shape)")
        let (height, width) = (latent.shape[2], latent.shape[3])
        let grid = grid(height: height, width: width)
        var x = proj(tokens(fromMap: latent))
        for layer in layers {
            x = layer(x, grid: grid, heads: config.amnHeads)
        }
        let h = norm(x)
        return AMNOutput(reconstruction: featureMap(fromTokens: recon(h), height: height, width: width),
                         condition: featureMap(fromTokens: cond(h), height: height, width: width))
    }

    /// The grid-dependent constants of one spatial size.
    func grid(height: Int, width: Int) -> AttentionGrid {
        gridCache.grid(height: height, width: width, config: config)
    }

    public func parameters(prefix: String) -> [NamedParameter] {
        let root = prefix + Self.name + "."
        return proj.parameters(prefix: root + "proj.")
            + layers.enumerated().flatMap { $1.parameters(prefix: root + "layers.\($0).") }
            + norm.parameters(prefix: root + "norm.")
            + recon.parameters(prefix: root + "recon.")
            + cond.parameters(prefix: root + "cond.")
    }

    /// One pre-norm encoder layer: x += Attn(LN1(x)); x += FFN(LN2(x)).
    public struct EncoderLayer: ParameterContainer {
        public let norm1: LayerNorm
        public let q, k, v, out: Linear
        public let norm2: LayerNorm
        public let fc1, fc2: Linear

        init(width: Int, ffn: Int, rng: inout SeededGenerator) {
            norm1 = LayerNorm(width)
            q = Linear(width, width, rng: &rng)
            k = Linear(width, width, rng: &rng)
            v = Linear(width, width, rng: &rng)
            out = Linear(width, width, rng: &rng)
            norm2 = LayerNorm(width)
            fc1 = Linear(width, ffn, rng: &rng)
            fc2 = Linear(ffn, width, rng: &rng)
        }

        func callAsFunction(_ x: Tensor, grid: AttentionGrid, heads: Int) -> Tensor {
            let h = x + attention(x, grid: grid, heads: heads)
            return h + fc2(gelu(fc1(norm2(h))))
        }

        /// The attention sublayer's contribution (what the residual adds), [B, T, D].
        func attention(_ x: Tensor, grid: AttentionGrid, heads: Int) -> Tensor {
            let n = norm1(x)
            let positioned = n + grid.positions
            let (query, key, value) = (q(positioned), k(positioned), v(n))
            let attended = QuantisedLayers.current.map {
                int8ScaledDotProductAttention(query: query, key: key, value: value, heads: heads, mask: grid.mask, path: $0.path)
            } ?? scaledDotProductAttention(query: query, key: key, value: value, heads: heads, mask: grid.mask)
            return out(attended)
        }

        public func parameters(prefix: String) -> [NamedParameter] {
            norm1.parameters(prefix: prefix + "norm1.")
                + q.parameters(prefix: prefix + "attn.q.")
                + k.parameters(prefix: prefix + "attn.k.")
                + v.parameters(prefix: prefix + "attn.v.")
                + out.parameters(prefix: prefix + "attn.out.")
                + norm2.parameters(prefix: prefix + "norm2.")
                + fc1.parameters(prefix: prefix + "ffn.fc1.")
                + fc2.parameters(prefix: prefix + "ffn.fc2.")
        }
    }
}

/// The constants attention needs for one grid: the additive neighbour mask [T, T] and the sine
/// position encoding [T, D].
struct AttentionGrid {
    let mask: AttentionMask
    let positions: Tensor
}

/// Builds each grid's constants on first use. Locked: scoring may run frames concurrently.
private final class GridCache {
    private let lock = NSLock()
    private var grids: [[Int]: AttentionGrid] = [:]

    func grid(height: Int, width: Int, config: CDADConfig) -> AttentionGrid {
        lock.withLock {
            if let grid = grids[[height, width]] { return grid }
            let grid = AttentionGrid(
                mask: AttentionMask(neighbourMask(height: height, width: width, window: config.neighbourWindow)),
                positions: sinePositionEncoding(height: height, width: width, channels: config.amnWidth))
            grids[[height, width]] = grid
            return grid
        }
    }
}

/// DETR's 2-D sine encoding (normalised, scale 2π, temperature 10000), one row per token [T, D].
///
/// The first D/2 channels encode the row, the last D/2 the column. Coordinates run 1...H (1...W),
/// divided by H (W) and scaled to (0, 2π]; channel pair (2i, 2i+1) of each half holds
/// sin(p / 10000^(2i/(D/2))) and cos of the same.
func sinePositionEncoding(height: Int, width: Int, channels: Int) -> Tensor {
    precondition(channels % 4 == 0, "sine position encoding needs channels divisible by 4, got \(channels)")
    let half = channels / 2
    let scale = 2 * Double.pi, eps = 1e-6
    let frequencies = (0..<half).map { i in pow(10_000.0, Double(2 * (i / 2)) / Double(half)) }
    func encode(_ position: Double, into row: UnsafeMutablePointer<Float>) {
        for i in stride(from: 0, to: half, by: 2) {
            row[i] = Float(Foundation.sin(position / frequencies[i]))
            row[i + 1] = Float(Foundation.cos(position / frequencies[i + 1]))
        }
    }
    return Tensor(shape: [height * width, channels]) { out in
        for y in 0..<height {
            for x in 0..<width {
                let row = out.baseAddress! + (y * width + x) * channels
                encode(Double(y + 1) / (Double(height) + eps) * scale, into: row)
                encode(Double(x + 1) / (Double(width) + eps) * scale, into: row + half)
            }
        }
    }
}
