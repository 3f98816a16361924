import InspectdImage
import Testing

@Suite struct PNGTests {
    @Test(arguments: PixelFormat.allCases)
    func encoderRoundTripIsExact(format: PixelFormat) throws {
        let image = randomImage(width: 37, height: 19, format: format, seed: 7)
        let bytes = try PNG.encode(image)
        #expect(ImageFormat(detecting: bytes) == .png)
        #expect(try Image(decoding: bytes) == image)
    }

    @Test func greyAlphaBecomesRGBA() throws {
        let samples = [10, 200, 50, 0, 255, 128, 7, 77]
        let bytes = RawPNG.encode(width: 2, height: 2, colourType: .greyAlpha, bitDepth: 8, samples: samples)
        let image = try Image(decoding: bytes)
        #expect(image.format == .rgba)
        #expect(image.pixels == [10, 10, 10, 200, 50, 50, 50, 0, 255, 255, 255, 128, 7, 7, 7, 77])
    }

    @Test func rgbFromRawWriterMatches() throws {
        let image = randomImage(width: 5, height: 3, format: .rgb, seed: 3)
        let bytes = RawPNG.encode(width: 5, height: 3, colourType: .rgb, bitDepth: 8, samples: image.pixels.map(Int.init))
        #expect(try Image(decoding: bytes) == image)
    }

    @Test func paletteBecomesRGB() throws {
        let palette: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7]
        let bytes = RawPNG.encode(width: 4, height: 1, colourType: .palette, bitDepth: 8, samples: [3, 2, 1, 0],
                                  palette: palette)
        let image = try Image(decoding: bytes)
        #expect(image.format == .rgb)
        #expect(image.pixels == [9, 8, 7, 0, 0, 255, 0, 255, 0, 255, 0, 0])
    }

    @Test func paletteWithTransparencyBecomesRGBA() throws {
        let palette: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255]
        // tRNS may list fewer entries than the palette; the rest are opaque.
        let bytes = RawPNG.encode(width: 3, height: 1, colourType: .palette, bitDepth: 2, samples: [0, 1, 2],
                                  palette: palette, transparency: [0, 100])
        let image = try Image(decoding: bytes)
        #expect(image.format == .rgba)
        #expect(image.pixels == [255, 0, 0, 0, 0, 255, 0, 100, 0, 0, 255, 255])
    }

    @Test func sixteenBitIsScaledToEightBits() throws {
        // 0xFFFF -> 255, 0x8080 -> 128, 0x0000 -> 0; scaling rounds rather than truncating.
        let samples = [0xFFFF, 0x8080, 0x0000, 0x1234, 0xFEFF, 0x00FF]
        let bytes = RawPNG.encode(width: 2, height: 1, colourType: .rgb, bitDepth: 16, samples: samples)
        let image = try Image(decoding: bytes)
        #expect(image.format == .rgb)
        #expect(image.pixels == samples.map { UInt8((Double($0) * 255 / 65535).rounded()) })
    }

    @Test func sixteenBitGreyAndRGBA() throws {
        let grey = try Image(decoding: RawPNG.encode(width: 2, height: 1, colourType: .grey, bitDepth: 16,
                                                     samples: [0xFFFF, 0x0101]))
        #expect(grey.format == .grey && grey.pixels == [255, 1])
        let rgba = try Image(decoding: RawPNG.encode(width: 1, height: 1, colourType: .rgba, bitDepth: 16,
                                                     samples: [0xFFFF, 0, 0x8080, 0x4040]))
        #expect(rgba.format == .rgba && rgba.pixels == [255, 0, 128, 64])
    }

    @Test func lowBitDepthGreyIsExpanded() throws {
        let bytes = RawPNG.encode(width: 4, height: 1, colourType: .grey, bitDepth: 2, samples: [0, 1, 2, 3])
        let image = try Image(decoding: bytes)
        #expect(image.format == .grey && image.pixels == [0, 85, 170, 255])
    }

    @Test func greyWithTransparentValueBecomesRGBA() throws {
        let bytes = RawPNG.encode(width: 2, height: 1, colourType: .grey, bitDepth: 8, samples: [40, 90],
                                  transparency: [0, 40])
        let image = try Image(decoding: bytes)
        #expect(image.pixels == [40, 40, 40, 0, 90, 90, 90, 255])
    }

    @Test func interlacedImageIsDeinterlaced() throws {
        let image = randomImage(width: 13, height: 11, format: .rgb, seed: 11)
        let bytes = RawPNG.encode(width: 13, height: 11, colourType: .rgb, bitDepth: 8,
                                  samples: image.pixels.map(Int.init), interlaced: true)
        #expect(try Image(decoding: bytes) == image)
    }
}
