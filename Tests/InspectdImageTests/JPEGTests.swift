import InspectdImage
import Testing

@Suite struct JPEGTests {
    static let modes: [(format: PixelFormat, progressive: Bool)] =
        [(.grey, false), (.grey, true), (.rgb, false), (.rgb, true)]

    @Test(arguments: modes)
    func roundTripIsClose(mode: (format: PixelFormat, progressive: Bool)) throws {
        let image = smoothImage(width: 64, height: 48, format: mode.format)
        let bytes = try JPEG.encode(image, quality: 95, progressive: mode.progressive)
        let decoded = try Image(decoding: bytes)
        #expect(decoded.format == mode.format)
        #expect(decoded.width == 64 && decoded.height == 48)
        #expect(meanAbsoluteDifference(decoded, image) < 2)
    }

    @Test func progressiveDiffersFromBaseline() throws {
        let image = smoothImage(width: 32, height: 32, format: .rgb)
        #expect(try JPEG.encode(image, progressive: true) != JPEG.encode(image, progressive: false))
    }

    @Test(arguments: [JPEG.ColourStorage.cmyk, .ycck], [false, true])
    func adobeCMYKDecodesToRGB(storage: JPEG.ColourStorage, progressive: Bool) throws {
        let image = smoothImage(width: 40, height: 24, format: .rgb)
        let bytes = try JPEG.encode(image, quality: 95, progressive: progressive, storage: storage)
        #expect(adobeSegmentRange(bytes) != nil)
        let decoded = try Image(decoding: bytes)
        #expect(decoded.format == .rgb)
        #expect(meanAbsoluteDifference(decoded, image) < 3)
    }

    @Test func cmykWithoutAdobeMarkerIsReadAsInkAmounts() throws {
        // The encoder stores Adobe-inverted values; without the marker that
        // says so, the decoder must take them as plain ink amounts.
        let image = smoothImage(width: 40, height: 24, format: .rgb)
        var bytes = try JPEG.encode(image, quality: 95, storage: .cmyk)
        bytes.removeSubrange(try #require(adobeSegmentRange(bytes)))
        let decoded = try Image(decoding: bytes)
        var expected = image
        for i in 0..<(40 * 24) {
            let rgb = (0..<3).map { Double(image.pixels[3 * i + $0]) }
            let stored = (k: rgb.max()!, c: rgb.map { $0 * 255 / rgb.max()! })
            for c in 0..<3 {
                expected.pixels[3 * i + c] = UInt8(((255 - stored.c[c]) * (255 - stored.k) / 255).rounded())
            }
        }
        #expect(meanAbsoluteDifference(decoded, expected) < 3)
    }

    @Test func alphaIsRejected() {
        let image = smoothImage(width: 4, height: 4, format: .rgba)
        #expect(throws: ImageError.self) { try JPEG.encode(image) }
    }

    @Test func encodesLargerThanOneOutputChunk() throws {
        let image = randomImage(width: 300, height: 300, format: .rgb, seed: 5)
        let bytes = try JPEG.encode(image, quality: 100)
        #expect(bytes.count > 64 * 1024)
        #expect(try Image(decoding: bytes).width == 300)
    }

    /// The byte range of the APP14 "Adobe" segment, found by walking the
    /// marker segments that precede the image data.
    private func adobeSegmentRange(_ bytes: [UInt8]) -> Range<Int>? {
        var offset = 2
        while offset + 4 <= bytes.count, bytes[offset] == 0xFF, bytes[offset + 1] != 0xDA {
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            if bytes[offset + 1] == 0xEE { return offset..<(offset + 2 + length) }
            offset += 2 + length
        }
        return nil
    }
}
