import ArgumentParser
import Foundation
import InspectdFiles
import InspectdSystemd
import InspectdWatch

/// A real `inspectd run` child process on a temporary configuration, measured from outside as a
/// line sees it: frames written into its camera folders the way a camera writes them, verdicts
/// seen through inotify the moment they are renamed into the spool. `bench-daemon` and `soak`.
/// Unchecked: every stored property is a constant, and Process and the queue are safe to share.
final class DaemonUnderTest: @unchecked Sendable {
    struct Camera {
        let name: String
        let product: String
    }

    /// A verdict as it appeared in the spool.
    struct Seen {
        let camera: String
        /// The dropped frame's name without its extension.
        let stem: String
        let seenAt: ContinuousClock.Instant
        /// Frames scored in the same call (`timings.batch_frames`).
        let batch: Int
        let verdict: String
    }

    let root: URL
    let spool: URL
    let child: Process
    private let listener: NotifySocketListener
    private let verdicts = FrameQueue(capacity: 1_000_000)
    private let watching: Task<Void, Error>
    private let consume: Bool

    /// `daemonSettings` and `cameraSettings` are extra TOML lines for the `[daemon]` table and for
    /// every camera. With `consume`, each verdict and its pictures are deleted once read, as a line
    /// controller that handled them would, so a long run does not fill the disk.
    init(model: URL, cameras: [Camera], threads: Int, precision: String, batchMax: Int,
         daemonSettings: String = "", cameraSettings: String = "", consume: Bool = false) async throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-daemon-under-test-\(UUID().uuidString)")
        spool = root.appendingPathComponent("spool")
        self.consume = consume
        var config = """
        [daemon]
        state_dir = "\(root.path)/state"
        spool_dir = "\(spool.path)"
        model_dir = "\(model.path)"
        threads = \(threads)
        precision = "\(precision)"
        batch_max = \(batchMax)
        \(daemonSettings)

        """
        for camera in cameras {
            try FileManager.default.createDirectory(at: root.appendingPathComponent("cameras/\(camera.name)"), withIntermediateDirectories: true)
            config += """

            [[camera]]
            name = "\(camera.name)"
            folder = "\(root.path)/cameras/\(camera.name)"
            product = "\(camera.product)"
            \(cameraSettings)

            """
        }
        let configFile = root.appendingPathComponent("inspectd.toml")
        try config.write(to: configFile, atomically: true, encoding: .utf8)

        // Standing in for systemd: READY=1 on this socket says the daemon is up.
        listener = try NotifySocketListener(path: root.appendingPathComponent("notify.sock").path)
        child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        child.arguments = ["run", "--config", configFile.path]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = listener.notifySocket
        environment["INSPECTD_LOG"] = "stderr"
        child.environment = environment
        child.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try FileManager.default.createDirectory(at: spool.appendingPathComponent("new"), withIntermediateDirectories: true)
        // Listing the folder in a loop would steal a core; inotify sees each rename as it happens.
        let spoolWatcher = FrameWatcher(
            cameras: [WatchedCamera(name: "spool", folder: spool.appendingPathComponent("new"), recursive: false, extensions: ["json"])],
            queue: verdicts, onEvent: { _ in })
        watching = Task { try await spoolWatcher.run() }
        try child.run()
        guard listener.waitFor("READY=1", timeout: 180) else {
            stop()
            throw ValidationError("the daemon did not report READY=1 within 180 s")
        }
        try await Task.sleep(for: .milliseconds(300))
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: root)
    }

    /// Writes a frame into the camera's folder in one open-write-close, as a camera does.
    func drop(_ bytes: Data, camera: String, name: String) throws {
        try bytes.write(to: root.appendingPathComponent("cameras/\(camera)/\(name)"))
    }

    /// The next verdict to appear; nil when the watcher stopped.
    func nextVerdict() async throws -> Seen? {
        guard let arrival = await verdicts.next() else { return nil }
        let name = arrival.path.lastComponent.description
        // <camera>-<stem>-<id12>.json, with camera names and stems of letters and digits.
        let parts = name.split(separator: "-")
        guard parts.count == 3 else { throw ValidationError("unexpected verdict \(name)") }
        let fields = (try? JSONSerialization.jsonObject(with: Data(RawFile.read(arrival.path)))) as? [String: Any]
        let batch = (fields?["timings"] as? [String: Any])?["batch_frames"] as? Int ?? 1
        if consume {
            let basename = String(name.dropLast(".json".count))
            for suffix in [".heatmap.png", ".overlay.png", ".mask.png", ".json"] {
                try? FileManager.default.removeItem(at: spool.appendingPathComponent("new/\(basename)\(suffix)"))
            }
        }
        return Seen(camera: String(parts[0]), stem: String(parts[1]), seenAt: arrival.seenAt, batch: batch,
                    verdict: fields?["verdict"] as? String ?? "?")
    }

    /// A line of the daemon's Prometheus file, e.g. `inspectd_rescans_total`.
    func metric(_ name: String) -> Double? {
        let text = (try? String(contentsOf: root.appendingPathComponent("state/metrics/inspectd.prom"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.dropFirst(name.count + 1)) }
    }

    /// VmRSS and VmHWM of the child, KiB.
    var residentKiB: (now: Int, peak: Int) {
        guard let status = try? String(contentsOfFile: "/proc/\(child.processIdentifier)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ key: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return (field("VmRSS:"), field("VmHWM:"))
    }

    /// File descriptors the child holds open.
    var openFiles: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.processIdentifier)/fd").count) ?? 0
    }

    /// SIGTERM, then waits; the exit status.
    @discardableResult
    func stop() -> Int32 {
        watching.cancel()
        guard child.processIdentifier != 0 else { return -1 }  // never started
        if child.isRunning {
            child.terminate()
            child.waitUntilExit()
        }
        return child.terminationStatus
    }
}
