import Foundation
import InspectdImage
import InspectdModel
import InspectdTensor

/// Makes a model's int8 layers: which layers, their input ranges from scoring normal images in
/// Float32, and the folder's int8 file.
public enum Quantiser {
    /// The layers int8 scoring runs on: the AMN's linear layers and the U-Net's convolutions. The
    /// time MLP and the residual blocks' time projections read one row per frame, too few for the
    /// int8 kernels to pay for quantising their input; the backbone stays Float32 as well.
    static func quantises(_ name: String, shape: [Int]) -> Bool {
        guard name.hasSuffix(".weight"), !name.hasPrefix("unet.time."), !name.contains(".time_proj.") else { return false }
        return (name.hasPrefix("amn.") && shape.count == 2) || (name.hasPrefix("unet.") && shape.count == 4)
    }

    /// The int8 layers of the detector's network, each input's scale spanning the range it took
    /// while `modelImages` (normal frames at the model resolution) were scored in Float32.
    public static func layers(of detector: Detector, calibratingOn modelImages: [Image], batchSize: Int = 8) -> [String: Int8Layer] {
        precondition(!modelImages.isEmpty, "int8 calibration needs at least one image")
        let ranges = ActivationRanges()
        LayerInputs.observing(ranges) {
            for start in stride(from: 0, to: modelImages.count, by: batchSize) {
                let batch = Array(modelImages[start..<min(modelImages.count, start + batchSize)])
                _ = detector.floatReconstruction(detector.standardisedLatents(batch), settings: detector.manifest.scoring)
            }
        }
        let parameters = detector.network.parameterDictionary
        var layers: [String: Int8Layer] = [:]
        for (name, range) in ranges.ranges(of: detector.network) {
            guard let weight = parameters[name], quantises(name, shape: weight.shape) else { continue }
            layers[name] = Int8Layer(weights: Int8Weights(quantising: weight), input: Int8Scale(minimum: range.minimum, maximum: range.maximum))
        }
        return layers
    }

    /// Quantises the model in `folder` and records it. The calibration images are every product's
    /// held-out normals and up to `trainingImages` training images (spread over the folder) of each
    /// of `trainingProducts` (default: those of the model's last training run, as the increment that
    /// just trained them used them; an older product's training images are not read again), each
    /// from the folder the product was learnt from.
    @discardableResult
    public static func quantise(folder: ModelFolder, backbone: EfficientNetLite0, trainingProducts: [String]? = nil,
                                trainingImages: Int = 16, log: (String) -> Void) throws -> ModelManifest {
        let model = try folder.load(bases: false)
        let sampled = Set(trainingProducts ?? model.manifest.training.runs.last?.products ?? [])
        let extractor = LatentExtractor(backbone: backbone, resolution: model.manifest.resolution)
        let detector = Detector(manifest: model.manifest, network: model.network, statistics: model.statistics, extractor: extractor)
        var images: [Image] = []
        var calibrated: [String] = []
        for (name, record) in model.manifest.products.sorted(by: { $0.key < $1.key }) {
            // A product whose folder is gone only narrows the calibration; the others still make it.
            let split: ProductImages
            do {
                split = try ProductImages(product: name, folder: record.source,
                                          holdoutFraction: Calibrator.heldOutFraction(record) ?? ProductImages.defaultHoldoutFraction)
            } catch {
                log("warning: \(name): its images are not in the int8 calibration: \(error)")
                continue
            }
            let step = max(1, split.training.count / max(1, trainingImages))
            let sample = !sampled.contains(name) ? []
                : stride(from: 0, to: split.training.count, by: step).prefix(trainingImages).map { split.training[$0] }
            let decoded = decodeModelImages(split.holdout + sample, product: name, extractor: extractor, log: log)
            if !decoded.isEmpty { calibrated.append(name) }
            images += decoded
        }
        guard !images.isEmpty else {
            throw Trainer.Failure(description: "\(folder.url.path): no decodable normal images to calibrate the int8 layers on")
        }
        let started = Date()
        let layers = layers(of: detector, calibratingOn: images)
        let manifest = try folder.saveInt8(layers, record: QuantisationRecord(calibrationImages: images.count,
                                                                              products: calibrated),
                                           manifest: model.manifest)
        log("quantised \(layers.count) layers of \(folder.url.path) on \(images.count) normal images in "
            + String(format: "%.1f s", Date().timeIntervalSince(started)))
        return manifest
    }
}
