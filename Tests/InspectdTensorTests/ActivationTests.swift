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

    /// Large enough that the C loops run in pieces on several threads: every piece must land.
    @Test func activationsInCSplitBetweenThreadsMatchTheirDefinitions() {
        func worstErrors(_ f: (Tensor) -> Tensor, _ expected: (Double) -> Double,
                         _ derivative: (Double) -> Double) -> (value: Double, gradient: Double) {
            var r = TestRandom(seed: 82)
            let x = r.tensor([3, 50_001], scale: 6, requiresGrad: true)
            let y = f(x)
            sum(y).backward()
            var worst = (value: 0.0, gradient: 0.0)
            for (i, v) in x.data.enumerated() {
                worst.value = max(worst.value, abs(Double(y.data[i]) - expected(Double(v))))
                worst.gradient = max(worst.gradient, abs(Double(x.grad!.data[i]) - derivative(Double(v))))
            }
            return worst
        }
        let sigma = { (x: Double) in 1 / (1 + Foundation.exp(-x)) }
        let siluErrors = worstErrors(silu, { $0 * sigma($0) }, { sigma($0) * (1 + $0 * (1 - sigma($0))) })
        let cdf = { (x: Double) in 0.5 * (1 + Foundation.erf(x / 2.0.squareRoot())) }
        let density = { (x: Double) in Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot() }
        let geluErrors = worstErrors(gelu, { $0 * cdf($0) }, { cdf($0) + $0 * density($0) })
        #expect(siluErrors.value < 1e-5 && siluErrors.gradient < 1e-5)
        #expect(geluErrors.value < 1e-5 && geluErrors.gradient < 1e-5)
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

/// The vectorised exp and tanh the activations are built on, and GELU's erf (in C), against libm
/// in Double.
@Suite struct ActivationApproximationTests {
    @Test func fastFunctionsTrackLibm() {
        var worstExp = 0.0, worstTanh = 0.0
        for i in -3000...3000 {
            let x = Float(i) / 100
            let ex = Foundation.exp(Double(x))
            worstExp = max(worstExp, abs(Double(fastExp(x)) - ex) / ex)
            worstTanh = max(worstTanh, abs(Double(fastTanh(x)) - Foundation.tanh(Double(x))))
        }
        #expect(worstExp < 2e-7)
        #expect(worstTanh < 2e-7)
        #expect(fastExp(0) == 1)
        #expect(fastExp(-200) == 0 && fastExp(-104) == 0)
        #expect(fastExp(89) == .infinity && fastExp(200) == .infinity)
        #expect(abs(fastExp(-90) / Float(Foundation.exp(-90.0)) - 1) < 1e-3)   // subnormal, coarser
        #expect(fastExp(.nan).isNaN && fastTanh(.nan).isNaN)
        #expect(fastTanh(50) == 1 && fastTanh(-50) == -1)
    }

    /// GELU's erf is Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7: the GELU of every
    /// input must be within that share of |x| (plus rounding) of x·Φ(x).
    @Test func geluTracksTheExactForm() {
        let xs = (-3000...3000).map { Float($0) / 100 }
        let y = gelu(Tensor(shape: [xs.count], data: xs))
        var worst = 0.0
        for (x, v) in zip(xs, y.data) {
            let exact = 0.5 * Double(x) * (1 + Foundation.erf(Double(x) / 2.0.squareRoot()))
            worst = max(worst, abs(Double(v) - exact) / max(1, abs(Double(x))))
        }
        #expect(worst < 4e-7)
        #expect(gelu(Tensor(shape: [2], data: [-40, 40])).data == [0, 40])
    }
}
