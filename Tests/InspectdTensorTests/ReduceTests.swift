import InspectdTesting
import Testing
@testable import InspectdTensor

/// Σ over `axes` by visiting every element, keeping the summed axes as size 1.
func naiveSum(_ x: Tensor, axes: Set<Int>) -> Tensor {
    let shape = x.shape.indices.map { axes.contains($0) ? 1 : x.shape[$0] }
    let (si, so) = (x.strides, Tensor.strides(of: shape))
    var out = [Double](repeating: 0, count: shape.reduce(1, *))
    for flat in 0..<x.count {
        var o = 0
        for axis in x.shape.indices where !axes.contains(axis) { o += (flat / si[axis]) % x.shape[axis] * so[axis] }
        out[o] += Double(x.data[flat])
    }
    return Tensor(shape: shape, data: out.map { Float($0) })
}

@Suite struct ReduceTests {
    @Test func handComputed() {
        let x = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        #expect(sum(x).shape == [] && sum(x).item == 21)
        #expect(mean(x).item == 3.5)
        #expect(sum(x, axes: [0]).data == [5, 7, 9])
        #expect(sum(x, axes: [-1]).data == [6, 15])
        #expect(mean(x, axes: [1], keepDims: true).shape == [2, 1])
        #expect(mean(x, axes: [1], keepDims: true).data == [2, 5])
        #expect(sum(x, axes: [0, 1]).shape == [])
        #expect(sum(x, axes: []).data == x.data)
    }

    @Test(arguments: [[0], [1], [2], [3], [-1], [0, 2], [1, 3], [0, 2, 3], [-4, -3, -2, -1], [1, 2]])
    func axesMatchNaiveSums(_ axes: [Int]) {
        var r = TestRandom(seed: 90)
        let x = r.tensor([2, 3, 4, 5])
        let set = Set(axes.map { $0 < 0 ? $0 + 4 : $0 })
        let ref = naiveSum(x, axes: set)
        let kept = sum(x, axes: axes, keepDims: true)
        #expect(close(kept, ref))
        let dropped = sum(x, axes: axes)
        #expect(dropped.shape == x.shape.indices.filter { !set.contains($0) }.map { x.shape[$0] })
        #expect(dropped.data == kept.data)
        let count = set.reduce(1) { $0 * x.shape[$1] }
        #expect(close(mean(x, axes: axes, keepDims: true), Tensor(shape: ref.shape, data: ref.data.map { $0 / Float(count) })))
    }

    @Test(arguments: [[0], [2], [0, 2], [1], [0, 1, 2]])
    func largeReductionsMatchNaiveSums(_ axes: [Int]) {
        // Over the parallel threshold, so the threaded and chunked paths run.
        var r = TestRandom(seed: 91)
        let x = r.tensor([3, 70, 400])
        #expect(close(sum(x, axes: axes, keepDims: true), naiveSum(x, axes: Set(axes)), tolerance: 1e-4))
    }

    @Test func gradients() {
        var r = TestRandom(seed: 92)
        let x = r.tensor([2, 3, 4], requiresGrad: true)
        #expect(gradientError([x]) { sum($0[0]) } < 1e-2)
        #expect(gradientError([x]) { mean($0[0]) } < 1e-2)
        for axes in [[0], [-1], [0, 2], [1]] {
            #expect(gradientError([x]) { sum($0[0], axes: axes) } < 1e-2)
            #expect(gradientError([x]) { mean($0[0], axes: axes, keepDims: true) } < 1e-2)
        }
    }

    @Test func mseLossValueAndGradients() {
        let p = Tensor(shape: [2, 2], data: [1, 2, 3, 4], requiresGrad: true)
        let t = Tensor(shape: [2, 2], data: [0, 2, 5, 4], requiresGrad: true)
        let loss = mseLoss(p, t)
        #expect(loss.shape == [] && loss.item == 1.25)
        loss.backward()
        #expect(p.grad!.data == [0.5, 0, -1, 0])
        #expect(t.grad!.data == [-0.5, 0, 1, 0])
        var r = TestRandom(seed: 93)
        let a = r.tensor([3, 5], requiresGrad: true), b = r.tensor([3, 5], requiresGrad: true)
        #expect(gradientError([a, b]) { mseLoss($0[0], $0[1]) } < 1e-2)
    }
}
