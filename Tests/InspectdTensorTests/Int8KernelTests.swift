import CInspectdKernels
import Foundation
import InspectdTesting
import Testing
@testable import InspectdTensor

/// The int8 kernels against plain integer loops: every path this CPU runs (the forced ones
/// included) must give exactly the reference's sums, and through the layers exactly the floats of
/// the epilogue written out here.

private let paths = Int8Path.allCases.filter(\.runsHere)

struct GemmShape: CustomTestStringConvertible, Sendable {
    let rows, columns, k: Int
    var testDescription: String { "\(rows)x\(columns), k \(k)" }
}

private let gemmShapes = [
    GemmShape(rows: 1, columns: 1, k: 1), GemmShape(rows: 13, columns: 17, k: 5), GemmShape(rows: 12, columns: 32, k: 4),
    GemmShape(rows: 25, columns: 47, k: 33), GemmShape(rows: 7, columns: 16, k: 3), GemmShape(rows: 152, columns: 40, k: 130),
    GemmShape(rows: 6, columns: 9, k: 864),
]

@Suite("Int8 kernels")
struct Int8KernelTests {
    @Test("every path's sums equal the integer loop's, bit for bit", arguments: gemmShapes)
    func gemmSums(_ shape: GemmShape) {
        var random = TestRandom(seed: UInt64(shape.rows * 1000 + shape.columns * 10 + shape.k))
        let quads = (shape.k + 3) / 4, stride = (shape.columns + 15) / 16 * 16
        func level() -> Int8 { Int8(Int(random.next() % 255) - 127) }
        var s = [Int8](repeating: 0, count: shape.rows * quads * 4)
        var v = [Int8](repeating: 0, count: shape.k * shape.columns)
        for r in 0..<shape.rows { for k in 0..<shape.k { s[r * quads * 4 + k] = level() } }
        for i in v.indices { v[i] = level() }
        var expected = [Int32](repeating: 0, count: shape.rows * shape.columns)
        var rowSums = [Int32](repeating: 0, count: shape.rows)
        for r in 0..<shape.rows {
            for k in 0..<shape.k { rowSums[r] += Int32(s[r * quads * 4 + k]) }
            for c in 0..<shape.columns {
                var sum: Int32 = 0
                for k in 0..<shape.k { sum += Int32(s[r * quads * 4 + k]) * Int32(v[k * shape.columns + c]) }
                expected[r * shape.columns + c] = sum
            }
        }
        for path in paths {
            let offset = path.columnOffset
            var packed = [UInt8](repeating: UInt8(offset), count: quads * stride * 4)
            for k in 0..<shape.k {
                for c in 0..<shape.columns {
                    packed[((k / 4) * stride + c) * 4 + k % 4] = UInt8(truncatingIfNeeded: Int32(v[k * shape.columns + c]) + offset)
                }
            }
            let correction = rowSums.map { $0 * offset }
            // Split as the layers split work: rows, and columns in whole groups.
            let rowSplit = shape.rows / 2, columnSplit = shape.columns > 16 ? 16 : shape.columns
            var raw = [Int32](repeating: .min, count: shape.rows * shape.columns)
            raw.withUnsafeMutableBufferPointer { raw in
                correction.withUnsafeBufferPointer { correction in
                    var e = inspectd_i8_epilogue()
                    e.row_correction = correction.baseAddress
                    e.raw = raw.baseAddress
                    e.out_stride = shape.columns
                    for (rows, columns) in [(0..<rowSplit, 0..<columnSplit), (rowSplit..<shape.rows, 0..<columnSplit),
                                            (0..<shape.rows, columnSplit..<shape.columns)] {
                        inspectd_i8_gemm(path.kernel, s, quads * 4, rows.lowerBound, rows.upperBound, packed, stride,
                                         columns.lowerBound, columns.upperBound, quads, &e)
                    }
                }
            }
            #expect(raw == expected, "\(path)")
        }
    }

