import Foundation
import InspectdTensor
import InspectdTesting
import Testing
@testable import InspectdDetector

private func randomMap(width: Int, height: Int, seed: UInt64) -> AnomalyMap {
    var random = TestRandom(seed: seed)
    return AnomalyMap(width: width, height: height, values: (0..<(width * height)).map { _ in random.uniform(0, 1) })
}

/// scipy.ndimage's `reflect` border, written independently of the code under test.
private func reflect(_ i: Int, _ size: Int) -> Int {
    var i = i
    while i < 0 || i >= size { i = i < 0 ? -i - 1 : 2 * size - i - 1 }
    return i
}

/// Direct 2-D convolution with the outer product of two truncated Gaussians.
private func naiveGaussian(_ map: AnomalyMap, sigmaX: Double, sigmaY: Double) -> [Float] {
    func kernel(_ sigma: Double) -> [Double] {
        let radius = Int(4 * sigma + 0.5)
        let raw = (-radius...radius).map { (offset: Int) -> Double in
            let distance = Double(offset)
            return Foundation.exp(-0.5 * distance * distance / (sigma * sigma))
        }
        let total = raw.reduce(0, +)
        return raw.map { $0 / total }
    }
    let kx = kernel(sigmaX), ky = kernel(sigmaY), rx = kx.count / 2, ry = ky.count / 2
    var out = [Float](repeating: 0, count: map.values.count)
    for y in 0..<map.height {
        for x in 0..<map.width {
            var sum = 0.0
            for j in 0..<ky.count {
                for i in 0..<kx.count {
                    sum += ky[j] * kx[i] * Double(map.values[reflect(y + j - ry, map.height) * map.width + reflect(x + i - rx, map.width)])
                }
            }
            out[y * map.width + x] = Float(sum)
        }
    }
    return out
}

private func largestDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max()!
}

@Suite struct MapsTests {
    @Test func distanceIsTheChannelMeanOfSquaredDifferences() {
        var random = TestRandom(seed: 1)
        let a = random.tensor([2, 3, 4, 5]), b = random.tensor([2, 3, 4, 5])
        let maps = AnomalyMap.distance(a, b)
        #expect(maps.shape == [2, 4, 5])
        for n in 0..<2 {
            for p in 0..<20 {
                let expected = (0..<3).map { c -> Float in
                    let d = a.data[(n * 3 + c) * 20 + p] - b.data[(n * 3 + c) * 20 + p]
                    return d * d
                }.reduce(0, +) / 3
                #expect(abs(maps.data[n * 20 + p] - expected) < 1e-6)
            }
        }
        let second = AnomalyMap(maps, index: 1)
        #expect(second.width == 5 && second.height == 4 && second.values == Array(maps.data[20..<40]))
    }

    /// The pooled residual by its definition: for each position, the mean of a - b over the
    /// window's positions inside the grid, squared.
    @Test func pooledResidualsAverageTheDifferenceOverTheWindowInsideTheGrid() {
        var random = TestRandom(seed: 2)
        let (h, w) = (5, 6)
        let a = random.tensor([2, 3, h, w]), b = random.tensor([2, 3, h, w])
        for pooling in [1, 3, 5] {
            let terms = AnomalyMap.squaredResiduals(a, b, pooling: pooling)
            #expect(terms.shape == a.shape)
            let r = pooling / 2
            for plane in 0..<6 {
                for y in 0..<h {
                    for x in 0..<w {
                        var sum: Float = 0, count = 0
                        for yy in max(0, y - r)...min(h - 1, y + r) {
                            for xx in max(0, x - r)...min(w - 1, x + r) {
                                sum += a.data[plane * h * w + yy * w + xx] - b.data[plane * h * w + yy * w + xx]
                                count += 1
                            }
                        }
                        let expected = (sum / Float(count)) * (sum / Float(count))
                        #expect(abs(terms.data[plane * h * w + y * w + x] - expected) < 1e-5, "pooling \(pooling) at \(plane), \(y), \(x)")
                    }
                }
            }
        }
    }

