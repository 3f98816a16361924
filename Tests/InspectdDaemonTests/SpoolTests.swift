import Foundation
import InspectdFiles
import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import InspectdDaemon

final class SpoolTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func testDeliveryLeavesCompleteFilesInNewAndNothingInTmp() throws {
        let spool = try Spool(root: root)
        let picture = [UInt8](repeating: 7, count: 10_000)
        try spool.deliver(basename: "cam-a-0123", pictures: [("cam-a-0123.heatmap.png", picture)], verdict: Data("{\"x\":1}\n".utf8))
        let delivered = try FileManager.default.contentsOfDirectory(atPath: spool.incoming.path).sorted()
        XCTAssertEqual(delivered, ["cam-a-0123.heatmap.png", "cam-a-0123.json"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: spool.staging.path), [])
        XCTAssertEqual(try [UInt8](Data(contentsOf: spool.incoming.appendingPathComponent("cam-a-0123.heatmap.png"))), picture)
        XCTAssertTrue(FileManager.default.fileExists(atPath: spool.handled.path))
    }

    func testBasenameIsStableSafeAndUniquePerPathAndContent() {
        let frame = RawPath("/cams/line 1/frame #7.png")
        let sha = String(repeating: "ab", count: 32)
        let a = Spool.basename(camera: "top", frame: frame, sha256: sha)
        XCTAssertTrue(a.hasPrefix("top-frame__7-"), a)
        XCTAssertEqual(a.count, "top-frame__7-".count + 12)
        XCTAssertEqual(a, Spool.basename(camera: "top", frame: frame, sha256: sha))
        XCTAssertNotEqual(a, Spool.basename(camera: "top", frame: RawPath("/cams/line 2/frame #7.png"), sha256: sha))
        XCTAssertNotEqual(a, Spool.basename(camera: "top", frame: frame, sha256: String(repeating: "cd", count: 32)))
        // Names that differ only in bytes that are not UTF-8 show alike but never share a basename.
        let latin1 = Spool.basename(camera: "top", frame: RawPath(bytes: Array("/cams/f".utf8) + [0xE9] + Array(".png".utf8)), sha256: sha)
        let stray = Spool.basename(camera: "top", frame: RawPath(bytes: Array("/cams/f".utf8) + [0xFF] + Array(".png".utf8)), sha256: sha)
        XCTAssertTrue(latin1.hasPrefix("top-f_-"), latin1)
        XCTAssertNotEqual(latin1, stray)
        XCTAssertTrue(latin1.utf8.allSatisfy { $0 < 0x80 })
    }

    /// Every file lands in `new/` by a rename, the verdict last: a reader that sees a verdict
    /// finds its pictures. Checked on the kernel's own record of the renames (inotify), in order.
    func testTheVerdictIsRenamedIntoNewAfterItsPictures() throws {
        let spool = try Spool(root: root)
        let watcher = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        XCTAssertGreaterThanOrEqual(watcher, 0)
        defer { close(watcher) }
        XCTAssertGreaterThanOrEqual(inotify_add_watch(watcher, spool.incoming.path, UInt32(IN_MOVED_TO | IN_CLOSE_WRITE)), 0)
        let pictures = ["v.heatmap.png", "v.overlay.png", "v.mask.png"].map { ($0, [UInt8](repeating: 1, count: 5000)) }
        try spool.deliver(basename: "v", pictures: pictures, verdict: Data("{}\n".utf8))

        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = read(watcher, &buffer, buffer.count)
        XCTAssertGreaterThan(count, 0)
        var events: [(mask: UInt32, name: String)] = []
        var offset = 0
        buffer.withUnsafeBytes { raw in
            while offset + MemoryLayout<inotify_event>.size <= count {
                let mask = raw.load(fromByteOffset: offset + 4, as: UInt32.self)
                let length = Int(raw.load(fromByteOffset: offset + 12, as: UInt32.self))
                let start = offset + MemoryLayout<inotify_event>.size
                let name = String(decoding: raw[start..<(start + length)].prefix { $0 != 0 }, as: UTF8.self)
                events.append((mask, name))
                offset = start + length
            }
        }
        // Nothing is written in place in new/, and the verdict comes after all its pictures.
        XCTAssertTrue(events.allSatisfy { $0.mask & UInt32(IN_MOVED_TO) != 0 }, "\(events)")
        XCTAssertEqual(events.map(\.name).last, "v.json")
        XCTAssertEqual(Set(events.dropLast().map(\.name)), Set(pictures.map(\.0)))
    }

    /// A reader polling `new/` while verdicts are delivered must only ever see whole files.
    func testConcurrentReaderNeverSeesPartialVerdicts() throws {
        let spool = try Spool(root: root)
        let payload = String(repeating: "x", count: 200_000)
        let done = Locked(false)
        let result = Locked<(seen: Int, partial: Int)?>(nil)
        let reader = Thread {
            var seen = Set<String>()
            var partial = 0
            while !done.current {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: spool.incoming.path)) ?? [] where name.hasSuffix(".json") {
                    guard let data = try? Data(contentsOf: spool.incoming.appendingPathComponent(name)) else { continue }
                    if (try? JSONSerialization.jsonObject(with: data)) == nil { partial += 1 }
                    seen.insert(name)
                }
            }
            result.update { $0 = (seen.count, partial) }
        }
        reader.start()
        for i in 0..<60 {
            let verdict = try JSONSerialization.data(withJSONObject: ["i": i, "pad": payload])
            try spool.deliver(basename: "b\(i)", pictures: [], verdict: verdict)
        }
        done.update { $0 = true }
        while result.current == nil { usleep(1000) }
        XCTAssertEqual(result.current?.partial, 0, "the reader saw a partial verdict")
        XCTAssertGreaterThan(result.current?.seen ?? 0, 0)
    }
}
