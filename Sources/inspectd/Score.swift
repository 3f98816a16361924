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
        let (backbone, _) = try loadBackbone()
        let detector = try Detector(folder: ModelFolder(URL(fileURLWithPath: model)), backbone: backbone)
        let known = detector.manifest.products.keys.sorted()
        let productName: String
        if let product {
            guard known.contains(product) else {
                throw ValidationError("the model does not know product '\(product)'; it knows: \(known.joined(separator: ", "))")
            }
            productName = product
        } else {
            guard known.count == 1 else {
                throw ValidationError("the model knows \(known.count) products (\(known.joined(separator: ", "))): say which with --product")
            }
            productName = known[0]
        }
        let calibration = detector.manifest.products[productName]!.calibration
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
            let analysis = detector.analyse([frame])[0]
            let source = detector.manifest.scoring.source
            let raw = analysis.scores[source]!
            var record: [String: Any] = [
                "file": path, "product": productName,
                "raw_score": Double(raw), "normalised_score": Double(calibration.normalised(raw)),
                "threshold": Double(calibration.threshold),
                "verdict": calibration.isAnomalous(raw) ? "NG" : "OK",
            ]
            let scoreMs = milliseconds(since: decoded)
            if let heatmaps {
                do {
                    record["heatmaps"] = try writePictures(analysis.maps[source]!, frame: frame, path: path,
                                                           calibration: calibration, folder: heatmaps)
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
    func writePictures(_ map: AnomalyMap, frame: Image, path: String, calibration: Calibration, folder: String) throws -> [String] {
        let full = map.resized(width: frame.width, height: frame.height)
        let heatmap = Heatmap(range: calibration.min...calibration.max)
        let base = URL(fileURLWithPath: folder).appendingPathComponent(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
        let outputs: [(String, Image)] = [
            ("heatmap", heatmap.colourised(full)),
            ("overlay", heatmap.overlay(full, on: frame.converted(to: .rgb))),
            ("mask", Heatmap.mask(full, threshold: calibration.threshold)),
        ]
        return try outputs.map { kind, image in
            let url = URL(fileURLWithPath: base.path + ".\(kind).png")
            try Heatmap.write(image, to: url)
            return url.path
        }
    }
}
