import Foundation
import InspectdImage
import XCTest
@testable import InspectdDaemon

final class DaemonTests: XCTestCase {
    func testEveryFrameGetsExactlyOneVerdictWhateverWayItArrives() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let cam = harness.camera("cam1")
        try Data(DaemonHarness.frame(bright: false, seed: 1)).write(to: cam.appendingPathComponent("before-start.png"))
        try await harness.start()

        // Written in place.
        try Data(DaemonHarness.frame(bright: false, seed: 2)).write(to: cam.appendingPathComponent("in-place.png"))
        // Written under a temporary name, then renamed in.
        let temporary = cam.appendingPathComponent(".incoming.png.part")
        try Data(DaemonHarness.frame(bright: true, seed: 3)).write(to: temporary)
        try FileManager.default.moveItem(at: temporary, to: cam.appendingPathComponent("renamed.png"))
        // In a new subfolder, created with its frame at once.
        let sub = cam.appendingPathComponent("2026/12/01")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try Data(DaemonHarness.frame(bright: false, seed: 4)).write(to: sub.appendingPathComponent("nested.png"))
        // Half written, a pause with the file open, then completed.
        let bytes = try DaemonHarness.frame(bright: false, seed: 5)
        let handle = try FileHandle(forWritingTo: { () -> URL in
            let url = cam.appendingPathComponent("slow.png")
            FileManager.default.createFile(atPath: url.path, contents: nil)
            return url
        }())
        try handle.write(contentsOf: bytes.prefix(bytes.count / 2))
        try await Task.sleep(for: .milliseconds(600))
        try handle.write(contentsOf: bytes.dropFirst(bytes.count / 2))
        try handle.close()

        let verdicts = try await harness.waitForVerdicts(5)
        try await Task.sleep(for: .milliseconds(800))  // time for any duplicate to show up
        try await harness.stop()

