import ArgumentParser
import Foundation
import InspectdDetector

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make (or remake) a model's int8 layers from normal images of its products.",
        discussion: """
            The AMN's linear layers and the U-Net's convolutions get int8 weights (per output channel) and \
            an input scale spanning what their inputs took while the calibration images were scored in fp32: \
            per product, its held-out normals and some of its training images, read from the folder it was \
            learnt from. Writes int8.safetensors into the model folder and records it in the manifest.
            """)

    @Option(help: "The model folder.")
    var model: String

    @Option(help: "Training images per product added to its held-out normals for calibration.")
    var trainingImages: Int = 16

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard trainingImages >= 0 else { throw ValidationError("--training-images must be 0 or more, got \(trainingImages)") }
    }

    func run() throws {
        engine.apply()
        let (backbone, _) = try loadBackbone()
        try Quantiser.quantise(folder: ModelFolder(URL(fileURLWithPath: model)), backbone: backbone,
                               trainingImages: trainingImages, log: note)
    }
}
