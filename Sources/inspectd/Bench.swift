import ArgumentParser
import Foundation
import InspectdDetector
import InspectdImage
import InspectdModel
import InspectdTensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time scoring (and with --train, training steps) of a model on a folder of images.")

    @Option(help: "The model folder.")
    var model: String

    @Option(help: "Folder of frames to score.")
    var images: String

    @Option(help: "Frames per batch.")
    var batch: Int = 8

    @Option(help: "Timed rounds over the images, after one warm-up round.")
    var rounds: Int = 3

    @Option(help: "Most images to use from the folder.")
    var limit: Int = 32

    @Flag(help: "Also time training steps (on a copy of the model's configuration, in a temporary folder); for a model with bases, also steps of an increment on a copy of the model, projected and not, in turns.")
    var train = false

    @Option(help: "Training steps to time with --train (after two warm-up steps).")
    var trainSteps: Int = 6

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var scoring: ScoringOptions
    @OptionGroup var precisionOption: PrecisionOption
    @OptionGroup var engine: EngineOptions

    func run() throws {
        engine.apply()
        let (backbone, record) = try loadBackbone()
        let detector = try precisionOption.detector(model: model, backbone: backbone)
        let set = try ProductImages(product: "bench", folder: images, holdoutFraction: 0)
        let frames = try set.all.prefix(limit).map { try Image(contentsOfFile: $0) }
        let settings = try scoring.applied(to: detector.manifest)
        // Standardising costs the same whichever product's levels it divides by.
        let product = detector.manifest.products.keys.sorted().first

        func scoreAll() throws -> [Double] {
            try stride(from: 0, to: frames.count, by: batch).map { start in
                let chunk = Array(frames[start..<min(start + batch, frames.count)])
                let t0 = DispatchTime.now()
                _ = try detector.analyse(chunk, product: product, settings: settings)
                return milliseconds(since: t0) / Double(chunk.count)
            }
        }
        _ = try scoreAll()
        var perFrame: [Double] = []
        let t0 = DispatchTime.now()
        for _ in 0..<rounds { perFrame += try scoreAll() }
        let seconds = milliseconds(since: t0) / 1000
        perFrame.sort()

        // One batch's parts, in the same precision, to show where a frame's time goes.
        var parts: [String: [Double]] = [:]
        let first = Array(frames.prefix(batch))
        for _ in 0..<max(1, rounds) {
            for (part, seconds) in try detector.partSeconds(first, product: product, settings: settings) {
                parts[part, default: []].append(seconds * 1000 / Double(first.count))
            }
        }

        var report: [String: Any] = [
            "precision": detector.precision.rawValue, "int8_kernels": Int8Path.active.name,
            "parts_ms_per_frame": parts.mapValues { rounded(percentile($0.sorted(), 0.5), digits: 2) }, "threads": Engine.threads, "blas_core": BLASCore.current, "vector_kernels": Engine.vectorKernels, "batch": batch, "images": frames.count, "rounds": rounds,
            "ddim_steps": settings.ddimSteps, "noise_level": settings.noiseLevel, "source": settings.source.rawValue,
            "score_ms_p50": rounded(percentile(perFrame, 0.5), digits: 2),
            "score_ms_p95": rounded(percentile(perFrame, 0.95), digits: 2),
            "frames_per_s": rounded(Double(frames.count * rounds) / seconds, digits: 2),
        ]
        if train {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-bench-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let trainer = Trainer(folder: ModelFolder(scratch), backbone: backbone, backboneRecord: record, log: { _ in })
            let profile = TrainingProfile(name: "bench", network: detector.manifest.network,
                                          training: TrainingSettings(steps: trainSteps + 2, batchSize: 8, learningRate: 1e-4,
                                                                     weightDecay: 0.01, holdoutFraction: 0,
                                                                     checkpointInterval: Int.max, seed: 1),
                                          scoring: settings, resolution: detector.manifest.resolution)
            try trainer.train(products: [.init(name: "bench", folder: images)], profile: profile)
            let timed = Array(trainer.stepSeconds.dropFirst(2)).sorted()
            report["train_step_s"] = rounded(percentile(timed, 0.5), digits: 3)
            report["train_steps_per_s"] = rounded(1 / percentile(timed, 0.5), digits: 3)
            report["train_parameters"] = CDADNetwork(config: detector.manifest.network, seed: 0).parameterCount
            if detector.manifest.continual != nil {
                let increment = try timeIncrements(profile: profile, backbone: backbone, record: record)
                report["increment_step_s"] = rounded(increment.plain, digits: 3)
                report["increment_projected_step_s"] = rounded(increment.projected, digits: 3)
                report["projection_overhead"] = rounded(increment.projected / increment.plain - 1, digits: 3)
            }
        }
        if json {
            printJSONLine(report)
        } else {
            for (key, value) in report.sorted(by: { $0.key < $1.key }) { print("\(key): \(value)") }
        }
    }

    /// Median step time of an increment ("bench-increment" added to a copy of the model) without
    /// and with projection, three turns of each alternating, so both see the same machine.
    func timeIncrements(profile: TrainingProfile, backbone: EfficientNetLite0, record: BackboneRecord) throws
        -> (plain: Double, projected: Double) {
        var plain: [Double] = [], projected: [Double] = []
        for turn in 0..<6 {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-bench-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: scratch) }
            try FileManager.default.copyItem(at: URL(fileURLWithPath: model), to: scratch)
            let trainer = Trainer(folder: ModelFolder(scratch), backbone: backbone, backboneRecord: record, log: { _ in })
            // Only the steps are timed: one image keeps the bases' capture short, and the known
            // products' refit and the int8 layers are left out.
            let options = Trainer.IncrementOptions(projection: turn % 2 == 1, sampleImages: 1, refitKnownProducts: false, quantise: false)
            try trainer.train(products: [.init(name: "bench-increment", folder: images)], profile: profile, options: options)
            let timed = Array(trainer.stepSeconds.dropFirst(2))
            if turn % 2 == 1 { projected += timed } else { plain += timed }
        }
        return (percentile(plain.sorted(), 0.5), percentile(projected.sorted(), 0.5))
    }
}
