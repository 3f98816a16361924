import Foundation
import InspectdFiles
import InspectdImage
import InspectdModel
import InspectdTensor

/// What the CLI and the daemon need from a trained model: for each frame of a known product (alone
/// or in a batch), a verdict with its scores and the pictures that show where it looks wrong. Callers above the
/// detector see images and numbers, never tensors.
public final class Inspector: Sendable {
    public let manifest: ModelManifest
    /// The first 12 hex digits of the weights' SHA-256: changes with every retraining, and names
    /// the model in verdicts, logs and metrics.
    public let version: String
    public let folder: ModelFolder
    let detector: Detector
    /// The same model in Float32, for int8 verdicts too close to the threshold to trust; nil when
    /// the detector scores in Float32 or the band is 0.
    let confirmation: Detector?
    /// An int8 frame whose raw score lies within this fraction of its threshold is scored again in
    /// Float32, and that decides it (`Inspection.confirmedInFloat32`).
    public let confirmationBand: Float

    /// The default `confirmationBand`: int8 and Float32 scores of a frame differ by less than this
    /// share of the threshold, so verdicts outside the band are the ones Float32 would give
    /// (docs/RESULTS.md measures the differences and how many frames fall inside).
    public static let defaultConfirmationBand: Float = 0.05

    /// Loads the model in `folder` and the backbone it was trained on, to score in `precision` (a
    /// model without int8 layers scores in fp32 and says so in `warnings`). `threads` sets the
    /// engine's worker count (nil keeps the current setting, 0 means all cores). In int8, frames
    /// within `confirmationBand` of their threshold are decided in Float32 (0 turns that off).
    public init(folder: ModelFolder, threads: Int? = nil, backbone: EfficientNetLite0? = nil, precision: Precision = .fp32,
                confirmationBand: Float = Inspector.defaultConfirmationBand) throws {
        precondition(confirmationBand >= 0 && confirmationBand.isFinite, "confirmation band \(confirmationBand) is not a share of the threshold")
        if let threads { Engine.setThreads(threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : threads) }
        let detector = try Detector(folder: folder, backbone: backbone ?? folder.loadEmbeddedBackbone() ?? BackboneLocator.load(),
                                    precision: precision)
        self.detector = detector
        self.confirmationBand = confirmationBand
        confirmation = detector.precision == .int8 && confirmationBand > 0 ? detector.scoringInFloat32 : nil
        self.folder = folder
        manifest = detector.manifest
        version = String(try SHA256.hex(ofFile: folder.weightsURL).prefix(12))
    }

    /// The products the model knows, sorted.
    public var products: [String] { manifest.products.keys.sorted() }

    /// What its frames are scored in.
    public var precision: Precision { detector.precision }

    /// What should be said about the model when it is loaded (`ModelManifest.calibrationWarning`,
    /// int8 asked of a model without int8 layers).
    public var warnings: [String] { [manifest.calibrationWarning, detector.precisionWarning].compactMap { $0 } }

    public struct UnknownProduct: Error, CustomStringConvertible, Sendable {
        public let product: String
        public let known: [String]
        public init(product: String, known: [String]) {
            self.product = product
            self.known = known
        }
        public var description: String {
            "the model does not know product '\(product)'; it knows: \(known.isEmpty ? "none" : known.joined(separator: ", "))"
        }
    }

    /// Scores one frame. `normalisedThreshold` moves the decision along the normalised scale,
    /// where the calibrated threshold sits at 0.5: lower is more sensitive.
    public func inspect(_ frame: Image, product: String, normalisedThreshold: Float = 0.5) throws -> Inspection {
        try inspect([(frame, product, normalisedThreshold)])[0]
    }