        let frames = harness.verdicts().map { URL(fileURLWithPath: $0["frame"] as! String).lastPathComponent }.sorted()
        XCTAssertEqual(frames, ["before-start.png", "in-place.png", "nested.png", "renamed.png", "slow.png"])
        XCTAssertEqual(harness.scored.current, 5, "a frame was scored twice")
        XCTAssertEqual(verdicts.filter { $0["verdict"] as? String == "ERROR" }.count, 0, "\(verdicts)")
        let renamed = harness.verdicts().first { ($0["frame"] as! String).hasSuffix("renamed.png") }!
        XCTAssertEqual(renamed["verdict"] as? String, "NG")
        XCTAssertEqual(renamed["camera"] as? String, "cam1")
        XCTAssertEqual(renamed["product"] as? String, "widget")
        XCTAssertEqual(renamed["model"] as? String, "test-model-1")
        XCTAssertEqual(renamed["precision"] as? String, "fp32")
        let outputs = renamed["outputs"] as! [String: String]
        for name in outputs.values {
            XCTAssertTrue(FileManager.default.fileExists(atPath: harness.spoolNew.appendingPathComponent(name).path), name)
        }
        XCTAssertEqual(Set(outputs.keys), ["heatmap", "mask"])
    }

    func testCorruptFrameIsQuarantinedWithAnErrorVerdictAndTheDaemonGoesOn() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        try await harness.start()
        let cam = harness.camera("cam1")
        var truncated = try DaemonHarness.frame(bright: false)
        truncated.removeLast(truncated.count / 2)
        try Data(truncated).write(to: cam.appendingPathComponent("broken.png"))
        try Data("not an image".utf8).write(to: cam.appendingPathComponent("text.jpg"))
        try Data(DaemonHarness.frame(bright: false)).write(to: cam.appendingPathComponent("good.png"))
        let verdicts = try await harness.waitForVerdicts(3)
        try await harness.stop()

        let byName = Dictionary(uniqueKeysWithValues: verdicts.map { (URL(fileURLWithPath: $0["frame"] as! String).lastPathComponent, $0) })
        XCTAssertEqual(byName["good.png"]?["verdict"] as? String, "OK")
        for name in ["broken.png", "text.jpg"] {
            let verdict = try XCTUnwrap(byName[name])
            XCTAssertEqual(verdict["verdict"] as? String, "ERROR")
            let reason = try XCTUnwrap(verdict["error"] as? String)
            XCTAssertTrue(reason.contains(name), "the reason names the file: \(reason)")
            let moved = try XCTUnwrap(verdict["quarantined_to"] as? String)
            XCTAssertTrue(FileManager.default.fileExists(atPath: moved), moved)
            XCTAssertFalse(FileManager.default.fileExists(atPath: cam.appendingPathComponent(name).path))
        }
        let metrics = try String(contentsOf: harness.root.appendingPathComponent("state/metrics/inspectd.prom"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("inspectd_quarantined_total 2"), metrics)
    }

    func testRestartScoresNothingTwiceAndFindsWhatArrivedWhileDown() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let cam = harness.camera("cam1")
        try await harness.start()
        for i in 0..<3 {
            try Data(DaemonHarness.frame(bright: false, seed: UInt8(i))).write(to: cam.appendingPathComponent("first-\(i).png"))
        }
        _ = try await harness.waitForVerdicts(3)
        try await harness.stop()

        try Data(DaemonHarness.frame(bright: true, seed: 9)).write(to: cam.appendingPathComponent("while-down.png"))
        // Same name, new content: a new frame.
        try Data(DaemonHarness.frame(bright: true, seed: 10)).write(to: cam.appendingPathComponent("first-0.png"))
        try await harness.start()
        _ = try await harness.waitForVerdicts(5)
        try await Task.sleep(for: .milliseconds(800))
        try await harness.stop()
        let frames = harness.verdicts().map { URL(fileURLWithPath: $0["frame"] as! String).lastPathComponent }.sorted()
        XCTAssertEqual(frames, ["first-0.png", "first-0.png", "first-1.png", "first-2.png", "while-down.png"])
        XCTAssertEqual(harness.scored.current, 5, "a frame was scored again after the restart")
    }

    /// Killed after the verdict reached the spool and before the frame index recorded it: the
    /// verdict in the spool counts as the record, so the frame is not scored a second time.
    func testAVerdictInTheSpoolWithoutAnIndexRecordIsNotScoredAgain() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let cam = harness.camera("cam1")
        try await harness.start()
        try Data(DaemonHarness.frame(bright: false)).write(to: cam.appendingPathComponent("a.png"))
        _ = try await harness.waitForVerdicts(1)
        try await harness.stop()
        try FileManager.default.removeItem(at: harness.root.appendingPathComponent("state/frames.index"))
        // A reader may have moved it to cur/ already.
        let verdict = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: harness.spoolNew.path).first { $0.hasSuffix(".json") })
        try FileManager.default.moveItem(at: harness.spoolNew.appendingPathComponent(verdict),
                                         to: harness.root.appendingPathComponent("spool/cur/\(verdict)"))
        // Older than the settle time, so the start-up scan offers it at once.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: cam.appendingPathComponent("a.png").path)

        try await harness.start()
        try Data(DaemonHarness.frame(bright: true)).write(to: cam.appendingPathComponent("b.png"))
        _ = try await harness.waitForVerdicts(1)
        try await Task.sleep(for: .milliseconds(500))
        try await harness.stop()
        XCTAssertEqual(harness.scored.current, 2, "a.png was scored again")
        let index = try String(contentsOf: harness.root.appendingPathComponent("state/frames.index"), encoding: .utf8)
        XCTAssertTrue(index.contains("/a.png"), "the frame is recorded again from its verdict")
    }

    /// Killed after a corrupt frame's ERROR verdict and before its move to the quarantine: the
    /// next start moves it, with no second verdict.
    func testAQuarantineCutShortByAKillIsCompletedAtTheNextStart() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let cam = harness.camera("cam1")
        try await harness.start()
        try Data("not an image".utf8).write(to: cam.appendingPathComponent("broken.png"))
        let first = try await harness.waitForVerdicts(1)
        let verdict = try XCTUnwrap(first.first)
        try await harness.stop()
        let quarantined = try XCTUnwrap(verdict["quarantined_to"] as? String)
        try FileManager.default.moveItem(atPath: quarantined, toPath: cam.appendingPathComponent("broken.png").path)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: cam.appendingPathComponent("broken.png").path)
        try FileManager.default.removeItem(at: harness.root.appendingPathComponent("state/frames.index"))

        try await harness.start()
        try Data(DaemonHarness.frame(bright: false)).write(to: cam.appendingPathComponent("next.png"))
        _ = try await harness.waitForVerdicts(2)
        try await harness.stop()
        XCTAssertTrue(FileManager.default.fileExists(atPath: quarantined))
        XCTAssertFalse(FileManager.default.fileExists(atPath: cam.appendingPathComponent("broken.png").path))
        XCTAssertEqual(harness.verdicts().count, 2)
    }

    func testBurstThroughATinyQueueGivesEachFrameOneVerdict() async throws {
        let harness = try DaemonHarness(daemonExtra: "queue_capacity = 2")
        defer { harness.cleanUp() }
        try await harness.start()
        let cam = harness.camera("cam1")
        let count = 120
        for i in 0..<count {
            try Data(DaemonHarness.frame(bright: i % 10 == 0, seed: UInt8(i % 200))).write(to: cam.appendingPathComponent("burst-\(i).png"))
        }
        _ = try await harness.waitForVerdicts(count, timeout: 60)
        try await Task.sleep(for: .milliseconds(800))
        try await harness.stop()
        let frames = harness.verdicts().map { $0["frame"] as! String }
        XCTAssertEqual(frames.count, count)
        XCTAssertEqual(Set(frames).count, count)
        XCTAssertEqual(harness.scored.current, count, "a frame was scored twice")
    }

    func testArchiveRuleMovesScoredFramesAndKeepsTheirSubfolders() async throws {
        let archive = FileManager.default.temporaryDirectory.appendingPathComponent("archive-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: archive) }
        let harness = try DaemonHarness(cameraExtra: "after = \"archive\"\narchive_dir = \"\(archive.path)\"")
        defer { harness.cleanUp() }
        try await harness.start()
        let sub = harness.camera("cam1").appendingPathComponent("lot7")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try Data(DaemonHarness.frame(bright: false)).write(to: sub.appendingPathComponent("a.png"))
        _ = try await harness.waitForVerdicts(1)
        try await Task.sleep(for: .milliseconds(300))
        try await harness.stop()
        XCTAssertTrue(FileManager.default.fileExists(atPath: archive.appendingPathComponent("lot7/a.png").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: sub.appendingPathComponent("a.png").path))
    }
}