    /// Standardised: each squared term divided by its level plus the floor, then the channel mean.
    @Test func standardisedDistanceDividesEachTermByItsNormalLevel() {
        var random = TestRandom(seed: 3)
        let a = random.tensor([2, 3, 4, 5]), b = random.tensor([2, 3, 4, 5])
        let levels = NormalResiduals.Levels(channels: 3, height: 4, width: 5, values: (0..<60).map { _ in random.uniform(0, 2) })
        let maps = AnomalyMap.distance(a, b, pooling: 3, normal: levels)
        let terms = AnomalyMap.squaredResiduals(a, b, pooling: 3)
        for n in 0..<2 {
            for p in 0..<20 {
                let expected = (0..<3).map { c in
                    terms.data[(n * 3 + c) * 20 + p] / (levels.values[c * 20 + p] + NormalResiduals.floor)
                }.reduce(0, +) / 3
                #expect(abs(maps.data[n * 20 + p] - expected) < 1e-5 * max(1, expected))
            }
        }
        // A level of zero is held off by the floor, not divided by.
        let zero = NormalResiduals.Levels(channels: 3, height: 4, width: 5, values: [Float](repeating: 0, count: 60))
        let guarded = AnomalyMap.distance(a, b, normal: zero).data
        #expect(guarded.allSatisfy { $0.isFinite })
    }

    @Test func normalResidualsAreTheMeanOverImagesAndSurviveTheWeightsFile() {
        var random = TestRandom(seed: 4)
        let first = random.tensor([2, 3, 2, 2]), second = random.tensor([1, 3, 2, 2])
        let amn = [first, second].map { Tensor(shape: $0.shape, data: $0.data.map { $0 * $0 }) }
        let diffusion = amn.map { Tensor(shape: $0.shape, data: $0.data.map { $0 * 2 }) }
        var accumulator = NormalResiduals.Accumulator()
        #expect(accumulator.residuals == nil)
        accumulator.add(amn: amn[0], diffusion: diffusion[0])
        accumulator.add(amn: amn[1], diffusion: diffusion[1])
        let levels = accumulator.residuals!
        #expect(accumulator.images == 3)
        for i in 0..<12 {
            let expected = (amn[0].data[i] + amn[0].data[12 + i] + amn[1].data[i]) / 3
            #expect(abs(levels.amn.values[i] - expected) < 1e-6)
            #expect(abs(levels.diffusion.values[i] - 2 * expected) < 1e-5)
        }
        let tensors = levels.tensors(product: "bottle")
        #expect(tensors.keys.sorted() == ["residuals.bottle.amn", "residuals.bottle.diffusion"])
        #expect(NormalResiduals(tensors: tensors, product: "bottle") == levels)
        #expect(NormalResiduals(tensors: tensors, product: "glass") == nil)
    }

    @Test func gaussianSmoothingMatchesADirectConvolution() {
        let map = randomMap(width: 23, height: 17, seed: 2)
        #expect(largestDifference(map.smoothed(sigma: 2).values, naiveGaussian(map, sigmaX: 2, sigmaY: 2)) < 1e-5)
        #expect(largestDifference(map.smoothed(sigmaX: 1.5, sigmaY: 3).values, naiveGaussian(map, sigmaX: 1.5, sigmaY: 3)) < 1e-5)
        // A kernel wider than the map folds over the borders more than once.
        let small = randomMap(width: 7, height: 5, seed: 3)
        #expect(largestDifference(small.smoothed(sigma: 4).values, naiveGaussian(small, sigmaX: 4, sigmaY: 4)) < 1e-5)
        #expect(map.smoothed(sigma: 0) == map)
    }

