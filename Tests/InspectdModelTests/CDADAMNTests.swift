import Foundation
import InspectdTesting
import InspectdTensor
import Testing
@testable import InspectdModel

@Suite struct CDADAMNTests {
    /// C = 6, D = 8, 2 heads, window 3: small enough for finite differences.
    static func tinyConfig(layers: Int = 1) -> CDADConfig {
        CDADConfig(latentChannels: 6, amnWidth: 8, amnLayers: layers, amnHeads: 2, amnFFN: 16, neighbourWindow: 3,
                   unetWidths: [8, 16], timeEmbedding: 16, groupNormGroups: 4)
    }

    static func tinyAMN(layers: Int = 1, seed: UInt64 = 1) -> AnomalyMaskedNetwork {
        var rng = SeededGenerator(seed: seed)
        return AnomalyMaskedNetwork(config: tinyConfig(layers: layers), rng: &rng)
    }

    /// Both heads' outputs as one flat tensor.
    static func outputs(_ amn: AnomalyMaskedNetwork, _ latent: Tensor) -> Tensor {
        let out = amn(latent)
        return concat([reshaped(out.reconstruction, [-1]), reshaped(out.condition, [-1])], axis: 0)
    }

    @Test func shapes() {
        let amn = Self.tinyAMN()
        var random = TestRandom(seed: 2)
        let out = amn(random.tensor([3, 6, 4, 5]))
        #expect(out.reconstruction.shape == [3, 6, 4, 5])
        #expect(out.condition.shape == [3, 8, 4, 5])
    }

    @Test func gradientsMatchFiniteDifferences() {
        let amn = Self.tinyAMN()
        var random = TestRandom(seed: 3)
        let latent = random.tensor([2, 6, 4, 4], requiresGrad: true)
        let layer = amn.layers[0]
        let checked = [latent, amn.proj.weight, layer.norm1.weight, layer.q.weight, layer.k.weight, layer.v.bias,
                       layer.out.weight, layer.fc1.weight, layer.fc2.bias, amn.norm.bias, amn.recon.weight, amn.cond.weight]
        let error = gradientError(checked) { _ in Self.outputs(amn, latent) }
        #expect(error < 1e-2)
    }

    /// The precise guarantee of the mask, for one layer: the output at p does not depend on the
    /// other tokens inside p's window, and does depend on tokens outside it.
    @Test func neighbourMaskBlocksTheWindow() {
        let amn = Self.tinyAMN()
        var random = TestRandom(seed: 4)
        let (h, w) = (6, 6)
        let latent = random.tensor([1, 6, h, w])
        let p = (y: 2, x: 2)

        func outputAtP(_ x: Tensor) -> [Float] {
            let out = Autograd.withoutRecording { amn(x) }
            return [out.reconstruction, out.condition].flatMap { map in
                (0..<map.shape[1]).map { c in map.data[(c * h + p.y) * w + p.x] }
            }
        }
        func changed(at y: Int, _ x: Int) -> Tensor {
            let t = Tensor(shape: latent.shape, data: latent.data)
            for c in 0..<6 { t.data[(c * h + y) * w + x] += 0.7 }
            return t
        }
        func largestChange(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max()! }

        let base = outputAtP(latent)
        for (y, x) in [(1, 1), (1, 3), (3, 2), (3, 3)] {   // inside the 3x3 window, not p itself
            #expect(largestChange(base, outputAtP(changed(at: y, x))) <= 1e-6, "token (\(y), \(x)) leaked into p")
        }
        for (y, x) in [(0, 0), (5, 5), (2, 4)] {           // outside the window
            #expect(largestChange(base, outputAtP(changed(at: y, x))) > 1e-4, "token (\(y), \(x)) did not reach p")
        }
        // The token itself still reaches its output (residual and query), as the type's doc says.
        #expect(largestChange(base, outputAtP(changed(at: p.y, p.x))) > 1e-4)

        // A second layer relays neighbours through far tokens: the guarantee is per layer.
        let deep = Self.tinyAMN(layers: 2)
        let deepBase = Autograd.withoutRecording { deep(latent).reconstruction }
        let deepChanged = Autograd.withoutRecording { deep(changed(at: 3, 3)).reconstruction }
        #expect(largestChange([deepBase.data[(0 * h + p.y) * w + p.x]], [deepChanged.data[(0 * h + p.y) * w + p.x]]) > 1e-6)
    }

    /// DETR's encoding at known points: the first of 4 rows sits at 2π/4, the second of 2 columns at 2π.
    @Test func sineEncodingAtKnownPoints() {
        let pe = sinePositionEncoding(height: 4, width: 2, channels: 8)
        #expect(pe.shape == [8, 8])
        let y = 2 * Float.pi * 1 / 4, x = 2 * Float.pi * 2 / 2
        // Token (0, 1): y = 1st row, x = 2nd column; channel pairs use 10000^(0/4) and 10000^(2/4).
        let row = Array(pe.data[8..<16])
        let expected: [Float] = [sin(y), cos(y), sin(y / 100), cos(y / 100), sin(x), cos(x), sin(x / 100), cos(x / 100)]
        for (a, b) in zip(row, expected) { #expect(abs(a - b) < 1e-5) }
    }
}
