import CInspectdKernels
import Foundation
import InspectdTesting
import Testing
@testable import InspectdTensor

/// Attention by its definition for one slice, in Double: rows of scale·q·kᵀ + mask, softmax, times v.
/// Rows with no finite score are zeros, as the op defines them.
func naiveAttention(q: [Float], k: [Float], v: [Float], mask: [Float]?, tq: Int, tk: Int, d: Int, dv: Int,
                    scale: Double) -> [Float] {
    var out = [Float](repeating: 0, count: tq * dv)
    for i in 0..<tq {
        var s = [Double](repeating: 0, count: tk)
        for j in 0..<tk {
            for p in 0..<d { s[j] += Double(q[i * d + p]) * Double(k[j * d + p]) }
            s[j] = s[j] * scale + Double(mask?[i * tk + j] ?? 0)
        }
        let m = s.max()!
        guard m > -.infinity else { continue }
        let e = s.map { Foundation.exp($0 - m) }
        let total = e.reduce(0, +)
        for c in 0..<dv {
            var acc = 0.0
            for j in 0..<tk { acc += e[j] / total * Double(v[j * dv + c]) }
            out[i * dv + c] = Float(acc)
        }
    }
    return out
}

@Suite struct SoftmaxAttentionTests {
    @Test func softmaxRowsSumToOneAndMatchDefinition() {
        var r = TestRandom(seed: 31)
        let x = r.tensor([3, 4, 9], scale: 5)
        let y = softmax(x)
        for row in 0..<12 {
            let values = x.data[(row * 9)..<((row + 1) * 9)].map(Double.init)
            let total = values.map { Foundation.exp($0) }.reduce(0, +)
            var sum: Float = 0
            for j in 0..<9 {
                let got = y.data[row * 9 + j]
                #expect(abs(Double(got) - Foundation.exp(values[j]) / total) < 1e-6)
                sum += got
            }
            #expect(abs(sum - 1) < 1e-5)
        }
    }

    @Test func softmaxIsStableForLargeInputs() {
        let y = softmax(Tensor(shape: [1, 2], data: [1000, 1001]))
        let e = Float(M_E)
        #expect(abs(y.data[0] - 1 / (1 + e)) < 1e-6)
        #expect(abs(y.data[1] - e / (1 + e)) < 1e-6)
        let blocked = softmax(Tensor(shape: [2, 3], data: [-.infinity, -.infinity, -.infinity, 0, -.infinity, 0]))
        #expect(blocked.data == [0, 0, 0, 0.5, 0, 0.5])
    }

