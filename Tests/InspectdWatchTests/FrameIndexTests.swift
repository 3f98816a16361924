import Foundation
import InspectdFiles
import InspectdWatch
import Testing

@Suite struct FrameIndexTests {
    let shaA = SHA256.hex(Array("frame a".utf8))
    let shaB = SHA256.hex(Array("frame b".utf8))
    let stamp = FileStamp(size: 1234, mtime: Date(timeIntervalSince1970: 1_700_000_000.123456789))

    func lines(_ file: URL) throws -> [String] {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func recordsSurviveAReopen() throws {
        let folder = try TemporaryFolder()
        let file = folder.path("index.log")
        do {
            let index = try FrameIndex(file: file)
            try index.record(path: "/cam/a.png", sha256: shaA, stamp: stamp)
            try index.record(path: "/cam/odd\tname\nwith\\escapes.png", sha256: shaB, stamp: stamp)
        }
        let index = try FrameIndex(file: file)
        #expect(index.count == 2)
        #expect(index.contains(path: "/cam/a.png", sha256: shaA))
        #expect(!index.contains(path: "/cam/a.png", sha256: shaB))
        #expect(index.contains(path: "/cam/odd\tname\nwith\\escapes.png", sha256: shaB))
        let record = try #require(index.lastRecord(path: "/cam/a.png"))
        #expect(record.sha256 == shaA && record.size == 1234)
        // The modification time comes back bit for bit, or the stamp check would always miss.
        #expect(record.mtime == stamp.mtime)
        #expect(index.knownHash(path: "/cam/a.png", stamp: stamp) == shaA)
        #expect(index.knownHash(path: "/cam/a.png", stamp: FileStamp(size: 1235, mtime: stamp.mtime)) == nil)
        #expect(index.lastRecord(path: "/cam/missing.png") == nil)
    }

    @Test func newContentUnderAnOldPathIsANewFrame() throws {
        let folder = try TemporaryFolder()
        let index = try FrameIndex(file: folder.path("index.log"))
        try index.record(path: "/cam/a.png", sha256: shaA, stamp: stamp)
        #expect(!index.contains(path: "/cam/a.png", sha256: shaB))
        try index.record(path: "/cam/a.png", sha256: shaB, stamp: stamp)
        #expect(index.contains(path: "/cam/a.png", sha256: shaB))
        #expect(index.count == 1)
        // Recording the same frame again writes nothing.
        try index.record(path: "/cam/a.png", sha256: shaB, stamp: stamp)
        #expect(try lines(index.file).count == 3)
    }

    @Test func aTornLastLineIsDroppedAndTheNextRecordIsClean() throws {
        let folder = try TemporaryFolder()
        let file = folder.path("index.log")
        do {
            let index = try FrameIndex(file: file)
            try index.record(path: "/cam/a.png", sha256: shaA, stamp: stamp)
        }
        // What a crash in the middle of an append leaves.
        let handle = try FileHandle(forWritingTo: file)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("+\t\(shaB.prefix(20))".utf8))
        try handle.close()

        let index = try FrameIndex(file: file)
        #expect(index.count == 1)
        try index.record(path: "/cam/b.png", sha256: shaB, stamp: stamp)
        let reopened = try FrameIndex(file: file)
        #expect(reopened.contains(path: "/cam/a.png", sha256: shaA))
        #expect(reopened.contains(path: "/cam/b.png", sha256: shaB))
        #expect(try lines(file).count == 3)
    }

