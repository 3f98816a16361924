import InspectdTesting
import Testing
@testable import InspectdTensor

/// The definition of convolution, as plain nested loops.
func naiveConv2d(_ x: Tensor, _ w: Tensor, bias: Tensor?, stride: Int, padding: Padding2d, groups: Int) -> Tensor {
    let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, cpg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    let oh = (h + padding.top + padding.bottom - kh) / stride + 1
    let ow = (wd + padding.left + padding.right - kw) / stride + 1
    let opg = cout / groups
    var y = [Float](repeating: 0, count: n * cout * oh * ow)
    for b in 0..<n { for o in 0..<cout { for oy in 0..<oh { for ox in 0..<ow {
        var s = bias?.data[o] ?? 0
        let grp = o / opg
        for ci in 0..<cpg { for ky in 0..<kh { for kx in 0..<kw {
            let iy = oy * stride + ky - padding.top, ix = ox * stride + kx - padding.left
            guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
            let c = grp * cpg + ci
            s += x.data[((b * cin + c) * h + iy) * wd + ix] * w.data[((o * cpg + ci) * kh + ky) * kw + kx]
        }}}
        y[((b * cout + o) * oh + oy) * ow + ox] = s
    }}}}
    return Tensor(shape: [n, cout, oh, ow], data: y)
}

struct ConvCase: CustomTestStringConvertible, Sendable {
    let input: [Int], outChannels: Int, kernel: (Int, Int), stride: Int, padding: Padding2d, groups: Int, bias: Bool
    var testDescription: String {
        "x\(input) cout=\(outChannels) k=\(kernel) s=\(stride) pad=\(padding) g=\(groups) bias=\(bias)"
    }
}

let convCases: [ConvCase] = [
    ConvCase(input: [2, 3, 7, 9], outChannels: 5, kernel: (3, 3), stride: 1, padding: Padding2d(1), groups: 1, bias: true),
    ConvCase(input: [2, 4, 9, 6], outChannels: 6, kernel: (3, 2), stride: 2, padding: Padding2d(top: 0, left: 1, bottom: 1, right: 0), groups: 2, bias: true),
    ConvCase(input: [1, 6, 8, 7], outChannels: 6, kernel: (5, 5), stride: 2, padding: .same(kernel: 5, stride: 2, height: 8, width: 7), groups: 6, bias: false),
    ConvCase(input: [3, 5, 6, 6], outChannels: 5, kernel: (3, 3), stride: 1, padding: Padding2d(1), groups: 5, bias: true),
    ConvCase(input: [2, 5, 4, 3], outChannels: 7, kernel: (1, 1), stride: 1, padding: .zero, groups: 1, bias: true),
    ConvCase(input: [1, 4, 5, 5], outChannels: 3, kernel: (1, 1), stride: 2, padding: .zero, groups: 1, bias: false),
    // Enough channels and rows for the forward pass to cut the output into several row tiles.
    ConvCase(input: [1, 64, 20, 13], outChannels: 4, kernel: (3, 3), stride: 1, padding: Padding2d(1), groups: 1, bias: true),
    ConvCase(input: [1, 60, 130, 9], outChannels: 3, kernel: (3, 3), stride: 2, padding: Padding2d(top: 0, left: 1, bottom: 1, right: 0), groups: 1, bias: true),
    // 3x3, stride 1, padding 1: the direct kernel where the CPU has AVX-512 or AVX2 (rows of 13, 37, 16; a
    // row of 9 uses too few lanes and keeps the GEMM). Partial vectors (37 = 16 + 16 + 5 or 4 x 8 + 5,
    // 13), output channels past a block of 12 and its AVX2 halves of 6 (19, 4), input channels past a
    // chunk of 64 (the 64-channel case is one chunk exactly; the adjoint test below adds 80), whole
    // vectors only (16).
    ConvCase(input: [2, 10, 5, 37], outChannels: 19, kernel: (3, 3), stride: 1, padding: Padding2d(1), groups: 1, bias: true),
    ConvCase(input: [1, 17, 16, 16], outChannels: 8, kernel: (3, 3), stride: 1, padding: Padding2d(1), groups: 1, bias: false),
    // Depthwise: the vectorised kernel at strides 1 and 2 (odd sizes, a 1x1 image, a non-square
    // kernel, asymmetric padding), and the GEMM fallback at stride 3.
    ConvCase(input: [2, 4, 37, 41], outChannels: 4, kernel: (5, 5), stride: 1, padding: Padding2d(2), groups: 4, bias: true),
    ConvCase(input: [2, 2, 33, 35], outChannels: 2, kernel: (5, 5), stride: 2, padding: .same(kernel: 5, stride: 2, height: 33, width: 35), groups: 2, bias: true),
    ConvCase(input: [1, 3, 1, 1], outChannels: 3, kernel: (5, 5), stride: 2, padding: .same(kernel: 5, stride: 2, height: 1, width: 1), groups: 3, bias: true),
    ConvCase(input: [1, 3, 2, 9], outChannels: 3, kernel: (3, 3), stride: 2, padding: .same(kernel: 3, stride: 2, height: 2, width: 9), groups: 3, bias: false),
    ConvCase(input: [1, 2, 64, 64], outChannels: 2, kernel: (5, 5), stride: 2, padding: .same(kernel: 5, stride: 2, height: 64, width: 64), groups: 2, bias: true),
    ConvCase(input: [2, 3, 9, 10], outChannels: 3, kernel: (3, 5), stride: 2, padding: Padding2d(top: 1, left: 0, bottom: 0, right: 2), groups: 3, bias: true),
    ConvCase(input: [1, 3, 11, 10], outChannels: 3, kernel: (3, 3), stride: 3, padding: Padding2d(1), groups: 3, bias: true),
]