    /// Scores frames in one batch, each of its own product and with its own normalised threshold:
    /// the backbone and network passes are shared (they do not depend on the product), which
    /// costs less per frame than scoring them one by one, and each frame gets the scores it would
    /// get alone. Throws `UnknownProduct` for the first frame of a product the model does not know.
    public func inspect(_ frames: [(frame: Image, product: String, normalisedThreshold: Float)]) throws -> [Inspection] {
        let records = try frames.map { frame in
            guard let record = manifest.products[frame.product] else { throw UnknownProduct(product: frame.product, known: products) }
            return record
        }
        let source = manifest.scoring.source
        var analyses = try detector.analyse(frames.map(\.frame), products: frames.map(\.product), sources: [source])
        let thresholds = frames.indices.map { records[$0].calibration.raw(forNormalised: frames[$0].normalisedThreshold) }
        // Int8 moves a score by a fraction of a percent: only a frame that close to its threshold
        // can get another verdict than Float32 would give it, so those few are scored again.
        var confirmed = Set<Int>()
        if let confirmation {
            let close = frames.indices.filter {
                abs(analyses[$0].scores[source]! - thresholds[$0]) <= confirmationBand * abs(thresholds[$0])
            }
            if !close.isEmpty {
                let again = try confirmation.analyse(close.map { frames[$0].frame }, products: close.map { frames[$0].product },
                                                     sources: [source])
                for (index, analysis) in zip(close, again) { analyses[index] = analysis }
                confirmed = Set(close)
            }
        }
        return frames.indices.map { i in
            let (frame, calibration, raw) = (frames[i], records[i].calibration, analyses[i].scores[source]!)
            return Inspection(product: frame.product, rawScore: raw, normalisedScore: calibration.normalised(raw),
                              threshold: thresholds[i], normalisedThreshold: frame.normalisedThreshold,
                              confirmedInFloat32: confirmed.contains(i),
                              calibration: calibration, map: analyses[i].maps[source]!, frame: frame.frame)
        }
    }
}

/// One frame's result: scores, verdict and (on demand) its pictures.
public struct Inspection: Sendable {
    public let product: String
    public let rawScore: Float
    public let normalisedScore: Float
    /// The raw score at which a frame is judged NG, after any sensitivity setting.
    public let threshold: Float
    public let normalisedThreshold: Float
    /// Scored in int8 within the confirmation band of its threshold, then again in Float32: the
    /// scores, map and verdict are Float32's.
    public let confirmedInFloat32: Bool
    let calibration: Calibration
    /// The smoothed map at the model resolution that the raw score was read from (docs/MODEL.md §6,
    /// step 7), before any picture is made of it.
    public let map: AnomalyMap
    let frame: Image

    public var isAnomalous: Bool { rawScore > threshold }

    /// The pictures a person looks at, at the frame's own size: the colour-mapped map (on the
    /// calibrated range, so colours mean the same for every frame of a product), the map over the
    /// frame, and the binary mask of pixels above the threshold.
    public func pictures() -> [(kind: String, image: Image)] {
        let full = map.resized(width: frame.width, height: frame.height)
        let heatmap = Heatmap(range: calibration.min...calibration.max)
        return [
            ("heatmap", heatmap.colourised(full)),
            ("overlay", heatmap.overlay(full, on: frame.converted(to: .rgb))),
            ("mask", Heatmap.mask(full, threshold: threshold)),
        ]
    }
}

/// Loads models again and again — a daemon reloads on SIGHUP and after a product is learnt —
/// while reading and building the backbone only once.
public final class InspectorLoader: @unchecked Sendable {
    // Sendable by its lock: `backbone` is only touched inside it.
    private let lock = NSLock()
    /// By the SHA-256 the model's manifest names: the backbone the folder carries, or else the
    /// one the locator finds.
    private var backbones: [String: EfficientNetLite0] = [:]

    public init() {}

    /// The model in `folder`, or nil when none has been trained there yet.
    public func load(folder: ModelFolder, threads: Int?, precision: Precision = .fp32,
                     confirmationBand: Float = Inspector.defaultConfirmationBand) throws -> Inspector? {
        guard folder.exists else { return nil }
        let key = try folder.readManifest().backbone.sha256
        let shared = try lock.withLock {
            if let backbone = backbones[key] { return backbone }
            let loaded = try folder.loadEmbeddedBackbone() ?? BackboneLocator.load()
            backbones[key] = loaded
            return loaded
        }
        return try Inspector(folder: folder, threads: threads, backbone: shared, precision: precision,
                             confirmationBand: confirmationBand)
    }
}
