import InspectdTesting
import Testing
@testable import InspectdTensor

func naiveMatmul(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
    return c
}

func transposed(_ a: [Float], rows: Int, cols: Int) -> [Float] {
    var t = [Float](repeating: 0, count: a.count)
    for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = a[i * cols + j] } }
    return t
}

@Suite struct MatMulTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func batchedMatmulMatchesNaiveLoops(_ flags: (Bool, Bool)) {
        let (ta, tb) = flags
        let (batch, m, n, k) = (3, 5, 7, 4)
        var r = TestRandom(seed: 3)
        let a = r.tensor(ta ? [batch, k, m] : [batch, m, k])
        let b = r.tensor(tb ? [batch, n, k] : [batch, k, n])
        let c = matmul(a, b, transposeA: ta, transposeB: tb)
        #expect(c.shape == [batch, m, n])
        for i in 0..<batch {
            var ai = Array(a.data[(i * m * k)..<((i + 1) * m * k)])
            var bi = Array(b.data[(i * k * n)..<((i + 1) * k * n)])
            if ta { ai = transposed(ai, rows: k, cols: m) }
            if tb { bi = transposed(bi, rows: n, cols: k) }
            let ref = naiveMatmul(ai, bi, m: m, n: n, k: k)
            let got = Array(c.data[(i * m * n)..<((i + 1) * m * n)])
            #expect(zip(ref, got).allSatisfy { abs($0 - $1) < 1e-5 })
        }
    }

    /// Products large enough to be split between threads by columns, by rows and along k, in
    /// every transpose, against the loops; the k split also with beta = 1 (a shared weight's
    /// gradient summed over a batch).
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func largeProductsSplitBetweenThreadsMatchNaiveLoops(_ flags: (Bool, Bool)) {
        let (ta, tb) = flags
        var r = TestRandom(seed: 56)
        for (m, n, k) in [(40, 300, 100), (300, 40, 100), (64, 70, 1024)] {
            let a = r.tensor(ta ? [k, m] : [m, k]), b = r.tensor(tb ? [n, k] : [k, n])
            let c = matmul(a, b, transposeA: ta, transposeB: tb)
            let ref = naiveMatmul(ta ? transposed(a.data, rows: k, cols: m) : a.data,
                                  tb ? transposed(b.data, rows: n, cols: k) : b.data, m: m, n: n, k: k)
            #expect(maxAbsDifference(c.data, ref) < 1e-3, "\(m)x\(n)x\(k)")
        }
        let x = r.tensor([2, 1024, 64]), w = r.tensor([64, 70], requiresGrad: true)
        let y = matmul(x, w)
        let g = r.tensor(y.shape)
        y.backward(seed: g)
        let xRows = transposed(x.data, rows: 2048, cols: 64)
        #expect(maxAbsDifference(w.grad!.data, naiveMatmul(xRows, g.data, m: 64, n: 70, k: 2048)) < 1e-3)
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmulGradients(_ flags: (Bool, Bool)) {
        let (ta, tb) = flags
        var r = TestRandom(seed: 4)
        let a = r.tensor(ta ? [2, 3, 5] : [2, 5, 3], requiresGrad: true)
        let b = r.tensor(tb ? [2, 4, 3] : [2, 3, 4], requiresGrad: true)
        #expect(gradientError([a, b]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) } < 1e-2)
    }

    @Test func sharedMatrixGradientSumsOverBatch() {
        var r = TestRandom(seed: 5)
        let a = r.tensor([3, 2, 4], requiresGrad: true)
        let w = r.tensor([4, 6], requiresGrad: true)
        #expect(gradientError([a, w]) { matmul($0[0], $0[1]) } < 1e-2)
        let w2 = r.tensor([5, 2], requiresGrad: true)
        let b = r.tensor([3, 2, 4], requiresGrad: true)
        #expect(gradientError([w2, b]) { matmul($0[0], $0[1]) } < 1e-2)
    }

    @Test func linearMatchesDefinitionAndGradients() {
        var r = TestRandom(seed: 6)
        let x = r.tensor([2, 3, 5], requiresGrad: true)
        let w = r.tensor([4, 5], requiresGrad: true)
        let b = r.tensor([4], requiresGrad: true)
        let y = linear(x, w, bias: b)
        #expect(y.shape == [2, 3, 4])
        let ref = naiveMatmul(x.data, transposed(w.data, rows: 4, cols: 5), m: 6, n: 4, k: 5)
        for i in 0..<6 { for o in 0..<4 { #expect(abs(y.data[i * 4 + o] - ref[i * 4 + o] - b.data[o]) < 1e-5) } }
        #expect(gradientError([x, w, b]) { linear($0[0], $0[1], bias: $0[2]) } < 1e-2)
    }

    /// Enough rows that the bias copy and the bias gradient are split between threads.
    @Test func largeLinearSplitsBiasWorkBetweenThreads() {
        var r = TestRandom(seed: 55)
        let (rows, inFeatures, outFeatures) = (1100, 9, 67)
        let x = r.tensor([rows, inFeatures]), w = r.tensor([outFeatures, inFeatures])
        let b = r.tensor([outFeatures], requiresGrad: true)
        let y = linear(x, w, bias: b)
        let ref = naiveMatmul(x.data, transposed(w.data, rows: outFeatures, cols: inFeatures), m: rows, n: outFeatures, k: inFeatures)
        #expect(maxAbsDifference(y.data, (0..<(rows * outFeatures)).map { ref[$0] + b.data[$0 % outFeatures] }) < 1e-5)
        let g = r.tensor(y.shape)
        y.backward(seed: g)
        let expected = (0..<outFeatures).map { o in (0..<rows).reduce(Float(0)) { $0 + g.data[$1 * outFeatures + o] } }
        #expect(maxAbsDifference(b.grad!.data, expected) < 1e-4)
    }
}
