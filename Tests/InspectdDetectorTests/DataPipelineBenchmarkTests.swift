import Foundation
import InspectdDetector
import InspectdImage
import InspectdTensor
import InspectdTesting
import Testing

/// Timings of the data side, printed, not asserted (they depend on the machine). Run in release:
///     INSPECTD_BENCHMARK=1 swift test -c release -Xswiftc -enable-testing --filter DataPipelineBenchmark
/// INSPECTD_BENCHMARK_FRAME may name a real camera frame (JPEG or PNG) to use instead of the
/// synthetic 900x900 one, whose content changes what PNG encoding costs.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["INSPECTD_BENCHMARK"] == "1",
                             "set INSPECTD_BENCHMARK=1 to time the data pipeline"))
struct DataPipelineBenchmarkTests {
    /// Median milliseconds per call of `body`, after one warm-up call.
    func milliseconds(runs: Int, _ body: () -> Void) -> Double {
        body()
        let clock = ContinuousClock()
        let times = (0..<runs).map { _ in
            let start = clock.now
            body()
            let elapsed = clock.now - start
            return Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15
        }
        return times.sorted()[runs / 2]
    }

    /// A smooth synthetic frame with mild noise, or the frame named by INSPECTD_BENCHMARK_FRAME.
    func frame(side: Int) throws -> Image {
        if let path = ProcessInfo.processInfo.environment["INSPECTD_BENCHMARK_FRAME"] {
            return try Image(contentsOfFile: path).converted(to: .rgb)
        }
        var random = TestRandom(seed: 1)
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                for c in 0..<3 {
                    let smooth = 128 + 90 * sin(Double(x + 37 * c) / 70) * cos(Double(y) / 55)
                    pixels[(y * side + x) * 3 + c] = UInt8(max(0, min(255, smooth + Double(random.uniform()) * 6)))
                }
            }
        }
        return Image(width: side, height: side, format: .rgb, pixels: pixels)
    }

    @Test func perturbation() throws {
        let images = try (0..<8).map { index in
            try frame(side: 256 + index).resized(width: 256, height: 256)
        }
        let perturbation = PatchPerturbation()
        var generator = SeededGenerator(seed: 1)
        let always = milliseconds(runs: 50) {
            for (index, image) in images.enumerated() {
                _ = perturbation.perturb(image, donors: images.enumerated().filter { $0.offset != index }.map(\.element),
                                         using: &generator)
            }
        }
        print("benchmark: perturbation (always, 1-4 patches), 256x256 RGB: \(String(format: "%.3f", always / 8)) ms/image")
    }

    @Test(.enabled(if: BackboneLocator.find() != nil, "backbone weights not installed")) func latentExtraction() throws {
        let extractor = LatentExtractor(backbone: try BackboneLocator.load())
        let small = try (0..<8).map { _ in try frame(side: 900).resized(width: 256, height: 256) }
        let large = try (0..<8).map { _ in try frame(side: 900) }
        let fromModelSize = milliseconds(runs: 5) { _ = extractor.latents(of: small) }
        let fromFrames = milliseconds(runs: 5) { _ = extractor.latents(of: large) }
        let inputOnly = milliseconds(runs: 5) { _ = extractor.input(of: large) }
        let input = extractor.input(of: small)
        let backboneOnly = milliseconds(runs: 5) { _ = extractor.backbone.features(input) }
        print("benchmark: backbone features alone, batch 8, 256x256: \(String(format: "%.1f", backboneOnly / 8)) ms/frame")
        print("benchmark: latents, batch 8, 256x256 frames: \(String(format: "%.1f", fromModelSize / 8)) ms/frame")
        print("benchmark: latents, batch 8, 900x900 frames: \(String(format: "%.1f", fromFrames / 8)) ms/frame"
              + " (of which resize + normalise \(String(format: "%.1f", inputOnly / 8)))")
    }

    @Test func maps() throws {
        var random = TestRandom(seed: 2)
        let latentMap = AnomalyMap(width: 32, height: 32, values: (0..<1024).map { _ in random.uniform(0, 1) })
        let at256 = milliseconds(runs: 51) { _ = latentMap.smoothedMap(side: 256) }
        let modelMap = latentMap.smoothedMap(side: 256)
        let toFrame = milliseconds(runs: 51) { _ = modelMap.resized(width: 900, height: 900) }
        let directAtFrame = milliseconds(runs: 11) {
            _ = latentMap.resized(width: 900, height: 900).smoothed(sigma: 4 * 900 / 256)
        }
        print("benchmark: map 32x32 -> 256x256 + Gaussian sigma 4: \(String(format: "%.3f", at256)) ms")
        print("benchmark: map 256x256 -> 900x900 (after the 256 blur): \(String(format: "%.3f", toFrame)) ms"
              + ", total \(String(format: "%.3f", at256 + toFrame)) ms")
        print("benchmark: map 32x32 -> 900x900 + Gaussian sigma 14 at frame size: \(String(format: "%.3f", directAtFrame)) ms")

        let frame = try frame(side: 900)
        let heatmap = Heatmap(range: 0...1)
        let overlay = milliseconds(runs: 11) { _ = heatmap.overlay(modelMap, on: frame) }
        let overlayImage = heatmap.overlay(modelMap, on: frame)
        let encode = milliseconds(runs: 11) { _ = try? Heatmap.png(overlayImage) }
        for level in [0, 3, 6] {
            let time = milliseconds(runs: 5) { _ = try? Heatmap.png(overlayImage, compressionLevel: level) }
            print("benchmark: overlay PNG at level \(level): \(String(format: "%.2f", time)) ms, "
                  + "\(try Heatmap.png(overlayImage, compressionLevel: level).count / 1024) KiB")
        }
        let mask = milliseconds(runs: 11) {
            _ = try? Heatmap.png(Heatmap.mask(modelMap.resized(width: frame.width, height: frame.height), threshold: 0.5))
        }
        print("benchmark: overlay at \(frame.width)x\(frame.height): \(String(format: "%.2f", overlay)) ms, PNG encode "
              + "\(String(format: "%.2f", encode)) ms (\(try Heatmap.png(overlayImage).count / 1024) KiB), "
              + "total \(String(format: "%.2f", overlay + encode)) ms; mask + PNG \(String(format: "%.2f", mask)) ms")
    }
}
