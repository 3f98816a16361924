import Foundation
import InspectdTesting
import Testing
@testable import InspectdTensor

/// `f` over the NumPy broadcast of a and b, one multi-index at a time.
func naiveBroadcast(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    let rank = max(a.rank, b.rank)
    let pa = [Int](repeating: 1, count: rank - a.rank) + a.shape
    let pb = [Int](repeating: 1, count: rank - b.rank) + b.shape
    let shape = zip(pa, pb).map { max($0, $1) }
    let (sa, sb, so) = (Tensor.strides(of: pa), Tensor.strides(of: pb), Tensor.strides(of: shape))
    var out = [Float](repeating: 0, count: shape.reduce(1, *))
    for flat in out.indices {
        var ia = 0, ib = 0
        for axis in 0..<rank {
            let i = (flat / so[axis]) % shape[axis]
            if pa[axis] != 1 { ia += i * sa[axis] }
            if pb[axis] != 1 { ib += i * sb[axis] }
        }
        out[flat] = f(a.data[ia], b.data[ib])
    }
    return Tensor(shape: shape, data: out)
}

func close(_ x: Tensor, _ y: Tensor, tolerance: Float = 1e-5) -> Bool {
    x.shape == y.shape && zip(x.data, y.data).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
}

/// Values in ±[0.5, 1.5]: safe denominators and square roots of their squares.
func awayFromZero(_ shape: [Int], seed: UInt64, requiresGrad: Bool = false) -> Tensor {
    var r = TestRandom(seed: seed)
    let t = r.tensor(shape, requiresGrad: requiresGrad)
    for i in 0..<t.count { t.data[i] = (t.data[i] < 0 ? -1 : 1) * (0.5 + abs(t.data[i])) }
    return t
}

