import InspectdDetector
import InspectdImage

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
}

public struct FrameScore: Sendable {
    public var raw: Float
    public var normalised: Float
    /// The raw score above which the frame is NG, after the product's sensitivity setting.
    public var threshold: Float
    public var isAnomalous: Bool
    /// Heatmap, overlay and mask at the frame's size; drawn only when the spool wants them.
    public var pictures: @Sendable () -> [(kind: String, image: Image)]

    public init(raw: Float, normalised: Float, threshold: Float, isAnomalous: Bool,
                pictures: @escaping @Sendable () -> [(kind: String, image: Image)]) {
        self.raw = raw
        self.normalised = normalised
        self.threshold = threshold
        self.isAnomalous = isAnomalous
        self.pictures = pictures
    }
}

extension FrameScorer {
    public var warnings: [String] { [] }
    public var precision: Precision { .fp32 }
}

extension Inspector: FrameScorer {
    public func score(_ frame: Image, product: String, normalisedThreshold: Float) throws -> FrameScore {
        let inspection = try inspect(frame, product: product, normalisedThreshold: normalisedThreshold)
        return FrameScore(raw: inspection.rawScore, normalised: inspection.normalisedScore, threshold: inspection.threshold,
                          isAnomalous: inspection.isAnomalous, pictures: { inspection.pictures() })
    }
}
