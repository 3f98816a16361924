import Foundation
import InspectdImage
import InspectdTesting

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var random = TestRandom(seed: seed)
    return random.bytes(count)
}

/// Smooth colour ramps with a soft blob: survives JPEG with small error and
/// gives every channel a different value.
func smoothImage(width: Int, height: Int, format: PixelFormat) -> Image {
    var pixels = [UInt8]()
    for y in 0..<height {
        for x in 0..<width {
            let u = Double(x) / Double(max(width - 1, 1)), v = Double(y) / Double(max(height - 1, 1))
            let blob = exp(-((u - 0.6) * (u - 0.6) + (v - 0.4) * (v - 0.4)) * 8)
            let r = 30 + 200 * u, g = 40 + 180 * v, b = 60 + 150 * blob
            switch format {
            case .grey: pixels.append(UInt8((r + g) / 2))
            case .rgb: pixels += [UInt8(r), UInt8(g), UInt8(b)]
            case .rgba: pixels += [UInt8(r), UInt8(g), UInt8(b), UInt8(255 * v)]
            }
        }
    }
    return Image(width: width, height: height, format: format, pixels: pixels)
}

func randomImage(width: Int, height: Int, format: PixelFormat, seed: UInt64) -> Image {
    Image(width: width, height: height, format: format,
          pixels: randomBytes(width * height * format.rawValue, seed: seed))
}

func meanAbsoluteDifference(_ a: Image, _ b: Image) -> Double {
    precondition(a.pixels.count == b.pixels.count)
    let total = zip(a.pixels, b.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
    return Double(total) / Double(a.pixels.count)
}

/// A fresh directory for one test's files.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("inspectd-image-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