    @Test("the epilogue's floats are the same on every path (scales, corrections, biases, ReLU6)")
    func epilogueAgrees() {
        var random = TestRandom(seed: 31)
        let (rows, columns, quads) = (11, 37, 9), stride = 48
        let s = (0..<(rows * quads * 4)).map { _ in Int8(Int(random.next() % 255) - 127) }
        let v = (0..<(quads * 4 * stride)).map { _ in Int8(Int(random.next() % 255) - 127) }
        let rowScale = (0..<rows).map { _ in random.uniform(1e-4, 1e-3) }, columnScale = (0..<columns).map { _ in random.uniform(0.5, 2) }
        let rowBias = (0..<rows).map { _ in random.uniform() * 3 }, columnBias = (0..<columns).map { _ in random.uniform() }
        let rowCorrection = (0..<rows).map { _ in Int32(random.next() % 2000) - 1000 }
        let columnCorrection = (0..<columns).map { _ in Int32(random.next() % 2000) - 1000 }
        var outputs: [[Float]] = []
        for path in paths {
            let offset = path.columnOffset
            let packed = v.map { UInt8(truncatingIfNeeded: Int32($0) + offset) }
            let sums = (0..<rows).map { r in (0..<(quads * 4)).reduce(Int32(0)) { $0 + Int32(s[r * quads * 4 + $1]) } }
            let corrections = zip(rowCorrection, sums).map { $0 + offset * $1 }
            var out = [Float](repeating: .nan, count: rows * columns)
            out.withUnsafeMutableBufferPointer { out in
                corrections.withUnsafeBufferPointer { rc in columnCorrection.withUnsafeBufferPointer { cc in
                rowScale.withUnsafeBufferPointer { rs in columnScale.withUnsafeBufferPointer { cs in
                rowBias.withUnsafeBufferPointer { rb in columnBias.withUnsafeBufferPointer { cb in
                    var e = inspectd_i8_epilogue(row_correction: rc.baseAddress, column_correction: cc.baseAddress,
                                                 row_scale: rs.baseAddress, column_scale: cs.baseAddress,
                                                 row_bias: rb.baseAddress, column_bias: cb.baseAddress,
                                                 activation: INSPECTD_I8_RELU6, out: out.baseAddress, raw: nil, out_stride: columns)
                    inspectd_i8_gemm(path.kernel, s, quads * 4, 0, rows, packed, stride, 0, columns, quads, &e)
                }}}}}}
            }
            outputs.append(out)
        }
        // The reference: the exact sum, then the epilogue's steps in their documented order.
        var expected = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                var sum: Int32 = 0
                for k in 0..<(quads * 4) { sum += Int32(s[r * quads * 4 + k]) * Int32(v[(k / 4 * stride + c) * 4 + k % 4]) }
                var y = Float(sum - rowCorrection[r] - columnCorrection[c]) * rowScale[r]
                y = y * columnScale[c]
                y = y + rowBias[r]
                y = y + columnBias[c]
                expected[r * columns + c] = min(max(y, 0), 6)
            }
        }
        #expect(expected.contains { $0 > 0 && $0 < 6 }, "the data reaches every branch of ReLU6")
        for (path, out) in zip(paths, outputs) {
            #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "\(path)")
        }
    }

    @Test("a path is forced by name; an unknown name or a path the CPU lacks is refused")
    func pathNames() throws {
        for path in paths { #expect(try Int8Path.named(path.name) == path) }
        #expect(throws: Int8PathError.unknown("avx1024")) { try Int8Path.named("avx1024") }
        for path in Int8Path.allCases where !path.runsHere {
            #expect(throws: Int8PathError.notOnThisCPU(path)) { try Int8Path.named(path.name) }
        }
        #expect(Int8Path.portable.runsHere)
        #expect(Int8Path.best.runsHere)
    }
}

/// A test vector's quantised levels, exactly as the layers compute them.
private func levels(_ x: Tensor, _ scale: Int8Scale) -> [Int32] { x.data.map { scale.quantise($0) } }

struct Int8ConvCase: CustomTestStringConvertible, Sendable {
    let input: [Int], outChannels: Int, kernel: Int, stride: Int, padding: Padding2d, relu6: Bool
    var testDescription: String { "x\(input) → \(outChannels), k \(kernel), s \(stride), pad \(padding)\(relu6 ? ", ReLU6" : "")" }
}

private let int8ConvCases = [
    Int8ConvCase(input: [1, 5, 7, 9], outChannels: 7, kernel: 3, stride: 1, padding: Padding2d(1), relu6: false),
    Int8ConvCase(input: [8, 6, 6, 5], outChannels: 13, kernel: 3, stride: 1, padding: Padding2d(1), relu6: true),
    Int8ConvCase(input: [2, 9, 9, 8], outChannels: 5, kernel: 3, stride: 2, padding: .same(kernel: 3, stride: 2, height: 9, width: 8), relu6: false),
    Int8ConvCase(input: [3, 3, 1, 1], outChannels: 17, kernel: 3, stride: 1, padding: Padding2d(1), relu6: false),
    Int8ConvCase(input: [8, 19, 4, 4], outChannels: 12, kernel: 1, stride: 1, padding: .zero, relu6: false),
    Int8ConvCase(input: [1, 4, 1, 1], outChannels: 3, kernel: 1, stride: 1, padding: .zero, relu6: true),
    Int8ConvCase(input: [1, 6, 10, 10], outChannels: 8, kernel: 5, stride: 2, padding: .same(kernel: 5, stride: 2, height: 10, width: 10), relu6: false),
    // Widths for the direct kernel: whole vectors of 8 and 16, a masked tail, two rows per pair.
    Int8ConvCase(input: [2, 7, 3, 16], outChannels: 14, kernel: 3, stride: 1, padding: Padding2d(1), relu6: false),
    Int8ConvCase(input: [1, 9, 5, 12], outChannels: 25, kernel: 3, stride: 1, padding: Padding2d(1), relu6: true),
    Int8ConvCase(input: [3, 4, 4, 8], outChannels: 6, kernel: 3, stride: 1, padding: Padding2d(1), relu6: false),
    Int8ConvCase(input: [1, 5, 3, 32], outChannels: 13, kernel: 3, stride: 1, padding: Padding2d(1), relu6: false),
    Int8ConvCase(input: [8, 3, 2, 20], outChannels: 4, kernel: 3, stride: 1, padding: Padding2d(1), relu6: false),
]

