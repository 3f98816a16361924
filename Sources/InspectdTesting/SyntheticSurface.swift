import Foundation
import InspectdImage

/// Products drawn for tests: every image differs and all are normal, so training, calibration and
/// the regression guard can run on data a test makes in milliseconds.
public enum SyntheticSurface {
    /// Diagonal stripes with a random phase and a little noise, `side` pixels square.
    public static func stripes(_ random: inout TestRandom, side: Int = 256) -> Image {
        let phase = random.uniform(0, 24)
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                let stripe = sin((Float(x + y) + phase) * 2 * .pi / 24)
                let base = 120 + 50 * stripe + random.uniform(-6, 6)
                for c in 0..<3 { pixels[(y * side + x) * 3 + c] = UInt8(max(0, min(255, base + Float(c) * 10))) }
            }
        }
        return Image(width: side, height: side, format: .rgb, pixels: pixels)
    }

    /// The stripes, darkened on every other 32-pixel square: a second product that looks different.
    public static func checkeredStripes(_ random: inout TestRandom, side: Int = 256) -> Image {
        var image = stripes(&random, side: side)
        for y in 0..<image.height { for x in 0..<image.width where (x / 32 + y / 32) % 2 == 0 { for c in 0..<3 { image[x, y, c] /= 3 } } }
        return image
    }

    /// Writes `count` images of one product as 000.png, 001.png, … into `folder` (created).
    public static func writeProduct(to folder: URL, count: Int, checkered: Bool, seed: UInt64) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var random = TestRandom(seed: seed)
        for i in 0..<count {
            let image = checkered ? checkeredStripes(&random) : stripes(&random)
            try Data(PNG.encode(image)).write(to: folder.appendingPathComponent(String(format: "%03d.png", i)))
        }
    }
}