/// dW[o, c, ky, kx] = Σ over images and positions of dY[o] · x[c] shifted by the tap, as loops: the
/// weight gradient of a 3x3 convolution with stride 1 and one pixel of padding, from x and dY.
func naiveWeightGradient3x3(_ x: Tensor, _ g: Tensor) -> [Float] {
    let (n, cin, h, wd, cout) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], g.shape[1])
    var dw = [Float](repeating: 0, count: cout * cin * 9)
    for o in 0..<cout { for c in 0..<cin { for ky in 0..<3 { for kx in 0..<3 {
        var s: Float = 0
        for b in 0..<n { for oy in 0..<h { for ox in 0..<wd {
            let iy = oy + ky - 1, ix = ox + kx - 1
            guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
            s += g.data[((b * cout + o) * h + oy) * wd + ox] * x.data[((b * cin + c) * h + iy) * wd + ix]
        }}}
        dw[((o * cin + c) * 3 + ky) * 3 + kx] = s
    }}}}
    return dw
}

@Suite struct ConvTests {
    @Test(arguments: convCases)
    func forwardMatchesNaiveLoops(_ c: ConvCase) {
        var r = TestRandom(seed: 11)
        let x = r.tensor(c.input)
        let w = r.tensor([c.outChannels, c.input[1] / c.groups, c.kernel.0, c.kernel.1])
        let b = c.bias ? r.tensor([c.outChannels]) : nil
        let fast = conv2d(x, w, bias: b, stride: c.stride, padding: c.padding, groups: c.groups)
        let slow = naiveConv2d(x, w, bias: b, stride: c.stride, padding: c.padding, groups: c.groups)
        #expect(fast.shape == slow.shape)
        let err = zip(fast.data, slow.data).map { abs($0 - $1) }.max() ?? 0
        #expect(err < 1e-4)
    }

    @Test(arguments: convCases)
    func gradientsMatchFiniteDifferences(_ c: ConvCase) {
        var r = TestRandom(seed: 12)
        let x = r.tensor(c.input, requiresGrad: true)
        let w = r.tensor([c.outChannels, c.input[1] / c.groups, c.kernel.0, c.kernel.1], requiresGrad: true)
        var inputs = [x, w]
        if c.bias { inputs.append(r.tensor([c.outChannels], requiresGrad: true)) }
        let err = gradientError(inputs) { t in
            conv2d(t[0], t[1], bias: t.count > 2 ? t[2] : nil, stride: c.stride, padding: c.padding, groups: c.groups)
        }
        #expect(err < 1e-2)
    }

    @Test(arguments: convCases)
    func fusedReLU6MatchesClampedOutput(_ c: ConvCase) {
        var r = TestRandom(seed: 13)
        let x = r.tensor(c.input, scale: 4)
        let w = r.tensor([c.outChannels, c.input[1] / c.groups, c.kernel.0, c.kernel.1], scale: 2)
        let b = c.bias ? r.tensor([c.outChannels], scale: 3) : nil
        let fused = conv2d(x, w, bias: b, stride: c.stride, padding: c.padding, groups: c.groups, activation: .relu6)
        let slow = naiveConv2d(x, w, bias: b, stride: c.stride, padding: c.padding, groups: c.groups)
        let err = zip(fused.data, slow.data).map { abs($0 - min(max($1, 0), 6)) }.max() ?? 0
        #expect(err < 1e-4)
        if slow.count > 16 {
            #expect(slow.data.contains { $0 > 6 } && slow.data.contains { $0 < 0 }, "the case should exercise both clamps")
        }
    }

