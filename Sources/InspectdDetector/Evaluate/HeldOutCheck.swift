import Foundation
import InspectdImage
import InspectdMetrics
import InspectdModel

/// The label-free check of one product on one model: its held-out normal images (those its
/// threshold is fitted on, never trained on) scored as the daemon scores them, and patch-perturbed
/// copies of them, the anomalies calibration makes. No defective image is needed, so the trainer
/// can run it on every product after every increment. The copies depend only on the images and
/// the product's name, so two models are judged on the same ones.
public struct HeldOutCheck: Codable, Sendable, Equatable {
    public var product: String
    public var normals: Int
    public var perturbed: Int
    /// Share of the held-out normals the product's threshold would flag. A threshold fitted on
    /// these same images (as every refit is) flags none of them by construction, so each image is
    /// also judged against the threshold fitted on the others (leave-one-out), and the larger of
    /// the two rates is kept: it is what a new normal frame risks. Nil with no held-out normals.
    public var falsePositiveRate: Double?
    /// Held-out normals against their perturbed copies; nil with no held-out normals.
    public var auroc: Double?

    public init(product: String, normals: Int, perturbed: Int, falsePositiveRate: Double?, auroc: Double?) {
        self.product = product
        self.normals = normals
        self.perturbed = perturbed
        self.falsePositiveRate = falsePositiveRate
        self.auroc = auroc
    }

    /// Checks `products` (default: all) of the model in `folder`, in Float32, each on the
    /// held-out images of the folder it was learnt from, split as its training split it.
    public static func run(folder: ModelFolder, backbone: EfficientNetLite0, products: [String]? = nil,
                           log: (String) -> Void) throws -> [String: HeldOutCheck] {
        let detector = try Detector(folder: folder, backbone: backbone)
        var checks: [String: HeldOutCheck] = [:]
        for name in products ?? detector.manifest.products.keys.sorted() {
            guard let record = detector.manifest.products[name] else {
                throw Trainer.Failure(description: "\(folder.manifestURL.path): the model has no product '\(name)' to check")
            }
            checks[name] = try check(name, record: record, detector: detector, log: log)
        }
        return checks
    }

    /// Donor images for the perturbed copies: enough variety for patches, without decoding a
    /// whole training folder twice per model.
    static let donorCount = 16

    static func check(_ name: String, record: ProductRecord, detector: Detector, log: (String) -> Void) throws -> HeldOutCheck {
        let split = try Calibrator.recordedSplit(name, record: record, source: record.source)
        let heldOut = decodeModelImages(split.holdout, product: name, extractor: detector.extractor, log: log)
        guard !heldOut.isEmpty else {
            return HeldOutCheck(product: name, normals: 0, perturbed: 0, falsePositiveRate: nil, auroc: nil)
        }
        let donors = decodeModelImages(Array(split.training.prefix(donorCount)), product: name, extractor: detector.extractor, log: log)
        let copies = ImageScoreChoice.perturbedCopies(of: heldOut, donors: donors.isEmpty ? heldOut : donors, seed: stableHash(name))
        let normal = try scores(of: heldOut, product: name, detector: detector)
        let perturbed = try scores(of: copies, product: name, detector: detector)
        let labels = [Bool](repeating: false, count: normal.count) + [Bool](repeating: true, count: perturbed.count)
        return HeldOutCheck(product: name, normals: normal.count, perturbed: perturbed.count,
                            falsePositiveRate: falsePositiveRate(normal, threshold: record.calibration.threshold),
                            auroc: Metrics.auroc(scores: normal + perturbed, labels: labels) ?? 0.5)
    }

    /// The larger of the share above `threshold` and the leave-one-out share (see
    /// `falsePositiveRate`); with one image, only the first.
    static func falsePositiveRate(_ scores: [Float], threshold: Float) -> Double {
        let direct = Double(scores.filter { $0 > threshold }.count) / Double(scores.count)
        guard scores.count > 1 else { return direct }
        let flagged = scores.indices.filter { i in
            var others = scores
            others.remove(at: i)
            return scores[i] > Calibration(heldOutNormalScores: others).threshold
        }.count
        return max(direct, Double(flagged) / Double(scores.count))
    }

    static func scores(of images: [Image], product: String, detector: Detector) throws -> [Float] {
        let source = detector.manifest.scoring.source
        return try detector.analyse(images, product: product, batchSize: 8).map { $0.scores[source]! }
    }
}
