import ArgumentParser
import Foundation
import InspectdConfig
import InspectdContinual
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

    @Flag(help: "On an existing model, fine-tune freely instead of projecting the changes off the older products' bases (a baseline: the older products drift).")
    var noProjection = false

    @Flag(help: "Train a product the model already knows, with more normal images of it (projected against every stored basis, its own included; its calibration is refitted).")
    var update = false

    @Flag(help: "The products the model already knows keep the residual levels and threshold fitted when each was learnt, and their folders are not read. Without it they are refitted on the new weights from the folders they were learnt from (a product whose folder is gone keeps its own, with a warning).")
    var keepLevels = false

    @Option(help: "How a new model computes its bases: covariance (exact streaming covariance) or isvd (incremental SVD). An existing model keeps its own.")
    var basis: String = "covariance"

    @Option(help: "A new model's energy threshold for the first product's bases (the share of its layer inputs' energy they keep).")
    var energy: Double = EnergySchedule.standard.base

    @Option(help: "How much a new model's energy threshold rises with each further product.")
    var energyStep: Double = EnergySchedule.standard.stepPerProduct

    @Option(help: "Training images per product whose scoring pass feeds its bases (a new model's setting).")
    var basisImages: Int = 32

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard TrainingProfile.named(profile) != nil else {
            throw ValidationError("--profile must be one of \(TrainingProfile.all.map(\.name).joined(separator: ", ")), not '\(profile)'")
        }
        for product in products {
            guard let source = parseProduct(product) else { throw ValidationError("--product expects NAME=IMAGES_DIR, got '\(product)'") }
            // The name becomes a folder, a metric label and a configuration table: the configuration's rule.
            guard Configuration.isValidName(source.name) else {
                throw ValidationError("--product \(product): '\(source.name)' is not a product name: \(Configuration.nameRule("a name"))")
            }
        }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        guard BasisMethod(rawValue: basis) != nil else {
            throw ValidationError("--basis must be one of \(BasisMethod.allCases.map(\.rawValue).joined(separator: ", ")), not '\(basis)'")
        }
        guard energy > 0 && energy <= 1 else { throw ValidationError("--energy must be in (0, 1], not \(energy)") }
        guard energyStep >= 0 && energyStep < 1 else { throw ValidationError("--energy-step must be in [0, 1), not \(energyStep)") }
        guard basisImages >= 1 else { throw ValidationError("--basis-images must be at least 1") }
        if update && noProjection { throw ValidationError("--update trains with projection; it cannot be combined with --no-projection") }
        if let prediction, DiffusionPrediction(rawValue: prediction) == nil {
            throw ValidationError("--prediction must be one of \(DiffusionPrediction.allCases.map(\.rawValue).joined(separator: ", ")), not '\(prediction)'")
        }
    }

    func run() throws {
        engine.apply()
        let (backbone, record) = try loadBackbone()
        let trainer = Trainer(folder: ModelFolder(URL(fileURLWithPath: model)), backbone: backbone,
                              backboneRecord: record, backboneFile: BackboneLocator.find(), log: note)
        var progress: ProgressLine?
        trainer.onStep = { report in
            // Rates count from the first step seen, so start-up time does not skew them.
            if progress == nil { progress = ProgressLine(totalSteps: report.totalSteps, startStep: report.step) }
            progress!.report(step: report.step, loss: report.loss,
                             extra: String(format: "diffusion %.4f  amn %.4f", report.diffusionLoss, report.amnLoss),
                             force: report.step == report.totalSteps)
        }
        let options = Trainer.IncrementOptions(
            projection: !noProjection, update: update, basisMethod: BasisMethod(rawValue: basis)!,
            energy: EnergySchedule(base: energy, stepPerProduct: energyStep, maximum: max(energy, EnergySchedule.standard.maximum)),
            sampleImages: basisImages, refitKnownProducts: !keepLevels)
        let manifest = try trainer.train(products: products.compactMap(parseProduct), profile: try chosenProfile(), steps: steps,
                                         options: options)
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
