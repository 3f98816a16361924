import ArgumentParser
import Foundation
import InspectdDetector
import InspectdFiles
import InspectdImage
import InspectdSystemd
import InspectdWatch

/// End-to-end figures of the daemon as a line runs it: a real `inspectd run` child process on a
/// temporary configuration, frames copied into its camera folder, verdicts read from its spool.
struct BenchDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-daemon",
        abstract: "Drop frames into a watched folder of a running daemon; report latency from file close to verdict, frames/s, batch sizes and peak RSS.")

    @Option(help: "The model folder.")
    var model: String

    @Option(help: "Folder of frames (PNG or JPEG) to drop.")
    var images: String

    @Option(help: "The product the frames show (may be left out when the model knows one product).")
    var product: String?

    @Option(help: "Frames dropped one at a time, each after the previous verdict (latency).")
    var paced: Int = 20

    @Option(help: "Frames dropped at once (throughput).")
    var burst: Int = 40

    @Option(help: "Engine threads for the daemon and the baseline (0: all cores).")
    var threads: Int = 0

    @Option(help: "The daemon's batch_max: the most waiting frames scored together (1: one at a time).")
    var batchMax: Int = 8

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var precisionOption: PrecisionOption

    func validate() throws {
        guard (1...64).contains(batchMax) else { throw ValidationError("--batch-max must be from 1 to 64, got \(batchMax)") }
    }

    func run() async throws {
        let modelFolder = ModelFolder(URL(fileURLWithPath: model).standardizedFileURL)
        let inspector = try Inspector(folder: modelFolder, threads: threads, precision: precisionOption.precision)
        for warning in inspector.warnings { note("warning: model \(inspector.version): \(warning)") }
        let productName = try chooseProduct(product, of: inspector)
        let sources = try ProductImages(product: productName, folder: images, holdoutFraction: 0).all
        guard !sources.isEmpty else { throw ValidationError("\(images): no PNG or JPEG frames") }
        func source(_ i: Int) -> String { sources[i % sources.count] }

        // Baseline: what scoring alone costs per frame in this process (decode + score + pictures),
        // in batches of batch-max frames, as the daemon scores a burst.
        var pure: [Double] = []
        for batch in 0...max(2, 12 / batchMax) {
            let t0 = DispatchTime.now()
            let frames = try (0..<batchMax).map { try Image(contentsOfFile: source(batch * batchMax + $0)) }
            for inspection in try inspector.inspect(frames.map { ($0, productName, 0.5) }) {
                _ = try inspection.pictures().map { try Heatmap.png($0.image) }
            }
            if batch > 0 { pure.append(milliseconds(since: t0) / Double(batchMax)) }  // the first one warms up
        }

        let daemon = try await DaemonUnderTest(
            model: modelFolder.url, cameras: [.init(name: "bench", product: productName)], threads: threads,
            precision: inspector.precision.rawValue, batchMax: batchMax)
        let frames = try (0..<sources.count).map { try Data(contentsOf: URL(fileURLWithPath: source($0))) }
        var dropped = 0
        var closedAt: [String: ContinuousClock.Instant] = [:]
        /// Copies a frame in (written, then closed: the moment a camera finishes a file).
        func drop() throws {
            let stem = String(format: "frame%05d", dropped)
            try daemon.drop(frames[dropped % frames.count], camera: "bench",
                            name: stem + "." + URL(fileURLWithPath: source(dropped)).pathExtension)
            dropped += 1
            closedAt[stem] = .now
        }
        /// Waits for the next verdict; returns its latency from the frame's close, ms, and how many
        /// frames were scored together with it.
        func nextVerdict() async throws -> (latency: Double, seen: ContinuousClock.Instant, batch: Int) {
            guard let verdict = try await daemon.nextVerdict() else { throw CancellationError() }
            guard let closed = closedAt[verdict.stem] else { throw ValidationError("unexpected verdict of \(verdict.stem)") }
            return ((verdict.seenAt - closed).inMilliseconds, verdict.seenAt, verdict.batch)
        }

        try drop()  // warm-up: the first frame pays for page faults and lazy set-up
        _ = try await nextVerdict()
        var latency: [Double] = []
        for _ in 0..<paced {
            try drop()
            latency.append(try await nextVerdict().latency)
        }
        let burstStart = ContinuousClock.now
        for _ in 0..<burst { try drop() }
        var lastSeen = burstStart
        var burstLatency: [Double] = []
        // Each frame counts 1/n of the batch of n it was scored in.
        var burstBatches = 0.0
        for _ in 0..<burst {
            let verdict = try await nextVerdict()
            lastSeen = max(lastSeen, verdict.seen)
            burstLatency.append(verdict.latency)
            burstBatches += 1 / Double(max(1, verdict.batch))
        }
        let burstSeconds = (lastSeen - burstStart).inSeconds
        let peakRSS = daemon.residentKiB.peak
        let exitStatus = daemon.stop()

        latency.sort()
        burstLatency.sort()
        pure.sort()
        let framesPerSecond = Double(burst) / burstSeconds
        let pureMs = percentile(pure, 0.5)
        let report: [String: Any] = [
            "frames": dropped, "paced": paced, "burst": burst, "product": productName, "threads": threads,
            "precision": inspector.precision.rawValue, "batch_max": batchMax,
            "latency_ms_p50": rounded(percentile(latency, 0.5), digits: 1),
            "latency_ms_p95": rounded(percentile(latency, 0.95), digits: 1),
            "frames_per_s": rounded(framesPerSecond, digits: 2),
            "burst_latency_ms_p50": rounded(percentile(burstLatency, 0.5), digits: 1),
            "burst_latency_ms_p95": rounded(percentile(burstLatency, 0.95), digits: 1),
            "burst_mean_batch": rounded(Double(burst) / burstBatches, digits: 2),
            "pure_scoring_ms_p50": rounded(pureMs, digits: 1),
            "overhead_percent": rounded((1000 / framesPerSecond - pureMs) / pureMs * 100, digits: 1),
            "peak_rss_mib": rounded(Double(peakRSS) / 1024, digits: 1),
            "exit_status": Int(exitStatus),
        ]
        if json {
            printJSONLine(report)
        } else {
            for (key, value) in report.sorted(by: { $0.key < $1.key }) { print("\(key): \(value)") }
        }
    }
}
