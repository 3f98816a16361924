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
    }

    func run() throws {
        engine.apply()
        let (backbone, _) = try loadBackbone()
        let folder = ModelFolder(URL(fileURLWithPath: model))
        var settings = try scoring.applied(to: folder.readManifest())
        if let source { settings.source = ScoringSettings.MapSource(rawValue: source)! }
        if let pooling { settings.pooling = pooling }
        if let standardiseResiduals { settings.standardiseResiduals = standardiseResiduals }
        let folders = Dictionary(products.compactMap(parseProduct).map { ($0.name, $0.folder) }, uniquingKeysWith: { $1 })
        let manifest = try Calibrator.recalibrate(folder: folder, backbone: backbone, scoring: settings, folders: folders, log: note)
        note("recalibrated \(manifest.products.count) product(s) in \(model): source \(settings.source.rawValue), pooling \(settings.pooling), "
             + "standardised residuals \(settings.standardiseResiduals), noise level \(settings.noiseLevel), \(settings.ddimSteps) DDIM steps, "
             + "image score from the top \(settings.imageScoreTopFraction) of the map")
    }
}
