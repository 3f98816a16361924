import Foundation
import InspectdFiles
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Frames whose names are not UTF-8 are scored, quarantined, archived and remembered across a
/// restart like any other; the verdict shows the name escaped and carries its exact bytes.
final class ByteNameTests: XCTestCase {
    static func write(_ bytes: [UInt8], to path: RawPath) throws {
        let descriptor = path.withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard descriptor >= 0 else { throw AtomicFile.Failure(path: path.description, reason: "cannot create") }
        defer { close(descriptor) }
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress!, $0.count) }, bytes.count)
    }

    func testFramesWithNamesThatAreNotUTF8GetOneVerdictEachAcrossARestart() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        try await harness.start()
        let cam = RawPath(harness.camera("cam1"))
        let ok = cam.appending(RawPath(bytes: Array("bad".utf8) + [0xFF] + Array(".png".utf8)))
        let ng = cam.appending(RawPath(bytes: Array("caf".utf8) + [0xE9] + Array(".png".utf8)))
        let broken = cam.appending(RawPath(bytes: Array("broken".utf8) + [0xFE] + Array(".png".utf8)))
        try Self.write(DaemonHarness.frame(bright: false), to: ok)
        try Self.write(DaemonHarness.frame(bright: true), to: ng)
        try Self.write(Array("not an image".utf8), to: broken)
        let verdicts = try await harness.waitForVerdicts(3)
        try await harness.stop()

        var byPath: [RawPath: [String: Any]] = [:]
        for verdict in verdicts {
            let exact = try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(verdict["frame_base64"] as? String)))
            let path = RawPath(bytes: exact)
            XCTAssertEqual(verdict["frame"] as? String, path.description)
            byPath[path] = verdict
        }
        XCTAssertEqual(byPath[ok]?["verdict"] as? String, "OK")
        XCTAssertTrue((byPath[ok]?["frame"] as? String)?.hasSuffix("/bad\\xff.png") == true)
        XCTAssertEqual(byPath[ng]?["verdict"] as? String, "NG")
        let error = try XCTUnwrap(byPath[broken])
        XCTAssertEqual(error["verdict"] as? String, "ERROR")
        // Quarantined under its own bytes.
        let quarantined = RawPath(harness.quarantine).appending("cam1").appending(broken.lastComponent)
        XCTAssertEqual(error["quarantined_to"] as? String, quarantined.description)
        XCTAssertTrue(RawFile.exists(quarantined))
        XCTAssertFalse(RawFile.exists(broken))
        // Spool names are plain ASCII whatever the frame's name.
        let spoolNames = try FileManager.default.contentsOfDirectory(atPath: harness.spoolNew.path)
        XCTAssertTrue(spoolNames.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: "\\") } }, "\(spoolNames)")

        try await harness.start()
        try await Task.sleep(for: .milliseconds(800))
        try await harness.stop()
        XCTAssertEqual(harness.verdicts().count, 3)
        XCTAssertEqual(harness.scored.current, 2, "a frame was scored again after the restart")
    }

    func testArchiveKeepsSubfoldersAndNamesThatAreNotUTF8() async throws {
        let archive = FileManager.default.temporaryDirectory.appendingPathComponent("archive-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: archive) }
        let harness = try DaemonHarness(cameraExtra: "after = \"archive\"\narchive_dir = \"\(archive.path)\"")
        defer { harness.cleanUp() }
        try await harness.start()
        let lot = RawPath(bytes: Array("lot".utf8) + [0xB5])
        let name = RawPath(bytes: Array("f".utf8) + [0xFF] + Array(".png".utf8))
        let folder = RawPath(harness.camera("cam1")).appending(lot)
        try RawFile.createFolders(folder)
        try Self.write(DaemonHarness.frame(bright: false), to: folder.appending(name))
        _ = try await harness.waitForVerdicts(1)
        try await Task.sleep(for: .milliseconds(300))
        try await harness.stop()
        XCTAssertTrue(RawFile.exists(RawPath(archive).appending(lot).appending(name)))
        XCTAssertFalse(RawFile.exists(folder.appending(name)))
    }
}
