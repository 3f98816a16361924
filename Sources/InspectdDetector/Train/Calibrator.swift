import Foundation
import InspectdImage
import InspectdModel

/// Fits what a product's scoring needs once the network is trained: its normal residual levels,
/// from its training images, and then its threshold, from its held-out images scored with those
/// levels (never from test or defective images).
public enum Calibrator {
    public struct Fit: Sendable {
        public let residuals: NormalResiduals
        public let calibration: Calibration
        /// How the image score was chosen, when the settings let calibration choose it.
        public let imageScore: ImageScoreChoice?

        /// For the log: the threshold and what it was fitted on.
        public var summary: String {
            let choice = imageScore.map { "; image score \($0.summary)" } ?? ""
            return "threshold \(calibration.threshold) from \(calibration.images) images\(choice)"
        }
    }

    /// Fits `product` on images already at the model resolution. With no held-out images (a
    /// folder too small to spare any) the threshold comes from the training images and says so.
    /// When the settings offer image score candidates, the product's share is chosen first
    /// (`ImageScoreChoice`, from the held-out images only) and the threshold is set on that score.
    static func fit(detector: Detector, product: String, training: [Image], heldOut: [Image], batchSize: Int = 8) throws -> Fit {
        precondition(!training.isEmpty, "calibrating '\(product)' without training images")
        let settings = detector.manifest.scoring
        var accumulator = NormalResiduals.Accumulator()
        for start in stride(from: 0, to: training.count, by: batchSize) {
            let terms = detector.squaredResiduals(ofModelImages: Array(training[start..<min(start + batchSize, training.count)]),
                                                  settings: settings)
            accumulator.add(amn: terms.amn, diffusion: terms.diffusion)
        }
        let residuals = accumulator.residuals!
        var known = detector.residuals
        known[product] = residuals
        let scorer = Detector(manifest: detector.manifest, network: detector.network, statistics: detector.statistics,
                              extractor: detector.extractor, residuals: known)
        let images = heldOut.isEmpty ? training : heldOut
        let normalMaps = try maps(of: images, scorer: scorer, product: product, batchSize: batchSize)
        var choice: ImageScoreChoice?
        if !settings.imageScoreCandidates.isEmpty && !heldOut.isEmpty {
            let copies = ImageScoreChoice.perturbedCopies(of: heldOut, donors: training, seed: stableHash(product))
            choice = ImageScoreChoice(fractions: settings.imageScoreCandidates, normal: normalMaps,
                                      perturbed: try maps(of: copies, scorer: scorer, product: product, batchSize: batchSize))
        }
        let topFraction = choice?.chosen.topFraction ?? settings.imageScoreTopFraction
        var calibration = Calibration(heldOutNormalScores: normalMaps.map { $0.imageScore(topFraction: topFraction) })
        if heldOut.isEmpty {
            calibration.method += " (no held-out images: fewer than \(ProductImages.minimumImagesForHoldout) in the folder, so training images)"
        }
        if let choice {
            calibration.imageScoreTopFraction = topFraction
            calibration.method += "; image score chosen against \(choice.perturbedCount) patch-perturbed copies of them: \(choice.summary)"
        }
        return Fit(residuals: residuals, calibration: calibration, imageScore: choice)
    }

    /// The configured source's smoothed map of each image, in batches.
    private static func maps(of images: [Image], scorer: Detector, product: String, batchSize: Int) throws -> [AnomalyMap] {
        let source = scorer.manifest.scoring.source
        return try scorer.analyse(images, product: product, batchSize: batchSize).map { $0.maps[source]! }
    }

    /// Refits every product of the model in `folder` without training: after its scoring settings
    /// change (`scoring`), or to give a model of an older version its residual levels. Each product
    /// is read from `folders[name]`, else from the folder it was learnt from, and split into
    /// training and held-out images as training split it. The network's weights are not touched.
    @discardableResult
    public static func recalibrate(folder: ModelFolder, backbone: EfficientNetLite0, scoring: ScoringSettings? = nil,
                                   folders: [String: String] = [:], log: (String) -> Void) throws -> ModelManifest {
        var model = try folder.load()
        if let unknown = folders.keys.sorted().first(where: { model.manifest.products[$0] == nil }) {
            throw Trainer.Failure(description: "\(folder.manifestURL.path): the model has no product '\(unknown)' "
                                  + "(it has \(model.manifest.products.keys.sorted().joined(separator: ", ")))")
        }
        if let scoring { model.manifest.scoring = scoring }
        // A model from before the seed was recorded is refitted on the default seed's noise, and
        // says so from now on.
        model.manifest.scoring.noiseSeed = model.manifest.scoring.noiseSeedInUse
        let extractor = LatentExtractor(backbone: backbone, resolution: model.manifest.resolution)
        let detector = Detector(manifest: model.manifest, network: model.network, statistics: model.statistics, extractor: extractor)
        var residuals: [String: NormalResiduals] = [:]
        for (name, record) in model.manifest.products.sorted(by: { $0.key < $1.key }) {
            let fit = try refit(name, record: record, source: folders[name] ?? record.source, detector: detector,
                                extractor: extractor, log: log)
            residuals[name] = fit.residuals
            model.manifest.products[name]!.calibration = fit.calibration
        }
        return try folder.save(manifest: model.manifest, network: model.network, statistics: model.statistics,
                               residuals: residuals, subspaces: model.subspaces, sameWeights: true)
    }

    /// Fits a known product's levels and threshold on `detector` from its normal images in
    /// `source`, split into training and held-out images as its training split them.
    static func refit(_ name: String, record: ProductRecord, source: String, detector: Detector, extractor: LatentExtractor,
                      log: (String) -> Void) throws -> Fit {
        let split = try recordedSplit(name, record: record, source: source)
        let training = decodeModelImages(split.training, product: name, extractor: extractor, log: log)
        guard !training.isEmpty else {
            throw Trainer.Failure(description: "\(source): none of the \(split.training.count) training images of '\(name)' could be decoded")
        }
        let heldOut = decodeModelImages(split.holdout, product: name, extractor: extractor, log: log)
        let fit = try fit(detector: detector, product: name, training: training, heldOut: heldOut)
        log("\(name): \(fit.summary), residual levels from \(training.count)")
        return fit
    }

    /// A known product's images in `source`, split into training and held-out images as its
    /// training split them.
    static func recordedSplit(_ name: String, record: ProductRecord, source: String) throws -> ProductImages {
        try ProductImages(product: name, folder: source, holdoutFraction: heldOutFraction(record) ?? ProductImages.defaultHoldoutFraction)
    }

    /// The fraction that reproduces the recorded split's held-out count (the split rounds), or nil
    /// for the default when nothing was held out.
    static func heldOutFraction(_ record: ProductRecord) -> Double? {
        let total = record.trainingImages + record.heldOutImages
        guard record.heldOutImages > 0, total > 0 else { return nil }
        return Double(record.heldOutImages) / Double(total)
    }
}

/// Decodes and resizes images to the model resolution; an undecodable file is reported and skipped.
func decodeModelImages(_ paths: [String], product: String, extractor: LatentExtractor, log: (String) -> Void) -> [Image] {
    var images: [Image] = []
    for path in paths {
        do {
            images.append(extractor.modelImage(try Image(contentsOfFile: path)))
        } catch {
            log("warning: \(product): skipping \(error)")
        }
    }
    return images
}
