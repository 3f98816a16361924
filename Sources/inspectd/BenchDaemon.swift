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

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-bench-daemon-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let camera = root.appendingPathComponent("camera"), spool = root.appendingPathComponent("spool")
        try FileManager.default.createDirectory(at: camera, withIntermediateDirectories: true)
        let config = root.appendingPathComponent("inspectd.toml")
        try """
        [daemon]
        state_dir = "\(root.path)/state"
        spool_dir = "\(spool.path)"
        model_dir = "\(modelFolder.url.path)"
        threads = \(threads)
        precision = "\(inspector.precision.rawValue)"
        batch_max = \(batchMax)

        [[camera]]
        name = "bench"
        folder = "\(camera.path)"
        product = "\(productName)"
        """.write(to: config, atomically: true, encoding: .utf8)

        // The bench stands in for systemd: READY=1 on this socket says the daemon is up.
        let listener = try NotifySocketListener(path: root.appendingPathComponent("notify.sock").path)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        child.arguments = ["run", "--config", config.path]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = listener.notifySocket
        environment["INSPECTD_LOG"] = "stderr"
        child.environment = environment
        child.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try child.run()
        defer { if child.isRunning { child.terminate(); child.waitUntilExit() } }
        guard listener.waitFor("READY=1", timeout: 120) else { throw ValidationError("the daemon did not report READY=1 within 120 s") }

        // Verdicts are seen through inotify, as a line controller would see them: the moment
        // the JSON is renamed into new/. (Listing the folder in a loop would steal a core.)
        let verdicts = FrameQueue(capacity: 100_000)
        let spoolWatcher = FrameWatcher(
            cameras: [WatchedCamera(name: "spool", folder: spool.appendingPathComponent("new"), recursive: false, extensions: ["json"])],
            queue: verdicts, onEvent: { _ in })
        let watching = Task { try await spoolWatcher.run() }
        defer { watching.cancel() }
        try await Task.sleep(for: .milliseconds(300))

        var dropped = 0
        var closedAt: [String: ContinuousClock.Instant] = [:]
        /// Copies a frame in (written, then closed: the moment a camera finishes a file).
        func drop() throws {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: source(dropped)))
            let stem = String(format: "frame-%05d", dropped)
            dropped += 1
            try bytes.write(to: camera.appendingPathComponent(stem + "." + URL(fileURLWithPath: source(dropped - 1)).pathExtension))
            closedAt[stem] = .now
        }
        /// Waits for the next verdict; returns its latency from the frame's close, ms, and how many
        /// frames were scored together with it.
        func nextVerdict() async throws -> (latency: Double, seen: ContinuousClock.Instant, batch: Int) {
            guard let verdict = await verdicts.next() else { throw CancellationError() }
            let name = verdict.path.lastComponent.description
            guard let stem = closedAt.keys.first(where: { name.hasPrefix("bench-\($0)-") }) else {
                throw ValidationError("unexpected verdict \(name)")
            }
            let fields = try JSONSerialization.jsonObject(with: Data(RawFile.read(verdict.path))) as? [String: Any]
            let batch = (fields?["timings"] as? [String: Any])?["batch_frames"] as? Int ?? 1
            return ((verdict.seenAt - closedAt[stem]!).inMilliseconds, verdict.seenAt, batch)
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
        let peakRSS = Self.peakResidentKiB(pid: child.processIdentifier)
        child.terminate()
        child.waitUntilExit()

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
            "exit_status": Int(child.terminationStatus),
        ]
        if json {
            printJSONLine(report)
        } else {
            for (key, value) in report.sorted(by: { $0.key < $1.key }) { print("\(key): \(value)") }
        }
    }

    /// VmHWM of a live process, KiB.
    static func peakResidentKiB(pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
}
