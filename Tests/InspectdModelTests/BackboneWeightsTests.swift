import Foundation
import Testing
@testable import InspectdModel
import InspectdTensor
import InspectdTesting

/// A complete EfficientNet-Lite0 state dict of random values, with the real names and shapes.
func randomLite0StateDict(seed: UInt64 = 1) -> [String: Tensor] {
    var rng = TestRandom(seed: seed)
    var dict: [String: Tensor] = [:]
    func bn(_ prefix: String, _ c: Int) {
        dict[prefix + ".weight"] = rng.tensor([c], 0.5, 1.5)
        dict[prefix + ".bias"] = rng.tensor([c], -0.2, 0.2)
        dict[prefix + ".running_mean"] = rng.tensor([c], -0.5, 0.5)
        dict[prefix + ".running_var"] = rng.tensor([c], 0.2, 2)
        dict[prefix + ".num_batches_tracked"] = Tensor(scalar: 0)
    }
    /// Scaled by fan-in so activations stay in a realistic range through 16 blocks.
    func conv(_ shape: [Int]) -> Tensor {
        let bound = 1.5 / Float(shape[1] * shape[2] * shape[3]).squareRoot()
        return rng.tensor(shape, -bound, bound)
    }
    let cfg = EfficientNetLite0Config.self
    dict["_conv_stem.weight"] = conv([cfg.stemChannels, 3, 3, 3])
    bn("_bn0", cfg.stemChannels)
    for (i, b) in cfg.blocks.enumerated() {
        let p = "_blocks.\(i)."
        if b.hasExpansion {
            dict[p + "_expand_conv.weight"] = conv([b.hiddenChannels, b.inChannels, 1, 1])
            bn(p + "_bn0", b.hiddenChannels)
        }
        dict[p + "_depthwise_conv.weight"] = conv([b.hiddenChannels, 1, b.kernel, b.kernel])
        bn(p + "_bn1", b.hiddenChannels)
        dict[p + "_project_conv.weight"] = conv([b.outChannels, b.hiddenChannels, 1, 1])
        bn(p + "_bn2", b.outChannels)
    }
    dict["_conv_head.weight"] = conv([cfg.headChannels, cfg.blocks.last!.outChannels, 1, 1])
    bn("_bn1", cfg.headChannels)
    dict["_fc.weight"] = rng.tensor([cfg.classCount, cfg.headChannels], -0.05, 0.05)
    dict["_fc.bias"] = rng.tensor([cfg.classCount], -0.1, 0.1)
    return dict
}

@Suite struct BackboneWeightsTests {
    @Test func configMatchesLite0() {
        let blocks = EfficientNetLite0Config.blocks
        #expect(blocks.count == 16)
        #expect(blocks.map(\.stride).reduce(1, *) * 2 == 32)  // stem stride 2 times the blocks'
        #expect(blocks[EfficientNetLite0Config.stride8BlockIndex].outChannels == 40)
        #expect(blocks[0...EfficientNetLite0Config.stride8BlockIndex].map(\.stride).reduce(1, *) * 2 == 8)
        #expect(blocks[EfficientNetLite0Config.stride16BlockIndex].outChannels == 112)
        #expect(blocks[0...EfficientNetLite0Config.stride16BlockIndex].map(\.stride).reduce(1, *) * 2 == 16)
        // Stage 5 ends where stage 6 (stride 2, 192 channels) starts.
        #expect(blocks[EfficientNetLite0Config.stride16BlockIndex + 1].stride == 2)
        #expect(blocks.filter(\.hasSkip).count == 9)
        #expect(!blocks[0].hasExpansion && blocks[1...].allSatisfy(\.hasExpansion))
    }

    /// bn(conv(x, w)) computed directly equals conv(x, w') + b' with the folded parameters.
    @Test func foldingMatchesUnfoldedBatchNorm() {
        var rng = TestRandom(seed: 7)
        let (cout, cin, k) = (5, 3, 3)
        let w = rng.tensor([cout, cin, k, k])
        let gamma = rng.tensor([cout], 0.5, 2), beta = rng.tensor([cout])
        let mean = rng.tensor([cout]), variance = rng.tensor([cout], 0.01, 3)
        let eps: Float = 1e-3
        let (fw, fb) = BackboneWeights.foldBatchNorm(weight: w, gamma: gamma, beta: beta, mean: mean,
                                                     variance: variance, epsilon: eps)
        #expect(fw.shape == w.shape && fb.shape == [cout])
        // One k x k input patch: a valid convolution at a single output position is a dot product.
        let patch = rng.tensor([cin, k, k])
        for o in 0..<cout {
            var z: Double = 0, folded: Double = Double(fb.data[o])
            for i in 0..<(cin * k * k) {
                z += Double(w.data[o * cin * k * k + i]) * Double(patch.data[i])
                folded += Double(fw.data[o * cin * k * k + i]) * Double(patch.data[i])
            }
            let bn = (z - Double(mean.data[o])) / (Double(variance.data[o]) + Double(eps)).squareRoot()
                * Double(gamma.data[o]) + Double(beta.data[o])
            #expect(abs(bn - folded) <= 1e-5 * max(1, abs(bn)), "channel \(o): \(bn) vs \(folded)")
        }
    }

    @Test func loadsACompleteStateDict() throws {
        let weights = try BackboneWeights(stateDict: randomLite0StateDict())
        #expect(weights.stem.weight.shape == [32, 3, 3, 3] && weights.stem.stride == 2)
        #expect(weights.blocks.count == 16)
        #expect(weights.blocks[0].expand == nil)
        #expect(weights.blocks[3].depthwise.weight.shape == [144, 1, 5, 5])
        #expect(weights.blocks[3].depthwise.groups == 144 && weights.blocks[3].depthwise.stride == 2)
        #expect(weights.blocks[15].project.weight.shape == [320, 1152, 1, 1])
        #expect(weights.head.weight.shape == [1280, 320, 1, 1])
        #expect(weights.classifierWeight.shape == [1000, 1280])
    }

    @Test func missingTensorIsNamed() {
        var dict = randomLite0StateDict()
        dict["_blocks.7._bn1.running_var"] = nil
        #expect(throws: BackboneWeightsError.missingTensor(name: "_blocks.7._bn1.running_var")) {
            try BackboneWeights(stateDict: dict)
        }
    }

    @Test func misShapedTensorIsNamed() {
        var dict = randomLite0StateDict()
        dict["_blocks.3._depthwise_conv.weight"] = Tensor(zeros: [144, 1, 3, 3])
        let expected = BackboneWeightsError.wrongShape(name: "_blocks.3._depthwise_conv.weight",
                                                       expected: [144, 1, 5, 5], found: [144, 1, 3, 3])
        #expect(throws: expected) { try BackboneWeights(stateDict: dict) }
        #expect(expected.description.contains("_blocks.3._depthwise_conv.weight"))
    }
}
