import Foundation
import InspectdSystemd
import Logging
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A spool that cannot be written (a full disk, a read-only mount, folders removed) pauses
/// inspection: no frame is lost or recorded as done, the journal says so once, and scoring goes on
/// by itself when the spool takes files again.
final class SpoolBlockedTests: XCTestCase {
    func eventually(timeout: TimeInterval = 20, _ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    /// The spool's `tmp/` replaced by a file: every write into the spool fails, whatever the user.
    func testAnUnwritableSpoolPausesInspectionAndLosesNothing() async throws {
        let records = Locked<[CapturedRecord]>([])
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let logger = CapturingHandler.logger(into: records)
        try await harness.start(logger: logger)
        let cam = harness.camera("cam1")
        try Data(DaemonHarness.frame(bright: false, seed: 0)).write(to: cam.appendingPathComponent("before.png"))
        _ = try await harness.waitForVerdicts(1)

        let staging = harness.root.appendingPathComponent("spool/tmp")
        try FileManager.default.removeItem(at: staging)
        try Data("in the way".utf8).write(to: staging)
        for i in 1...3 {
            try Data(DaemonHarness.frame(bright: i == 2, seed: UInt8(i))).write(to: cam.appendingPathComponent("during-\(i).png"))
        }
        let paused = try await eventually { harness.metric("inspectd_spool_writable") == "0" }
        XCTAssertTrue(paused, "the metrics never showed the pause")
        try await Task.sleep(for: .seconds(1))
        XCTAssertEqual(harness.verdicts().count, 1)
        for i in 1...3 { XCTAssertTrue(FileManager.default.fileExists(atPath: cam.appendingPathComponent("during-\(i).png").path)) }
        let blocked = records.current.filter { $0.metadata[JournalField.messageID] == .string(JournalMessageID.spoolBlocked.id) }
        XCTAssertEqual(blocked.count, 1, "said once, not per frame or per retry")
        XCTAssertEqual(blocked.first?.level, .critical)
        XCTAssertNotNil(blocked.first?.metadata[JournalField.reason])

        try FileManager.default.removeItem(at: staging)
        let verdicts = try await harness.waitForVerdicts(4)
        try await harness.stop()
        let frames = verdicts.map { URL(fileURLWithPath: $0["frame"] as! String).lastPathComponent }.sorted()
        XCTAssertEqual(frames, ["before.png", "during-1.png", "during-2.png", "during-3.png"])
        XCTAssertTrue(records.current.contains { $0.metadata[JournalField.messageID] == .string(JournalMessageID.spoolResumed.id) })
        XCTAssertEqual(harness.metric("inspectd_spool_writable"), "1")
        XCTAssertEqual(harness.metric("inspectd_spool_blocked_total"), "1")
    }

    /// A real full disk: the spool on a 256 KiB tmpfs, made larger while the daemon waits. Needs
    /// the right to mount (root in a container that allows it); skipped elsewhere.
    func testASpoolOnAFullFileSystemResumesWhenSpaceReturns() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let spool = harness.root.appendingPathComponent("spool")
        try FileManager.default.createDirectory(at: spool, withIntermediateDirectories: true)
        guard geteuid() == 0, Self.mount(["-t", "tmpfs", "-o", "size=256k", "tmpfs", spool.path]) else {
            throw XCTSkip("cannot mount a tmpfs here (needs root and a container that allows mounts)")
        }
        defer { _ = Self.mount([spool.path], command: "/bin/umount") }
        // Full but for two pages: a frame's verdict and pictures take four files of a page or more.
        try Data(count: 248 * 1024).write(to: spool.appendingPathComponent("filler"))
        try await harness.start()
        let cam = harness.camera("cam1")
        for i in 0..<6 {
            try Data(DaemonHarness.frame(bright: false, seed: UInt8(i))).write(to: cam.appendingPathComponent("f\(i).png"))
        }
        let paused = try await eventually { harness.metric("inspectd_spool_writable") == "0" }
        XCTAssertTrue(paused, "the spool never filled up")
        XCTAssertTrue(Self.mount(["-o", "remount,size=64m", spool.path]))
        let verdicts = try await harness.waitForVerdicts(6, timeout: 30)
        try await harness.stop()
        XCTAssertEqual(Set(verdicts.map { URL(fileURLWithPath: $0["frame"] as! String).lastPathComponent }), Set((0..<6).map { "f\($0).png" }))
    }

    static func mount(_ arguments: [String], command: String = "/bin/mount") -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
