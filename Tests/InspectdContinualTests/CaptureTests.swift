import Foundation
import InspectdModel
import InspectdTesting
import Testing
@testable import InspectdContinual
@testable import InspectdTensor

/// What the scoring pass records: one sketch per protected layer, fed with exactly the vectors the
/// layer reads, and nothing about the scores changes.
@Suite struct CaptureTests {
    /// A network small enough for a debug build: 8 latent channels on an 8x8 grid.
    static let config = CDADConfig(latentChannels: 8, amnWidth: 16, amnLayers: 1, amnHeads: 2, amnFFN: 16, neighbourWindow: 3,
                                   unetWidths: [8, 16], timeEmbedding: 16, groupNormGroups: 4, prediction: .x0)

    @Test func everyProtectedLayerGetsItsInputVectors() {
        let network = CDADNetwork(config: Self.config, seed: 3)
        var random = TestRandom(seed: 5)
        let (batch, side, steps) = (3, 8, 2)
        let latent = random.tensor([batch, 8, side, side]), noise = random.tensor([batch, 8, side, side])
        let capture = RepresentationCapture(network: network, method: .covariance)
        capture.record(latents: latent, noiseLevel: 40, steps: steps, noise: noise)
        let sketches = capture.sketches

        let dimensions = ProtectedParameters.projectedDimensions(network.namedParameters)
        #expect(Set(sketches.keys) == Set(dimensions.keys))
        for (name, sketch) in sketches { #expect(sketch.dimension == dimensions[name], "\(name)") }
        let tokens = batch * side * side
        // The AMN runs once; its projection reads the latent's tokens themselves.
        #expect(sketches["amn.proj.weight"]!.sampleCount == tokens)
        let latentEnergy = latent.data.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(sketches["amn.proj.weight"]!.totalEnergy - latentEnergy) < 1e-4 * latentEnergy)
        #expect(sketches["amn.layers.0.attn.k.weight"]!.sampleCount == tokens)
        // The U-Net runs once per DDIM step: every position of every frame, at each step.
        #expect(sketches["unet.conv_in.weight"]!.sampleCount == tokens * steps)
        #expect(sketches["unet.down.0.downsample.weight"]!.sampleCount == tokens / 4 * steps)
        #expect(sketches["unet.up.1.res.0.conv1.weight"]!.sampleCount == tokens / 4 * steps)
        // The time MLP reads one embedding per frame and step.
        #expect(sketches["unet.time.fc1.weight"]!.sampleCount == batch * steps)
        #expect(sketches["unet.up.0.res.0.time_proj.weight"]!.sampleCount == batch * steps)
        // Every frame shares a step's timestep: the embeddings span at most `steps` directions.
        #expect(sketches["unet.time.fc1.weight"]!.totalEnergy > 0)
    }

    @Test func recordingLeavesTheReconstructionAlone() {
        let network = CDADNetwork(config: Self.config, seed: 3)
        var random = TestRandom(seed: 6)
        let latent = random.tensor([2, 8, 8, 8]), noise = random.tensor([2, 8, 8, 8])
        let plain = network.reconstruct(latent: latent, noiseLevel: 30, steps: 2, noise: noise)
        let capture = RepresentationCapture(network: network, method: .isvd)
        let observed = LayerInputs.observing(capture) { network.reconstruct(latent: latent, noiseLevel: 30, steps: 2, noise: noise) }
        #expect(plain.amn.data == observed.amn.data && plain.diffusion.data == observed.diffusion.data)
        // Outside `observing`, nothing is recorded.
        let before = capture.sketches["unet.conv_in.weight"]!.sampleCount
        _ = network.reconstruct(latent: latent, noiseLevel: 30, steps: 2, noise: noise)
        #expect(capture.sketches["unet.conv_in.weight"]!.sampleCount == before)
    }
}
