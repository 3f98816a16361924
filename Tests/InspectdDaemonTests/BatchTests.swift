import Dispatch
import Foundation
import InspectdImage
import XCTest
@testable import InspectdDaemon

/// The brightness scorer, with a record of how many frames each scoring call was given. It can
/// hold its first call until the test has queued the frames it wants scored together.
struct RecordingScorer: FrameScorer {
    final class Log: @unchecked Sendable {
        // Sendable by its lock and the semaphore's own.
        let calls = Locked<[Int]>([])
        let release = DispatchSemaphore(value: 0)
        let holdsFirstCall: Bool

        init(holdsFirstCall: Bool) { self.holdsFirstCall = holdsFirstCall }

        func enter(_ frames: Int) {
            let first = calls.update { calls in
                calls.append(frames)
                return calls.count == 1
            }
            // Bounded, so that a failing test cannot hang the suite.
            if first && holdsFirstCall { _ = release.wait(timeout: .now() + 20) }
        }
    }

    let log: Log
    var inner = BrightnessScorer()
    var version: String { inner.version }
    var products: [String] { inner.products }

    func score(_ frame: Image, product: String, normalisedThreshold: Float) throws -> FrameScore {
        log.enter(1)
        return try inner.score(frame, product: product, normalisedThreshold: normalisedThreshold)
    }

    /// Like the detector's batch path, it fails as a whole when one frame is of a product it does
    /// not know.
    func score(_ frames: [FrameRequest]) throws -> [FrameScore] {
        log.enter(frames.count)
        return try frames.map { try inner.score($0.frame, product: $0.product, normalisedThreshold: $0.normalisedThreshold) }
    }
}

final class BatchTests: XCTestCase {
    /// Takes the camera's product from the first subfolder, so that a test can mix products.
    func subfolderHarness(daemonExtra: String = "") throws -> DaemonHarness {
        let harness = try DaemonHarness(daemonExtra: daemonExtra)
        let config = try String(contentsOf: harness.configFile, encoding: .utf8)
        try config.replacingOccurrences(of: "product = \"widget\"", with: "product_from = \"subfolder\"")
            .write(to: harness.configFile, atomically: true, encoding: .utf8)
        return harness
    }

