import InspectdTesting
import InspectdTensor
import Testing
@testable import InspectdModel

@Suite struct CDADScheduleTests {
    let schedule = NoiseSchedule(config: .standard)

    static func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.data, b.data).map { abs($0 - $1) }.max()!
    }

    /// ᾱ_0 = 1 − β_start; ᾱ_1 and ᾱ_999 from NumPy:
    /// `np.cumprod(1 - np.linspace(0.00085**0.5, 0.012**0.5, 1000)**2)`.
    @Test func scaledLinearAlphas() {
        #expect(schedule.timesteps == 1000)
        #expect(abs(schedule.alphasCumprod[0] - 0.999_15) < 1e-15)
        #expect(abs(schedule.betas[999] - 0.012) < 1e-15)
        #expect(abs(schedule.alphasCumprod[1] - 0.998_296_027_838_451_4) < 1e-13)
        #expect(abs(schedule.alphasCumprod[999] / 0.004_660_098_513_077_238 - 1) < 1e-10)
    }

    @Test func targetsAndSplitsInvertEachOther() {
        var random = TestRandom(seed: 8)
        let x0 = random.tensor([3, 4, 2, 2]), noise = random.tensor([3, 4, 2, 2])
        let t = [0, 500, 999]
        let z = schedule.noised(x0, noise: noise, timesteps: t)
        // Sample 1 by hand: √ᾱ·x0 + √(1−ᾱ)·ε.
        let a = Float(schedule.alphasCumprod[500])
        #expect(abs(z.data[16] - (a.squareRoot() * x0.data[16] + (1 - a).squareRoot() * noise.data[16])) < 1e-6)
        for prediction in DiffusionPrediction.allCases {
            let target = schedule.target(prediction, x0: x0, noise: noise, timesteps: t)
            let (x0Back, noiseBack) = schedule.split(target, of: prediction, z: z, timesteps: t)
            #expect(Self.maxDifference(x0Back, x0) < 1e-4, "\(prediction): x0")
            #expect(Self.maxDifference(noiseBack, noise) < 1e-4, "\(prediction): noise")
        }
    }

    @Test func ddimTimesteps() {
        #expect(NoiseSchedule.ddimTimesteps(start: 50, steps: 3) == [50, 33, 16])
        #expect(NoiseSchedule.ddimTimesteps(start: 999, steps: 1) == [999])
        #expect(NoiseSchedule.ddimTimesteps(start: 10, steps: 10) == Array((1...10).reversed()))
    }

    /// With an oracle that always predicts what the true x0 implies for the current latent, every
    /// DDIM step lands back on the trajectory and the result is x0, for every parameterisation.
    @Test func ddimWithAPerfectPredictorRecoversX0() {
        var random = TestRandom(seed: 9)
        let x0 = random.tensor([2, 3, 4, 4]), noise = random.tensor([2, 3, 4, 4])
        for prediction in DiffusionPrediction.allCases {
            for (start, steps) in [(50, 3), (999, 10), (20, 20)] {
                let z = schedule.noised(x0, noise: noise, timesteps: [start, start])
                var calls = 0
                let result = schedule.ddim(from: z, start: start, steps: steps, prediction: prediction) { z, t in
                    calls += 1
                    let s = schedule.spread(t, like: z), a = schedule.signal(t, like: z)
                    let impliedNoise = (z - x0 * a) / s
                    return schedule.target(prediction, x0: x0, noise: impliedNoise, timesteps: t)
                }
                #expect(calls == steps)
                #expect(Self.maxDifference(result, x0) < 1e-4, "\(prediction), t_s \(start), \(steps) steps")
            }
        }
    }
}
