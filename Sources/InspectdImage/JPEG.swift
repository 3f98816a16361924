import CInspectdCodecs

/// JPEG encoding. Decoding goes through `Image(decoding:)`, which detects the format.
public enum JPEG {
    /// How colour is stored in the file.
    public enum ColourStorage: Sendable {
        /// Grey as grey, RGB as YCbCr: what cameras write.
        case standard
        /// RGB converted to CMYK, stored inverted with an Adobe marker as
        /// print software does.
        case cmyk
        /// As `cmyk`, but transformed to YCCK, as Photoshop does.
        case ycck
    }

    /// Encodes a grey or RGB image. JPEG has no alpha channel, so RGBA is
    /// rejected rather than silently flattened. `quality` is libjpeg's, 1 to 100.
    public static func encode(_ image: Image, quality: Int = 90, progressive: Bool = false,
                              storage: ColourStorage = .standard) throws -> [UInt8] {
        if image.format == .rgba {
            throw ImageError(file: nil, reason: .unsupported("JPEG cannot store alpha; convert to RGB first"))
        }
        let quality = Int32(min(max(quality, 1), 100))
        var samples = image.pixels
        var components = image.channels
        var mode = ICODEC_JPEG_STORE_NATURAL
        if storage != .standard {
            samples = invertedCMYK(image.converted(to: .rgb))
            components = 4
            mode = storage == .ycck ? ICODEC_JPEG_STORE_YCCK : ICODEC_JPEG_STORE_NATURAL
        }
        return try samples.withUnsafeBufferPointer { pixels in
            try encodeWithCodec(format: .jpeg) { output, count, status in
                icodec_jpeg_encode(pixels.baseAddress, UInt32(image.width), UInt32(image.height), UInt32(components),
                                   mode, quality, progressive ? 1 : 0, output, count, status)
            }
        }
    }

    /// Adobe's inverted CMYK (255 = no ink) with all the darkness in K, so that
    /// the decoder's R = C * K / 255 gives the colour back.
    private static func invertedCMYK(_ rgb: Image) -> [UInt8] {
        var cmyk = [UInt8](repeating: 0, count: rgb.width * rgb.height * 4)
        for i in 0..<(rgb.width * rgb.height) {
            let r = Int(rgb.pixels[3 * i]), g = Int(rgb.pixels[3 * i + 1]), b = Int(rgb.pixels[3 * i + 2])
            let k = max(r, g, b)
            for (c, value) in [r, g, b].enumerated() {
                cmyk[4 * i + c] = k == 0 ? 255 : UInt8((value * 255 + k / 2) / k)
            }
            cmyk[4 * i + 3] = UInt8(k)
        }
        return cmyk
    }
}
