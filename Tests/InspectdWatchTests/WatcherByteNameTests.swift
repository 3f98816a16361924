import Foundation
import InspectdFiles
import InspectdWatch
import Testing

/// Frame names that are not UTF-8 (a Latin-1 camera, a stray byte) arrive with their exact bytes,
/// at start-up, live and when polled, so the file they name is the file on disk.
@Suite struct WatcherByteNameTests {
    static let latin1: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".png".utf8)
    static let stray: [UInt8] = Array("bad".utf8) + [0xFF] + Array(".png".utf8)

    enum Mode: String, CaseIterable { case startup, live, polled }

    @Test(arguments: Mode.allCases)
    func namesThatAreNotUTF8ArriveWithTheirBytes(mode: Mode) async throws {
        let folder = try TemporaryFolder()
        let subfolder: [UInt8] = Array("lot".utf8) + [0xB5]
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        try RawFile.createFolders(RawPath(folder.url).appending(RawPath(bytes: subfolder)))
        var expected: [RawPath] = []
        func writeFrames() throws {
            expected.append(try folder.writeRaw(Self.latin1))
            expected.append(try folder.writeRaw(Self.stray))
            expected.append(try folder.writeRaw(subfolder + Array("/x".utf8) + [0xFE] + Array(".png".utf8)))
        }
        if mode == .startup {
            try writeFrames()
        }
        let run = WatchRun(cameras: [camera(folder.url, pollInterval: mode == .polled ? .milliseconds(100) : nil)],
                           settle: .milliseconds(50))
        #expect(await run.started())
        if mode != .startup { try writeFrames() }
        #expect(await eventually { Set(run.arrivals.map(\.path)) == Set(expected) })
        await run.stop()
        for arrival in run.arrivals {
            // The path names the very file: it can be stat'ed and read.
            #expect(FileStamp(path: arrival.path)?.size == 256, "\(arrival.path)")
            #expect(try RawFile.read(arrival.path).count == 256)
        }
        let nested = try #require(run.arrivals.first { $0.path == expected[2] })
        #expect(nested.subfolder == "lot\\xb5")
        #expect(run.arrivals.first { $0.path == expected[1] }?.path.description.hasSuffix("/bad\\xff.png") == true)
    }
}

@Suite struct RawPathIndexTests {
    @Test func byteNamesSurviveTheIndexOnDisk() throws {
        let folder = try TemporaryFolder()
        let file = folder.path("index.log")
        let stamp = FileStamp(size: 10, mtime: Date(timeIntervalSince1970: 1_700_000_000))
        let sha = SHA256.hex(Array("frame".utf8))
        let odd = RawPath(bytes: Array("/cam/bad".utf8) + [0xFF, 0x5C, 0x0A, 0x09] + Array(".png".utf8))
        let lookalike = RawPath(bytes: Array("/cam/bad".utf8) + [0xFE, 0x5C, 0x0A, 0x09] + Array(".png".utf8))
        do {
            let index = try FrameIndex(file: file)
            try index.record(path: odd, sha256: sha, stamp: stamp)
        }
        let reopened = try FrameIndex(file: file)
        #expect(reopened.contains(path: odd, sha256: sha))
        #expect(!reopened.contains(path: lookalike, sha256: sha))
        #expect(reopened.knownHash(path: odd, stamp: stamp) == sha)
        try reopened.compact()
        #expect(try FrameIndex(file: file).contains(path: odd, sha256: sha))
    }
}
