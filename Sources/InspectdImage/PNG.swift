import CInspectdCodecs

/// PNG encoding. Decoding goes through `Image(decoding:)`, which detects the format.
public enum PNG {
    /// Encodes an 8-bit grey, RGB or RGBA PNG. `compressionLevel` is zlib's,
    /// 0 (fastest) to 9 (smallest). The default is 3, not zlib's 6: on camera
    /// frames 6 took about 4x as long for files only ~10% smaller.
    public static func encode(_ image: Image, compressionLevel: Int = 3) throws -> [UInt8] {
        let level = Int32(min(max(compressionLevel, 0), 9))
        return try image.pixels.withUnsafeBufferPointer { pixels in
            try encodeWithCodec(format: .png) { output, count, status in
                icodec_png_encode(pixels.baseAddress, UInt32(image.width), UInt32(image.height),
                                  UInt32(image.channels), level, output, count, status)
            }
        }
    }
}
