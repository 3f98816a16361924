import Foundation
import InspectdMetrics

/// How far int8 scoring strays from Float32 on one evaluation set: both precisions' metrics from
/// one pass over the frames, the correlation of each frame's two anomaly maps, and how many frames
/// get the same verdict at the product's calibrated threshold, alone and with the frames near the
/// threshold confirmed in Float32 as `Inspector` does.
public struct PrecisionAgreement {
    public struct Result: Sendable {
        public var fp32: Evaluator.Result
        public var int8: Evaluator.Result
        /// Pearson correlation of a frame's int8 and Float32 maps (the smoothed maps at the model
        /// resolution that scores and pixel metrics are read from), over the set.
        public var meanMapPearson: Double
        public var lowestMapPearson: Double
        public var sameVerdicts: Int
        public var frames: Int
        /// The largest |int8 score − Float32 score| over the set, as a share of the threshold.
        public var largestScoreShift: Double
        /// Frames whose int8 score lies within the confirmation band of the threshold.
        public var confirmedFrames: Int
        /// Frames whose verdict, with those confirmed in Float32, is Float32's.
        public var sameVerdictsConfirmed: Int

        /// What `inspectd eval --precision-agreement --json` prints for the set.
        public var report: [String: Any] {
            func rounded(_ x: Double, _ places: Double) -> Double { (x * places).rounded() / places }
            let share = { (count: Int) in rounded(Double(count) / Double(max(frames, 1)) * 100, 100) }
            return ["fp32": fp32.percentages, "int8": int8.percentages, "frames": frames,
                    "map_pearson_mean": rounded(meanMapPearson, 1e5), "map_pearson_lowest": rounded(lowestMapPearson, 1e5),
                    "same_verdicts": share(sameVerdicts), "score_shift_largest": rounded(largestScoreShift * 100, 1e3),
                    "confirmed_frames": share(confirmedFrames), "same_verdicts_confirmed": share(sameVerdictsConfirmed)]
        }
    }

    /// The model's product has no calibrated threshold to give verdicts with.
    public struct UncalibratedProduct: Error, CustomStringConvertible, Sendable {
        public let product: String
        public var description: String { "the model has no threshold for '\(product)': verdicts cannot be compared" }
    }

    /// The model scoring in int8; its Float32 twin shares every weight.
    public let detector: Detector
    public let settings: ScoringSettings
    public let batchSize: Int
    /// `Inspector.confirmationBand`.
    public let confirmationBand: Float

    public init(detector: Detector, settings: ScoringSettings? = nil, batchSize: Int = 8,
                confirmationBand: Float = Inspector.defaultConfirmationBand) {
        precondition(detector.precision == .int8, "precision agreement needs a detector with int8 layers")
        self.detector = detector
        self.settings = settings ?? detector.manifest.scoring
        self.batchSize = batchSize
        self.confirmationBand = confirmationBand
    }

    public func compare(set: EvaluationSet, product: String) throws -> Result {
        guard let calibration = detector.manifest.products[product]?.calibration else { throw UncalibratedProduct(product: product) }
        let threshold = calibration.raw(forNormalised: 0.5)
        let float = detector.scoringInFloat32
        let source = settings.source
        let started = Date()
        var tallies = (fp32: Evaluator.Tally(), int8: Evaluator.Tally())
        var pearsons: [Double] = []
        var sameVerdicts = 0, confirmed = 0, sameConfirmed = 0
        var largestShift = 0.0
        try Evaluator.batches(of: set, size: batchSize, side: detector.manifest.resolution) { frames, masks in
            let wide = try float.analyse(frames, product: product, sources: [source], settings: settings)
            let narrow = try detector.analyse(frames, product: product, sources: [source], settings: settings)
            for index in frames.indices {
                let (a, b) = (wide[index], narrow[index])
                tallies.fp32.add(a.maps[source]!, score: a.scores[source]!, mask: masks[index], in: set)
                tallies.int8.add(b.maps[source]!, score: b.scores[source]!, mask: masks[index], in: set)
                pearsons.append(Self.pearson(a.maps[source]!.values, b.maps[source]!.values))
                let (wideScore, narrowScore) = (a.scores[source]!, b.scores[source]!)
                let same = (wideScore > threshold) == (narrowScore > threshold)
                if same { sameVerdicts += 1 }
                largestShift = max(largestShift, Double(abs(narrowScore - wideScore) / abs(threshold)))
                if abs(narrowScore - threshold) <= confirmationBand * abs(threshold) {
                    confirmed += 1
                    sameConfirmed += 1
                } else if same {
                    sameConfirmed += 1
                }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        return Result(fp32: tallies.fp32.result(of: set, seconds: seconds), int8: tallies.int8.result(of: set, seconds: seconds),
                      meanMapPearson: pearsons.reduce(0, +) / Double(max(pearsons.count, 1)),
                      lowestMapPearson: pearsons.min() ?? .nan, sameVerdicts: sameVerdicts, frames: pearsons.count,
                      largestScoreShift: largestShift, confirmedFrames: confirmed, sameVerdictsConfirmed: sameConfirmed)
    }

    /// Pearson's r of two equally long series, in Double; 1 when both are constant and equal,
    /// 0 when only one of them is constant.
    public static func pearson(_ x: [Float], _ y: [Float]) -> Double {
        precondition(x.count == y.count && !x.isEmpty, "pearson of \(x.count) and \(y.count) values")
        let n = Double(x.count)
        var sx = 0.0, sy = 0.0
        for i in x.indices { sx += Double(x[i]); sy += Double(y[i]) }
        let mx = sx / n, my = sy / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let dx = Double(x[i]) - mx, dy = Double(y[i]) - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        if sxx == 0 || syy == 0 { return sxx == syy && x == y ? 1 : 0 }
        return sxy / (sxx * syy).squareRoot()
    }
}
