import ArgumentParser
import Foundation
import InspectdDetector
import InspectdImage

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score frames: one JSON line per frame with its raw and normalised score and verdict.")

    @Option(help: "The model folder.")
    var model: String

    @Option(help: "The product the frames show (may be left out when the model knows one product).")
    var product: String?

    @Option(help: "Write heatmap, overlay and mask PNGs for each frame into this folder.")
    var heatmaps: String?

    @Argument(help: "Frames (JPEG or PNG).")
    var images: [String]

    @OptionGroup var engine: EngineOptions

    func run() throws {
        engine.apply()
        let inspector = try Inspector(folder: ModelFolder(URL(fileURLWithPath: model)))
        let productName = try chooseProduct(product, of: inspector)
        if let heatmaps { try FileManager.default.createDirectory(atPath: heatmaps, withIntermediateDirectories: true) }

        var failures = 0
        for path in images {
            let start = DispatchTime.now()
            let frame: Image
            do {
                frame = try Image(contentsOfFile: path)
            } catch {
                failures += 1
                printJSONLine(["file": path, "product": productName, "verdict": "ERROR", "error": "\(error)"])
                continue
            }
            let decodeMs = milliseconds(since: start)
            let decoded = DispatchTime.now()
            let inspection = try inspector.inspect(frame, product: productName)
            var record: [String: Any] = [
                "file": path, "product": productName, "model": inspector.version,
                "raw_score": Double(inspection.rawScore), "normalised_score": Double(inspection.normalisedScore),
                "threshold": Double(inspection.threshold),
                "verdict": inspection.isAnomalous ? "NG" : "OK",
            ]
            let scoreMs = milliseconds(since: decoded)
            if let heatmaps {
                do {
                    record["heatmaps"] = try writePictures(inspection, path: path, folder: heatmaps)
                } catch {
                    failures += 1
                    record["error"] = "\(error)"
                }
            }
            record["timing_ms"] = ["decode": decodeMs, "score": scoreMs, "total": milliseconds(since: start)]
            printJSONLine(record)
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// Heatmap, overlay and mask at the frame's size, named after the frame.
    func writePictures(_ inspection: Inspection, path: String, folder: String) throws -> [String] {
        let base = URL(fileURLWithPath: folder).appendingPathComponent(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
        return try inspection.pictures().map { kind, image in
            let url = URL(fileURLWithPath: base.path + ".\(kind).png")
            try Heatmap.write(image, to: url)
            return url.path
        }
    }
}
