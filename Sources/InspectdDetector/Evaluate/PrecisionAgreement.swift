import Foundation
import InspectdMetrics

/// How far int8 scoring strays from Float32 on one evaluation set: both precisions' metrics from
/// one pass over the frames, the correlation of each frame's two anomaly maps, and how many frames
/// get the same verdict at the product's calibrated threshold.
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

        /// What `inspectd eval --precision-agreement --json` prints for the set.
        public var report: [String: Any] {
            func rounded(_ x: Double, _ places: Double) -> Double { (x * places).rounded() / places }
            return ["fp32": fp32.percentages, "int8": int8.percentages, "frames": frames,
                    "map_pearson_mean": rounded(meanMapPearson, 1e5), "map_pearson_lowest": rounded(lowestMapPearson, 1e5),
                    "same_verdicts": rounded(Double(sameVerdicts) / Double(max(frames, 1)) * 100, 100)]
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

    public init(detector: Detector, settings: ScoringSettings? = nil, batchSize: Int = 8) {
        precondition(detector.precision == .int8, "precision agreement needs a detector with int8 layers")
        self.detector = detector
        self.settings = settings ?? detector.manifest.scoring
        self.batchSize = batchSize
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
        try Evaluator.batches(of: set, size: batchSize, side: detector.manifest.resolution) { frames, masks in
            let wide = try float.analyse(frames, product: product, sources: [source], settings: settings)
            let narrow = try detector.analyse(frames, product: product, sources: [source], settings: settings)
            for index in frames.indices {
                let (a, b) = (wide[index], narrow[index])
                tallies.fp32.add(a.maps[source]!, score: a.scores[source]!, mask: masks[index], in: set)
                tallies.int8.add(b.maps[source]!, score: b.scores[source]!, mask: masks[index], in: set)
                pearsons.append(Self.pearson(a.maps[source]!.values, b.maps[source]!.values))
                if (a.scores[source]! > threshold) == (b.scores[source]! > threshold) { sameVerdicts += 1 }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        return Result(fp32: tallies.fp32.result(of: set, seconds: seconds), int8: tallies.int8.result(of: set, seconds: seconds),
                      meanMapPearson: pearsons.reduce(0, +) / Double(max(pearsons.count, 1)),
                      lowestMapPearson: pearsons.min() ?? .nan, sameVerdicts: sameVerdicts, frames: pearsons.count)
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
