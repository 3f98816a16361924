import Foundation
import InspectdImage
import Testing

@Suite struct DecodingEntryPointTests {
    @Test func formatComesFromBytesNotExtension() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = randomImage(width: 9, height: 7, format: .rgba, seed: 4)
        let path = directory.appendingPathComponent("mislabelled.jpg").path
        try Data(PNG.encode(image)).write(to: URL(fileURLWithPath: path))
        #expect(try Image(contentsOfFile: path) == image)
    }

    @Test func dataAndByteArraysDecodeAlike() throws {
        let bytes = try JPEG.encode(smoothImage(width: 20, height: 10, format: .grey))
        #expect(try Image(decoding: Data(bytes)) == Image(decoding: bytes))
    }

    @Test func detection() {
        #expect(ImageFormat(detecting: [0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(ImageFormat(detecting: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]) == .png)
        #expect(ImageFormat(detecting: [0xFF, 0xD8]) == nil)
        #expect(ImageFormat(detecting: Array("GIF89a".utf8)) == nil)
    }

    @Test func directoryIsUnreadable() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = try #require(throws: ImageError.self) { try Image(contentsOfFile: directory.path) }
        #expect(error.reason == .unreadable("is a directory"))
    }
}
