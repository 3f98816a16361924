import Foundation
import InspectdImage
import Testing

/// Damaged input must surface as an ImageError naming the source, never as a
/// crash or a silently grey-filled image.
@Suite struct CorruptInputTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case baselineJPEG, progressiveJPEG, cmykJPEG, png
        var testDescription: String { rawValue }
        var format: ImageFormat { self == .png ? .png : .jpeg }

        func encoded() throws -> [UInt8] {
            let image = smoothImage(width: 96, height: 64, format: .rgb)
            return switch self {
            case .baselineJPEG: try JPEG.encode(image)
            case .progressiveJPEG: try JPEG.encode(image, progressive: true)
            case .cmykJPEG: try JPEG.encode(image, storage: .ycck)
            case .png: try PNG.encode(image)
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func cutInHalfIsTruncated(kind: Kind) throws {
        let bytes = try kind.encoded()
        let error = try decodeError(Array(bytes.prefix(bytes.count / 2)), name: "frame.bin")
        #expect(error.file == "frame.bin")
        guard case .truncated(let format, _) = error.reason else {
            Issue.record("expected truncation, got \(error)")
            return
        }
        #expect(format == kind.format)
        #expect(error.description.hasPrefix("frame.bin: truncated \(kind.format) data ("))
    }

    @Test(arguments: Kind.allCases)
    func missingLastBytesAreTruncated(kind: Kind) throws {
        let bytes = try kind.encoded()
        let error = try decodeError(Array(bytes.dropLast(2)), name: "tail.bin")
        guard case .truncated = error.reason else {
            Issue.record("expected truncation, got \(error)")
            return
        }
    }

    @Test(arguments: Kind.allCases)
    func flippedBytesInTheMiddleFail(kind: Kind) throws {
        var bytes = try kind.encoded()
        // JPEG carries no checksum, so damage that happens to decode as valid
        // entropy data goes unnoticed; inverting a run of bytes is not such damage.
        let middle = bytes.count / 2
        for i in middle..<(middle + 48) { bytes[i] ^= 0xFF }
        let error = try decodeError(bytes, name: "flipped.img")
        #expect(error.file == "flipped.img")
        switch error.reason {
        case .corrupt(let format, _), .truncated(let format, _): #expect(format == kind.format)
        default: Issue.record("expected corrupt or truncated data, got \(error)")
        }
    }

    @Test(arguments: Kind.allCases)
    func headerOnlyIsTruncated(kind: Kind) throws {
        let bytes = try kind.encoded()
        let error = try decodeError(Array(bytes.prefix(20)), name: "short")
        guard case .truncated = error.reason else {
            Issue.record("expected truncation, got \(error)")
            return
        }
    }

    @Test func emptyInput() throws {
        let error = try decodeError([], name: "empty.jpg")
        #expect(error.reason == .empty)
        #expect(error.description == "empty.jpg: empty file")
    }

    @Test func randomBytesAreNotAnImage() throws {
        var bytes = randomBytes(4096, seed: 1)
        bytes[0] = 0x42
        let error = try decodeError(bytes, name: "noise.png")
        #expect(error.description == "noise.png: not a JPEG or PNG image")
    }

    @Test func textIsNotAnImage() throws {
        let error = try decodeError(Array("camera offline\n".utf8), name: "x.png")
        #expect(error.description == "x.png: not a JPEG or PNG image")
    }

    @Test(arguments: [[UInt8]([0xFF, 0xD8, 0xFF]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]])
    func validSignatureFollowedByNoiseFails(signature: [UInt8]) throws {
        let error = try decodeError(signature + randomBytes(2048, seed: 2), name: "noise")
        switch error.reason {
        case .corrupt, .truncated: break
        default: Issue.record("expected corrupt data, got \(error)")
        }
    }

    @Test func damagedFileOnDiskNamesThePath() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bytes = try JPEG.encode(smoothImage(width: 64, height: 64, format: .rgb))
        let path = directory.appendingPathComponent("frame.jpg").path
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: ImageError.self) { try Image(contentsOfFile: path) }
        #expect(error.description.hasPrefix("\(path): truncated JPEG data ("))
    }

    @Test func missingFileIsUnreadable() throws {
        let error = try #require(throws: ImageError.self) { try Image(contentsOfFile: "/nonexistent/frame.jpg") }
        #expect(error.description == "/nonexistent/frame.jpg: cannot read file (No such file or directory)")
    }

    private func decodeError(_ bytes: [UInt8], name: String) throws -> ImageError {
        try #require(throws: ImageError.self) { try Image(decoding: bytes, name: name) }
    }
}