final class DaemonRulesTests: XCTestCase {
    func testDeleteRuleRemovesScoredFramesButKeepsQuarantinedOnes() async throws {
        let harness = try DaemonHarness(cameraExtra: "after = \"delete\"")
        defer { harness.cleanUp() }
        try await harness.start()
        let cam = harness.camera("cam1")
        try Data(DaemonHarness.frame(bright: false)).write(to: cam.appendingPathComponent("a.png"))
        try Data("junk".utf8).write(to: cam.appendingPathComponent("junk.png"))
        let verdicts = try await harness.waitForVerdicts(2)
        try await Task.sleep(for: .milliseconds(300))
        try await harness.stop()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cam.path), [])
        let junk = try XCTUnwrap(verdicts.first { ($0["frame"] as! String).hasSuffix("junk.png") })
        XCTAssertTrue(FileManager.default.fileExists(atPath: junk["quarantined_to"] as! String))
    }

    func testProductFromSubfolderAndAFrameOutsideAnySubfolderIsAnError() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let config = try String(contentsOf: harness.configFile, encoding: .utf8)
        try config.replacingOccurrences(of: "product = \"widget\"", with: "product_from = \"subfolder\"")
            .write(to: harness.configFile, atomically: true, encoding: .utf8)
        try await harness.start()
        let cam = harness.camera("cam1")
        for product in ["widget", "gadget", "unknown"] {
            try FileManager.default.createDirectory(at: cam.appendingPathComponent(product), withIntermediateDirectories: true)
            try Data(DaemonHarness.frame(bright: false)).write(to: cam.appendingPathComponent("\(product)/f.png"))
        }
        try Data(DaemonHarness.frame(bright: false)).write(to: cam.appendingPathComponent("loose.png"))
        let verdicts = try await harness.waitForVerdicts(4)
        try await harness.stop()
        func verdict(_ suffix: String) -> [String: Any]? { verdicts.first { ($0["frame"] as! String).hasSuffix(suffix) } }
        XCTAssertEqual(verdict("widget/f.png")?["product"] as? String, "widget")
        XCTAssertEqual(verdict("gadget/f.png")?["verdict"] as? String, "OK")
        XCTAssertEqual(verdict("unknown/f.png")?["verdict"] as? String, "ERROR")
        XCTAssertTrue((verdict("unknown/f.png")?["error"] as? String)?.contains("unknown") ?? false)
        XCTAssertEqual(verdict("loose.png")?["verdict"] as? String, "ERROR")
        XCTAssertTrue((verdict("loose.png")?["error"] as? String)?.contains("subfolder") ?? false)
        // Not the frames' fault: they stay where they are.
        XCTAssertTrue(FileManager.default.fileExists(atPath: cam.appendingPathComponent("loose.png").path))
    }

    func testReloadStartsWatchingANewCameraAndKeepsTheOldConfigurationWhenTheNewOneIsBad() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        try await harness.start()
        let daemon = try XCTUnwrap(harness.daemon)
        let good = try String(contentsOf: harness.configFile, encoding: .utf8)

        try (good + "\nbogus_key = 1\n").write(to: harness.configFile, atomically: true, encoding: .utf8)
        await daemon.reload()
        try Data(DaemonHarness.frame(bright: false)).write(to: harness.camera("cam1").appendingPathComponent("still-watched.png"))
        _ = try await harness.waitForVerdicts(1)

        let cam2 = harness.camera("cam2")
        try FileManager.default.createDirectory(at: cam2, withIntermediateDirectories: true)
        try (good + "\n[[camera]]\nname = \"cam2\"\nfolder = \"\(cam2.path)\"\nproduct = \"gadget\"\n")
            .write(to: harness.configFile, atomically: true, encoding: .utf8)
        await daemon.reload()
        try Data(DaemonHarness.frame(bright: true)).write(to: cam2.appendingPathComponent("new-camera.png"))
        let verdicts = try await harness.waitForVerdicts(2)
        try await harness.stop()
        let second = try XCTUnwrap(verdicts.first { ($0["frame"] as! String).hasSuffix("new-camera.png") })
        XCTAssertEqual(second["camera"] as? String, "cam2")
        XCTAssertEqual(second["product"] as? String, "gadget")
        XCTAssertEqual(second["verdict"] as? String, "NG")
    }
}

