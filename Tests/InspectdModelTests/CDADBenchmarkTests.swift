import Foundation
import InspectdModel
import InspectdTensor
import InspectdTesting
import Testing

/// Training-step timings of the standard config at batch 8 on a 32x32 latent, for the step budget.
/// Opt-in and meant for release builds (public API only, so no @testable import):
///   CDAD_BENCH=1 swift test -c release --filter CDADBenchmark
@Suite(.enabled(if: ProcessInfo.processInfo.environment["CDAD_BENCH"] != nil, "set CDAD_BENCH=1 to time the CDAD networks"))
struct CDADBenchmarkTests {
    static let batch = 8, size = 32

    /// Fastest of `runs` calls after one warm-up, in milliseconds: the cores are shared, and the
    /// minimum is the run least disturbed by other work.
    static func time(runs: Int = 5, _ body: () -> Void) -> Double {
        body()
        return (0..<runs).map { _ in
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }.min()!
    }

    static func row(_ label: String, _ ms: Double) {
        print("CDAD-BENCH | \(label.padding(toLength: 52, withPad: " ", startingAt: 0)) | \(String(format: "%7.1f", ms)) ms")
    }

    @Test func trainingStep() {
        var random = TestRandom(seed: 1)
        let config = CDADConfig.standard
        let shape = [Self.batch, config.latentChannels, Self.size, Self.size]
        let clean = random.tensor(shape), perturbed = random.tensor(shape), noise = random.tensor(shape)
        let timesteps = (0..<Self.batch).map { 100 * $0 }
        print("CDAD-BENCH threads \(Engine.threads), batch \(Self.batch), latent \(config.latentChannels)x\(Self.size)x\(Self.size)")

        for (heads, ffn) in [(4, 512), (2, 512), (1, 512), (4, 256), (2, 256), (1, 256)] {
            var c = config
            (c.amnHeads, c.amnFFN) = (heads, ffn)
            let network = CDADNetwork(config: c, seed: 0)
            Self.row("AMN fwd, heads \(heads), ffn \(ffn)", Self.time { _ = Autograd.withoutRecording { network.amn(perturbed) } })
            Self.row("AMN fwd+bwd, heads \(heads), ffn \(ffn)", Self.time {
                let out = network.amn(perturbed)
                (mseLoss(out.reconstruction, clean) + mean(out.condition)).backward()
            })
        }

        // Attention alone, as the AMN calls it: T = 1024 tokens, width 128 split over the heads.
        let tokens = Self.size * Self.size
        let mask = AttentionMask(neighbourMask(height: Self.size, width: Self.size, window: config.neighbourWindow))
        for heads in [4, 2, 1] {
            let qkv = (0..<3).map { _ in random.tensor([Self.batch, tokens, config.amnWidth], requiresGrad: true) }
            Self.row("SDPA fwd, \(heads) heads (one layer)", Self.time {
                _ = Autograd.withoutRecording {
                    scaledDotProductAttention(query: qkv[0], key: qkv[1], value: qkv[2], heads: heads, mask: mask)
                }
            })
            Self.row("SDPA fwd+bwd, \(heads) heads (one layer)", Self.time {
                mean(scaledDotProductAttention(query: qkv[0], key: qkv[1], value: qkv[2], heads: heads, mask: mask)).backward()
            })
        }

        let network = CDADNetwork(config: config, seed: 0)
        let condition = random.tensor([Self.batch, config.unetWidths[0], Self.size, Self.size])
        let z = network.schedule.noised(clean, noise: noise, timesteps: timesteps)
        Self.row("U-Net fwd", Self.time { _ = Autograd.withoutRecording { network.unet(z, timesteps: timesteps, condition: condition) } })
        Self.row("U-Net fwd+bwd", Self.time {
            mseLoss(network.unet(z, timesteps: timesteps, condition: condition), noise).backward()
        })
        Self.row("CDAD trainingLosses fwd+bwd (heads \(config.amnHeads))", Self.time {
            network.trainingLosses(clean: clean, perturbed: perturbed, timesteps: timesteps, noise: noise).total.backward()
        })
        let optimiser = AdamW(network.namedParameters, learningRate: 1e-4)
        Self.row("AdamW step (\(network.parameterCount) parameters)", Self.time { optimiser.step() })
        let one = slice(clean, axis: 0, range: 0..<1), oneNoise = slice(noise, axis: 0, range: 0..<1)
        Self.row("reconstruct 1 frame, t_s 50, 3 DDIM steps", Self.time {
            _ = network.reconstruct(latent: one, noiseLevel: 50, steps: 3, noise: oneNoise)
        })
    }
}