    @Test func bilinearResizeMatchesTheTensorOpAndKeepsConstants() {
        let map = randomMap(width: 32, height: 24, seed: 4)
        for (width, height) in [(256, 256), (90, 47), (16, 12)] {
            let reference = resizeBilinear(Tensor(shape: [1, 1, 24, 32], data: map.values), height: height, width: width)
            #expect(largestDifference(map.resized(width: width, height: height).values, reference.data) < 1e-5)
        }
        let constant = AnomalyMap(width: 32, height: 32, values: [Float](repeating: 0.37, count: 1024))
        for map in [constant.resized(width: 256, height: 256), constant.resized(width: 900, height: 600),
                    constant.smoothedMap(side: 256)] {
            #expect(map.values.allSatisfy { abs($0 - 0.37) < 1e-6 })
        }
    }

    @Test func scoreIsTheMaximumOfTheSmoothedMap() {
        var values = [Float](repeating: 0, count: 32 * 32)
        values[10 * 32 + 20] = 5
        let map = AnomalyMap(width: 32, height: 32, values: values).smoothedMap(side: 256)
        #expect(map.width == 256 && map.height == 256)
        #expect(map.maximum == map.values.max()! && map.maximum > 0 && map.maximum < 5)
        let peak = map.values.firstIndex(of: map.maximum)!
        // The spike sits at latent cell (20, 10): pixels 160..<168 and 80..<88 at 256.
        #expect((159...168).contains(peak % 256) && (79...88).contains(peak / 256))
    }

    /// Hand-computed: 8 values, the top share rounded to a whole count, never fewer than one.
    @Test func imageScoreIsTheMeanOfTheTopShare() {
        let map = AnomalyMap(width: 4, height: 2, values: [1, 5, 3, 4, 0, 2, 5, 7])
        #expect(map.imageScore(topFraction: 0) == 7)
        #expect(map.imageScore(topFraction: 0.05) == 7)      // 0.4 values rounds to none: one
        #expect(map.imageScore(topFraction: 0.25) == 6)      // 7, 5
        #expect(map.imageScore(topFraction: 0.375) == Float(17) / 3) // 7, 5, 5: a tie counts each value
        #expect(map.imageScore(topFraction: 1) == Float(27) / 8)
        #expect(map.imageScores(topFractions: [0.25, 0, 1, 0.375]) == [6, 7, Float(27) / 8, Float(17) / 3])
        #expect(map.imageScores(topFractions: [0, 0.05]) == [7, 7])
    }

    /// By hand: x = 1, 2, 3 and y = 2, 4, 7 give Σdxdy = 5, Σdx² = 2, Σdy² = 114/9.
    @Test func pearsonOfTwoMaps() {
        #expect(abs(PrecisionAgreement.pearson([1, 2, 3], [2, 4, 7]) - 5 / (2 * 114 / 9.0).squareRoot()) < 1e-12)
        #expect(PrecisionAgreement.pearson([1, 2, 3], [-3, -6, -9]) == -1)
        #expect(PrecisionAgreement.pearson([2, 2], [2, 2]) == 1)
        #expect(PrecisionAgreement.pearson([2, 2], [1, 3]) == 0)
    }

    /// The selection behind the image score against a full sort: random maps, maps of few
    /// distinct values (ties around the pivot), sorted and reversed input, every k at the edges.
    @Test func largestValuesMatchAFullSort() {
        var generator = SystemRandomNumberGenerator()
        let inputs: [[Float]] = [
            (0..<4099).map { _ in Float.random(in: -1...1, using: &generator) },
            (0..<1000).map { _ in Float(Int.random(in: 0..<4, using: &generator)) },
            (0..<500).map(Float.init), (0..<500).map { Float(500 - $0) },
            [Float](repeating: 2, count: 77), [3],
        ]
        for values in inputs {
            let sorted = values.sorted(by: >)
            for k in Set([1, 2, 3, values.count / 3, values.count - 1, values.count]) where (1...values.count).contains(k) {
                #expect(AnomalyMap.largest(k, of: values) == Array(sorted.prefix(k)), "k \(k) of \(values.count)")
            }
        }
    }
}