    func write(_ bytes: [UInt8], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// Starts the held first call with one frame, then waits until `queued` more frames are queued
    /// behind it.
    func holdScoring(_ harness: DaemonHarness, _ log: RecordingScorer.Log, firstFrame: URL, queued: Int,
                     andQueue write: () throws -> Void) async throws {
        try self.write(DaemonHarness.frame(bright: false), to: firstFrame)
        let deadline = Date().addingTimeInterval(20)
        while log.calls.current.isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertEqual(log.calls.current, [1], "the first frame is scored alone, at once")
        try write()
        let daemon = try XCTUnwrap(harness.daemon)
        let queue = await daemon.queue
        while queue.depth < queued && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertEqual(queue.depth, queued)
    }

    func name(_ verdict: [String: Any]) -> String { URL(fileURLWithPath: verdict["frame"] as! String).lastPathComponent }
    func batchFrames(_ verdict: [String: Any]) -> Int? { (verdict["timings"] as? [String: Any])?["batch_frames"] as? Int }

    func testABurstIsScoredInBatchesOfAtMostBatchMaxAndEveryFrameGetsItsVerdict() async throws {
        let harness = try subfolderHarness(daemonExtra: "batch_max = 4")
        defer { harness.cleanUp() }
        let log = RecordingScorer.Log(holdsFirstCall: true)
        try await harness.start(scorer: RecordingScorer(log: log))
        let cam = harness.camera("cam1")
        try await holdScoring(harness, log, firstFrame: cam.appendingPathComponent("widget/first.png"), queued: 13) {
            // Two products, mixed: the network does not depend on the product, so they share batches.
            for i in 0..<13 {
                try write(DaemonHarness.frame(bright: i % 3 == 0, seed: UInt8(i)),
                          to: cam.appendingPathComponent("\(i % 2 == 0 ? "widget" : "gadget")/burst-\(i).png"))
            }
        }
        log.release.signal()
        let verdicts = try await harness.waitForVerdicts(14)
        try await harness.stop()

        XCTAssertEqual(log.calls.current, [1, 4, 4, 4, 1])
        XCTAssertEqual(Set(verdicts.map(name)).count, 14)
        for verdict in verdicts {
            let i = name(verdict) == "first.png" ? nil : Int(name(verdict).dropFirst("burst-".count).dropLast(".png".count))
            XCTAssertEqual(verdict["verdict"] as? String, i.map { $0 % 3 == 0 } == true ? "NG" : "OK", "\(verdict)")
            XCTAssertEqual(verdict["product"] as? String, i.map { $0 % 2 == 0 ? "widget" : "gadget" } ?? "widget")
            XCTAssertEqual(Set((verdict["outputs"] as? [String: String] ?? [:]).keys), ["heatmap", "mask"])
        }
        XCTAssertEqual(verdicts.map { batchFrames($0) ?? 0 }.sorted(), [1, 1] + [Int](repeating: 4, count: 12))
        let metrics = try String(contentsOf: harness.root.appendingPathComponent("state/metrics/inspectd.prom"), encoding: .utf8)
        for line in ["inspectd_scoring_batch_frames_bucket{le=\"1\"} 2", "inspectd_scoring_batch_frames_bucket{le=\"4\"} 5",
                     "inspectd_scoring_batch_frames_sum 14", "inspectd_scoring_batch_frames_count 5",
                     "inspectd_frame_latency_seconds_count 14", "inspectd_scoring_batch_fallbacks_total 0"] {
            XCTAssertTrue(metrics.contains(line), "missing \(line) in\n\(metrics)")
        }
    }

    func testALoneFrameIsScoredAloneWithoutWaitingForOthers() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let log = RecordingScorer.Log(holdsFirstCall: false)
        try await harness.start(scorer: RecordingScorer(log: log))
        try Data(DaemonHarness.frame(bright: true)).write(to: harness.camera("cam1").appendingPathComponent("alone.png"))
        let verdicts = try await harness.waitForVerdicts(1)
        let verdict = try XCTUnwrap(verdicts.first)
        try await harness.stop()
        XCTAssertEqual(log.calls.current, [1])
        XCTAssertEqual(verdict["verdict"] as? String, "NG")
        XCTAssertEqual(batchFrames(verdict), 1)
        // Seen to spooled in the time the frame itself takes (milliseconds here), not a wait for company.
        let total = try XCTUnwrap((verdict["timings"] as? [String: Any])?["total_ms"] as? Double)
        XCTAssertLessThan(total, 1000)
    }

