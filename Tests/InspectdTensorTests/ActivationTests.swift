import Foundation
import InspectdTesting
import Testing
@testable import InspectdTensor

/// Random values in [-4, 4) kept at least 0.1 from every kink, so finite differences see a smooth function.
func awayFromKinks(_ shape: [Int], seed: UInt64) -> Tensor {
    var r = TestRandom(seed: seed)
    let t = r.tensor(shape, scale: 4, requiresGrad: true)
    for i in 0..<t.count where abs(t.data[i]) < 0.1 { t.data[i] += t.data[i] < 0 ? -0.2 : 0.2 }
    return t
}

@Suite struct ActivationTests {
    @Test func knownValues() {
        let x = Tensor(shape: [6], data: [-7, -1, 0, 1, 6, 7])
        #expect(relu(x).data == [0, 0, 0, 1, 6, 7])
        #expect(relu6(x).data == [0, 0, 0, 1, 6, 6])
        #expect(abs(sigmoid(x).data[2] - 0.5) < 1e-7)
        #expect(abs(silu(x).data[3] - 0.7310586) < 1e-6)
        #expect(abs(gelu(x).data[3] - 0.8413447) < 1e-6)
        #expect(abs(gelu(x).data[1] + 0.1586553) < 1e-6)
        #expect(abs(tanh(x).data[3] - 0.7615942) < 1e-6)
    }

    @Test func matchDefinitions() {
        var r = TestRandom(seed: 80)
        let x = r.tensor([4, 9], scale: 8)
        func check(_ y: Tensor, _ f: (Double) -> Double) -> Bool {
            zip(x.data, y.data).allSatisfy { abs(Double($1) - f(Double($0))) < 1e-5 * max(1, abs(f(Double($0)))) }
        }
        #expect(check(relu(x)) { max($0, 0) })
        #expect(check(relu6(x)) { min(max($0, 0), 6) })
        #expect(check(sigmoid(x)) { 1 / (1 + Foundation.exp(-$0)) })
        #expect(check(tanh(x)) { Foundation.tanh($0) })
        #expect(check(silu(x)) { $0 / (1 + Foundation.exp(-$0)) })
        #expect(check(gelu(x)) { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) })
    }

    /// Large enough that the C loop runs in pieces on several threads: every piece must land.
    @Test func siluSplitBetweenThreadsMatchesItsDefinition() {
        var r = TestRandom(seed: 82)
        let x = r.tensor([3, 50_001], scale: 6, requiresGrad: true)
        let y = silu(x)
        sum(y).backward()
        var worst = 0.0, worstGrad = 0.0
        for (i, v) in x.data.enumerated() {
            let s = 1 / (1 + Foundation.exp(-Double(v)))
            worst = max(worst, abs(Double(y.data[i]) - Double(v) * s))
            worstGrad = max(worstGrad, abs(Double(x.grad!.data[i]) - s * (1 + Double(v) * (1 - s))))
        }
        #expect(worst < 1e-5 && worstGrad < 1e-5)
    }

    @Test func gradients() {
        let x = awayFromKinks([3, 7], seed: 81)
        #expect(gradientError([x]) { relu($0[0]) } < 1e-2)
        #expect(gradientError([x]) { sigmoid($0[0]) } < 1e-2)
        #expect(gradientError([x]) { tanh($0[0]) } < 1e-2)
        #expect(gradientError([x]) { silu($0[0]) } < 1e-2)
        #expect(gradientError([x]) { gelu($0[0]) } < 1e-2)
        // relu6 also has a kink at 6: move the inputs to straddle it instead of 0.
        let shifted = Tensor(shape: x.shape, data: x.data.map { $0 + 6 }, requiresGrad: true)
        #expect(gradientError([shifted]) { relu6($0[0]) } < 1e-2)
        #expect(gradientError([x]) { relu6($0[0]) } < 1e-2)
    }

    @Test func subgradientIsZeroAtKinks() {
        let x = Tensor(shape: [4], data: [0, 6, 3, -2], requiresGrad: true)
        relu(x).backward(seed: Tensor(repeating: 1, shape: [4]))
        #expect(x.grad!.data == [0, 1, 1, 0])
        x.grad = nil
        relu6(x).backward(seed: Tensor(repeating: 1, shape: [4]))
        #expect(x.grad!.data == [0, 0, 1, 0])
    }
}

/// The vectorised exp, tanh and erf the activations are built on, against libm in Double.
@Suite struct ActivationApproximationTests {
    @Test func fastFunctionsTrackLibm() {
        var worstExp = 0.0, worstTanh = 0.0, worstErf = 0.0
        for i in -3000...3000 {
            let x = Float(i) / 100
            let ex = Foundation.exp(Double(x))
            worstExp = max(worstExp, abs(Double(fastExp(x)) - ex) / ex)
            worstTanh = max(worstTanh, abs(Double(fastTanh(x)) - Foundation.tanh(Double(x))))
            let e = fastExp(-x * x)
            worstErf = max(worstErf, abs(Double(fastErf(x, expMinusSquare: e)) - Foundation.erf(Double(x))))
        }
        #expect(worstExp < 2e-7)
        #expect(worstTanh < 2e-7)
        #expect(worstErf < 4e-7)   // A&S's own bound plus rounding
        #expect(fastExp(0) == 1)
        #expect(fastExp(-200) == 0 && fastExp(-104) == 0)
        #expect(fastExp(89) == .infinity && fastExp(200) == .infinity)
        #expect(abs(fastExp(-90) / Float(Foundation.exp(-90.0)) - 1) < 1e-3)   // subnormal, coarser
        #expect(fastExp(.nan).isNaN && fastTanh(.nan).isNaN)
        #expect(fastTanh(50) == 1 && fastTanh(-50) == -1)
    }
}
