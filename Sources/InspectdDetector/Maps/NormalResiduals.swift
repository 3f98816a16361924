import InspectdTensor

/// How large one product's reconstruction residuals are on its own normal images, per
/// reconstruction, channel and latent position: what `ScoringSettings.standardiseResiduals`
/// divides the squared residuals by.
///
/// Without it the map's maximum on a normal frame sits where the reconstructions are always
/// poorer — the latent's border rows and columns (the backbone's zero padding), textured
/// surfaces — and a real defect elsewhere has to beat that. On the six evaluation sets it is what
/// separates a reconstruction map from a useful one (docs/RESULTS.md).
public struct NormalResiduals: Sendable, Equatable {
    /// Added to every level before dividing, in squared units of the standardised latent (whose
    /// channels have variance 1): a place reconstructed almost perfectly on normal images must not
    /// turn a tiny residual into a huge score.
    public static let floor: Float = 1e-3

    /// Mean squared residual per channel and position, [C, H, W] row-major.
    public struct Levels: Sendable, Equatable {
        public let channels: Int
        public let height: Int
        public let width: Int
        public let values: [Float]

        public init(channels: Int, height: Int, width: Int, values: [Float]) {
            precondition(values.count == channels * height * width, "\(values.count) levels for [\(channels), \(height), \(width)]")
            self.channels = channels
            self.height = height
            self.width = width
            self.values = values
        }

        var tensor: Tensor { Tensor(shape: [channels, height, width], data: values) }

        init?(_ tensor: Tensor?) {
            guard let tensor, tensor.rank == 3 else { return nil }
            self.init(channels: tensor.shape[0], height: tensor.shape[1], width: tensor.shape[2], values: tensor.data)
        }
    }

    /// Of the AMN's reconstruction.
    public let amn: Levels
    /// Of the denoiser's DDIM reconstruction (at the model's noise level and step count).
    public let diffusion: Levels

    public init(amn: Levels, diffusion: Levels) {
        precondition(amn.values.count == diffusion.values.count, "AMN and diffusion levels differ in shape")
        self.amn = amn
        self.diffusion = diffusion
    }

    /// Names of a product's two [C, H, W] tensors in the weights file.
    public static func tensorNames(product: String) -> (amn: String, diffusion: String) {
        ("residuals.\(product).amn", "residuals.\(product).diffusion")
    }

    public func tensors(product: String) -> [String: Tensor] {
        let names = Self.tensorNames(product: product)
        return [names.amn: amn.tensor, names.diffusion: diffusion.tensor]
    }

    /// Reads a product's levels back; nil when either is absent or they are not [C, H, W] alike.
    public init?(tensors: [String: Tensor], product: String) {
        let names = Self.tensorNames(product: product)
        guard let amn = Levels(tensors[names.amn]), let diffusion = Levels(tensors[names.diffusion]),
              amn.values.count == diffusion.values.count else { return nil }
        self.init(amn: amn, diffusion: diffusion)
    }

    /// Averages squared residuals [N, C, H, W] (`AnomalyMap.squaredResiduals`) over images that
    /// arrive batch by batch, in Float64.
    public struct Accumulator: Sendable {
        private var amn: [Double] = []
        private var diffusion: [Double] = []
        private var shape: [Int] = []
        public private(set) var images = 0

        public init() {}

        public mutating func add(amn amnTerms: Tensor, diffusion diffusionTerms: Tensor) {
            precondition(amnTerms.rank == 4 && amnTerms.shape == diffusionTerms.shape,
                         "residuals \(amnTerms.shape) and \(diffusionTerms.shape)")
            let perImage = Array(amnTerms.shape.dropFirst())
            if shape.isEmpty {
                shape = perImage
                amn = [Double](repeating: 0, count: perImage.reduce(1, *))
                diffusion = amn
            }
            precondition(perImage == shape, "residuals of shape \(perImage) added to levels of \(shape)")
            let count = amn.count
            amnTerms.data.withUnsafeBufferPointer { a in
                diffusionTerms.data.withUnsafeBufferPointer { d in
                    for image in 0..<amnTerms.shape[0] {
                        for i in 0..<count {
                            amn[i] += Double(a[image * count + i])
                            diffusion[i] += Double(d[image * count + i])
                        }
                    }
                }
            }
            images += amnTerms.shape[0]
        }

        /// The mean levels; nil before any image was added.
        public var residuals: NormalResiduals? {
            guard images > 0 else { return nil }
            func levels(_ sums: [Double]) -> Levels {
                Levels(channels: shape[0], height: shape[1], width: shape[2], values: sums.map { Float($0 / Double(images)) })
            }
            return NormalResiduals(amn: levels(amn), diffusion: levels(diffusion))
        }
    }
}