final class StateLockTests: XCTestCase {
    func testASecondDaemonOnTheSameStateFolderIsRefusedUntilTheFirstStops() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        try await harness.start()
        XCTAssertThrowsError(try InspectionDaemon(configFile: harness.configFile.path, logger: DaemonHarness.quietLogger) { _ in nil }) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("inspectd.lock") && text.contains("pid \(getpid())"), text)
        }
        try await harness.stop()
        XCTAssertNoThrow(try InspectionDaemon(configFile: harness.configFile.path, logger: DaemonHarness.quietLogger) { _ in nil })
    }
}

/// SIGTERM (the ServiceGroup's graceful shutdown) finishes the batch being scored and no more: the
/// frames still queued are left in their folder, unrecorded, and the next start scores each once.
final class ShutdownTests: XCTestCase {
    func testAStopFinishesTheBatchInFlightAndLeavesTheQueueToTheNextStart() async throws {
        let harness = try DaemonHarness(daemonExtra: "batch_max = 2")
        defer { harness.cleanUp() }
        let scored = harness.scored
        try await harness.start(scorer: BrightnessScorer(calls: scored, delay: 0.2))
        let cam = harness.camera("cam1")
        let count = 30
        for i in 0..<count {
            try Data(DaemonHarness.frame(bright: i % 3 == 0, seed: UInt8(i))).write(to: cam.appendingPathComponent(String(format: "f%02d.png", i)))
        }
        _ = try await harness.waitForVerdicts(1)
        let stopping = ContinuousClock.now
        try await harness.stop()
        let stopTook = ContinuousClock.now - stopping
        let atStop = harness.verdicts().count
        XCTAssertLessThan(atStop, 8, "the stop scored the queue instead of the batch in flight")
        XCTAssertLessThan(stopTook, .seconds(1.5), "stopping took \(stopTook)")
        XCTAssertEqual(scored.current, atStop, "every frame scored has its verdict")

        try await harness.start()
        _ = try await harness.waitForVerdicts(count)
        try await Task.sleep(for: .milliseconds(500))
        try await harness.stop()
        let frames = harness.verdicts().map { URL(fileURLWithPath: $0["frame"] as! String).lastPathComponent }
        XCTAssertEqual(frames.count, count)
        XCTAssertEqual(Set(frames).count, count)
        XCTAssertEqual(scored.current, count, "no frame scored twice across the restart")
    }
}
