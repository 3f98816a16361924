import Foundation
import InspectdImage
import Testing

@Suite struct ResizeTests {
    @Test(arguments: [(13, 7), (50, 41), (3, 2), (1, 1), (200, 9)])
    func constantImageStaysConstant(size: (Int, Int)) {
        let image = Image(width: 31, height: 17, format: .rgb, pixels: [UInt8](repeating: 0, count: 31 * 17)
            .flatMap { _ in [200, 13, 77] as [UInt8] })
        let resized = image.resized(width: size.0, height: size.1)
        #expect(resized.width == size.0 && resized.height == size.1 && resized.format == .rgb)
        #expect(resized.pixels == (0..<(size.0 * size.1)).flatMap { _ in [200, 13, 77] as [UInt8] })
    }

    @Test func halvingACheckerboardGivesGrey() {
        let side = 16
        let image = Image(width: side, height: side, format: .grey,
                          pixels: (0..<(side * side)).map { ($0 % side + $0 / side) % 2 == 0 ? 0 : 255 })
        let half = image.resized(width: side / 2, height: side / 2)
        // Away from the border every output pixel sees both colours equally.
        for y in 1..<(side / 2 - 1) {
            for x in 1..<(side / 2 - 1) {
                #expect((127...128).contains(half[x, y, 0]))
            }
        }
    }

    @Test func bilinearUpsamplingOfARampIsLinear() {
        let ramp = Image(width: 4, height: 1, format: .grey, pixels: [0, 40, 80, 120])
        let wide = ramp.resized(width: 8, height: 1)
        // Output centres fall at 0.25, 0.75, ... input pixels; edges repeat.
        #expect(wide.pixels == [0, 10, 30, 50, 70, 90, 110, 120])
    }

    @Test(arguments: [(13, 17), (50, 40), (37, 23), (8, 30)])
    func matchesADirectTwoDimensionalReference(size: (Int, Int)) {
        let image = randomImage(width: 37, height: 23, format: .rgb, seed: 9)
        let resized = image.resized(width: size.0, height: size.1)
        let reference = referenceResize(image, width: size.0, height: size.1)
        let worst = zip(resized.pixels, reference).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst <= 0.51)
    }

    @Test func sameSizeIsIdentity() {
        let image = randomImage(width: 10, height: 10, format: .rgba, seed: 2)
        #expect(image.resized(width: 10, height: 10) == image)
    }

    /// The triangle filter written out directly: each output pixel is the
    /// normalised 2-D weighted sum over every input pixel, in Double.
    private func referenceResize(_ image: Image, width: Int, height: Int) -> [Double] {
        func weights(source: Int, target: Int, index: Int) -> [Double] {
            let scale = Double(source) / Double(target), widening = max(scale, 1)
            let centre = (Double(index) + 0.5) * scale
            let raw = (0..<source).map { max(0, 1 - abs((Double($0) + 0.5 - centre) / widening)) }
            let total = raw.reduce(0, +)
            return raw.map { $0 / total }
        }
        var out = [Double]()
        for y in 0..<height {
            let wy = weights(source: image.height, target: height, index: y)
            for x in 0..<width {
                let wx = weights(source: image.width, target: width, index: x)
                for c in 0..<image.channels {
                    var sum = 0.0
                    for j in 0..<image.height where wy[j] > 0 {
                        for i in 0..<image.width where wx[i] > 0 {
                            sum += wy[j] * wx[i] * Double(image[i, j, c])
                        }
                    }
                    out.append(sum)
                }
            }
        }
        return out
    }
}
