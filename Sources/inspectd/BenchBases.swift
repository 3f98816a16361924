import ArgumentParser
import Foundation
import InspectdContinual
import InspectdDetector
import InspectdTensor

struct BenchBases: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-bases",
        abstract: "Time one product's basis computation and measure its peak memory, for a number of sampled images.",
        discussion: "Run once per count (peak RSS only grows within a process). Also prints the memory a one-shot SVD of the whole representation matrix would need for the same count, computed, not run.")

    @Option(help: "The model folder (its network and scoring settings are used; it is not changed).")
    var model: String

    @Option(help: "Folder of normal images, read in turn (repeated when the count is larger).")
    var images: String

    @Option(help: "Images to stream through the scoring path.")
    var count: Int = 64

    @Option(help: "covariance or isvd.")
    var method: String = "covariance"

    @Option(help: "Afterwards, the folder's last N images, which the bases did not see (--count must leave them out): the share of their layer inputs' energy that the bases hold, per layer (how well the sample stands for the product).")
    var unseen: Int = 0

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard BasisMethod(rawValue: method) != nil else {
            throw ValidationError("--method must be one of \(BasisMethod.allCases.map(\.rawValue).joined(separator: ", ")), not '\(method)'")
        }
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
    }

    func run() throws {
        engine.apply()
        let (backbone, _) = try loadBackbone()
        let contents = try ModelFolder(URL(fileURLWithPath: model)).load(bases: false)
        let extractor = LatentExtractor(backbone: backbone, resolution: contents.manifest.resolution)
        let paths = try ProductImages(product: "bench", folder: images, holdoutFraction: 0).all
        guard unseen == 0 || count + unseen <= paths.count else {
            throw ValidationError("--count \(count) and --unseen \(unseen) overlap: \(images) has \(paths.count) images")
        }
        let baseline = peakResidentBytes()
        let t0 = DispatchTime.now()
        let sketches = try ProductRepresentation.sketches(streaming: paths, count: count, model: contents, extractor: extractor,
                                                          method: BasisMethod(rawValue: method)!)
        let captured = milliseconds(since: t0) / 1000
        let t1 = DispatchTime.now()
        let threshold = (contents.manifest.continual?.schedule ?? .standard).threshold(forProductIndex: 0)
        let (subspaces, _) = try ProtectedSubspaces().merged(with: sketches, threshold: threshold)
        let merged = milliseconds(since: t1) / 1000

        // A one-shot SVD would hold each layer's whole representation, samples × d in Float64 as
        // LAPACK takes it, plus its thin factors (U: samples × min, Vᵀ: min × d, S).
        var wholeMatrices = 0.0, largest = 0.0
        for sketch in sketches.values {
            let (n, d) = (Double(sketch.sampleCount), Double(sketch.dimension))
            let bytes = 8 * (n * d + n * min(n, d) + min(n, d) * d + min(n, d))
            wholeMatrices += 8 * n * d
            largest = max(largest, bytes)
        }
        var report: [String: Any] = [
            "method": method, "images": count, "layers": sketches.count,
            "samples": sketches.values.reduce(0) { $0 + $1.sampleCount },
            "capture_s": rounded(captured, digits: 2), "bases_s": rounded(merged, digits: 2),
            "protected_share": rounded(Double(subspaces.bases.values.reduce(0) { $0 + $1.rank })
                                       / Double(subspaces.bases.values.reduce(0) { $0 + $1.dimension }), digits: 4),
            "peak_rss_mib": rounded(Double(peakResidentBytes()) / 1_048_576, digits: 1),
            "peak_rss_before_capture_mib": rounded(Double(baseline) / 1_048_576, digits: 1),
            "one_shot_svd_all_layers_mib": rounded(wholeMatrices / 1_048_576, digits: 1),
            "one_shot_svd_largest_layer_mib": rounded(largest / 1_048_576, digits: 1),
        ]
        if unseen > 0 {
            let others = try ProductRepresentation.sketches(streaming: paths, count: unseen, from: paths.count - unseen, model: contents, extractor: extractor,
                                                            method: .covariance)
            let shares = others.compactMap { name, sketch -> Double? in
                guard sketch.totalEnergy > 0, let basis = subspaces.bases[name] else { return nil }
                return sketch.energy(inside: basis) / sketch.totalEnergy
            }.sorted()
            report["unseen_images"] = unseen
            report["unseen_energy_held_mean"] = rounded(shares.reduce(0, +) / Double(max(1, shares.count)), digits: 4)
            report["unseen_energy_held_min"] = rounded(shares.first ?? 0, digits: 4)
            report["unseen_energy_held_p10"] = rounded(shares.isEmpty ? 0 : shares[shares.count / 10], digits: 4)
        }
        if json {
            printJSONLine(report)
        } else {
            for (key, value) in report.sorted(by: { $0.key < $1.key }) { print("\(key): \(value)") }
        }
    }

    /// VmHWM of this process: the most resident memory it has had.
    func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
        return kib * 1024
    }
}