    @Test func fusedActivationStaysDifferentiableWhenRecording() {
        var r = TestRandom(seed: 14)
        let x = r.tensor([1, 2, 5, 5], scale: 3, requiresGrad: true)
        let w = r.tensor([3, 2, 3, 3], requiresGrad: true)
        #expect(gradientError([x, w], step: 1e-3) { conv2d($0[0], $0[1], padding: Padding2d(1), activation: .relu6) } < 1e-2)
    }

    @Test(.enabled(if: Conv3x3Kernel.isAvailable, "the direct 3x3 kernel needs AVX-512 or AVX2"))
    func directKernelTakesThe3x3StrideOneCases() {
        let direct = convCases.filter { c in
            Conv3x3Kernel.supports(ConvGeometry(input: c.input, weight: [c.outChannels, c.input[1] / c.groups, c.kernel.0, c.kernel.1],
                                                stride: c.stride, padding: c.padding, groups: c.groups))
        }
        #expect(direct.count == 3)
    }

    /// conv2d takes only the widest kernel, so each width this CPU runs is called directly (an
    /// AVX-512 CPU thus checks the AVX2 kernel too): the forward against loops, and the data gradient
    /// against loops over the transposed, turned weights. Shapes: partial and empty vectors (an odd
    /// count of them), an 8x8 map, output channels past a block and its halves, input channels past
    /// a chunk of 64, one image (split between threads by blocks) and several.
    @Test(arguments: Conv3x3Kernel.runnableLanes)
    func directKernelOfEachWidthMatchesLoops(_ lanes: Int) {
        var r = TestRandom(seed: 18)
        let shapes: [(input: [Int], outChannels: Int)] = [
            ([2, 10, 5, 37], 19), ([1, 17, 16, 16], 8), ([1, 5, 8, 8], 14), ([3, 80, 6, 28], 13), ([1, 64, 20, 13], 4),
        ]
        for (input, cout) in shapes {
            let cin = input[1]
            let x = r.tensor(input), w = r.tensor([cout, cin, 3, 3]), b = r.tensor([cout])
            let g = ConvGeometry(input: input, weight: w.shape, stride: 1, padding: Padding2d(1), groups: 1)
            var y = [Float](repeating: 1e30, count: input[0] * cout * input[2] * input[3])
            y.withUnsafeMutableBufferPointer { Conv3x3Kernel.forward(g, x.data, w.data, b.data, $0.baseAddress!, lanes: lanes) }
            let slow = naiveConv2d(x, w, bias: b, stride: 1, padding: Padding2d(1), groups: 1)
            #expect(maxAbsDifference(y, slow.data) < 1e-4, "forward, \(lanes) lanes, x\(input) -> \(cout)")

            let dy = r.tensor([input[0], cout, input[2], input[3]])
            var dx = [Float](repeating: 1e30, count: x.count)
            dx.withUnsafeMutableBufferPointer { Conv3x3Kernel.backwardData(g, dy.data, w.data, $0.baseAddress!, lanes: lanes) }
            let turned = Tensor(shape: [cin, cout, 3, 3], data: (0..<w.count).map { i in
                let (c, o, tap) = (i / (cout * 9), (i / 9) % cout, i % 9)
                return w.data[(o * cin + c) * 9 + 8 - tap]
            })
            let expected = naiveConv2d(dy, turned, bias: nil, stride: 1, padding: Padding2d(1), groups: 1)
            #expect(maxAbsDifference(dx, expected.data) < 1e-4, "data gradient, \(lanes) lanes, x\(input) -> \(cout)")
        }
    }

    /// The data gradient is the adjoint of the forward: <conv(x), g> = <x, dX(g)> for any x and g.
    /// Exact up to rounding, at a size finite differences would take long over.
    @Test func dataGradientIsTheForwardsAdjoint() {
        var r = TestRandom(seed: 15)
        let x = r.tensor([2, 80, 12, 28], requiresGrad: true), w = r.tensor([13, 80, 3, 3])
        let g = r.tensor([2, 13, 12, 28])
        let y = conv2d(x, w, padding: Padding2d(1))
        sum(y * g).backward()
        let lhs = zip(y.data, g.data).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let rhs = zip(x.data, x.grad!.data).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        #expect(abs(lhs - rhs) <= 1e-4 * abs(lhs))
        let slow = naiveConv2d(x, w, bias: nil, stride: 1, padding: Padding2d(1), groups: 1)
        #expect(zip(y.data, slow.data).map { abs($0 - $1) }.max()! < 1e-4)
    }

