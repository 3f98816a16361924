import InspectdTensor

/// The trainable part of the continual diffusion anomaly detector: the anomaly-masked network
/// (parameters `amn.*`) and the denoising U-Net (`unet.*`) over the frozen backbone's latent,
/// with the noise schedule they share.
///
/// Randomness (timesteps, noise) is always the caller's, so training and scoring replay exactly
/// from their seeds.
public final class CDADNetwork: ParameterContainer {
    public let config: CDADConfig
    public let schedule: NoiseSchedule
    public let amn: AnomalyMaskedNetwork
    public let unet: DenoisingUNet

    /// Weights drawn from `seed` with PyTorch's default initialisers; the same seed gives the same
    /// network on every machine.
    public init(config: CDADConfig, seed: UInt64) {
        config.validate()
        self.config = config
        schedule = NoiseSchedule(config: config)
        var rng = SeededGenerator(seed: seed)
        amn = AnomalyMaskedNetwork(config: config, rng: &rng)
        unet = DenoisingUNet(config: config, rng: &rng)
    }

    public func parameters(prefix: String) -> [NamedParameter] {
        amn.parameters(prefix: prefix) + unet.parameters(prefix: prefix)
    }

    /// The losses of one training step, recorded for `backward()`.
    ///
    /// The AMN sees the `perturbed` latent and is asked to reconstruct the `clean` one; the U-Net
    /// sees the clean latent noised at `timesteps` with `noise` and, conditioned on the AMN, predicts
    /// the configured target. total = diffusion + amnLossWeight·amn. All latents are [B, C, H, W].
    public func trainingLosses(clean: Tensor, perturbed: Tensor, timesteps: [Int], noise: Tensor)
        -> (total: Tensor, diffusion: Tensor, amn: Tensor) {
        precondition(perturbed.shape == clean.shape && noise.shape == clean.shape,
                     "trainingLosses: clean \(clean.shape), perturbed \(perturbed.shape), noise \(noise.shape) differ")
        let masked = amn(perturbed)
        let amnLoss = mseLoss(masked.reconstruction, clean)
        let z = schedule.noised(clean, noise: noise, timesteps: timesteps)
        let output = unet(z, timesteps: timesteps, condition: masked.condition)
        let target = schedule.target(config.prediction, x0: clean, noise: noise, timesteps: timesteps)
        let diffusionLoss = mseLoss(output, target)
        return (diffusionLoss + amnLoss * config.amnLossWeight, diffusionLoss, amnLoss)
    }

    /// The two reconstructions of `latent` that scoring compares it with, nothing recorded.
    ///
    /// One AMN pass gives its reconstruction and the condition that every DDIM step reuses (the
    /// AMN does not depend on the step, and there is no unconditioned guidance branch). The latent
    /// is noised to t = `noiseLevel` with `noise` and denoised in `steps` DDIM steps to x0.
    public func reconstruct(latent: Tensor, noiseLevel: Int, steps: Int, noise: Tensor) -> (amn: Tensor, diffusion: Tensor) {
        precondition(noise.shape == latent.shape, "reconstruct: noise \(noise.shape) for a latent \(latent.shape)")
        return Autograd.withoutRecording {
            let masked = amn(latent)
            let start = [Int](repeating: noiseLevel, count: latent.shape[0])
            let z = schedule.noised(latent, noise: noise, timesteps: start)
            let x0 = schedule.ddim(from: z, start: noiseLevel, steps: steps, prediction: config.prediction) { z, t in
                unet(z, timesteps: t, condition: masked.condition)
            }
            return (masked.reconstruction, x0)
        }
    }
}
