import InspectdTesting
import Testing
@testable import InspectdTensor

/// Average pooling by its definition: padded positions count as zeros, every window divides by k².
func naiveAvgPool(_ x: Tensor, kernel: Int, stride: Int, padding: Int) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
    var y = [Float](repeating: 0, count: n * c * oh * ow)
    for p in 0..<(n * c) { for oy in 0..<oh { for ox in 0..<ow {
        var s: Float = 0
        for ky in 0..<kernel { for kx in 0..<kernel {
            let iy = oy * stride + ky - padding, ix = ox * stride + kx - padding
            if iy >= 0, iy < h, ix >= 0, ix < w { s += x.data[(p * h + iy) * w + ix] }
        }}
        y[(p * oh + oy) * ow + ox] = s / Float(kernel * kernel)
    }}}
    return Tensor(shape: [n, c, oh, ow], data: y)
}

/// PyTorch's bilinear interpolation (align_corners=false), one output pixel at a time in Double.
func naiveBilinear(_ x: Tensor, height oh: Int, width ow: Int) -> [Float] {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    func source(_ o: Int, _ input: Int, _ output: Int) -> (Int, Int, Double) {
        let s = max(0, (Double(o) + 0.5) * Double(input) / Double(output) - 0.5)
        let lo = min(Int(s.rounded(.down)), input - 1)
        return (lo, min(lo + 1, input - 1), s - Double(lo))
    }
    var y = [Float](repeating: 0, count: n * c * oh * ow)
    for p in 0..<(n * c) { for oy in 0..<oh { for ox in 0..<ow {
        let (y0, y1, fy) = source(oy, h, oh), (x0, x1, fx) = source(ox, w, ow)
        func at(_ iy: Int, _ ix: Int) -> Double { Double(x.data[(p * h + iy) * w + ix]) }
        let v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1))
        y[(p * oh + oy) * ow + ox] = Float(v)
    }}}
    return y
}

@Suite struct PoolingResizeTests {
    @Test(arguments: [(3, 2, 1), (2, 2, 0), (3, 1, 1), (5, 3, 2)])
    func avgPoolMatchesDefinitionAndGradients(_ params: (Int, Int, Int)) {
        let (kernel, stride, padding) = params
        var r = TestRandom(seed: 41)
        let x = r.tensor([2, 3, 7, 6], requiresGrad: true)
        let y = avgPool2d(x, kernel: kernel, stride: stride, padding: padding)
        let expected = naiveAvgPool(x, kernel: kernel, stride: stride, padding: padding)
        #expect(y.shape == expected.shape)
        #expect(maxAbsDifference(y.data, expected.data) < 1e-6)
        #expect(gradientError([x]) { avgPool2d($0[0], kernel: kernel, stride: stride, padding: padding) } < 1e-2)
    }

    @Test func avgPoolCountsPaddingInTheDivisor() {
        let x = Tensor(repeating: 1, shape: [1, 1, 2, 2])
        let y = avgPool2d(x, kernel: 3, stride: 1, padding: 1)
        #expect(y.data == [Float](repeating: 4.0 / 9, count: 4))
    }

    @Test func globalAvgPoolAveragesEachPlane() {
        var r = TestRandom(seed: 42)
        let x = r.tensor([2, 3, 4, 5], requiresGrad: true)
        let y = globalAvgPool2d(x)
        #expect(y.shape == [2, 3])
        for p in 0..<6 {
            let mean = x.data[(p * 20)..<((p + 1) * 20)].reduce(0, +) / 20
            #expect(abs(y.data[p] - mean) < 1e-6)
        }
        #expect(gradientError([x]) { globalAvgPool2d($0[0]) } < 1e-2)
    }

    @Test func upsampleNearestRepeatsPixelsAndSumsGradients() {
        var r = TestRandom(seed: 43)
        let x = r.tensor([2, 2, 3, 4], requiresGrad: true)
        let y = upsampleNearest(x, scale: 3)
        #expect(y.shape == [2, 2, 9, 12])
        for p in 0..<4 { for oy in 0..<9 { for ox in 0..<12 {
            #expect(y.data[(p * 9 + oy) * 12 + ox] == x.data[(p * 3 + oy / 3) * 4 + ox / 3])
        }}}
        #expect(gradientError([x]) { upsampleNearest($0[0], scale: 2) } < 1e-2)
        #expect(upsampleNearest(x, scale: 1).data == x.data)
    }

    @Test func bilinearMatchesPyTorchOnATwoByTwo() {
        let x = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        let y = resizeBilinear(x, height: 4, width: 4)
        let torch: [Float] = [1.00, 1.25, 1.75, 2.00,
                              1.50, 1.75, 2.25, 2.50,
                              2.50, 2.75, 3.25, 3.50,
                              3.00, 3.25, 3.75, 4.00]
        #expect(maxAbsDifference(y.data, torch) < 1e-6)
        let row = Tensor(shape: [1, 1, 1, 4], data: [0, 1, 2, 3])
        #expect(maxAbsDifference(resizeBilinear(row, height: 1, width: 2).data, [0.5, 2.5]) < 1e-6)
    }

    @Test(arguments: [(5, 7, 3, 4), (5, 7, 8, 11), (6, 4, 4, 7), (3, 3, 3, 3)])
    func bilinearMatchesDefinitionAndGradients(_ sizes: (Int, Int, Int, Int)) {
        let (h, w, oh, ow) = sizes
        var r = TestRandom(seed: 44)
        let x = r.tensor([2, 2, h, w], requiresGrad: true)
        let y = resizeBilinear(x, height: oh, width: ow)
        #expect(y.shape == [2, 2, oh, ow])
        #expect(maxAbsDifference(y.data, naiveBilinear(x, height: oh, width: ow)) < 1e-5)
        #expect(gradientError([x], samples: 64) { resizeBilinear($0[0], height: oh, width: ow) } < 1e-2)
        if h == oh && w == ow { #expect(maxAbsDifference(y.data, x.data) < 1e-6) }
    }
}