@Suite("Int8 layers")
struct Int8LayerTests {
    @Test("int8 convolution equals integer loops and the epilogue, on every path", arguments: int8ConvCases)
    func convolution(_ c: Int8ConvCase) {
        var random = TestRandom(seed: UInt64(c.input.reduce(c.outChannels, *)))
        let x = random.tensor(c.input, -0.7, 1.9)
        let weight = random.tensor([c.outChannels, c.input[1], c.kernel, c.kernel], scale: 0.4)
        let bias = random.tensor([c.outChannels], scale: 0.2)
        let scale = Int8Scale(minimum: -0.7, maximum: 1.9)
        let weights = Int8Weights(quantising: weight)
        let g = ConvGeometry(input: x.shape, weight: weight.shape, stride: c.stride, padding: c.padding, groups: 1)
        let q = levels(x, scale)
        var expected = [Float](repeating: 0, count: g.outputShape.reduce(1, *))
        for n in 0..<g.batch { for o in 0..<g.outChannels { for oy in 0..<g.outHeight { for ox in 0..<g.outWidth {
            var sum: Int32 = 0
            for ci in 0..<g.inChannels { for ky in 0..<c.kernel { for kx in 0..<c.kernel {
                let iy = oy * c.stride + ky - c.padding.top, ix = ox * c.stride + kx - c.padding.left
                // Outside the image the input is 0.0, whose level is the zero point.
                let level = (0..<g.height).contains(iy) && (0..<g.width).contains(ix)
                    ? q[((n * g.inChannels + ci) * g.height + iy) * g.width + ix] : scale.zeroPoint
                sum += Int32(weights.values[((o * g.inChannels + ci) * c.kernel + ky) * c.kernel + kx]) * (level - scale.zeroPoint)
            }}}
            var y = Float(sum) * (weights.scales[o] * scale.scale) + bias.data[o]
            if c.relu6 { y = min(max(y, 0), 6) }
            expected[((n * g.outChannels + o) * g.outHeight + oy) * g.outWidth + ox] = y
        }}}}
        for path in paths {
            let layer = Int8Convolution(weights: weights, bias: bias, stride: c.stride, padding: c.padding,
                                        activation: c.relu6 ? .relu6 : .none, input: scale, path: path)
            layouts.record(layer.layout(g), path)
            let y = layer(x)
            #expect(y.shape == g.outputShape)
            #expect(y.data.map(\.bitPattern) == expected.map(\.bitPattern), "\(path)")
        }
    }

    @Test("the cases above reach every way of laying out the input, on every path",
          .serialized, arguments: [0])
    func everyLayoutTested(_: Int) {
        for c in int8ConvCases { convolution(c) }
        for path in paths {
            #expect(layouts.seen(path) == [.planes, .direct3x3, .patches], "\(path)")
        }
    }

    @Test("int8 linear equals integer loops and the epilogue, on every path",
          arguments: [([1, 1], 1), ([3, 5, 13], 17), ([2, 40, 128], 152), ([9, 96], 96)])
    func linear(_ inputShape: [Int], _ outputs: Int) {
        var random = TestRandom(seed: UInt64(inputShape.reduce(outputs, *)))
        let inputs = inputShape.last!
        let x = random.tensor(inputShape, -2.5, 1.5)
        let weight = random.tensor([outputs, inputs], scale: 0.3)
        let bias = random.tensor([outputs], scale: 0.1)
        let scale = Int8Scale(minimum: -2.5, maximum: 1.5)
        let weights = Int8Weights(quantising: weight)
        let q = levels(x, scale)
        let tokens = x.count / inputs
        var expected = [Float](repeating: 0, count: tokens * outputs)
        for t in 0..<tokens {
            for o in 0..<outputs {
                var sum: Int32 = 0
                for k in 0..<inputs { sum += (q[t * inputs + k] - scale.zeroPoint) * Int32(weights.values[o * inputs + k]) }
                expected[t * outputs + o] = Float(sum) * (weights.scales[o] * scale.scale) + bias.data[o]
            }
        }
        for path in paths {
            let y = Int8Linear(weights: weights, bias: bias, input: scale, path: path)(x)
            #expect(y.shape == Array(inputShape.dropLast()) + [outputs])
            #expect(y.data.map(\.bitPattern) == expected.map(\.bitPattern), "\(path)")
        }
    }

