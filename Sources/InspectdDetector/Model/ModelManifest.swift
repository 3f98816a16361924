import Foundation
import InspectdContinual
import InspectdModel

/// `manifest.json` of a model folder: what the weights are, which products they know and how each
/// product's scores are judged. Scripts read it, so its keys are snake_case and stable.
public struct ModelManifest: Codable, Sendable, Equatable {
    /// Bumped whenever a field changes meaning; a model of a newer format is refused by name.
    public static let currentFormat = 1

    public var formatVersion: Int
    public var network: CDADConfig
    /// Side of the square model input, pixels.
    public var resolution: Int
    public var scoring: ScoringSettings
    public var products: [String: ProductRecord]
    public var training: TrainingRecord
    public var backbone: BackboneRecord
    /// The protected subspaces of continual learning; absent in a model made before they existed,
    /// or whose products were all trained without projection.
    public var continual: ContinualRecord?
    /// The int8 form of the network's layers (`int8.safetensors`); absent until the model is
    /// quantised, and dropped whenever its weights are written again.
    public var quantisation: QuantisationRecord?

    public init(network: CDADConfig, resolution: Int, scoring: ScoringSettings, backbone: BackboneRecord) {
        formatVersion = Self.currentFormat
        self.network = network
        self.resolution = resolution
        self.scoring = scoring
        products = [:]
        training = TrainingRecord(steps: 0, seconds: 0, runs: [])
        self.backbone = backbone
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case network, resolution, scoring, products, training, backbone, continual, quantisation
    }

    /// The sides the model input may have: the backbone's stride at least, the largest frame side
    /// that product intake takes at most.
    public static let resolutions = 16...8192

    /// Why a model with this manifest could not be built or could not score, or nil. Reading a
    /// manifest refuses one with a problem, which would otherwise stop the program in a
    /// precondition (or exhaust its memory) while loading or at the first frame.
    public var problem: String? {
        if let problem = network.problem { return "network: \(problem)" }
        guard Self.resolutions.contains(resolution) else {
            return "resolution \(resolution) is outside \(Self.resolutions.lowerBound)...\(Self.resolutions.upperBound)"
        }
        guard scoring.ddimSteps >= 1, scoring.ddimSteps <= scoring.noiseLevel, scoring.noiseLevel < network.timesteps else {
            return "scoring: \(scoring.ddimSteps) DDIM steps from noise level \(scoring.noiseLevel) do not fit a schedule of "
                + "\(network.timesteps) timesteps (1 <= steps <= level < timesteps)"
        }
        guard scoring.smoothingSigma >= 0, scoring.smoothingSigma <= Float(resolution) else {
            return "scoring: smoothing sigma \(scoring.smoothingSigma) is outside 0...\(resolution) (the resolution)"
        }
        return nil
    }

    /// What whoever loads the model to score should be told about its calibration, or nil. A model
    /// whose manifest has no `scoring.noise_seed` was calibrated on noise drawn from each frame's
    /// latent, and frames are now scored from the fixed noise of the default seed: its residual
    /// levels and thresholds still fit, statistically, but not exactly.
    public var calibrationWarning: String? {
        guard scoring.noiseSeed == nil, !products.isEmpty else { return nil }
        return "its calibration (residual levels, thresholds) was fitted on the per-frame scoring noise of earlier versions; "
            + "frames are now scored from the fixed noise of seed \(scoring.noiseSeedInUse), so scores may sit slightly off their "
            + "thresholds until 'inspectd calibrate' refits them and records the seed"
    }
}

/// How the int8 layers were made: how many normal images calibrated their input ranges, from which
/// products, and the SHA-256 of the file that holds them.
public struct QuantisationRecord: Codable, Sendable, Equatable {
    /// "int8": weights symmetric per output channel, inputs asymmetric per tensor over their range.
    public var method: String
    public var calibrationImages: Int
    public var products: [String]
    public var int8SHA256: String
    /// Weight names of the quantised layers.
    public var layers: [String]

