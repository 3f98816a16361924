import Foundation
import InspectdFiles
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct RawPathTests {
    let stray = RawPath(bytes: Array("/cam/lot1/bad".utf8) + [0xFF] + Array(".png".utf8))

    @Test func showsValidUTF8AsItIsAndOtherBytesEscaped() {
        #expect(RawPath("/cam/café.png").description == "/cam/café.png")
        #expect(stray.description == "/cam/lot1/bad\\xff.png")
        #expect(stray.string == nil)
        // A truncated sequence, a lone continuation byte, an overlong encoding and a surrogate.
        #expect(RawPath(bytes: [0x61, 0xC3]).description == "a\\xc3")
        #expect(RawPath(bytes: [0x80, 0x61]).description == "\\x80a")
        #expect(RawPath(bytes: [0xC0, 0xAF]).description == "\\xc0\\xaf")
        #expect(RawPath(bytes: [0xED, 0xA0, 0x80]).description == "\\xed\\xa0\\x80")
        #expect(RawPath(bytes: [0xE2, 0x82, 0xAC, 0xFF]).description == "€\\xff")
    }

    @Test func splitsOnBytes() {
        #expect(stray.lastComponent.bytes == Array("bad".utf8) + [0xFF] + Array(".png".utf8))
        #expect(stray.parent == "/cam/lot1")
        #expect(stray.stemAndExtension.stem.bytes == Array("bad".utf8) + [0xFF])
        #expect(stray.stemAndExtension.ext == "png")
        #expect(RawPath("/cam/.hidden").stemAndExtension.ext == nil)
        #expect(stray.relative(to: "/cam") == RawPath(bytes: stray.bytes.dropFirst(5)))
        #expect(stray.relative(to: "/cam/") == stray.relative(to: "/cam"))
        #expect(stray.relative(to: "/ca") == nil)
        #expect(RawPath("/cam").relative(to: "/cam") == nil)
        #expect(RawPath("/a//b/").components == ["a", "b"])
        #expect(RawPath("/a").appending("b") == "/a/b")
        #expect(RawPath("/a/").appending("b") == "/a/b")
    }

    @Test func filesWithByteNamesAreReadMovedAndRemoved() throws {
        let root = RawPath(FileManager.default.temporaryDirectory.appendingPathComponent("rawpath-\(UUID().uuidString)"))
        defer { try? FileManager.default.removeItem(atPath: root.description) }
        let folder = root.appending(RawPath(bytes: Array("lot".utf8) + [0xB5]))
        try RawFile.createFolders(folder)
        let source = folder.appending(RawPath(bytes: [0x66, 0xFF, 0x2E, 0x70, 0x6E, 0x67]))
        let descriptor = source.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
        #expect(descriptor >= 0)
        _ = [UInt8](repeating: 9, count: 100).withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
        close(descriptor)
        #expect(try RawFile.read(source) == [UInt8](repeating: 9, count: 100))

        let target = root.appending(RawPath(bytes: [0xE9, 0x2E, 0x70, 0x6E, 0x67]))
        try RawFile.move(source, to: target)
        #expect(!RawFile.exists(source))
        #expect(try RawFile.read(target).count == 100)
        try RawFile.remove(target)
        try RawFile.remove(target)  // gone already: no error
        #expect(!RawFile.exists(target))
        #expect(throws: AtomicFile.Failure.self) { try RawFile.read(target) }
    }
}
