import Foundation
import InspectdTesting
import InspectdTensor
import Testing
@testable import InspectdModel

@Suite struct CDADNetworkTests {
    /// A smooth pattern per channel, and the same with a square patch replaced: a stand-in for a
    /// clean latent and its perturbed copy.
    static func syntheticBatch(batch: Int, channels: Int, size: Int) -> (clean: Tensor, perturbed: Tensor) {
        let clean = Tensor(shape: [batch, channels, size, size]) { out in
            for b in 0..<batch {
                for c in 0..<channels {
                    for y in 0..<size {
                        for x in 0..<size {
                            let phase = Float(c) * 0.37 + Float(b) * 1.1
                            out[((b * channels + c) * size + y) * size + x] =
                                sin(Float(x) * 0.8 + phase) * cos(Float(y) * 0.6 - phase)
                        }
                    }
                }
            }
        }
        let perturbed = Tensor(shape: clean.shape, data: clean.data)
        for b in 0..<batch {
            for c in 0..<channels {
                for y in 2..<4 { for x in 1..<4 { perturbed.data[((b * channels + c) * size + y) * size + x] = 1.5 } }
            }
        }
        return (clean, perturbed)
    }

    @Test func parameterCounts() {
        let standard = CDADNetwork(config: .standard, seed: 0)
        #expect(standard.amn.parameterCount == 581_752)
        #expect(standard.unet.parameterCount == 5_488_856)
        #expect(standard.parameterCount == 6_070_608)
        let quick = CDADNetwork(config: .quick, seed: 0)
        #expect(quick.parameterCount == 759_376)
    }

    @Test func parameterNamesAreUniquePyTorchStyleAndStable() {
        let network = CDADNetwork(config: .standard, seed: 0)
        let names = network.namedParameters.map(\.name)
        #expect(Set(names).count == names.count)
        let pattern = /(amn|unet)(\.[a-z0-9_]+)+\.(weight|bias)/
        for name in names { #expect(name.wholeMatch(of: pattern) != nil, "\(name)") }
        for expected in ["amn.proj.weight", "amn.layers.3.attn.q.weight", "amn.layers.0.ffn.fc2.bias",
                         "amn.layers.2.norm2.weight", "amn.norm.bias", "amn.recon.weight", "amn.cond.bias",
                         "unet.time.fc1.weight", "unet.time.fc2.bias", "unet.conv_in.weight",
                         "unet.down.0.res.0.conv1.weight", "unet.down.1.res.0.skip.weight",
                         "unet.down.1.downsample.weight", "unet.up.2.res.0.time_proj.weight",
                         "unet.up.0.res.0.skip.bias", "unet.up.1.upsample.weight", "unet.norm_out.weight",
                         "unet.conv_out.weight"] {
            #expect(names.contains(expected), "\(expected) missing")
        }
        for absent in ["unet.down.2.downsample.weight", "unet.up.0.upsample.weight", "unet.down.0.res.0.skip.weight"] {
            #expect(!names.contains(absent), "\(absent) should not exist")
        }
        #expect(CDADNetwork(config: .standard, seed: 1).namedParameters.map(\.name) == names)
    }

    @Test func seededInitialisation() {
        let a = CDADNetwork(config: .quick, seed: 11), b = CDADNetwork(config: .quick, seed: 11)
        let c = CDADNetwork(config: .quick, seed: 12)
        #expect(zip(a.namedParameters, b.namedParameters).allSatisfy { $0.tensor.data == $1.tensor.data })
        #expect(a.amn.proj.weight.data != c.amn.proj.weight.data)
        for p in a.namedParameters where p.name.contains("norm") {
            #expect(p.tensor.data.allSatisfy { $0 == (p.name.hasSuffix("weight") ? 1 : 0) }, "\(p.name)")
        }
        #expect(a.unet.convOut.weight.data.allSatisfy { $0 == 0 } && a.unet.convOut.bias.data.allSatisfy { $0 == 0 })
        // PyTorch's bound 1/√fanIn: conv_in has fanIn 152·9.
        let bound = 1 / Float(152 * 9).squareRoot()
        #expect(a.unet.convIn.weight.data.allSatisfy { abs($0) <= bound })
        #expect(a.unet.convIn.weight.data.map(abs).max()! > 0.9 * bound)
    }

    @Test func safetensorsRoundTripReproducesOutputs() throws {
        let original = CDADNetwork(config: .quick, seed: 21)
        var random = TestRandom(seed: 22)
        // A trained U-Net has a nonzero output conv; without one the diffusion output would not
        // depend on the other weights.
        original.unet.convOut.weight.data = random.tensor(original.unet.convOut.weight.shape, scale: 0.05).data
        let latent = random.tensor([1, 152, 8, 8]), noise = random.tensor([1, 152, 8, 8])

        let bytes = try Safetensors.encode(original.parameterDictionary)
        let restored = CDADNetwork(config: .quick, seed: 23)
        #expect(restored.load(try Safetensors.decode(bytes).tensors).isEmpty)

        let expected = original.reconstruct(latent: latent, noiseLevel: 50, steps: 3, noise: noise)
        let actual = restored.reconstruct(latent: latent, noiseLevel: 50, steps: 3, noise: noise)
        #expect(actual.amn.data == expected.amn.data)
        #expect(actual.diffusion.data == expected.diffusion.data)
        #expect(actual.diffusion.shape == [1, 152, 8, 8])
    }

    @Test(arguments: DiffusionPrediction.allCases)
    func quickConfigLearnsAFixedBatch(prediction: DiffusionPrediction) {
        var config = CDADConfig.quick
        config.prediction = prediction
        let network = CDADNetwork(config: config, seed: 31)
        let (clean, perturbed) = Self.syntheticBatch(batch: 2, channels: 152, size: 8)
        var random = TestRandom(seed: 32)
        let noise = random.tensor(clean.shape, scale: 1.7)   // ≈ unit variance
        let timesteps = [40, 300]
        let optimiser = AdamW(network.namedParameters, learningRate: 1e-3, weightDecay: 0)

        var totals: [Float] = [], diffusion: [Float] = [], amn: [Float] = []
        for _ in 0..<30 {
            optimiser.zeroGrad()
            let losses = network.trainingLosses(clean: clean, perturbed: perturbed, timesteps: timesteps, noise: noise)
            losses.total.backward()
            optimiser.step()
            totals.append(losses.total.item)
            diffusion.append(losses.diffusion.item)
            amn.append(losses.amn.item)
        }
        #expect(abs(totals[0] - diffusion[0] - amn[0]) < 1e-5)
        #expect(totals.allSatisfy { $0.isFinite })
        #expect(totals.last! < 0.5 * totals[0], "\(prediction): total \(totals[0]) → \(totals.last!)")
        #expect(diffusion.last! < diffusion[0] && amn.last! < amn[0])
    }
}
