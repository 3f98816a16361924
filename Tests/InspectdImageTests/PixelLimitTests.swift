import InspectdImage
import Testing

@Suite struct PixelLimitTests {
    @Test func hugePNGHeaderIsRejectedBeforeDecoding() throws {
        // A valid signature and IHDR (correct CRC) declaring 10^10 RGB pixels,
        // 30 GB if anything were allocated for them, then a token IDAT.
        let bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + RawPNG.header(width: 100_000, height: 100_000, bitDepth: 8, colourType: 2)
            + RawPNG.chunk("IDAT", [0x78, 0x01]) + RawPNG.chunk("IEND", [])
        let error = try #require(throws: ImageError.self) { try Image(decoding: bytes, name: "huge.png") }
        #expect(error.reason == .tooLarge(width: 100_000, height: 100_000, limit: DecodeOptions.defaultMaxPixels))
        #expect(error.description == "huge.png: image of 100000x100000 pixels exceeds the limit of 64000000 pixels")
    }

    @Test func hugeJPEGHeaderIsRejectedBeforeDecoding() throws {
        // Patch the frame header of a real JPEG to claim 60000 x 60000 pixels.
        var bytes = try JPEG.encode(smoothImage(width: 16, height: 16, format: .rgb), progressive: true)
        let sof = try #require((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC2 })
        bytes.replaceSubrange((sof + 5)..<(sof + 9), with: [0xEA, 0x60, 0xEA, 0x60])
        let error = try #require(throws: ImageError.self) { try Image(decoding: bytes, name: "huge.jpg") }
        #expect(error.reason == .tooLarge(width: 60_000, height: 60_000, limit: DecodeOptions.defaultMaxPixels))
    }

    @Test(arguments: [ImageFormat.jpeg, .png])
    func limitIsConfigurablePerCall(format: ImageFormat) throws {
        let image = smoothImage(width: 100, height: 50, format: .rgb)
        let bytes = format == .png ? try PNG.encode(image) : try JPEG.encode(image)
        #expect(try Image(decoding: bytes, options: DecodeOptions(maxPixels: 5000)).width == 100)
        let error = try #require(throws: ImageError.self) {
            try Image(decoding: bytes, name: "cam1", options: DecodeOptions(maxPixels: 4999))
        }
        #expect(error.reason == .tooLarge(width: 100, height: 50, limit: 4999))
    }
}
