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
        let side = detector.manifest.resolution
        var scores: [ScoringSettings.MapSource: [Float]] = [:]
        var pixels: [ScoringSettings.MapSource: PixelEvaluation] = [:]
        for source in sources { pixels[source] = PixelEvaluation() }
        let labels = set.testItems.map(\.isAnomalous)

        for start in stride(from: 0, to: set.testItems.count, by: batchSize) {
            let items = Array(set.testItems[start..<min(start + batchSize, set.testItems.count)])
            let frames = try items.map { try Image(contentsOfFile: $0.path) }
            let analyses = try detector.analyse(frames, product: product, sources: sources, settings: settings)
            for (index, item) in items.enumerated() {
                let mask = set.hasMasks
                    ? try set.mask(for: item, imageWidth: frames[index].width, imageHeight: frames[index].height, width: side, height: side)
                    : nil
                for source in sources {
                    scores[source, default: []].append(analyses[index].scores[source]!)
                    if set.hasMasks {
                        pixels[source]!.add(map: analyses[index].maps[source]!.values, mask: item.isAnomalous ? mask : nil,
                                            width: side, height: side)
                    }
                }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        var results: [ScoringSettings.MapSource: Result] = [:]
        for source in sources {
            let s = scores[source] ?? []
            let pixel = set.hasMasks ? pixels[source]!.evaluate() : nil
            results[source] = Result(
                imageAUROC: Metrics.auroc(scores: s, labels: labels),
                imageAP: Metrics.averagePrecision(scores: s, labels: labels),
                imageF1Max: Metrics.f1Max(scores: s, labels: labels)?.f1,
                pixelAUROC: pixel?.auroc, pixelAP: pixel?.averagePrecision, pixelAUPRO: pixel?.aupro,
                pixelF1Max: pixel?.f1Max?.f1, images: s.count, seconds: seconds)
        }
        return results
    }

    /// The mean of each metric over the sets that have it, in percent.
    public static func mean(_ results: [[String: Double]]) -> [String: Double] {
        var sums: [String: (Double, Int)] = [:]
        for r in results { for (k, v) in r { sums[k, default: (0, 0)].0 += v; sums[k, default: (0, 0)].1 += 1 } }
        return sums.mapValues { (($0.0 / Double($0.1)) * 10).rounded() / 10 }
    }
}
