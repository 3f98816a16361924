import ArgumentParser
import Foundation
import InspectdDetector

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Refit every product's residual levels and threshold without training, optionally under new scoring settings.",
        discussion: """
            Each product is read from the folder it was learnt from (the manifest's 'source') unless \
            --product names another, and split into training and held-out images as training split it. \
            The new settings and fits are written into the model folder; the network's weights are unchanged.
            """)

    @Option(help: "The model folder.")
    var model: String

    @Option(name: .customLong("product"), help: "NAME=IMAGES_DIR: read this product's normal images from another folder (repeatable).")
    var products: [String] = []

    @Option(help: "Map source the thresholds are set for: amn, diffusion, combined or mean (default: the model's).")
    var source: String?

    @Option(help: "Odd side of the window residuals are averaged over before squaring; 1 = none (default: the model's).")
    var pooling: Int?

    @Option(help: "true or false: divide squared residuals by the product's normal levels (default: the model's).")
    var standardiseResiduals: Bool?

    @Option(help: "Comma-separated shares (0 = the maximum) each product's image score is chosen from on held-out images and perturbed copies of them; 'none' = use --image-score-top-fraction for all (default: the model's).")
    var imageScoreCandidates: String?

    @OptionGroup var scoring: ScoringOptions
    @OptionGroup var engine: EngineOptions

    func validate() throws {
        for product in products where parseProduct(product) == nil {
            throw ValidationError("--product expects NAME=IMAGES_DIR, got '\(product)'")
        }
        if let source, ScoringSettings.MapSource(rawValue: source) == nil {
            throw ValidationError("--source must be one of \(ScoringSettings.MapSource.allCases.map(\.rawValue).joined(separator: ", ")), not '\(source)'")
        }
        if let pooling, pooling < 1 || pooling % 2 == 0 { throw ValidationError("--pooling must be an odd number >= 1, got \(pooling)") }
        if let imageScoreCandidates, parseCandidates(imageScoreCandidates) == nil {
            throw ValidationError("--image-score-candidates expects shares in 0...1 separated by commas, or 'none', got '\(imageScoreCandidates)'")
        }
    }

    private func parseCandidates(_ text: String) -> [Float]? {
        if text == "none" { return [] }
        let shares = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !shares.isEmpty, shares.allSatisfy({ $0.map { (0...1).contains($0) } ?? false }) else { return nil }
        return shares.map { $0! }
    }

    func run() throws {
        engine.apply()
        let (backbone, _) = try loadBackbone()
        let folder = ModelFolder(URL(fileURLWithPath: model))
        var settings = try scoring.applied(to: folder.readManifest())
        if let source { settings.source = ScoringSettings.MapSource(rawValue: source)! }
        if let pooling { settings.pooling = pooling }
        if let standardiseResiduals { settings.standardiseResiduals = standardiseResiduals }
        if let imageScoreCandidates { settings.imageScoreCandidates = parseCandidates(imageScoreCandidates)! }
        let folders = Dictionary(products.compactMap(parseProduct).map { ($0.name, $0.folder) }, uniquingKeysWith: { $1 })
        let manifest = try Calibrator.recalibrate(folder: folder, backbone: backbone, scoring: settings, folders: folders, log: note)
        note("recalibrated \(manifest.products.count) product(s) in \(model): source \(settings.source.rawValue), pooling \(settings.pooling), "
             + "standardised residuals \(settings.standardiseResiduals), noise level \(settings.noiseLevel), \(settings.ddimSteps) DDIM steps, "
             + "noise seed \(manifest.scoring.noiseSeedInUse), "
             + (settings.imageScoreCandidates.isEmpty ? "image score from the top \(settings.imageScoreTopFraction) of the map"
                                                      : "image score chosen per product among \(settings.imageScoreCandidates)"))
    }
}
