/// How frames are scored: which reconstructions make the anomaly map, and how.
public struct ScoringSettings: Codable, Sendable, Equatable {
    /// Which reconstruction(s) of the latent the map compares the input with.
    public enum MapSource: String, Codable, Sendable, CaseIterable {
        /// The AMN's reconstruction alone (one network pass, no denoising).
        case amn
        /// The denoiser's DDIM reconstruction from noise level `noiseLevel`.
        case diffusion
        /// The geometric mean of the two maps.
        case combined
        /// The arithmetic mean of the two maps (both are distances in the same standardised
        /// latent space, so neither needs rescaling).
        case mean
    }

    public var source: MapSource
    /// Diffusion timestep the input latent is noised to before denoising (t_s).
    public var noiseLevel: Int
    /// DDIM steps from t_s down to 0.
    public var ddimSteps: Int
    /// Gaussian smoothing of the upsampled map, in pixels at the model resolution.
    public var smoothingSigma: Float
    /// Side of the square window (odd, 1 = none) the residual is averaged over before it is
    /// squared: the distance of locally averaged latents, as the reference's 3x3-pooled features.
    public var pooling: Int
    /// Divide each squared residual by its product's mean on normal training images at that channel
    /// and position (`NormalResiduals`), so that places a reconstruction always gets wrong on normal
    /// frames — the latent's borders, busy textures — stop setting the map's maximum.
    public var standardiseResiduals: Bool
    /// The image score is the mean of this share of the smoothed map's highest values; 0 = the
    /// maximum (`AnomalyMap.imageScore`). Used for every product when `imageScoreCandidates` is
    /// empty, and for a product whose calibration made no choice otherwise.
    public var imageScoreTopFraction: Float
    /// Shares calibration may choose the image score's top fraction from, per product, by how well
    /// each separates held-out normal images from patch-perturbed copies of them
    /// (`ImageScoreChoice`); empty = every product uses `imageScoreTopFraction`.
    public var imageScoreCandidates: [Float]
    /// Seed of the noise the diffusion path starts from (`ScoringNoise`). nil in a manifest written
    /// before the noise was fixed per model: such a model scores with `ScoringNoise.defaultSeed`,
    /// but its calibration was fitted on noise drawn from each frame's latent
    /// (`ModelManifest.calibrationWarning`).
    public var noiseSeed: UInt64?

    /// The seed scoring draws its noise from.
    public var noiseSeedInUse: UInt64 { noiseSeed ?? ScoringNoise.defaultSeed }

    public init(source: MapSource, noiseLevel: Int, ddimSteps: Int, smoothingSigma: Float,
                pooling: Int, standardiseResiduals: Bool, imageScoreTopFraction: Float, imageScoreCandidates: [Float] = [],
                noiseSeed: UInt64? = ScoringNoise.defaultSeed) {
        precondition(pooling >= 1 && pooling % 2 == 1, "pooling window \(pooling) must be odd and positive")
        precondition((0...1).contains(imageScoreTopFraction), "image score top fraction \(imageScoreTopFraction) is outside 0...1")
        precondition(imageScoreCandidates.allSatisfy { (0...1).contains($0) }, "image score candidates \(imageScoreCandidates) are not all in 0...1")
        self.source = source
        self.noiseLevel = noiseLevel
        self.ddimSteps = ddimSteps
        self.smoothingSigma = smoothingSigma
        self.pooling = pooling
        self.standardiseResiduals = standardiseResiduals
        self.imageScoreTopFraction = imageScoreTopFraction
        self.imageScoreCandidates = imageScoreCandidates
        self.noiseSeed = noiseSeed
    }

    /// The top fraction `product`'s image score uses: its calibrated choice when these settings
    /// let calibration choose, else the fixed one.
    public func imageScoreTopFraction(for calibration: Calibration?) -> Float {
        guard !imageScoreCandidates.isEmpty, let chosen = calibration?.imageScoreTopFraction else { return imageScoreTopFraction }
        return chosen
    }

    enum CodingKeys: String, CodingKey {
        case source
        case noiseLevel = "noise_level"
        case ddimSteps = "ddim_steps"
        case smoothingSigma = "smoothing_sigma"
        case pooling
        case standardiseResiduals = "standardise_residuals"
        case imageScoreTopFraction = "image_score_top_fraction"
        case imageScoreCandidates = "image_score_candidates"
        case noiseSeed = "noise_seed"
    }

    /// Manifests written before `pooling`, `standardise_residuals`, `image_score_top_fraction` and
    /// `image_score_candidates` existed scored with none of them (the map's maximum), and their
    /// thresholds were calibrated that way: they decode to exactly that. One without `noise_seed`
    /// keeps it nil, so that its calibration can be reported as fitted on the older noise.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decode(MapSource.self, forKey: .source)
        noiseLevel = try c.decode(Int.self, forKey: .noiseLevel)
        ddimSteps = try c.decode(Int.self, forKey: .ddimSteps)
        smoothingSigma = try c.decode(Float.self, forKey: .smoothingSigma)
        pooling = try c.decodeIfPresent(Int.self, forKey: .pooling) ?? 1
        standardiseResiduals = try c.decodeIfPresent(Bool.self, forKey: .standardiseResiduals) ?? false
        imageScoreTopFraction = try c.decodeIfPresent(Float.self, forKey: .imageScoreTopFraction) ?? 0
        imageScoreCandidates = try c.decodeIfPresent([Float].self, forKey: .imageScoreCandidates) ?? []
        noiseSeed = try c.decodeIfPresent(UInt64.self, forKey: .noiseSeed)
        guard pooling >= 1 && pooling % 2 == 1 else {
            throw DecodingError.dataCorruptedError(forKey: .pooling, in: c, debugDescription: "expected an odd window side >= 1, got \(pooling)")
        }
        guard (0...1).contains(imageScoreTopFraction) else {
            throw DecodingError.dataCorruptedError(forKey: .imageScoreTopFraction, in: c,
                                                   debugDescription: "expected a fraction in 0...1, got \(imageScoreTopFraction)")
        }
        if let outside = imageScoreCandidates.first(where: { !(0...1).contains($0) }) {
            throw DecodingError.dataCorruptedError(forKey: .imageScoreCandidates, in: c,
                                                   debugDescription: "expected fractions in 0...1, got \(outside)")
        }
    }
}

/// How long and how hard a training run works.
public struct TrainingSettings: Codable, Sendable, Equatable {
    public var steps: Int
    public var batchSize: Int
    public var learningRate: Float
    public var weightDecay: Float
    /// Share of each product's normal images set aside for calibration before training.
    public var holdoutFraction: Double
    /// Steps between resumable checkpoints.
    public var checkpointInterval: Int
    public var seed: UInt64

    public init(steps: Int, batchSize: Int, learningRate: Float, weightDecay: Float,
                holdoutFraction: Double, checkpointInterval: Int, seed: UInt64) {
        self.steps = steps
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.holdoutFraction = holdoutFraction
        self.checkpointInterval = checkpointInterval
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case steps
        case batchSize = "batch_size"
        case learningRate = "learning_rate"
        case weightDecay = "weight_decay"
        case holdoutFraction = "holdout_fraction"
        case checkpointInterval = "checkpoint_interval"
        case seed
    }
}
