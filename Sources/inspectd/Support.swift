import ArgumentParser
import Foundation
import InspectdDetector
import InspectdFiles
import InspectdModel
import InspectdTensor

/// Options every model command shares.
struct EngineOptions: ParsableArguments {
    @Option(help: "Threads for the engine (default: the machine's cores).")
    var threads: Int?

    func apply() {
        if let threads { Engine.setThreads(threads) }
    }
}

/// Which precision scoring computes in.
struct PrecisionOption: ParsableArguments {
    @Option(help: "int8 or fp32: int8 runs the AMN's linear layers and attention and the U-Net's convolutions on the model's int8 layers (training makes them, 'inspectd quantize' remakes them; a model without them scores in fp32, with a warning).")
    var precision: Precision = .int8

    /// The detector of the model in `model`, in the chosen precision; says so when it cannot be int8.
    func detector(model: String, backbone: EfficientNetLite0) throws -> Detector {
        let detector = try Detector(folder: ModelFolder(URL(fileURLWithPath: model)), backbone: backbone, precision: precision)
        if let warning = detector.precisionWarning { note("warning: \(warning)") }
        return detector
    }
}

extension Precision: ExpressibleByArgument {}

/// Overrides of the model's scoring settings, for measuring (ablations, benchmarks); the daemon
/// and `score` always use what the model folder says.
struct ScoringOptions: ParsableArguments {
    @Option(help: "Noise level t_s the latent is noised to before denoising (default: the model's).")
    var noiseLevel: Int?

    @Option(help: "DDIM steps (default: the model's).")
    var ddimSteps: Int?

    @Option(help: "Image score = mean of this share of the map's highest values, for every product; 0 = its maximum (default: the model's, which may be chosen per product).")
    var imageScoreTopFraction: Float?

    @Option(help: "Seed of the scoring noise (docs/MODEL.md §6), to measure how much the figures depend on the draw (default: the model's).")
    var noiseSeed: UInt64?

    /// The manifest's scoring settings with these overrides, checked against the model's schedule.
    func applied(to manifest: ModelManifest) throws -> ScoringSettings {
        var settings = manifest.scoring
        if let noiseLevel {
            let last = manifest.network.timesteps - 1
            guard (1...last).contains(noiseLevel) else { throw ValidationError("--noise-level must be in 1...\(last), got \(noiseLevel)") }
            settings.noiseLevel = noiseLevel
        }
        if let ddimSteps {
            guard ddimSteps >= 1 && ddimSteps <= settings.noiseLevel else {
                throw ValidationError("--ddim-steps must be in 1...\(settings.noiseLevel) (the noise level), got \(ddimSteps)")
            }
            settings.ddimSteps = ddimSteps
        }
        if let imageScoreTopFraction {
            guard (0...1).contains(imageScoreTopFraction) else {
                throw ValidationError("--image-score-top-fraction must be in 0...1, got \(imageScoreTopFraction)")
            }
            settings.imageScoreTopFraction = imageScoreTopFraction
            // A fraction asked for is a fraction for every product, not a fallback behind their choices.
            settings.imageScoreCandidates = []
        }
        if let noiseSeed { settings.noiseSeed = noiseSeed }
        return settings
    }
}

/// A `--product NAME=IMAGES_DIR` argument; nil when it is not of that form.
func parseProduct(_ argument: String) -> Trainer.ProductSource? {
    guard let eq = argument.firstIndex(of: "=") else { return nil }
    let name = String(argument[..<eq]), folder = String(argument[argument.index(after: eq)...])
    guard !name.isEmpty, !folder.isEmpty else { return nil }
    return Trainer.ProductSource(name: name, folder: folder)
}

/// Prints to stderr: progress and warnings, so that stdout stays machine-readable.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// The backbone and a record of which file it came from.
func loadBackbone() throws -> (EfficientNetLite0, BackboneRecord) {
    let backbone = try BackboneLocator.load()
    let path = BackboneLocator.find()!
    let record = BackboneRecord(file: URL(fileURLWithPath: path).lastPathComponent,
                                sha256: try SHA256.hex(ofFile: URL(fileURLWithPath: path)))
    return (backbone, record)
}

/// Prints one JSON object as a line on stdout.
func printJSONLine(_ object: [String: Any]) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    print(String(decoding: data, as: UTF8.self))
}

func milliseconds(since start: DispatchTime) -> Double {
    rounded(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6, digits: 2)
}

/// The `q` quantile of already sorted values (nearest rank); 0 for none.
func percentile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
}

/// The product the frames show: the one named with --product, or the model's only one.
func chooseProduct(_ requested: String?, of inspector: Inspector) throws -> String {
    let known = inspector.products
    if let requested {
        guard known.contains(requested) else { throw ValidationError("\(Inspector.UnknownProduct(product: requested, known: known))") }
        return requested
    }
    guard known.count == 1 else {
        throw ValidationError("the model knows \(known.count) products (\(known.joined(separator: ", "))): say which with --product")
    }
    return known[0]
}
