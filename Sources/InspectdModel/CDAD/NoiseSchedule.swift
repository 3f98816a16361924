import InspectdTensor

/// The DDPM forward process and the deterministic DDIM sampler.
///
/// "Scaled linear" betas (Stable Diffusion's): β_t = (√β_start + t/(T−1)·(√β_end − √β_start))²,
/// α_t = 1 − β_t, ᾱ_t = Π_{s≤t} α_s, all in Float64 so that ᾱ near t = T−1 keeps its digits.
/// z_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε.
public struct NoiseSchedule: Sendable {
    public let betas: [Double]
    public let alphasCumprod: [Double]

    public init(config: CDADConfig) {
        let (lo, hi) = (config.betaStart.squareRoot(), config.betaEnd.squareRoot())
        let last = Double(config.timesteps - 1)
        betas = (0..<config.timesteps).map { t in
            let root = lo + Double(t) / last * (hi - lo)
            return root * root
        }
        var product = 1.0
        alphasCumprod = betas.map { beta in
            product *= 1 - beta
            return product
        }
    }

    public var timesteps: Int { betas.count }

    /// z_t = √ᾱ_t·x0 + √(1−ᾱ_t)·noise, with t per sample of the batch (axis 0).
    public func noised(_ x0: Tensor, noise: Tensor, timesteps t: [Int]) -> Tensor {
        precondition(noise.shape == x0.shape, "noised: noise \(noise.shape) for a latent \(x0.shape)")
        return x0 * signal(t, like: x0) + noise * spread(t, like: x0)
    }

    /// What a network of parameterisation `prediction` is trained to output for clean `x0` noised
    /// with `noise` at t.
    public func target(_ prediction: DiffusionPrediction, x0: Tensor, noise: Tensor, timesteps t: [Int]) -> Tensor {
        switch prediction {
        case .epsilon: noise
        case .x0: x0
        case .v: noise * signal(t, like: x0) - x0 * spread(t, like: x0)
        }
    }

    /// The clean latent and the noise that a prediction implies for z_t at t.
    ///   ε-prediction: x0 = (z − √(1−ᾱ)ε)/√ᾱ
    ///   x0-prediction: ε = (z − √ᾱ·x0)/√(1−ᾱ)
    ///   v-prediction: x0 = √ᾱ·z − √(1−ᾱ)·v, ε = √(1−ᾱ)·z + √ᾱ·v (because ᾱ + (1−ᾱ) = 1)
    public func split(_ output: Tensor, of prediction: DiffusionPrediction, z: Tensor, timesteps t: [Int])
        -> (x0: Tensor, noise: Tensor) {
        let (a, s) = (signal(t, like: z), spread(t, like: z))
        switch prediction {
        case .epsilon: return ((z - output * s) / a, output)
        case .x0: return (output, (z - output * a) / s)
        case .v: return (z * a - output * s, z * s + output * a)
        }
    }

    /// The DDIM timesteps from `start` down towards 0 in `steps` even strides:
    /// t_i = ⌊start·(steps − i)/steps⌋, e.g. start 50, 3 steps → 50, 33, 16.
    public static func ddimTimesteps(start: Int, steps: Int) -> [Int] {
        precondition(steps >= 1 && start >= steps, "DDIM: \(steps) steps from t = \(start) would repeat timesteps")
        return (0..<steps).map { start * (steps - $0) / steps }
    }

    /// Deterministic DDIM (η = 0) from z at t = `start`, returning the final estimate of x0.
    ///
    /// At each t_i, `predict(z, t)` gives the network output, split into (x0, ε); the next latent
    /// is √ᾱ_{t_{i+1}}·x0 + √(1−ᾱ_{t_{i+1}})·ε. After the last step the x0 estimate is the
    /// answer (DDIM's final step to ᾱ = 1).
    public func ddim(from z: Tensor, start: Int, steps: Int, prediction: DiffusionPrediction,
                     predict: (_ z: Tensor, _ timesteps: [Int]) -> Tensor) -> Tensor {
        precondition(start < timesteps, "DDIM start t = \(start) beyond the schedule's \(timesteps) steps")
        let batch = z.shape[0]
        let ts = Self.ddimTimesteps(start: start, steps: steps)
        func estimate(_ z: Tensor, _ t: Int) -> (x0: Tensor, noise: Tensor) {
            let here = [Int](repeating: t, count: batch)
            return split(predict(z, here), of: prediction, z: z, timesteps: here)
        }
        var z = z
        for (t, next) in zip(ts, ts.dropFirst()) {
            let (x0, noise) = estimate(z, t)
            let after = [Int](repeating: next, count: batch)
            z = x0 * signal(after, like: z) + noise * spread(after, like: z)
        }
        return estimate(z, ts[ts.count - 1]).x0
    }

    /// √ᾱ_t per sample, shaped [B, 1, ...] to broadcast over `like`.
    func signal(_ t: [Int], like x: Tensor) -> Tensor {
        perSample(t.map { alphasCumprod[$0].squareRoot() }, like: x)
    }

    /// √(1−ᾱ_t) per sample, shaped [B, 1, ...] to broadcast over `like`.
    func spread(_ t: [Int], like x: Tensor) -> Tensor {
        perSample(t.map { (1 - alphasCumprod[$0]).squareRoot() }, like: x)
    }

    private func perSample(_ values: [Double], like x: Tensor) -> Tensor {
        precondition(values.count == x.shape[0], "\(values.count) timesteps for a batch of \(x.shape[0])")
        return Tensor(shape: [values.count] + [Int](repeating: 1, count: x.rank - 1), data: values.map { Float($0) })
    }
}
