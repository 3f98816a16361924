import Foundation
import InspectdMetrics

/// How far int8 scoring strays from Float32 on one evaluation set: both precisions' metrics from
/// one pass over the frames, the correlation of each frame's two anomaly maps, and how many frames
/// get the same verdict at the product's calibrated threshold, alone and with the frames near the
/// threshold confirmed in Float32 as `Inspector` does.
public struct PrecisionAgreement {
    public struct Result: Sendable {
        /// The confirmation band the run was asked about.
        public var band: Float
        public var fp32: Evaluator.Result
        public var int8: Evaluator.Result
        /// Pearson correlation of a frame's int8 and Float32 maps (the smoothed maps at the model
        /// resolution that scores and pixel metrics are read from), over the set.
        public var meanMapPearson: Double
        public var lowestMapPearson: Double
        public var sameVerdicts: Int
        public var frames: Int
        /// Each frame's image score in Float32 and in int8, and the threshold they are judged by.
        public var scores: [(fp32: Float, int8: Float)]
        public var threshold: Float

        /// The largest |int8 score − Float32 score| over the set, as a share of the frame's Float32 score.
        public var largestScoreShift: Double {
            scores.map { Double(abs($0.int8 - $0.fp32) / max(abs($0.fp32), .leastNormalMagnitude)) }.max() ?? 0
        }

        /// With int8 scores within `band` of the threshold confirmed in Float32 (as `Inspector`
        /// does): how many frames that is, and how many verdicts are then Float32's.
        public func confirmation(band: Float) -> (frames: Int, sameVerdicts: Int) {
            let close = scores.filter { abs($0.int8 - threshold) <= band * abs(threshold) }.count
            let sameOutside = scores.filter {
                abs($0.int8 - threshold) > band * abs(threshold) && ($0.int8 > threshold) == ($0.fp32 > threshold)
            }.count
            return (close, close + sameOutside)
        }

        /// The bands `report` shows beside the chosen one.
        public static let reportedBands: [Float] = [0.01, 0.02, 0.03, 0.05, 0.1]

        /// The bands reported, the chosen one among them, in order.
        public var bands: [Float] { Set(Self.reportedBands + [band]).sorted() }

        /// What `inspectd eval --precision-agreement --json` prints for the set.
        public var report: [String: Any] {
            func rounded(_ x: Double, _ places: Double) -> Double { (x * places).rounded() / places }
            let share = { (count: Int) in rounded(Double(count) / Double(max(frames, 1)) * 100, 100) }
            return ["fp32": fp32.percentages, "int8": int8.percentages, "frames": frames,
                    "map_pearson_mean": rounded(meanMapPearson, 1e5), "map_pearson_lowest": rounded(lowestMapPearson, 1e5),
                    "same_verdicts": share(sameVerdicts), "score_shift_largest": rounded(largestScoreShift * 100, 1e3),
                    "confirmation": bands.map { band -> [String: Any] in
                        let (confirmed, same) = confirmation(band: band)
                        return ["band": Double(band), "frames": confirmed, "same_verdicts": share(same)]
                    }]
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
        var sameVerdicts = 0
        var scores: [(fp32: Float, int8: Float)] = []
        try Evaluator.batches(of: set, size: batchSize, side: detector.manifest.resolution) { frames, masks in
            let wide = try float.analyse(frames, product: product, sources: [source], settings: settings)
            let narrow = try detector.analyse(frames, product: product, sources: [source], settings: settings)
            for index in frames.indices {
                let (a, b) = (wide[index], narrow[index])
                tallies.fp32.add(a.maps[source]!, score: a.scores[source]!, mask: masks[index], in: set)
                tallies.int8.add(b.maps[source]!, score: b.scores[source]!, mask: masks[index], in: set)
                pearsons.append(Self.pearson(a.maps[source]!.values, b.maps[source]!.values))
                let (wideScore, narrowScore) = (a.scores[source]!, b.scores[source]!)
                if (wideScore > threshold) == (narrowScore > threshold) { sameVerdicts += 1 }
                scores.append((wideScore, narrowScore))
            }
        }
        let seconds = Date().timeIntervalSince(started)
        return Result(band: confirmationBand, fp32: tallies.fp32.result(of: set, seconds: seconds), int8: tallies.int8.result(of: set, seconds: seconds),
                      meanMapPearson: pearsons.reduce(0, +) / Double(max(pearsons.count, 1)),
                      lowestMapPearson: pearsons.min() ?? .nan, sameVerdicts: sameVerdicts, frames: pearsons.count,
                      scores: scores, threshold: threshold)
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
