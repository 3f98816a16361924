import Foundation
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
        case network, resolution, scoring, products, training, backbone
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