    public init(method: String = "int8", calibrationImages: Int, products: [String], int8SHA256: String = "", layers: [String] = []) {
        self.method = method
        self.calibrationImages = calibrationImages
        self.products = products
        self.int8SHA256 = int8SHA256
        self.layers = layers
    }

    enum CodingKeys: String, CodingKey {
        case method, products, layers
        case calibrationImages = "calibration_images"
        case int8SHA256 = "int8_sha256"
    }
}

/// How the model protects what it learnt: the bases' method, the energy rule, and which products'
/// layer inputs `bases.safetensors` holds, with each layer's size.
public struct ContinualRecord: Codable, Sendable, Equatable {
    public var method: BasisMethod
    /// Energy threshold of the n-th product merged (0-based): min(maximum, base + step·n).
    public var energyBase: Double
    public var energyStep: Double
    public var energyMaximum: Double
    /// Training images per product whose scoring pass feeds its bases.
    public var sampleImages: Int
    /// Products whose representations the bases hold, in the order they were merged.
    public var products: [String]
    /// SHA-256 of `bases.safetensors`, so a damaged or foreign file is refused.
    public var basesSHA256: String
    /// Per projected weight: its input dimension d and the basis rank k.
    public var layers: [String: Layer]

    public struct Layer: Codable, Sendable, Equatable {
        public var dimension: Int
        public var rank: Int
        public init(dimension: Int, rank: Int) {
            self.dimension = dimension
            self.rank = rank
        }
    }

    public init(method: BasisMethod, schedule: EnergySchedule, sampleImages: Int) {
        self.method = method
        energyBase = schedule.base
        energyStep = schedule.stepPerProduct
        energyMaximum = schedule.maximum
        self.sampleImages = sampleImages
        products = []
        basesSHA256 = ""
        layers = [:]
    }

    public var schedule: EnergySchedule {
        EnergySchedule(base: energyBase, stepPerProduct: energyStep, maximum: energyMaximum)
    }

    enum CodingKeys: String, CodingKey {
        case method
        case energyBase = "energy_base"
        case energyStep = "energy_step"
        case energyMaximum = "energy_maximum"
        case sampleImages = "sample_images"
        case products
        case basesSHA256 = "bases_sha256"
        case layers
    }
}

/// What the model knows about one product.
public struct ProductRecord: Codable, Sendable, Equatable {
    /// The folder of normal images it was learnt from.
    public var source: String
    public var trainingImages: Int
    public var heldOutImages: Int
    public var calibration: Calibration
    /// When the product was added (ISO 8601).
    public var added: String

    public init(source: String, trainingImages: Int, heldOutImages: Int, calibration: Calibration, added: String) {
        self.source = source
        self.trainingImages = trainingImages
        self.heldOutImages = heldOutImages
        self.calibration = calibration
        self.added = added
    }

    enum CodingKeys: String, CodingKey {
        case source
        case trainingImages = "training_images"
        case heldOutImages = "held_out_images"
        case calibration, added
    }
}

/// How much training the weights have had, in total and per run.
public struct TrainingRecord: Codable, Sendable, Equatable {
    public struct Run: Codable, Sendable, Equatable {
        public var products: [String]
        public var steps: Int
        public var seconds: Double
        public var profile: String
        public var finished: String
        /// Whether the run's changes were projected off the bases of the products before it
        /// (absent in runs before continual learning).
        public var projected: Bool?
        /// Seconds spent capturing and merging the bases after the run.
        public var basisSeconds: Double?

        enum CodingKeys: String, CodingKey {
            case products, steps, seconds, profile, finished, projected
            case basisSeconds = "basis_seconds"
        }
    }

    public var steps: Int
    public var seconds: Double
    public var runs: [Run]
}

/// Which backbone weights the latent was computed with: another file means another latent.
public struct BackboneRecord: Codable, Sendable, Equatable {
    public var file: String
    public var sha256: String

    public init(file: String, sha256: String) {
        self.file = file
        self.sha256 = sha256
    }
}
