import ArgumentParser
import Foundation
import InspectdDetector
import InspectdImage
import Synchronization

/// Load and soak of a real daemon: a burst of frames into one folder (far more than the inotify
/// queue holds events for), then frames of several products and cameras at a steady rate for a
/// long time. Every frame must get exactly one verdict; memory and open files must not grow.
struct Soak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Burst and soak a real daemon: verdicts per frame (duplicates, misses), latency, RSS and open files over time.")

    @Option(help: "The model folder; it must know every product given.")
    var model: String

    @Option(name: .customLong("images"), help: "PRODUCT=FOLDER of frames of that product (repeat for several products).")
    var images: [String]

    @Option(help: "Cameras per product; frames go round the cameras.")
    var camerasPerProduct: Int = 2

    @Option(help: "Frames dropped at once into the first camera's folder before the soak (0: none).")
    var burst: Int = 10_000

    @Option(help: "Length of the soak in minutes (0: none).")
    var minutes: Double = 30

    @Option(help: "Frames per second during the soak, spread over every camera.")
    var rate: Double = 2

    @Option(help: "Minutes of the soak before memory and open files are taken as the baseline.")
    var warmUpMinutes: Double = 3

    @Option(help: "Frames are re-encoded as PNG this many pixels square (0: the files as they are).")
    var frameSide: Int = 256

    @Option(help: "Engine threads for the daemon (0: all cores).")
    var threads: Int = 0

    @Option(help: "The daemon's batch_max.")
    var batchMax: Int = 8

    @Option(help: "int8 or fp32.")
    var precision: String = "int8"

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one --images PRODUCT=FOLDER") }
        guard rate > 0, camerasPerProduct >= 1, burst >= 0, minutes >= 0 else {
            throw ValidationError("--rate must be above 0, --cameras-per-product at least 1, --burst and --minutes not negative")
        }
        guard ["int8", "fp32"].contains(precision) else { throw ValidationError("--precision must be int8 or fp32, got \(precision)") }
    }

    /// Verdicts as they arrive, counted per frame.
    final class Tally: Sendable {
        struct State {
            var closedAt: [String: ContinuousClock.Instant] = [:]
            var seen: [String: Int] = [:]
            var latency: [String: Double] = [:]
            var outcomes: [String: Int] = [:]
            var unexpected: [String] = []
        }
        let state = Mutex(State())

        func dropped(_ stem: String) { state.withLock { $0.closedAt[stem] = .now } }

        func record(_ verdict: DaemonUnderTest.Seen) {
            state.withLock { s in
                s.seen[verdict.stem, default: 0] += 1
                s.outcomes[verdict.verdict, default: 0] += 1
                if let closed = s.closedAt[verdict.stem] {
                    if s.latency[verdict.stem] == nil { s.latency[verdict.stem] = (verdict.seenAt - closed).inMilliseconds }
                } else {
                    s.unexpected.append(verdict.stem)
                }
            }
        }

        /// Frames of `stems` with a verdict.
        func answered(_ stems: [String]) -> Int { state.withLock { s in stems.filter { s.seen[$0] != nil }.count } }

        /// Verdicts, duplicates, misses and latency percentiles of `stems`.
        func summary(_ stems: [String]) -> [String: Any] {
            state.withLock { s in
                let latency = stems.compactMap { s.latency[$0] }.sorted()
                return [
                    "frames": stems.count,
                    "verdicts": stems.reduce(0) { $0 + (s.seen[$1] ?? 0) },
                    "duplicates": stems.reduce(0) { $0 + max(0, (s.seen[$1] ?? 0) - 1) },
                    "misses": stems.filter { s.seen[$0] == nil }.count,
                    "latency_ms_p50": latency.isEmpty ? 0 : rounded(percentile(latency, 0.5), digits: 1),
                    "latency_ms_p95": latency.isEmpty ? 0 : rounded(percentile(latency, 0.95), digits: 1),
                ]
            }
        }
    }

    func run() async throws {
        var products: [(name: String, frames: [Data])] = []
        for entry in images {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--images expects PRODUCT=FOLDER, got \(entry)") }
            let files = try ProductImages(product: parts[0], folder: parts[1], holdoutFraction: 0).all
            guard !files.isEmpty else { throw ValidationError("\(parts[1]): no PNG or JPEG frames") }
            let frames = try files.prefix(64).map { file -> Data in
                guard frameSide > 0 else { return try Data(contentsOf: URL(fileURLWithPath: file)) }
                return Data(try PNG.encode(try Image(contentsOfFile: file).resized(width: frameSide, height: frameSide)))
            }
            products.append((parts[0], frames))
        }
        var cameras: [(camera: DaemonUnderTest.Camera, frames: [Data])] = []
        for product in products {
            for _ in 0..<camerasPerProduct {
                cameras.append((.init(name: "cam\(cameras.count + 1)", product: product.name), product.frames))
            }
        }
        let daemon = try await DaemonUnderTest(
            model: URL(fileURLWithPath: model).standardizedFileURL, cameras: cameras.map(\.camera), threads: threads,
            precision: precision, batchMax: batchMax, cameraSettings: "after = \"delete\"", consume: true)
        let tally = Tally()
        let consumer = Task {
            while let verdict = try await daemon.nextVerdict() { tally.record(verdict) }
        }
        defer { consumer.cancel() }
        var dropped = 0
        func drop(_ i: Int) throws -> String {
            let stem = String(format: "f%07d", dropped)
            dropped += 1
            let camera = cameras[i % cameras.count]
            tally.dropped(stem)
            try daemon.drop(camera.frames[dropped % camera.frames.count], camera: camera.camera.name, name: stem + ".png")
            return stem
        }
        /// Waits until every frame of `stems` has a verdict or nothing new came for `quiet` seconds.
        func drain(_ stems: [String], quiet: TimeInterval = 120) async throws {
            var last = tally.answered(stems), lastChange = Date()
            while last < stems.count && Date().timeIntervalSince(lastChange) < quiet {
                try await Task.sleep(for: .milliseconds(500))
                let now = tally.answered(stems)
                if now != last { (last, lastChange) = (now, Date()) }
            }
            try await Task.sleep(for: .seconds(2))  // a duplicate would come right after
        }

        var report: [String: Any] = ["products": products.map(\.name), "cameras": cameras.count, "precision": precision,
                                     "batch_max": batchMax, "frame_side": frameSide]
        let startRSS = daemon.residentKiB.now, startFiles = daemon.openFiles
        report["rss_mib_at_start"] = rounded(Double(startRSS) / 1024, digits: 1)
        report["open_files_at_start"] = startFiles

        if burst > 0 {
            note("burst: \(burst) frames into \(cameras[0].camera.name)")
            let started = ContinuousClock.now
            let stems = try (0..<burst).map { _ in try drop(0) }
            let written = (ContinuousClock.now - started).inSeconds
            try await drain(stems)
            var figures = tally.summary(stems)
            let seconds = (ContinuousClock.now - started).inSeconds - 2
            figures["write_seconds"] = rounded(written, digits: 1)
            figures["seconds"] = rounded(seconds, digits: 1)
            figures["frames_per_s"] = rounded(Double(burst) / seconds, digits: 2)
            figures["rescans"] = daemon.metric("inspectd_rescans_total") ?? 0
            report["burst"] = figures
            note("burst: \(figures)")
        }

        if minutes > 0 {
            let total = Int(minutes * 60 * rate)
            note("soak: \(total) frames over \(minutes) min at \(rate)/s on \(cameras.count) cameras")
            var stems: [String] = []
            var samples: [(minute: Double, rss: Int, files: Int)] = []
            let started = ContinuousClock.now
            let sampleEvery = max(1, Int(10 * rate))
            for i in 0..<total {
                let due = started + .milliseconds(Int64(Double(i) / rate * 1000))
                if due > .now { try await Task.sleep(until: due, clock: .continuous) }
                stems.append(try drop(i))
                if i % sampleEvery == 0 {
                    let minute = (ContinuousClock.now - started).inSeconds / 60
                    samples.append((minute, daemon.residentKiB.now, daemon.openFiles))
                    if i % (sampleEvery * 6) == 0 {
                        note(String(format: "soak: %.1f/%.0f min, %d frames, %d answered, RSS %.1f MiB, %d open files",
                                    minute, minutes, i + 1, tally.answered(stems), Double(samples.last!.rss) / 1024, samples.last!.files))
                    }
                }
            }
            try await drain(stems)
            samples.append(((ContinuousClock.now - started).inSeconds / 60, daemon.residentKiB.now, daemon.openFiles))
            var figures = tally.summary(stems)
            let settled = samples.filter { $0.minute >= warmUpMinutes }
            let baseline = settled.first ?? samples.last!, end = samples.last!
            figures["minutes"] = minutes
            figures["rate_per_s"] = rate
            figures["rss_mib_after_warm_up"] = rounded(Double(baseline.rss) / 1024, digits: 1)
            figures["rss_mib_end"] = rounded(Double(end.rss) / 1024, digits: 1)
            figures["rss_mib_max_after_warm_up"] = rounded(Double(settled.map(\.rss).max() ?? end.rss) / 1024, digits: 1)
            figures["rss_growth_percent"] = rounded(Double(end.rss - baseline.rss) / Double(max(1, baseline.rss)) * 100, digits: 2)
            figures["open_files_after_warm_up"] = baseline.files
            figures["open_files_end"] = end.files
            figures["open_files_max"] = samples.map(\.files).max() ?? 0
            report["soak"] = figures
        }
        report["outcomes"] = tally.state.withLock { $0.outcomes }
        report["unexpected_verdicts"] = tally.state.withLock { $0.unexpected.count }
        report["rescans_total"] = daemon.metric("inspectd_rescans_total") ?? 0
        report["peak_rss_mib"] = rounded(Double(daemon.residentKiB.peak) / 1024, digits: 1)
        report["exit_status"] = Int(daemon.stop())
        if json {
            printJSONLine(report)
        } else {
            for (key, value) in report.sorted(by: { $0.key < $1.key }) { print("\(key): \(value)") }
        }
    }
}
