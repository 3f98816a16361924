import Foundation
import InspectdImage
import InspectdMetrics

/// Scores the test split of evaluation sets (MVTec layout) and computes the metrics per set.
/// Several map sources can be evaluated in one pass over the same model (the ablation).
public struct Evaluator {
    /// Metrics of one set, as fractions in [0, 1]; nil where they cannot be computed (no masks,
    /// or only one class).
    public struct Result: Sendable {
        public var imageAUROC: Double?
        public var imageAP: Double?
        public var imageF1Max: Double?
        public var pixelAUROC: Double?
        public var pixelAP: Double?
        public var pixelAUPRO: Double?
        public var pixelF1Max: Double?
        public var images: Int
        public var seconds: Double

        /// Percentages under the names `inspectd eval --json` prints; absent metrics are left out.
        public var percentages: [String: Double] {
            var out: [String: Double] = [:]
            let named: [(String, Double?)] = [
                ("image_auroc", imageAUROC), ("pixel_auroc", pixelAUROC), ("pixel_aupro", pixelAUPRO),
                ("image_ap", imageAP), ("pixel_ap", pixelAP), ("f1_max", imageF1Max), ("pixel_f1_max", pixelF1Max),
            ]
            for (name, value) in named { if let value { out[name] = (value * 1000).rounded() / 10 } }
            return out
        }
    }

    public let detector: Detector
    /// Scoring settings to evaluate under: the manifest's unless an ablation changes them.
    public let settings: ScoringSettings
    public let batchSize: Int

    public init(detector: Detector, settings: ScoringSettings? = nil, batchSize: Int = 8) {
        self.detector = detector
        self.settings = settings ?? detector.manifest.scoring
        self.batchSize = batchSize
    }

    /// Evaluates one set, whose frames show `product`, for each of `sources`.
    public func evaluate(set: EvaluationSet, product: String, sources: [ScoringSettings.MapSource]) throws
        -> [ScoringSettings.MapSource: Result] {
        let started = Date()
        var tallies = Dictionary(uniqueKeysWithValues: sources.map { ($0, Tally()) })
        try Self.batches(of: set, size: batchSize, side: detector.manifest.resolution) { frames, masks in
            let analyses = try detector.analyse(frames, product: product, sources: sources, settings: settings)
            for index in frames.indices {
                for source in sources {
                    tallies[source]!.add(analyses[index].maps[source]!, score: analyses[index].scores[source]!,
                                         mask: masks[index], in: set)
                }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        return tallies.mapValues { $0.result(of: set, seconds: seconds) }
    }

    /// Runs `body` on the set's test frames `size` at a time, with each frame's ground-truth mask
    /// at `side` x `side` (nil for a normal frame or a set without masks).
    static func batches(of set: EvaluationSet, size: Int, side: Int,
                        _ body: (_ frames: [Image], _ masks: [[Bool]?]) throws -> Void) throws {
        for start in stride(from: 0, to: set.testItems.count, by: size) {
            let items = Array(set.testItems[start..<min(start + size, set.testItems.count)])
            let frames = try items.map { try Image(contentsOfFile: $0.path) }
            let masks = try items.indices.map { index in
                set.hasMasks && items[index].isAnomalous
                    ? try set.mask(for: items[index], imageWidth: frames[index].width, imageHeight: frames[index].height,
                                   width: side, height: side)
                    : nil
            }
            try body(frames, masks)
        }
    }

    /// One map source's image scores and pixels over a set, frame by frame.
    struct Tally {
        var scores: [Float] = []
        var pixels = PixelEvaluation()

        mutating func add(_ map: AnomalyMap, score: Float, mask: [Bool]?, in set: EvaluationSet) {
            scores.append(score)
            if set.hasMasks { pixels.add(map: map.values, mask: mask, width: map.width, height: map.height) }
        }

        func result(of set: EvaluationSet, seconds: Double) -> Result {
            let labels = set.testItems.map(\.isAnomalous)
            let pixel = set.hasMasks ? pixels.evaluate() : nil
            return Result(
                imageAUROC: Metrics.auroc(scores: scores, labels: labels),
                imageAP: Metrics.averagePrecision(scores: scores, labels: labels),
                imageF1Max: Metrics.f1Max(scores: scores, labels: labels)?.f1,
                pixelAUROC: pixel?.auroc, pixelAP: pixel?.averagePrecision, pixelAUPRO: pixel?.aupro,
                pixelF1Max: pixel?.f1Max?.f1, images: scores.count, seconds: seconds)
        }
    }

    /// The mean of each metric over the sets that have it, in percent.
    public static func mean(_ results: [[String: Double]]) -> [String: Double] {
        var sums: [String: (Double, Int)] = [:]
        for r in results { for (k, v) in r { sums[k, default: (0, 0)].0 += v; sums[k, default: (0, 0)].1 += 1 } }
        return sums.mapValues { (($0.0 / Double($0.1)) * 10).rounded() / 10 }
    }
}
