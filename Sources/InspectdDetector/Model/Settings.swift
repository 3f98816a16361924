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

    public init(source: MapSource, noiseLevel: Int, ddimSteps: Int, smoothingSigma: Float) {
        self.source = source
        self.noiseLevel = noiseLevel
        self.ddimSteps = ddimSteps
        self.smoothingSigma = smoothingSigma
    }

    enum CodingKeys: String, CodingKey {
        case source
        case noiseLevel = "noise_level"
        case ddimSteps = "ddim_steps"
        case smoothingSigma = "smoothing_sigma"
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
