import Foundation
import InspectdDetector
import InspectdImage
import InspectdModelStore

/// What the daemon asks of a model. The detector's `Inspector` is the real one; tests give the
/// daemon a cheap stand-in so that they exercise files, folders and signals, not the network.
public protocol FrameScorer: Sendable {
    /// Names the model in verdicts, logs and metrics.
    var version: String { get }
    var products: [String] { get }
    /// Said in the log when the model is loaded: what an operator should know about it.
    var warnings: [String] { get }
    /// What the frames are scored in: named in verdicts and metrics.
    var precision: Precision { get }
    func score(_ frame: Image, product: String, normalisedThreshold: Float) throws -> FrameScore
    /// The frames' scores, in their order, from one call: what the daemon uses when several frames
    /// wait. Throws when the call as a whole fails; the daemon then scores the frames one by one,
    /// so that each still gets its own verdict or error.
    func score(_ frames: [FrameRequest]) throws -> [FrameScore]
}

/// One frame of a batch, with the product it shows and that product's sensitivity setting.
public struct FrameRequest: Sendable {
    public var frame: Image
    public var product: String
    public var normalisedThreshold: Float

    public init(frame: Image, product: String, normalisedThreshold: Float) {
        self.frame = frame
        self.product = product
        self.normalisedThreshold = normalisedThreshold
    }
}

public struct FrameScore: Sendable {
    public var raw: Float
    public var normalised: Float
    /// The raw score above which the frame is NG, after the product's sensitivity setting.
    public var threshold: Float
    public var isAnomalous: Bool
    /// An int8 score close enough to the threshold to be scored again in Float32, which decided it.
    public var confirmedInFloat32: Bool
    /// Heatmap, overlay and mask at the frame's size; drawn only when the spool wants them.
    public var pictures: @Sendable () -> [(kind: String, image: Image)]

    public init(raw: Float, normalised: Float, threshold: Float, isAnomalous: Bool, confirmedInFloat32: Bool = false,
                pictures: @escaping @Sendable () -> [(kind: String, image: Image)]) {
        self.raw = raw
        self.normalised = normalised
        self.threshold = threshold
        self.isAnomalous = isAnomalous
        self.confirmedInFloat32 = confirmedInFloat32
        self.pictures = pictures
    }
}

extension FrameScorer {
    public var warnings: [String] { [] }
    public var precision: Precision { .fp32 }

    /// A scorer without a batch path scores the frames one after another.
    public func score(_ frames: [FrameRequest]) throws -> [FrameScore] {
        try frames.map { try score($0.frame, product: $0.product, normalisedThreshold: $0.normalisedThreshold) }
    }
}

/// A scorer that goes by another name: a model store's version beside the weights' digest
/// ("v0003-dffe2b734455"), so that verdicts, the journal and the metrics say which version scored
/// each frame.
public struct RenamedScorer: FrameScorer {
    public let inner: FrameScorer
    public let version: String

    public init(_ inner: FrameScorer, version: String) {
        self.inner = inner
        self.version = version
    }

    public var products: [String] { inner.products }
    public var warnings: [String] { inner.warnings }
    public var precision: Precision { inner.precision }

    public func score(_ frame: Image, product: String, normalisedThreshold: Float) throws -> FrameScore {
        try inner.score(frame, product: product, normalisedThreshold: normalisedThreshold)
    }

    public func score(_ frames: [FrameRequest]) throws -> [FrameScore] { try inner.score(frames) }
}

extension Inspector: FrameScorer {
    public func score(_ frame: Image, product: String, normalisedThreshold: Float) throws -> FrameScore {
        FrameScore(try inspect(frame, product: product, normalisedThreshold: normalisedThreshold))
    }

    public func score(_ frames: [FrameRequest]) throws -> [FrameScore] {
        try inspect(frames.map { ($0.frame, $0.product, $0.normalisedThreshold) }).map(FrameScore.init)
    }
}

extension FrameScore {
    init(_ inspection: Inspection) {
        self.init(raw: inspection.rawScore, normalised: inspection.normalisedScore, threshold: inspection.threshold,
                  isAnomalous: inspection.isAnomalous, confirmedInFloat32: inspection.confirmedInFloat32,
                  pictures: { inspection.pictures() })
    }
}

extension InspectionDaemon {
    /// What `inspectd run` scores with: the model `model_dir` points at, loaded by `loader` (the
    /// backbone read once), in the configured precision; a version of a model store is named by
    /// its version as well as its weights.
    public static func modelLoader(_ loader: InspectorLoader = InspectorLoader()) -> ScorerLoader {
        { configuration in
            // Resolved first: a store's `current` may be swapped during the load, and every file
            // must come from the one version it pointed at.
            let folder = URL(fileURLWithPath: configuration.daemon.modelDirectory).resolvingSymlinksInPath()
            guard let inspector = try loader.load(folder: ModelFolder(folder), threads: configuration.daemon.threads,
                                                  precision: InspectdDetector.Precision(rawValue: configuration.daemon.precision.rawValue) ?? .fp32,
                                                  confirmationBand: Float(configuration.daemon.int8ConfirmBand)) else { return nil }
            guard let record = VersionRecord.read(from: folder) else { return inspector }
            return RenamedScorer(inspector, version: "\(record.name)-\(inspector.version)")
        }
    }
}
