import ArgumentParser
import Foundation
import InspectdDetector
import InspectdFiles
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

    @Option(help: "Write each frame's anomaly map (the smoothed float map at the model resolution that the raw score is read from) as a float32 NumPy .npy file into this folder.")
    var rawMaps: String?

    @Argument(help: "Frames (JPEG or PNG).")
    var images: [String]

    @OptionGroup var precisionOption: PrecisionOption

    @Option(help: "With int8, frames whose raw score lies within this share of the threshold are scored again in fp32, which decides them (0: never).")
    var confirmBand: Float = Inspector.defaultConfirmationBand
    @OptionGroup var engine: EngineOptions

    func run() throws {
        engine.apply()
        guard (0...0.5).contains(confirmBand) else {
            throw ValidationError("--confirm-band must be a share of the threshold from 0 to 0.5, got \(confirmBand)")
        }
        let inspector = try Inspector(folder: ModelFolder(URL(fileURLWithPath: model)), precision: precisionOption.precision,
                                      confirmationBand: confirmBand)
        let productName = try chooseProduct(product, of: inspector)
        for folder in [heatmaps, rawMaps].compactMap({ $0 }) {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        for warning in inspector.warnings { note("warning: model \(inspector.version): \(warning)") }

        var names = FrameFileNames()
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
                "precision": inspector.precision.rawValue,
            ]
            if inspection.confirmedInFloat32 { record["confirmed_in_fp32"] = true }
            let scoreMs = milliseconds(since: decoded)
            if heatmaps != nil || rawMaps != nil {
                let name = names.name(for: path)
                var errors: [String] = []
                if let heatmaps {
                    do { record["heatmaps"] = try writePictures(inspection, name: name, folder: heatmaps) } catch { errors.append("\(error)") }
                }
                if let rawMaps {
                    let url = URL(fileURLWithPath: rawMaps).appendingPathComponent(name + ".npy")
                    do {
                        try NPY.write(inspection.map.values, shape: [inspection.map.height, inspection.map.width], to: url)
                        record["raw_map"] = url.path
                    } catch {
                        errors.append("\(error)")
                    }
                }
                if !errors.isEmpty {
                    failures += 1
                    record["error"] = errors.joined(separator: "; ")
                }
            }
            record["timing_ms"] = ["decode": decodeMs, "score": scoreMs, "total": milliseconds(since: start)]
            printJSONLine(record)
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// Heatmap, overlay and mask at the frame's size, as `<name>.heatmap.png` and so on.
    func writePictures(_ inspection: Inspection, name: String, folder: String) throws -> [String] {
        try inspection.pictures().map { kind, image in
            let url = URL(fileURLWithPath: folder).appendingPathComponent("\(name).\(kind).png")
            try Heatmap.write(image, to: url)
            return url.path
        }
    }
}

/// The names a run's output files get: each frame's file name without its extension, and for a
/// second frame of the same name (`a/000.png`, `b/000.png`) that name with `-2`, `-3`, ... in the
/// order the frames were given, so that no frame's files replace another's.
struct FrameFileNames {
    private var used: Set<String> = []

    mutating func name(for path: String) -> String {
        var stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        if stem.isEmpty || stem == "." || stem == ".." || stem == "/" { stem = "frame" }
        var name = stem, copy = 1
        while used.contains(name) {
            copy += 1
            name = "\(stem)-\(copy)"
        }
        used.insert(name)
        return name
    }
}