let broadcastPairs: [([Int], [Int])] = [
    ([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [4]), ([2, 1, 4], [3, 1]), ([2, 3, 4, 5], [1, 3, 1, 1]),
    ([2, 3, 4, 5], [3, 1, 1]), ([4, 1], [1, 5]), ([3], [2, 3]), ([2, 3], []), ([], [2, 3]),
]

@Suite struct ElementwiseTests {
    @Test func handComputedBroadcast() {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        #expect((a + Tensor(shape: [3], data: [10, 20, 30])).data == [11, 22, 33, 14, 25, 36])
        #expect((a * Tensor(shape: [2, 1], data: [2, -1])).data == [2, 4, 6, -4, -5, -6])
        #expect((a - 1).data == [0, 1, 2, 3, 4, 5])
        #expect((12 / a).data == [12, 6, 4, 3, 2.4, 2])
        #expect((-a).data == [-1, -2, -3, -4, -5, -6])
        #expect(scaled(a, by: 0.5).data == [0.5, 1, 1.5, 2, 2.5, 3])
        let outer = Tensor(shape: [2, 1], data: [1, 2]) * Tensor(shape: [1, 3], data: [1, 10, 100])
        #expect(outer.shape == [2, 3] && outer.data == [1, 10, 100, 2, 20, 200])
    }

    @Test(arguments: broadcastPairs.indices)
    func arithmeticMatchesNaiveBroadcast(_ index: Int) {
        let (sa, sb) = broadcastPairs[index]
        var r = TestRandom(seed: UInt64(10 + index))
        let a = r.tensor(sa)
        let b = awayFromZero(sb, seed: UInt64(20 + index))
        #expect(close(add(a, b), naiveBroadcast(a, b, +)))
        #expect(close(sub(a, b), naiveBroadcast(a, b, -)))
        #expect(close(mul(a, b), naiveBroadcast(a, b, *)))
        #expect(close(div(a, b), naiveBroadcast(a, b, /)))
        #expect(close(b - a, naiveBroadcast(b, a, -)))
    }

    @Test func scalarOperandsBroadcastBothWays() {
        var r = TestRandom(seed: 30)
        let x = r.tensor([3, 4])
        let two = Tensor(scalar: 2)
        #expect(close(x + 2, naiveBroadcast(x, two, +)))
        #expect(close(2 - x, naiveBroadcast(two, x, -)))
        #expect(close(x * 2, naiveBroadcast(x, two, *)))
        #expect(close(x / 2, naiveBroadcast(x, two, /)))
        #expect((Tensor(scalar: 3) * Tensor(scalar: 4)).shape == [])
    }

    @Test func largeChannelBroadcastUsesEveryThreadPath() {
        // Big enough to be split over threads, both by rows and within a single run.
        var r = TestRandom(seed: 31)
        let x = r.tensor([4, 16, 32, 33])
        let bias = r.tensor([1, 16, 1, 1])
        let vector = r.tensor([33])
        #expect(close(x + bias, naiveBroadcast(x, bias, +)))
        #expect(close(x * vector, naiveBroadcast(x, vector, *)))
        #expect(close(x - x, Tensor(zeros: x.shape)))
        let wide = r.tensor([1, 70_000])
        let column = r.tensor([2, 1])
        #expect(close(wide * column, naiveBroadcast(wide, column, *)))
    }

    @Test(arguments: broadcastPairs.indices)
    func arithmeticGradientsReduceOverBroadcastAxes(_ index: Int) {
        let (sa, sb) = broadcastPairs[index]
        var r = TestRandom(seed: UInt64(40 + index))
        let a = r.tensor(sa, requiresGrad: true)
        let b = awayFromZero(sb, seed: UInt64(50 + index), requiresGrad: true)
        #expect(gradientError([a, b]) { add($0[0], $0[1]) } < 1e-2)
        #expect(gradientError([a, b]) { sub($0[0], $0[1]) } < 1e-2)
        #expect(gradientError([a, b]) { mul($0[0], $0[1]) } < 1e-2)
        #expect(gradientError([a, b]) { div($0[0], $0[1]) } < 1e-2)
    }

    @Test func gradientOnlyForOperandsThatTrackIt() {
        var r = TestRandom(seed: 60)
        let a = r.tensor([2, 3], requiresGrad: true)
        let b = r.tensor([3])
        (a * b).backward(seed: Tensor(repeating: 1, shape: [2, 3]))
        #expect(b.grad == nil)
        #expect(a.grad!.data == [b.data, b.data].flatMap { $0 })   // each row of a met b
    }

    @Test func sharedOperandAccumulatesBothPaths() {
        let x = Tensor(shape: [3], data: [1, 2, 3], requiresGrad: true)
        let seed = Tensor(repeating: 1, shape: [3])
        (x + x).backward(seed: seed)
        #expect(x.grad!.data == [2, 2, 2])
        #expect(seed.data == [1, 1, 1])
        x.grad = nil
        (x * x).backward(seed: seed)
        #expect(x.grad!.data == [2, 4, 6])
    }

    @Test func scalarOperatorGradients() {
        let x = awayFromZero([2, 3], seed: 62, requiresGrad: true)
        #expect(gradientError([x]) { 3 - $0[0] * 2 + 1 } < 1e-2)
        #expect(gradientError([x]) { 1.5 / $0[0] - $0[0] / 4 } < 1e-2)
        #expect(gradientError([x]) { neg(scaled($0[0], by: 3)) } < 1e-2)
    }

    @Test func unaryMathsMatchesFoundation() {
        let x = awayFromZero([3, 5], seed: 70)
        let positive = mul(x, x)
        #expect(close(square(x), Tensor(shape: x.shape, data: x.data.map { $0 * $0 })))
        #expect(close(sqrt(positive), Tensor(shape: x.shape, data: positive.data.map { $0.squareRoot() })))
        #expect(close(exp(x), Tensor(shape: x.shape, data: x.data.map { Foundation.exp($0) })))
    }

    @Test func unaryMathsGradients() {
        let x = awayFromZero([3, 4], seed: 71, requiresGrad: true)
        #expect(gradientError([x]) { square($0[0]) } < 1e-2)
        #expect(gradientError([x]) { exp($0[0]) } < 1e-2)
        let positive = Tensor(shape: x.shape, data: x.data.map { abs($0) + 0.5 }, requiresGrad: true)
        #expect(gradientError([positive]) { sqrt($0[0]) } < 1e-2)
    }
}
