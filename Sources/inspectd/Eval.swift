import ArgumentParser
import Foundation
import InspectdDetector
import InspectdModel
import InspectdTensor

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate the model on sets in MVTec layout: image and pixel AUROC, AUPRO, AP, F1-max per set and mean.")

    @Option(help: "The model folder.")
    var model: String

    @Option(help: "Folder holding one subfolder per set (<set>/test, <set>/ground_truth).")
    var data: String

    @Option(help: "Comma-separated set names under --data.")
    var products: String

    @Option(help: "Comma-separated map sources to evaluate: amn, diffusion, combined, mean (default: the model's).")
    var sources: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(help: "Score every frame in both fp32 and int8 (the model's int8 layers) in one pass and compare: both precisions' metrics, the Pearson correlation of each frame's two maps, the share of frames with the same verdict at the product's threshold. Uses the model's map source.")
    var precisionAgreement = false

    @Option(help: "With --precision-agreement: the confirmation band (a share of the threshold) within which int8 verdicts count as confirmed in fp32, as the daemon and 'score' confirm them.")
    var confirmBand: Float = Inspector.defaultConfirmationBand

    @OptionGroup var scoring: ScoringOptions
    @OptionGroup var precisionOption: PrecisionOption
    @OptionGroup var engine: EngineOptions

    func run() throws {
        engine.apply()
        let names = products.split(separator: ",").map(String.init)
        let chosen = try sources.map { list in
            try list.split(separator: ",").map { name in
                guard let source = ScoringSettings.MapSource(rawValue: String(name)) else {
                    throw ValidationError("--sources: '\(name)' is not one of \(ScoringSettings.MapSource.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return source
            }
        }
        let (backbone, _) = try loadBackbone()
        if precisionAgreement {
            guard chosen == nil else { throw ValidationError("--precision-agreement compares the model's own map source; leave out --sources") }
            return try comparePrecisions(names, backbone: backbone)
        }
        let detector = try precisionOption.detector(model: model, backbone: backbone)
        let evaluator = Evaluator(detector: detector, settings: try scoring.applied(to: detector.manifest))
        let sources = chosen ?? [detector.manifest.scoring.source]
        if let warning = detector.manifest.calibrationWarning { note("warning: model \(model): \(warning)") }
        if sources.contains(where: { $0 != .amn }) {
            note("scoring: noise level \(evaluator.settings.noiseLevel), \(evaluator.settings.ddimSteps) DDIM steps")
        }

        var perSource: [ScoringSettings.MapSource: [String: [String: Double]]] = [:]
        for name in names {
            if detector.manifest.products[name] == nil {
                note("note: the model was not trained on '\(name)'")
            }
            let set = try EvaluationSet(root: URL(fileURLWithPath: data).appendingPathComponent(name).path)
            let results = try evaluator.evaluate(set: set, product: name, sources: sources)
            for (source, result) in results {
                perSource[source, default: [:]][name] = result.percentages
                if !json {
                    let figures = result.percentages.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "  ")
                    print("\(name) [\(source.rawValue)]: \(figures)  (\(result.images) images, \(String(format: "%.1f", result.seconds)) s)")
                }
            }
        }
        func report(_ byProduct: [String: [String: Double]]) -> [String: Any] {
            ["products": byProduct, "mean": Evaluator.mean(Array(byProduct.values))]
        }
        if json {
            if sources.count == 1 {
                printJSONLine(report(perSource[sources[0]] ?? [:]))
            } else {
                printJSONLine(["sources": Dictionary(uniqueKeysWithValues: sources.map { ($0.rawValue, report(perSource[$0] ?? [:])) })])
            }
        } else {
            for source in sources {
                let mean = Evaluator.mean(Array((perSource[source] ?? [:]).values))
                print("mean [\(source.rawValue)]: " + mean.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "  "))
            }
        }
    }

    private func comparePrecisions(_ names: [String], backbone: EfficientNetLite0) throws {
        let detector = try Detector(folder: ModelFolder(URL(fileURLWithPath: model)), backbone: backbone, precision: .int8)
        guard detector.precision == .int8 else {
            throw ValidationError("--precision-agreement: \(detector.precisionWarning ?? "the model has no int8 layers")")
        }
        guard (0...0.5).contains(confirmBand) else {
            throw ValidationError("--confirm-band must be a share of the threshold from 0 to 0.5, got \(confirmBand)")
        }
        let agreement = PrecisionAgreement(detector: detector, settings: try scoring.applied(to: detector.manifest),
                                           confirmationBand: confirmBand)
        note("scoring: \(agreement.settings.source.rawValue) map, noise level \(agreement.settings.noiseLevel), "
             + "\(agreement.settings.ddimSteps) DDIM steps, fp32 and int8 (\(Int8Path.active.name))")
        var reports: [String: [String: Any]] = [:]
        var fp32: [String: [String: Double]] = [:], int8: [String: [String: Double]] = [:]
        for name in names {
            let set = try EvaluationSet(root: URL(fileURLWithPath: data).appendingPathComponent(name).path)
            let result = try agreement.compare(set: set, product: name)
            reports[name] = result.report
            (fp32[name], int8[name]) = (result.fp32.percentages, result.int8.percentages)
            if !json {
                let metrics = ["image_auroc", "pixel_auroc", "pixel_aupro"].map { key in
                    "\(key) \(result.fp32.percentages[key].map { "\($0)" } ?? "-") → \(result.int8.percentages[key].map { "\($0)" } ?? "-")"
                }.joined(separator: "  ")
                print("\(name): \(metrics)  map pearson mean \(result.report["map_pearson_mean"]!) lowest \(result.report["map_pearson_lowest"]!)  "
                      + "same verdicts \(result.sameVerdicts)/\(result.frames)  largest score shift \(result.report["score_shift_largest"]!) %  "
                      + "confirmed in fp32 (band: frames, same verdicts) "
                      + result.bands.map { band in
                          let (frames, same) = result.confirmation(band: band)
                          return "\(band): \(frames), \(same)/\(result.frames)"
                      }.joined(separator: "; ") + "  (\(String(format: "%.1f", result.fp32.seconds)) s)")
            }
        }
        let means = ["fp32": Evaluator.mean(Array(fp32.values)), "int8": Evaluator.mean(Array(int8.values))]
        if json {
            printJSONLine(["products": reports, "mean": means, "int8_kernels": Int8Path.active.name, "confirm_band": Double(confirmBand),
                           "ddim_steps": agreement.settings.ddimSteps, "noise_level": agreement.settings.noiseLevel])
        } else {
            for (precision, mean) in means.sorted(by: { $0.key < $1.key }) {
                print("mean [\(precision)]: " + mean.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "  "))
            }
        }
    }
}
