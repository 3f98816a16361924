import InspectdTesting
import Testing
@testable import InspectdTensor

/// out[i0, i1, ...] = x[..., i_k at axis perm[k], ...], one element at a time.
func naivePermute(_ x: Tensor, _ perm: [Int]) -> Tensor {
    let shape = perm.map { x.shape[$0] }
    let (si, so) = (x.strides, Tensor.strides(of: shape))
    var out = [Float](repeating: 0, count: x.count)
    for flat in out.indices {
        var source = 0
        for k in perm.indices { source += (flat / so[k]) % shape[k] * si[perm[k]] }
        out[flat] = x.data[source]
    }
    return Tensor(shape: shape, data: out)
}

@Suite struct ShapeTests {
    @Test func reshapeInfersOneAxisAndSharesValues() {
        var r = TestRandom(seed: 100)
        let x = r.tensor([2, 3, 4], requiresGrad: true)
        let y = reshaped(x, [4, -1])
        #expect(y.shape == [4, 6] && y.data == x.data)
        #expect(reshaped(x, [-1]).shape == [24])
        #expect(gradientError([x]) { reshaped($0[0], [3, 8]) } < 1e-2)
    }

    @Test(arguments: [[0, 2, 3, 1], [0, 3, 1, 2], [0, 1, 3, 2], [3, 2, 1, 0], [2, 0, 3, 1], [1, 0, 2, 3], [0, 1, 2, 3]])
    func permuteMatchesNaive(_ perm: [Int]) {
        var r = TestRandom(seed: 101)
        for shape in [[2, 3, 4, 5], [2, 1, 3, 4], [1, 35, 3, 33]] {
            let x = r.tensor(shape)
            #expect(permuted(x, perm).data == naivePermute(x, perm).data)
            var inverse = perm
            for (i, axis) in perm.enumerated() { inverse[axis] = i }
            #expect(permuted(permuted(x, perm), inverse).data == x.data)
        }
    }

    @Test func nchwToNhwcRoundTripAndLastTwoAxes() {
        var r = TestRandom(seed: 102)
        let x = r.tensor([2, 40, 9, 9])   // spans several 32-wide tiles
        let nhwc = permuted(x, [0, 2, 3, 1])
        #expect(nhwc.shape == [2, 9, 9, 40])
        #expect(nhwc.data == naivePermute(x, [0, 2, 3, 1]).data)
        #expect(permuted(nhwc, [0, 3, 1, 2]).data == x.data)
        let t = transposed(x, -1, -2)
        #expect(t.data == naivePermute(x, [0, 1, 3, 2]).data)
        #expect(transposed(x, 1, 3).data == naivePermute(x, [0, 3, 2, 1]).data)
    }

    @Test func permuteGradients() {
        var r = TestRandom(seed: 103)
        let x = r.tensor([2, 3, 4, 2], requiresGrad: true)
        #expect(gradientError([x]) { permuted($0[0], [0, 2, 3, 1]) } < 1e-2)
        #expect(gradientError([x]) { permuted($0[0], [2, 0, -1, 1]) } < 1e-2)
        #expect(gradientError([x]) { transposed($0[0], -1, -2) } < 1e-2)
    }

    @Test func concatAndSliceAreInverse() {
        var r = TestRandom(seed: 104)
        let a = r.tensor([2, 3, 4]), b = r.tensor([2, 5, 4]), c = r.tensor([2, 1, 4])
        let joined = concat([a, b, c], axis: -2)
        #expect(joined.shape == [2, 9, 4])
        #expect(slice(joined, axis: 1, range: 0..<3).data == a.data)
        #expect(slice(joined, axis: 1, range: 3..<8).data == b.data)
        #expect(slice(joined, axis: -2, range: 8..<9).data == c.data)
        let rows = Tensor(shape: [2, 2], data: [1, 2, 3, 4])
        #expect(concat([rows, rows], axis: 0).data == [1, 2, 3, 4, 1, 2, 3, 4])
        #expect(concat([rows, rows], axis: 1).data == [1, 2, 1, 2, 3, 4, 3, 4])
        #expect(slice(rows, axis: 1, range: 1..<2).data == [2, 4])
        #expect(slice(rows, axis: 0, range: 1..<1).shape == [0, 2])
    }

    @Test func concatAndSliceGradients() {
        var r = TestRandom(seed: 105)
        let a = r.tensor([2, 3, 2], requiresGrad: true), b = r.tensor([2, 1, 2], requiresGrad: true)
        #expect(gradientError([a, b]) { concat($0, axis: 1) } < 1e-2)
        #expect(gradientError([a]) { slice($0[0], axis: -1, range: 1..<2) } < 1e-2)
        let fixed = r.tensor([2, 2, 2])
        #expect(gradientError([a]) { concat([fixed, $0[0]], axis: 1) } < 1e-2)
    }

    @Test func stackInsertsAnAxis() {
        let a = Tensor(shape: [2], data: [1, 2], requiresGrad: true), b = Tensor(shape: [2], data: [3, 4], requiresGrad: true)
        #expect(stack([a, b]).shape == [2, 2] && stack([a, b]).data == [1, 2, 3, 4])
        #expect(stack([a, b], axis: -1).data == [1, 3, 2, 4])
        #expect(gradientError([a, b]) { stack($0, axis: 1) } < 1e-2)
    }

    @Test func broadcastToShapeAndBack() {
        let x = Tensor(shape: [2, 1], data: [1, 2], requiresGrad: true)
        let y = broadcast(x, to: [3, 2, 3])
        #expect(y.shape == [3, 2, 3])
        #expect(y.data == Array(repeating: [1, 1, 1, 2, 2, 2], count: 3).flatMap { $0 })
        #expect(gradientError([x]) { broadcast($0[0], to: [3, 2, 3]) } < 1e-2)
    }
}