    @Test func weightGradientMatchesItsDefinition() {
        var r = TestRandom(seed: 16)
        let (n, cin, cout, h, wd) = (3, 20, 11, 9, 28)
        let x = r.tensor([n, cin, h, wd]), w = r.tensor([cout, cin, 3, 3], requiresGrad: true)
        let g = r.tensor([n, cout, h, wd])
        sum(conv2d(x, w, padding: Padding2d(1)) * g).backward()
        #expect(maxAbsDifference(w.grad!.data, naiveWeightGradient3x3(x, g)) < 1e-3)
    }

    /// Large enough that the weights are packed and the bias gradient summed on both threads.
    @Test(.enabled(if: Conv3x3Kernel.isAvailable, "the direct 3x3 kernel needs AVX-512 or AVX2"))
    func largeDirectConvolutionMatchesLoops() {
        var r = TestRandom(seed: 17)
        let (n, cin, cout, h, wd) = (8, 128, 64, 8, 16)
        let x = r.tensor([n, cin, h, wd], requiresGrad: true)
        let w = r.tensor([cout, cin, 3, 3], requiresGrad: true), b = r.tensor([cout], requiresGrad: true)
        let y = conv2d(x, w, bias: b, padding: Padding2d(1))
        #expect(maxAbsDifference(y.data, naiveConv2d(x, w, bias: b, stride: 1, padding: Padding2d(1), groups: 1).data) < 1e-4)
        let g = r.tensor(y.shape)
        sum(y * g).backward()
        let plane = h * wd
        let expected = (0..<cout).map { o in
            (0..<n).reduce(Float(0)) { acc, i in acc + g.data[((i * cout + o) * plane)..<((i * cout + o + 1) * plane)].reduce(0, +) }
        }
        #expect(maxAbsDifference(b.grad!.data, expected) < 1e-3)
        let lhs = zip(y.data, g.data).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let withoutBias = lhs - (0..<y.count).reduce(0.0) { $0 + Double(b.data[($1 / plane) % cout] * g.data[$1]) }
        let rhs = zip(x.data, x.grad!.data).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        #expect(abs(withoutBias - rhs) <= 1e-4 * abs(withoutBias))
        #expect(maxAbsDifference(w.grad!.data, naiveWeightGradient3x3(x, g)) < 1e-3)
    }

    @Test func tiledCasesSpanSeveralTiles() {
        let g = ConvGeometry(input: [1, 64, 20, 13], weight: [4, 64, 3, 3], stride: 1, padding: Padding2d(1), groups: 1)
        #expect(g.outputRowsPerTile < g.outHeight)
        let h = ConvGeometry(input: [1, 60, 130, 9], weight: [3, 60, 3, 3], stride: 2,
                             padding: Padding2d(top: 0, left: 1, bottom: 1, right: 0), groups: 1)
        #expect(h.outputRowsPerTile < h.outHeight)
    }

    @Test func samePaddingMatchesTensorFlow() {
        #expect(Padding2d.same(kernel: 3, stride: 2, height: 256, width: 256) == Padding2d(top: 0, left: 0, bottom: 1, right: 1))
        #expect(Padding2d.same(kernel: 5, stride: 2, height: 64, width: 64) == Padding2d(top: 1, left: 1, bottom: 2, right: 2))
        #expect(Padding2d.same(kernel: 5, stride: 1, height: 16, width: 16) == Padding2d(2))
        #expect(Padding2d.same(kernel: 3, stride: 2, height: 7, width: 7) == Padding2d(1))
    }
}

/// The im2col columns gradient projection records: the weight [out, d] times them is the
/// convolution, image after image, against the loops.
@Test func unfoldedPatchesTimesTheWeightIsTheConvolution() {
    var r = TestRandom(seed: 31)
    let x = r.tensor([2, 3, 7, 6]), w = r.tensor([4, 3, 3, 3])
    let padding = Padding2d(top: 1, left: 0, bottom: 1, right: 1)
    let reference = naiveConv2d(x, w, bias: nil, stride: 2, padding: padding, groups: 1)
    let (oh, ow) = (reference.shape[2], reference.shape[3])
    let columns = unfoldedPatches(x, kernelH: 3, kernelW: 3, stride: 2, padding: padding)
    let product = matmul(Tensor(shape: [4, 27], data: w.data), Tensor(shape: [27, 2 * oh * ow], data: columns)).data
    var worst: Float = 0
    for n in 0..<2 { for o in 0..<4 { for p in 0..<(oh * ow) {
        worst = max(worst, abs(product[o * 2 * oh * ow + n * oh * ow + p] - reference.data[(n * 4 + o) * oh * ow + p]))
    }}}
    #expect(worst < 1e-5)
}
