import Foundation
import InspectdTesting
import Testing
@testable import InspectdTensor

/// Group norm by its definition, in Double: mean and biased variance over each group's values.
func naiveGroupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Double = 1e-5) -> [Float] {
    let (n, c) = (x.shape[0], x.shape[1])
    let spatial = x.count / (n * c)
    let length = c / groups * spatial
    var y = [Float](repeating: 0, count: x.count)
    for s in 0..<(n * groups) {
        let values = (0..<length).map { Double(x.data[s * length + $0]) }
        let mean = values.reduce(0, +) / Double(length)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(length)
        for i in 0..<length {
            let channel = (s % groups) * (c / groups) + i / spatial
            let xhat = (values[i] - mean) / (variance + eps).squareRoot()
            let w = Double(weight?.data[channel] ?? 1), b = Double(bias?.data[channel] ?? 0)
            y[s * length + i] = Float(xhat * w + b)
        }
    }
    return y
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

@Suite struct NormalizationTests {
    @Test(arguments: [1, 2, 6])
    func groupNormMatchesDefinition(_ groups: Int) {
        var r = TestRandom(seed: 21)
        let x = r.tensor([2, 6, 3, 5], scale: 3)
        let w = r.tensor([6]), b = r.tensor([6])
        let y = groupNorm(x, groups: groups, weight: w, bias: b)
        #expect(y.shape == x.shape)
        #expect(maxAbsDifference(y.data, naiveGroupNorm(x, groups: groups, weight: w, bias: b)) < 1e-4)
        let plain = groupNorm(x, groups: groups)
        #expect(maxAbsDifference(plain.data, naiveGroupNorm(x, groups: groups, weight: nil, bias: nil)) < 1e-4)
    }

    @Test func groupNormKeepsPrecisionFarFromZero() {
        var r = TestRandom(seed: 22)
        let x = r.tensor([1, 4, 8, 8])
        for i in 0..<x.count { x.data[i] += 1000 }
        let y = groupNorm(x, groups: 2)
        #expect(maxAbsDifference(y.data, naiveGroupNorm(x, groups: 2, weight: nil, bias: nil)) < 2e-3)
    }

    @Test(arguments: [1, 2, 4])
    func groupNormGradients(_ groups: Int) {
        var r = TestRandom(seed: 23)
        let x = r.tensor([2, 4, 3, 3], scale: 2, requiresGrad: true)
        let w = r.tensor([4], requiresGrad: true), b = r.tensor([4], requiresGrad: true)
        #expect(gradientError([x, w, b]) { groupNorm($0[0], groups: groups, weight: $0[1], bias: $0[2]) } < 1e-2)
        #expect(gradientError([x]) { groupNorm($0[0], groups: groups) } < 1e-2)
    }

    @Test func layerNormMatchesDefinitionAndGradients() {
        var r = TestRandom(seed: 24)
        let x = r.tensor([2, 3, 7], scale: 2, requiresGrad: true)
        let w = r.tensor([7], requiresGrad: true), b = r.tensor([7], requiresGrad: true)
        let y = layerNorm(x, weight: w, bias: b)
        // Each row is a group norm of one "image" with one channel per element.
        let rows = Tensor(shape: [6, 7, 1], data: x.data)
        #expect(maxAbsDifference(y.data, naiveGroupNorm(rows, groups: 1, weight: w, bias: b)) < 1e-4)
        #expect(gradientError([x, w, b]) { layerNorm($0[0], weight: $0[1], bias: $0[2]) } < 1e-2)
    }

    @Test func batchNormMatchesFormulaAndGradients() {
        var r = TestRandom(seed: 25)
        let x = r.tensor([2, 3, 4, 2], scale: 2, requiresGrad: true)
        let mean = r.tensor([3]), variance = Tensor(shape: [3], data: [0.5, 1.5, 2.25])
        let w = r.tensor([3], requiresGrad: true), b = r.tensor([3], requiresGrad: true)
        let y = batchNorm(x, mean: mean, variance: variance, weight: w, bias: b, eps: 1e-3)
        for i in 0..<x.count {
            let c = (i / 8) % 3
            let expected = (x.data[i] - mean.data[c]) / (variance.data[c] + 1e-3).squareRoot() * w.data[c] + b.data[c]
            #expect(abs(y.data[i] - expected) < 1e-5)
        }
        #expect(gradientError([x, w, b]) {
            batchNorm($0[0], mean: mean, variance: variance, weight: $0[1], bias: $0[2], eps: 1e-3)
        } < 1e-2)
    }

    @Test(arguments: [true, false])
    func foldedConvolutionEqualsConvolutionThenBatchNorm(_ withConvBias: Bool) {
        var r = TestRandom(seed: 26)
        let x = r.tensor([2, 3, 6, 5])
        let convWeight = r.tensor([4, 3, 3, 3]), convBias = withConvBias ? r.tensor([4]) : nil
        let mean = r.tensor([4]), variance = Tensor(shape: [4], data: [0.3, 1, 2, 0.7])
        let w = r.tensor([4]), b = r.tensor([4])
        let reference = batchNorm(conv2d(x, convWeight, bias: convBias, padding: Padding2d(1)),
                                  mean: mean, variance: variance, weight: w, bias: b, eps: 1e-4)
        let folded = foldBatchNorm(convWeight: convWeight, convBias: convBias, mean: mean, variance: variance,
                                   weight: w, bias: b, eps: 1e-4)
        #expect(folded.weight.shape == convWeight.shape && folded.bias.shape == [4])
        let fused = conv2d(x, folded.weight, bias: folded.bias, padding: Padding2d(1))
        #expect(maxAbsDifference(fused.data, reference.data) < 1e-4)
    }
}
