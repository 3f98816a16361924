import ArgumentParser
import Foundation
import InspectdDetector

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

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard TrainingProfile.named(profile) != nil else {
            throw ValidationError("--profile must be one of \(TrainingProfile.all.map(\.name).joined(separator: ", ")), not '\(profile)'")
        }
        for product in products where parse(product) == nil {
            throw ValidationError("--product expects NAME=IMAGES_DIR, got '\(product)'")
        }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
    }

    func parse(_ argument: String) -> Trainer.ProductSource? {
        guard let eq = argument.firstIndex(of: "=") else { return nil }
        let name = String(argument[..<eq]), folder = String(argument[argument.index(after: eq)...])
        guard !name.isEmpty, !folder.isEmpty else { return nil }
        return Trainer.ProductSource(name: name, folder: folder)
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
        let manifest = try trainer.train(products: products.compactMap(parse), profile: TrainingProfile.named(profile)!, steps: steps)
        note("model written to \(model): \(manifest.products.keys.sorted().joined(separator: ", "))")
    }
}