    @Test("int8 layers stay within 2 % (RMS) of the float layers they quantise")
    func closeToFloat() {
        var random = TestRandom(seed: 5)
        let x = random.tensor([2, 24, 12, 12], -1, 3)
        let weight = random.tensor([32, 24, 3, 3], scale: 0.2), bias = random.tensor([32], scale: 0.1)
        let scale = Int8Scale(minimum: -1, maximum: 3)
        let exact = conv2d(x, weight, bias: bias, stride: 1, padding: Padding2d(1))
        let approx = Int8Convolution(weight: weight, bias: bias, padding: Padding2d(1), input: scale)(x)
        #expect(relativeRMS(approx, exact) < 0.02)
        let tokens = random.tensor([64, 128], -3, 3)
        let w = random.tensor([96, 128], scale: 0.1), b = random.tensor([96], scale: 0.1)
        let linearExact = InspectdTensor.linear(tokens, w, bias: b)
        let linearApprox = Int8Linear(weight: w, bias: b, input: Int8Scale(minimum: -3, maximum: 3))(tokens)
        #expect(relativeRMS(linearApprox, linearExact) < 0.02)
    }

    @Test("int8 attention (both products) stays within 3 % (RMS) of Float32, the same bits on every path",
          arguments: [(heads: 2, depth: 10, grid: (5, 7), batch: 2), (heads: 1, depth: 64, grid: (8, 8), batch: 1)])
    func attention(_ shape: (heads: Int, depth: Int, grid: (Int, Int), batch: Int)) {
        var random = TestRandom(seed: UInt64(shape.depth))
        let tokens = shape.grid.0 * shape.grid.1, width = shape.heads * shape.depth
        let q = random.tensor([shape.batch, tokens, width], scale: 2), k = random.tensor([shape.batch, tokens, width], scale: 2)
        let v = random.tensor([shape.batch, tokens, width], scale: 1.5)
        let mask = AttentionMask(neighbourMask(height: shape.grid.0, width: shape.grid.1, window: 3))
        let exact = scaledDotProductAttention(query: q, key: k, value: v, heads: shape.heads, mask: mask)
        let outputs = paths.map { int8ScaledDotProductAttention(query: q, key: k, value: v, heads: shape.heads, mask: mask, path: $0) }
        #expect(relativeRMS(outputs[0], exact) < 0.03)
        for (path, out) in zip(paths, outputs) { #expect(out.data.map(\.bitPattern) == outputs[0].data.map(\.bitPattern), "\(path)") }
    }

    @Test("scales: 0 is exact, the range's ends land on the outer levels, weights reach ±127")
    func scales() {
        let scale = Int8Scale(minimum: -0.5, maximum: 2)
        #expect(scale.value(scale.quantise(0)) == 0)
        #expect(scale.quantise(-0.5) == -127 && scale.quantise(2) == 127)
        #expect(scale.quantise(100) == 127 && scale.quantise(-.infinity) == -127 && scale.quantise(.nan) == -127)
        let positive = Int8Scale(minimum: 0.2, maximum: 1), negative = Int8Scale(minimum: -3, maximum: -1)
        #expect(positive.zeroPoint == -127 && negative.zeroPoint == 127)
        let w = Tensor(shape: [3, 4], data: [0.5, -1, 0.25, 0, 0, 0, 0, 0, 2, 1, -0.01, 0.3])
        let q = Int8Weights(quantising: w)
        #expect(q.values[1] == -127 && q.values[8] == 127 && q.values[4...7].allSatisfy { $0 == 0 })
        #expect(q.scales[1] == 1)
        for (a, b) in zip(q.dequantised().data, w.data) { #expect(abs(a - b) <= 2 / 127 / 2 + 1e-7) }
    }
}

/// Which input layouts the convolution tests used, per path.
private final class LayoutLog: @unchecked Sendable {
    private let lock = NSLock()
    private var used: [Int8Path: Set<Int8Convolution.Layout>] = [:]
    func record(_ layout: Int8Convolution.Layout, _ path: Int8Path) { lock.withLock { _ = used[path, default: []].insert(layout) } }
    func seen(_ path: Int8Path) -> Set<Int8Convolution.Layout> { lock.withLock { used[path] ?? [] } }
}

private let layouts = LayoutLog()

private func relativeRMS(_ a: Tensor, _ b: Tensor) -> Float {
    let error = zip(a.data, b.data).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    let size = b.data.reduce(Float(0)) { $0 + $1 * $1 }
    return (error / size).squareRoot()
}
