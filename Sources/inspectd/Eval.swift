import ArgumentParser
import Foundation
import InspectdDetector

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
}
