import Foundation
import InspectdDaemon
import InspectdImage
import InspectdSystemd
import Logging
import ServiceLifecycle
import XCTest

/// Scores a frame by its mean brightness: bright frames are NG. Lets the daemon tests run real
/// folders, inotify and signals in milliseconds per frame, without a trained network.
struct BrightnessScorer: FrameScorer {
    var version = "test-model-1"
    var products = ["widget", "gadget"]
    var warnings: [String] = []
    /// Stands in for int8 confirmation: a frame whose brightness lies within this of the
    /// threshold is reported as decided in fp32.
    var confirmationBand: Float = 0
    /// Counts every frame scored: a verdict file rewritten in place would hide a second scoring.
    var calls: Locked<Int>?
    /// Seconds each frame takes, to have frames in flight when a test needs them.
    var delay: TimeInterval = 0

    struct Unknown: Error, CustomStringConvertible { let description: String }

    func score(_ frame: Image, product: String, normalisedThreshold: Float) throws -> FrameScore {
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        calls?.update { $0 += 1 }
        guard products.contains(product) else { throw Unknown(description: "the model does not know product '\(product)'") }
        let mean = Float(frame.pixels.reduce(0) { $0 + Int($1) }) / Float(max(1, frame.pixels.count)) / 255
        return FrameScore(raw: mean, normalised: mean, threshold: normalisedThreshold, isAnomalous: mean > normalisedThreshold,
                          confirmedInFloat32: abs(mean - normalisedThreshold) <= confirmationBand) {
            [("heatmap", frame.converted(to: .rgb)), ("mask", frame.converted(to: .grey))]
        }
    }
}

/// A daemon in a temporary folder: configuration, camera folders, spool; started and stopped
/// through a ServiceGroup as `inspectd run` does.
final class DaemonHarness: @unchecked Sendable {
    let root: URL
    var configFile: URL { root.appendingPathComponent("etc/inspectd.toml") }
    var spoolNew: URL { root.appendingPathComponent("spool/new") }
    var quarantine: URL { root.appendingPathComponent("state/quarantine") }
    var cameraExtra: String
    var group: ServiceGroup?
    var runTask: Task<Void, Error>?
    var daemon: InspectionDaemon?

    init(cameraExtra: String = "", daemonExtra: String = "", trainingExtra: String = "") throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-\(UUID().uuidString)")
        self.cameraExtra = cameraExtra
        try FileManager.default.createDirectory(at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: camera("cam1"), withIntermediateDirectories: true)
        try """
        [daemon]
        state_dir = "\(root.path)/state"
        spool_dir = "\(root.path)/spool"
        status_interval = "200ms"
        \(daemonExtra)

        [training]
        \(trainingExtra)

        [[camera]]
        name = "cam1"
        folder = "\(camera("cam1").path)"
        product = "widget"
        \(cameraExtra)
        """.write(to: configFile, atomically: true, encoding: .utf8)
    }

    func camera(_ name: String) -> URL { root.appendingPathComponent("cameras/\(name)") }

    func cleanUp() { try? FileManager.default.removeItem(at: root) }

    static let quietLogger: Logger = {
        var logger = Logger(label: "inspectd-test")
        logger.logLevel = .critical
        return logger
    }()

    /// Frames the default scorer scored, over every start of this harness.
    let scored = Locked(0)

    /// Starts the daemon with `scorer`, by default a brightness scorer counting into `scored`.
    func start(scorer: FrameScorer? = nil, environment: [String: String] = [:],
               logger: Logger = DaemonHarness.quietLogger) async throws {
        let scorer = scorer ?? BrightnessScorer(calls: scored)
        try await start(loader: { _ in scorer }, environment: environment, logger: logger)
    }

    func start(loader: @escaping InspectionDaemon.ScorerLoader, environment: [String: String] = [:],
               logger: Logger = DaemonHarness.quietLogger,
               startTrainer: @escaping TrainerStarter = { _ in throw CocoaError(.featureUnsupported) }) async throws {
        let daemon = try InspectionDaemon(configFile: configFile.path, notifier: ServiceNotifier(environment: environment),
                                          logger: logger, startTrainer: startTrainer, loadScorer: loader)
        let group = ServiceGroup(configuration: .init(services: [.init(service: daemon)], logger: logger))
        self.daemon = daemon
        self.group = group
        runTask = Task { try await group.run() }
    }

    func stop() async throws {
        await group?.triggerGracefulShutdown()
        try await runTask?.value
        group = nil
        runTask = nil
    }

    /// A small grey PNG, bright (NG for the test scorer) or dark (OK).
    static func frame(bright: Bool, seed: UInt8 = 0) throws -> [UInt8] {
        let pixels = (0..<(32 * 24)).map { i in (bright ? 220 : 40) &+ UInt8(truncatingIfNeeded: i % 7) &+ seed }
        return try PNG.encode(Image(width: 32, height: 24, format: .grey, pixels: pixels))
    }

    /// The value of an unlabelled metric in the daemon's Prometheus file, as written.
    func metric(_ name: String) -> String? {
        let text = (try? String(contentsOf: root.appendingPathComponent("state/metrics/inspectd.prom"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
    }

    func verdicts() -> [[String: Any]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: spoolNew.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            guard let data = try? Data(contentsOf: spoolNew.appendingPathComponent(name)) else { return nil }
            return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        }
    }

    /// Waits until `count` verdicts are in the spool (or fails after `timeout`).
    func waitForVerdicts(_ count: Int, timeout: TimeInterval = 20, file: StaticString = #filePath, line: UInt = #line) async throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let found = verdicts()
            if found.count >= count { return found }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("expected \(count) verdicts, found \(verdicts().count)", file: file, line: line)
        return verdicts()
    }
}
