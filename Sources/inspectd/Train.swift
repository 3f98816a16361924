import ArgumentParser
import Foundation
import InspectdDetector
import InspectdModel

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the model on normal images of one or more products (creates the model on first use).")

    @Option(help: "The model folder.")
    var model: String

    @Option(name: .customLong("product"), help: "NAME=IMAGES_DIR: a product and its folder of normal images (repeatable).")
    var products: [String]

    @Option(help: "Training steps (default: the profile's).")
    var steps: Int?

    @Option(help: "quick or standard.")
    var profile: String = "standard"

    @Option(help: "What a new model's denoiser predicts: epsilon, x0 or v (default: the profile's; an existing model keeps its own).")
    var prediction: String?

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard TrainingProfile.named(profile) != nil else {
            throw ValidationError("--profile must be one of \(TrainingProfile.all.map(\.name).joined(separator: ", ")), not '\(profile)'")
        }
        for product in products where parseProduct(product) == nil {
            throw ValidationError("--product expects NAME=IMAGES_DIR, got '\(product)'")
        }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let prediction, DiffusionPrediction(rawValue: prediction) == nil {
            throw ValidationError("--prediction must be one of \(DiffusionPrediction.allCases.map(\.rawValue).joined(separator: ", ")), not '\(prediction)'")
        }
    }

    func run() throws {
        engine.apply()
        let (backbone, record) = try loadBackbone()
        let trainer = Trainer(folder: ModelFolder(URL(fileURLWithPath: model)), backbone: backbone,
                              backboneRecord: record, log: note)
        var progress: ProgressLine?
        trainer.onStep = { report in
            // Rates count from the first step seen, so start-up time does not skew them.
            if progress == nil { progress = ProgressLine(totalSteps: report.totalSteps, startStep: report.step) }
            progress!.report(step: report.step, loss: report.loss,
                             extra: String(format: "diffusion %.4f  amn %.4f", report.diffusionLoss, report.amnLoss),
                             force: report.step == report.totalSteps)
        }
        let manifest = try trainer.train(products: products.compactMap(parseProduct), profile: try chosenProfile(), steps: steps)
        note("model written to \(model): \(manifest.products.keys.sorted().joined(separator: ", "))")
    }

    /// The named profile, with the denoiser's parameterisation replaced when --prediction asks; an
    /// existing model cannot change it (its weights were trained for one).
    func chosenProfile() throws -> TrainingProfile {
        let base = TrainingProfile.named(profile)!
        guard let prediction = prediction.flatMap(DiffusionPrediction.init(rawValue:)) else { return base }
        let folder = ModelFolder(URL(fileURLWithPath: model))
        if folder.exists {
            let existing = try folder.readManifest().network.prediction
            guard existing == prediction else {
                throw ValidationError("--prediction \(prediction.rawValue): the model in \(model) predicts \(existing.rawValue), and keeps it")
            }
            return base
        }
        var network = base.network
        network.prediction = prediction
        return TrainingProfile(name: base.name, network: network, training: base.training, scoring: base.scoring, resolution: base.resolution)
    }
}