    @Test func softmaxAlongInnerAxisMatchesLastAxisOfTranspose() {
        var r = TestRandom(seed: 32)
        let x = r.tensor([2, 5, 3], scale: 3)
        let y = softmax(x, axis: 1)
        for b in 0..<2 {
            for j in 0..<3 {
                let column = Tensor(shape: [5], data: (0..<5).map { x.data[b * 15 + $0 * 3 + j] })
                let expected = softmax(column)
                for k in 0..<5 { #expect(abs(y.data[b * 15 + k * 3 + j] - expected.data[k]) < 1e-6) }
            }
        }
    }

    @Test(arguments: [-1, 1, 0])
    func softmaxGradients(_ axis: Int) {
        var r = TestRandom(seed: 33)
        let x = r.tensor([3, 4, 5], scale: 2, requiresGrad: true)
        #expect(gradientError([x]) { softmax($0[0], axis: axis) } < 1e-2)
    }

    /// The C row kernel (whichever clone this CPU runs) against the definition in Float64, for
    /// lengths around its 16-lane body and tail, with masked (−∞) entries and an all-masked row.
    @Test func softmaxRowKernelMatchesTheDefinition() {
        #expect(["avx512", "avx2", "baseline"].contains(String(cString: inspectd_kernels_isa())))
        var r = TestRandom(seed: 35)
        for n in [1, 2, 15, 16, 17, 31, 33, 100, 1024] {
            var row = (0..<n).map { _ in r.uniform(-30, 30) }
            if n > 3 { row[1] = -.infinity; row[n - 1] = -.infinity }
            let peak = Double(row.max()!)
            let exps = row.map { Foundation.exp(Double($0) - peak) }
            let total = exps.reduce(0, +)
            inspectd_softmax_row(&row, n)
            for i in 0..<n { #expect(abs(Double(row[i]) - exps[i] / total) < 1e-6, "n \(n), entry \(i)") }
            if n > 3 { #expect(row[1] == 0 && row[n - 1] == 0) }
        }
        var masked = [Float](repeating: -.infinity, count: 20)
        inspectd_softmax_row(&masked, 20)
        #expect(masked.allSatisfy { $0 == 0 })
    }

    /// The engine's exp, checked against the libm one in Float64.
    @Test func fastExpIsAccurate() {
        var worst: Double = 0
        for i in 0...20_000 {
            let x = -87 + Float(i) * (175.0 / 20_000)
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(inspectd_exp(x)) - exact) / exact)
        }
        #expect(worst < 5e-7)
        #expect(inspectd_exp(-.infinity) == 0)
        #expect(inspectd_exp(0) == 1)
    }

    @Test func attentionMatchesDefinition() {
        var r = TestRandom(seed: 34)
        let (b, h, tq, tk, d, dv) = (2, 3, 5, 6, 4, 3)
        let q = r.tensor([b, h, tq, d]), k = r.tensor([b, h, tk, d]), v = r.tensor([b, h, tk, dv])
        var maskData = [Float](repeating: 0, count: tq * tk)
        for i in 0..<tq { maskData[i * tk + (i + 1) % tk] = -.infinity; maskData[i * tk + (i + 3) % tk] = -1e9 }
        maskData[2 * tk + 4] = 0.5
        let mask = Tensor(shape: [tq, tk], data: maskData)
        // Only −∞ entries, two runs in some rows: applied by writing −∞, never reading the bias.
        var blockingData = [Float](repeating: 0, count: tq * tk)
        for i in 0..<tq { blockingData[i * tk + i] = -.infinity; blockingData[i * tk + (i + 2) % tk] = -.infinity }
        let blocking = Tensor(shape: [tq, tk], data: blockingData)
        #expect(AttentionMask(blocking).blocksOnly && !AttentionMask(mask).blocksOnly)
        #expect(AttentionMask(blocking).runs[0] == [0..<1, 2..<3])
        for (m, scale) in [(nil, nil), (mask, Float(0.7)), (blocking, nil)] as [(Tensor?, Float?)] {
            let out = scaledDotProductAttention(query: q, key: k, value: v, mask: m.map(AttentionMask.init), scale: scale)
            #expect(out.shape == [b, h, tq, dv])
            for s in 0..<(b * h) {
                let expected = naiveAttention(
                    q: Array(q.data[(s * tq * d)..<((s + 1) * tq * d)]),
                    k: Array(k.data[(s * tk * d)..<((s + 1) * tk * d)]),
                    v: Array(v.data[(s * tk * dv)..<((s + 1) * tk * dv)]),
                    mask: m?.data, tq: tq, tk: tk, d: d, dv: dv, scale: Double(scale ?? 0.5))
                #expect(maxAbsDifference(Array(out.data[(s * tq * dv)..<((s + 1) * tq * dv)]), expected) < 1e-5)
            }
        }
    }

    @Test func attentionGradientsWithBlockedEntries() {
        var r = TestRandom(seed: 35)
        let q = r.tensor([2, 4, 3], requiresGrad: true)
        let k = r.tensor([2, 5, 3], requiresGrad: true)
        let v = r.tensor([2, 5, 2], requiresGrad: true)
        var maskData = [Float](repeating: 0, count: 20)
        for i in 0..<4 { maskData[i * 5 + i] = -.infinity }
        maskData[3] = -1e9
        maskData[7] = 0.3
        let mask = AttentionMask(Tensor(shape: [4, 5], data: maskData))
        #expect(gradientError([q, k, v]) { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: mask) } < 1e-2)
        #expect(gradientError([q, k, v]) { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], scale: 1.3) } < 1e-2)
    }

    /// Heads read in place from [B, T, heads·d] give what the same heads give split out as
    /// [B, heads, T, d] and merged back, forward and backward.
    @Test func headsInPlaceMatchSplitHeads() {
        var r = TestRandom(seed: 38)
        let (b, t, heads, d, dv) = (2, 7, 3, 4, 2)
        let q = r.tensor([b, t, heads * d], requiresGrad: true)
        let k = r.tensor([b, t, heads * d], requiresGrad: true)
        let v = r.tensor([b, t, heads * dv], requiresGrad: true)
        let mask = AttentionMask(neighbourMask(height: 1, width: t, window: 3))
        let split = { (x: Tensor, w: Int) in permuted(reshaped(x, [b, t, heads, w]), [0, 2, 1, 3]) }
        let inPlace = scaledDotProductAttention(query: q, key: k, value: v, heads: heads, mask: mask)
        let reference = reshaped(permuted(scaledDotProductAttention(query: split(q, d), key: split(k, d), value: split(v, dv),
                                                                    mask: mask), [0, 2, 1, 3]), [b, t, heads * dv])
        #expect(inPlace.shape == [b, t, heads * dv])
        #expect(maxAbsDifference(inPlace.data, reference.data) < 1e-6)

        let seed = r.tensor(inPlace.shape)
        inPlace.backward(seed: seed)
        let inPlaceGrads = [q, k, v].map { $0.grad!.data }
        for x in [q, k, v] { x.grad = nil }
        reference.backward(seed: seed)
        for (x, expected) in zip([q, k, v], inPlaceGrads) { #expect(maxAbsDifference(x.grad!.data, expected) < 1e-6) }
        #expect(gradientError([q, k, v]) { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], heads: heads, mask: mask) } < 1e-2)
    }

    @Test func fullyBlockedQueryGivesZerosAndNoNaN() {
        var r = TestRandom(seed: 36)
        let q = r.tensor([1, 3, 2], requiresGrad: true)
        let k = r.tensor([1, 4, 2], requiresGrad: true)
        let v = r.tensor([1, 4, 3], requiresGrad: true)
        var maskData = [Float](repeating: 0, count: 12)
        for j in 0..<4 { maskData[4 + j] = -.infinity }
        let mask = AttentionMask(Tensor(shape: [3, 4], data: maskData))
        let out = scaledDotProductAttention(query: q, key: k, value: v, mask: mask)
        #expect(Array(out.data[3..<6]) == [0, 0, 0])
        #expect(out.data.allSatisfy { $0.isFinite })
        out.backward(seed: Tensor(repeating: 1, shape: out.shape))
        for t in [q, k, v] { #expect(t.grad!.data.allSatisfy { $0.isFinite }) }
        #expect(Array(q.grad!.data[2..<4]) == [0, 0])
    }

    @Test func neighbourMaskBlocksTheWindowAroundEachToken() {
        let (height, width) = (4, 5)
        let mask = neighbourMask(height: height, width: width, window: 3)
        #expect(mask.shape == [20, 20])
        for i in 0..<20 {
            for j in 0..<20 {
                let near = abs(i / width - j / width) <= 1 && abs(i % width - j % width) <= 1
                #expect(mask.data[i * 20 + j] == (near ? -.infinity : 0))
            }
        }
        let blockedPerRow = (0..<20).map { i in (0..<20).filter { mask.data[i * 20 + $0] < 0 }.count }
        #expect(blockedPerRow[0] == 4)            // corner
        #expect(blockedPerRow[1] == 6)            // top edge
        #expect(blockedPerRow[1 * width + 1] == 9) // interior
    }

    @Test func neighbourMaskedAttentionIgnoresTheNeighbourhood() {
        var r = TestRandom(seed: 37)
        let q = r.tensor([1, 2, 12, 4]), k = r.tensor([1, 2, 12, 4]), v = r.tensor([1, 2, 12, 3])
        let mask = AttentionMask(neighbourMask(height: 3, width: 4, window: 3))
        let out = scaledDotProductAttention(query: q, key: k, value: v, mask: mask)
        // Changing a value inside token 0's neighbourhood leaves token 0's output alone.
        v.data[12 * 3 + 1 * 3] += 5   // head 1, key 1: beside token 0, two columns from token 3
        let moved = scaledDotProductAttention(query: q, key: k, value: v, mask: mask)
        #expect(Array(out.data[36..<39]) == Array(moved.data[36..<39]))
        #expect(Array(out.data[45..<48]) != Array(moved.data[45..<48]))
    }
}
