/// A product's decision threshold and the range that maps raw scores to [0, 1], fixed from
/// held-out *normal* images only (never from test or defective images).
///
/// With normal-only data an F1-optimal threshold collapses onto the lowest score, so the threshold
/// sits a margin above the highest held-out normal score. The normalised score follows the
/// anomalib / OpenVINO convention: norm = clamp((raw − threshold) / (max − min) + 0.5, 0, 1), with
/// min the lowest held-out score and max placed as far above the threshold as min is below it, so
/// that min → 0, threshold → 0.5, max → 1.
public struct Calibration: Codable, Sendable, Equatable {
    public var threshold: Float
    public var min: Float
    public var max: Float
    /// How the threshold was chosen, for people reading the manifest.
    public var method: String
    /// How many held-out normal images it was fitted on.
    public var images: Int
    /// The top fraction of the map the product's image score averages, when calibration chose it
    /// (`ScoringSettings.imageScoreCandidates`); nil = the model's fixed one. The threshold is a
    /// threshold on that score.
    public var imageScoreTopFraction: Float?

    public init(threshold: Float, min: Float, max: Float, method: String, images: Int, imageScoreTopFraction: Float? = nil) {
        self.threshold = threshold
        self.min = min
        self.max = max
        self.method = method
        self.images = images
        self.imageScoreTopFraction = imageScoreTopFraction
    }

    enum CodingKeys: String, CodingKey {
        case threshold, min, max, method, images
        case imageScoreTopFraction = "image_score_top_fraction"
    }

    /// Fits from the raw scores of held-out normal images; `margin` is a fraction of their spread.
    public init(heldOutNormalScores scores: [Float], margin: Float = 0.1) {
        precondition(!scores.isEmpty, "calibration needs at least one held-out normal score")
        let low = scores.min()!, high = scores.max()!
        // A spread of zero (one image, or identical scores) still needs a usable range.
        let spread = Swift.max(high - low, Swift.max(abs(high) * 0.05, 1e-6))
        let threshold = high + margin * spread
        let below = Swift.max(threshold - low, 1e-6)
        self.init(threshold: threshold, min: threshold - below, max: threshold + below,
                  method: "max of \(scores.count) held-out normal scores + \(margin) x their spread",
                  images: scores.count)
    }

    public func normalised(_ raw: Float) -> Float {
        let value = (raw - threshold) / Swift.max(max - min, 1e-12) + 0.5
        return Swift.min(Swift.max(value, 0), 1)
    }

    public func isAnomalous(_ raw: Float) -> Bool { raw > threshold }

    /// The raw score that normalises to `normalised` (unclamped): 0.5 gives the threshold.
    public func raw(forNormalised normalised: Float) -> Float {
        threshold + (normalised - 0.5) * Swift.max(max - min, 1e-12)
    }
}
