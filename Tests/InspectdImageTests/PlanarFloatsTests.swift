import InspectdImage
import Testing

@Suite struct PlanarFloatsTests {
    @Test func efficientNetLiteFormulaAndPlanarOrder() {
        let image = Image(width: 2, height: 1, format: .rgb, pixels: [0, 127, 255, 64, 128, 191])
        let floats = image.planarFloats()
        let expected: [Float] = [0, 64, 127, 128, 255, 191].map { ($0 - 127) / 128 }
        #expect(floats == expected)
    }

    @Test func generalMeanAndStd() {
        let image = Image(width: 1, height: 1, format: .rgb, pixels: [10, 20, 30])
        let floats = image.planarFloats(normalisation: Normalisation(mean: SIMD3(10, 10, 10), std: SIMD3(1, 2, 4)))
        #expect(floats == [0, 5, 5])
        let imageNet = image.planarFloats(normalisation: .imageNet)
        #expect(abs(imageNet[0] - (10 - 123.675) / 58.395) < 1e-5)
    }

    @Test func greyIsReplicatedAndAlphaDropped() {
        let grey = Image(width: 1, height: 1, format: .grey, pixels: [255])
        #expect(grey.planarFloats() == [1, 1, 1].map { _ in Float(128) / 128 })
        let rgba = Image(width: 1, height: 1, format: .rgba, pixels: [127, 127, 127, 0])
        #expect(rgba.planarFloats() == [0, 0, 0])
    }

    @Test func resizedFloatsMatchResizedImageUpToRounding() {
        let image = randomImage(width: 90, height: 70, format: .rgb, seed: 12)
        let floats = image.planarFloats(width: 24, height: 20)
        #expect(floats.count == 3 * 24 * 20)
        let reference = image.resized(width: 24, height: 20).planarFloats()
        let worst = zip(floats, reference).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 0.5 / 128 + 1e-5)
    }

    @Test func sameSizeSkipsResampling() {
        let image = randomImage(width: 5, height: 4, format: .rgb, seed: 1)
        #expect(image.planarFloats(width: 5, height: 4) == image.planarFloats())
    }
}