    func testACorruptFrameInABurstIsQuarantinedAndTheOthersAreScoredTogether() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let log = RecordingScorer.Log(holdsFirstCall: true)
        try await harness.start(scorer: RecordingScorer(log: log))
        let cam = harness.camera("cam1")
        try await holdScoring(harness, log, firstFrame: cam.appendingPathComponent("first.png"), queued: 4) {
            try write(DaemonHarness.frame(bright: false, seed: 1), to: cam.appendingPathComponent("good-1.png"))
            // Written a while ago and moved in: corrupt, not a frame still being written.
            let outside = harness.root.appendingPathComponent("broken.png")
            try write(Array(DaemonHarness.frame(bright: false).prefix(40)), to: outside)
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-60)], ofItemAtPath: outside.path)
            try FileManager.default.moveItem(at: outside, to: cam.appendingPathComponent("broken.png"))
            try write(DaemonHarness.frame(bright: true, seed: 2), to: cam.appendingPathComponent("good-2.png"))
            try write(DaemonHarness.frame(bright: false, seed: 3), to: cam.appendingPathComponent("good-3.png"))
        }
        log.release.signal()
        let verdicts = try await harness.waitForVerdicts(5)
        try await harness.stop()

        XCTAssertEqual(log.calls.current, [1, 3])
        let byName = Dictionary(uniqueKeysWithValues: verdicts.map { (name($0), $0) })
        let broken = try XCTUnwrap(byName["broken.png"])
        XCTAssertEqual(broken["verdict"] as? String, "ERROR")
        XCTAssertEqual(batchFrames(broken), 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: try XCTUnwrap(broken["quarantined_to"] as? String)))
        for (frame, outcome) in [("good-1.png", "OK"), ("good-2.png", "NG"), ("good-3.png", "OK")] {
            XCTAssertEqual(byName[frame]?["verdict"] as? String, outcome, frame)
            XCTAssertEqual(byName[frame].flatMap(batchFrames), 3, frame)
        }
        let metrics = try String(contentsOf: harness.root.appendingPathComponent("state/metrics/inspectd.prom"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("inspectd_quarantined_total 1"), metrics)
    }

    func testAFailingBatchIsScoredOneByOneSoEachFrameGetsItsOwnVerdictOrError() async throws {
        let harness = try subfolderHarness()
        defer { harness.cleanUp() }
        let log = RecordingScorer.Log(holdsFirstCall: true)
        try await harness.start(scorer: RecordingScorer(log: log))
        let cam = harness.camera("cam1")
        try await holdScoring(harness, log, firstFrame: cam.appendingPathComponent("widget/first.png"), queued: 3) {
            try write(DaemonHarness.frame(bright: false), to: cam.appendingPathComponent("widget/a.png"))
            try write(DaemonHarness.frame(bright: false), to: cam.appendingPathComponent("unknown/b.png"))
            try write(DaemonHarness.frame(bright: true), to: cam.appendingPathComponent("gadget/c.png"))
        }
        log.release.signal()
        let verdicts = try await harness.waitForVerdicts(4)
        try await harness.stop()

        XCTAssertEqual(log.calls.current, [1, 3, 1, 1, 1])
        let byName = Dictionary(uniqueKeysWithValues: verdicts.map { (name($0), $0) })
        XCTAssertEqual(byName["a.png"]?["verdict"] as? String, "OK")
        XCTAssertEqual(byName["c.png"]?["verdict"] as? String, "NG")
        XCTAssertEqual(byName["b.png"]?["verdict"] as? String, "ERROR")
        XCTAssertTrue((byName["b.png"]?["error"] as? String)?.contains("unknown") ?? false)
        for frame in ["a.png", "b.png", "c.png"] { XCTAssertEqual(byName[frame].flatMap(batchFrames), 1, frame) }
        let metrics = try String(contentsOf: harness.root.appendingPathComponent("state/metrics/inspectd.prom"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("inspectd_scoring_batch_fallbacks_total 1"), metrics)
    }

    func testAFrameConfirmedInFp32SaysSoInItsVerdictAndTheMetrics() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        // Frames near 0.5 of brightness are "confirmed": a mid-grey one is, a dark one is not.
        try await harness.start(scorer: BrightnessScorer(confirmationBand: 0.1))
        let grey = try PNG.encode(Image(width: 8, height: 8, format: .grey, pixels: [UInt8](repeating: 120, count: 64)))
        try Data(grey).write(to: harness.camera("cam1").appendingPathComponent("a-mid.png"))
        try Data(DaemonHarness.frame(bright: false)).write(to: harness.camera("cam1").appendingPathComponent("b-dark.png"))
        let verdicts = try await harness.waitForVerdicts(2)
        try await harness.stop()
        let mid = try XCTUnwrap(verdicts.first { ($0["frame"] as? String)?.hasSuffix("a-mid.png") == true })
        let dark = try XCTUnwrap(verdicts.first { ($0["frame"] as? String)?.hasSuffix("b-dark.png") == true })
        XCTAssertEqual(mid["confirmed_in_fp32"] as? Bool, true, "\(mid)")
        XCTAssertNil(dark["confirmed_in_fp32"], "\(dark)")
        let metrics = try String(contentsOf: harness.root.appendingPathComponent("state/metrics/inspectd.prom"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("inspectd_confirmed_in_fp32_total 1\n"), metrics)
    }
}
