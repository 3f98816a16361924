import Foundation
import InspectdTesting
import InspectdTensor
import Testing
@testable import InspectdModel

@Suite struct CDADUNetTests {
    /// C = 6, widths 8/16, 4 groups, on an 8x8 grid.
    static let tinyConfig = CDADConfig(latentChannels: 6, amnWidth: 8, amnLayers: 1, amnHeads: 2, amnFFN: 16,
                                       neighbourWindow: 3, unetWidths: [8, 16], unetResBlocks: 1, unetMidBlocks: 1,
                                       timeEmbedding: 16, groupNormGroups: 4)

    static func tinyUNet() -> DenoisingUNet {
        var rng = SeededGenerator(seed: 5)
        return DenoisingUNet(config: tinyConfig, rng: &rng)
    }

    @Test func outputStartsAtZeroWithTheInputShape() {
        let unet = Self.tinyUNet()
        var random = TestRandom(seed: 6)
        let out = unet(random.tensor([2, 6, 8, 8]), timesteps: [0, 999], condition: random.tensor([2, 8, 8, 8]))
        #expect(out.shape == [2, 6, 8, 8])
        #expect(out.data.allSatisfy { $0 == 0 })
    }

    @Test func gradientsMatchFiniteDifferences() {
        let unet = Self.tinyUNet()
        var random = TestRandom(seed: 7)
        // The zero output conv would pass no gradient upstream: give it weights first.
        unet.convOut.weight.data = random.tensor(unet.convOut.weight.shape, scale: 0.2).data
        let z = random.tensor([2, 6, 8, 8], requiresGrad: true)
        let condition = random.tensor([2, 8, 8, 8], requiresGrad: true)
        let first = unet.down[0].res[0], lastUp = unet.up[unet.up.count - 1].res[0]
        let checked = [z, condition, unet.timeFC1.weight, unet.timeFC2.bias, unet.convIn.weight,
                       first.norm1.weight, first.conv1.weight, first.timeProj.weight, first.conv2.bias,
                       unet.down[0].resample!.weight, unet.mid[0].conv1.weight, unet.up[0].resample!.weight,
                       lastUp.skip!.weight, lastUp.norm2.bias, unet.normOut.weight, unet.convOut.weight]
        let error = gradientError(checked) { _ in unet(z, timesteps: [3, 640], condition: condition) }
        #expect(error < 1e-2)
    }

    @Test func timestepEmbeddingIsCosThenSin() {
        let e = timestepEmbedding([0, 10], channels: 4)
        // Frequencies 1 and 10000^(-1/2) = 0.01.
        let expected: [Float] = [1, 1, 0, 0, cos(10), cos(0.1), sin(10), sin(0.1)]
        for (a, b) in zip(e.data, expected) { #expect(abs(a - b) < 1e-6) }
    }
}
