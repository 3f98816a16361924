/// A PNG writer independent of libpng, for kinds our encoder does not write
/// (palette, 16-bit, grey + alpha, low bit depths, Adam7) and for crafted
/// headers. The zlib stream uses stored (uncompressed) blocks.
enum RawPNG {
    enum ColourType: UInt8 {
        case grey = 0, rgb = 2, palette = 3, greyAlpha = 4, rgba = 6

        var samplesPerPixel: Int {
            switch self {
            case .grey, .palette: 1
            case .greyAlpha: 2
            case .rgb: 3
            case .rgba: 4
            }
        }
    }

    /// `samples` holds `samplesPerPixel` values per pixel, row-major, each
    /// below 2^bitDepth (palette indices for `.palette`).
    static func encode(width: Int, height: Int, colourType: ColourType, bitDepth: Int, samples: [Int],
                       palette: [UInt8]? = nil, transparency: [UInt8]? = nil, interlaced: Bool = false) -> [UInt8] {
        precondition(samples.count == width * height * colourType.samplesPerPixel)
        var scanlines = [UInt8]()
        let passes: [(x: Int, y: Int, dx: Int, dy: Int)] = interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
        for pass in passes {
            let columns = Array(stride(from: pass.x, to: width, by: pass.dx))
            if columns.isEmpty { continue }
            for y in stride(from: pass.y, to: height, by: pass.dy) {
                scanlines.append(0) // filter: none
                scanlines += packRow(columns.flatMap { x in
                    let first = (y * width + x) * colourType.samplesPerPixel
                    return samples[first..<(first + colourType.samplesPerPixel)]
                }, bitDepth: bitDepth)
            }
        }
        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        file += header(width: width, height: height, bitDepth: bitDepth, colourType: colourType.rawValue,
                       interlaced: interlaced)
        if let palette { file += chunk("PLTE", palette) }
        if let transparency { file += chunk("tRNS", transparency) }
        file += chunk("IDAT", storedZlib(scanlines))
        file += chunk("IEND", [])
        return file
    }

    static func header(width: Int, height: Int, bitDepth: Int, colourType: UInt8, interlaced: Bool = false) -> [UInt8] {
        chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height))
            + [UInt8(bitDepth), colourType, 0, 0, interlaced ? 1 : 0])
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeAndData = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + typeAndData + bigEndian(crc32(typeAndData))
    }

    private static func packRow(_ values: [Int], bitDepth: Int) -> [UInt8] {
        switch bitDepth {
        case 16: return values.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        case 8: return values.map { UInt8($0) }
        default:
            var bytes = [UInt8](repeating: 0, count: (values.count * bitDepth + 7) / 8)
            for (i, value) in values.enumerated() {
                let bit = i * bitDepth
                bytes[bit / 8] |= UInt8(value << (8 - bitDepth - bit % 8))
            }
            return bytes
        }
    }

    private static func storedZlib(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let count = min(65535, data.count - offset)
            let final: UInt8 = offset + count == data.count ? 1 : 0
            out += [final, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            out += data[offset..<(offset + count)]
            offset += count
        } while offset < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return out + bigEndian(b << 16 | a)
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    private static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