    @Test func aCorruptLineInTheMiddleIsAnErrorNamingFileAndLine() throws {
        let folder = try TemporaryFolder()
        let file = folder.path("index.log")
        do {
            let index = try FrameIndex(file: file)
            try index.record(path: "/cam/a.png", sha256: shaA, stamp: stamp)
            try index.record(path: "/cam/b.png", sha256: shaB, stamp: stamp)
        }
        var text = try lines(file)
        text[1] = "+\tnot-a-hash\t1\t2\t/cam/a.png"
        try (text.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        do {
            _ = try FrameIndex(file: file)
            Issue.record("a corrupt index opened")
        } catch let failure as WatchFailure {
            #expect(failure.path == file.path)
            #expect(failure.reason.contains("line 2"))
        }

        try "something else\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: WatchFailure.self) { try FrameIndex(file: file) }
    }

    @Test func rejectsAMalformedHash() throws {
        let folder = try TemporaryFolder()
        let index = try FrameIndex(file: folder.path("index.log"))
        #expect(throws: WatchFailure.self) { try index.record(path: "/cam/a.png", sha256: "ABC", stamp: stamp) }
        #expect(throws: WatchFailure.self) { try index.record(path: "/cam/a.png", sha256: shaA.uppercased(), stamp: stamp) }
        #expect(index.count == 0)
    }

    @Test func forgottenPathsStayForgotten() throws {
        let folder = try TemporaryFolder()
        let file = folder.path("index.log")
        do {
            let index = try FrameIndex(file: file)
            try index.record(path: "/cam/a.png", sha256: shaA, stamp: stamp)
            try index.record(path: "/cam/b.png", sha256: shaB, stamp: stamp)
            try index.forget(path: "/cam/a.png")
            try index.forget(path: "/cam/never-recorded.png")
        }
        let index = try FrameIndex(file: file)
        #expect(index.lastRecord(path: "/cam/a.png") == nil)
        #expect(index.contains(path: "/cam/b.png", sha256: shaB))
        #expect(try lines(file).count == 4)   // header, two records, one forget
    }

    @Test func compactsWhenStaleLinesPileUp() throws {
        let folder = try TemporaryFolder()
        let file = folder.path("index.log")
        let index = try FrameIndex(file: file, compactionThreshold: 10)
        // One path rewritten over and over: every record but the last goes stale.
        for i in 0..<25 {
            try index.record(path: "/cam/ring.png", sha256: SHA256.hex(Array("v\(i)".utf8)), stamp: stamp)
        }
        try index.record(path: "/cam/other.png", sha256: shaA, stamp: stamp)
        #expect(try lines(file).count < 14)
        let reopened = try FrameIndex(file: file)
        #expect(reopened.count == 2)
        #expect(reopened.contains(path: "/cam/ring.png", sha256: SHA256.hex(Array("v24".utf8))))
        #expect(reopened.contains(path: "/cam/other.png", sha256: shaA))
        // Appends after a compaction land in the new file, not the replaced one.
        try index.record(path: "/cam/late.png", sha256: shaB, stamp: stamp)
        #expect(try FrameIndex(file: file).contains(path: "/cam/late.png", sha256: shaB))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path) == ["index.log"])
    }

    @Test func explicitCompactionKeepsOnlyLiveRecords() throws {
        let folder = try TemporaryFolder()
        let file = folder.path("index.log")
        let index = try FrameIndex(file: file)
        try index.record(path: "/cam/a.png", sha256: shaA, stamp: stamp)
        try index.record(path: "/cam/a.png", sha256: shaB, stamp: stamp)
        try index.record(path: "/cam/b.png", sha256: shaA, stamp: stamp)
        try index.forget(path: "/cam/b.png")
        try index.compact()
        #expect(try lines(file) == ["inspectd-frame-index 1", "+\t\(shaB)\t1234\t\(stamp.mtime.timeIntervalSince1970)\t/cam/a.png"])
    }

    @Test func concurrentRecordsAreAllKept() async throws {
        let folder = try TemporaryFolder()
        let file = folder.path("index.log")
        let index = try FrameIndex(file: file)
        let stamp = self.stamp
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask {
                    for i in 0..<50 {
                        try? index.record(path: RawPath("/cam/t\(t)-\(i).png"), sha256: SHA256.hex(Array("\(t)-\(i)".utf8)), stamp: stamp)
                    }
                }
            }
        }
        #expect(index.count == 200)
        #expect(try FrameIndex(file: file).count == 200)
    }
}
