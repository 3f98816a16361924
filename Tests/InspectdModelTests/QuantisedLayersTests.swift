import InspectdTensor
import Testing
@testable import InspectdModel

/// The int8 twins replace the network's layers while they run, stay close to Float32, and leave
/// float scoring elsewhere untouched.
@Suite struct QuantisedLayersTests {
    /// A quick network whose output convolution is not zero (as it starts), so that the diffusion
    /// output depends on every layer.
    func network() -> CDADNetwork {
        let network = CDADNetwork(config: .quick, seed: 11)
        var rng = SeededGenerator(seed: 12)
        let out = network.unet.convOut.weight
        for i in 0..<out.count { out.data[i] = 0.05 * rng.nextNormal() }
        return network
    }

    func latent(_ seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        return Tensor(shape: [2, 152, 8, 8]) { out in for i in 0..<out.count { out[i] = rng.nextNormal() } }
    }

    @Test func int8ScoringStaysCloseToFloatAndRunsOnInt8() throws {
        let network = network()
        let x = latent(1), noise = latent(2)
        let ranges = ActivationRanges()
        let float = LayerInputs.observing(ranges) { network.reconstruct(latent: x, noiseLevel: 50, steps: 3, noise: noise) }
        let parameters = network.parameterDictionary
        var layers: [String: Int8Layer] = [:]
        for (name, range) in ranges.ranges(of: network) where name.hasPrefix("amn.") || parameters[name]!.rank == 4 {
            layers[name] = Int8Layer(weights: Int8Weights(quantising: parameters[name]!),
                                     input: Int8Scale(minimum: range.minimum, maximum: range.maximum))
        }
        #expect(layers.count > 20)
        let quantised = try QuantisedLayers(network: network, layers: layers, path: .portable)
        let int8 = quantised.running { network.reconstruct(latent: x, noiseLevel: 50, steps: 3, noise: noise) }
        for (a, b) in [(int8.amn, float.amn), (int8.diffusion, float.diffusion)] {
            #expect(a.data != b.data, "the int8 layers ran")
            let error = zip(a.data, b.data).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            let size = b.data.reduce(Float(0)) { $0 + $1 * $1 }
            #expect((error / size).squareRoot() < 0.05)
        }
        // Outside `running`, the same network scores in Float32 again.
        let again = network.reconstruct(latent: x, noiseLevel: 50, steps: 3, noise: noise)
        #expect(again.diffusion.data == float.diffusion.data)
    }

    @Test func layersMustMatchTheNetwork() {
        let network = network()
        let q = Int8Layer(weights: Int8Weights(quantising: Tensor(zeros: [3, 3])), input: Int8Scale(minimum: 0, maximum: 1))
        #expect(throws: QuantisedLayersError.unknownLayer("amn.nothing.weight")) {
            try QuantisedLayers(network: network, layers: ["amn.nothing.weight": q])
        }
        #expect(throws: QuantisedLayersError.shapeMismatch("amn.proj.weight", expected: [64, 152], found: [3, 3])) {
            try QuantisedLayers(network: network, layers: ["amn.proj.weight": q])
        }
    }
}
