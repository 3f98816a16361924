import Foundation

/// Elementwise arithmetic with NumPy broadcasting, a few unary maths functions, and the loop
/// machinery that activations, reductions and broadcasts share.
///
/// Per-element work is a small kernel struct called through a generic loop, so each op compiles to
/// its own specialised, vectorisable loop rather than a closure call per element.

/// Loops over fewer elements than this run on the calling thread: waking workers costs more.
let parallelGrain = 1 << 16

protocol UnaryKernel {
    func callAsFunction(_ x: Float) -> Float
}

protocol BinaryKernel {
    func callAsFunction(_ a: Float, _ b: Float) -> Float
}

// MARK: - Broadcasting loops

/// The shape two operands broadcast to: trailing axes aligned, size-1 or missing axes stretched.
func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let rank = max(a.count, b.count)
    return (0..<rank).map { axis in
        let da = axis < rank - a.count ? 1 : a[axis - (rank - a.count)]
        let db = axis < rank - b.count ? 1 : b[axis - (rank - b.count)]
        precondition(da == db || da == 1 || db == 1,
                     "shapes \(a) and \(b) do not broadcast: \(da) against \(db) at axis \(axis - rank)")
        return da == 1 ? db : da
    }
}

/// Strides that read a tensor of `shape` as if it had shape `target`: 0 along stretched axes.
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let strides = Tensor.strides(of: shape)
    let lead = target.count - shape.count
    return target.indices.map { axis in
        axis < lead || shape[axis - lead] == 1 ? 0 : strides[axis - lead]
    }
}

/// A loop nest over a contiguous output, reading each operand through per-axis strides.
///
/// Size-1 axes are dropped and neighbouring axes merged wherever every operand steps through them
/// as one, so a [C,1,1] bias over [N,C,H,W] becomes the three axes [N, C, H·W] and equal shapes a
/// single run. The innermost axis is then long and each operand's stride along it is 0 or 1
/// (for broadcasts), which is what the kernels specialise on.
struct StridedLoop {
    private(set) var sizes: [Int] = []
    /// strides[operand][axis], in elements.
    private(set) var strides: [[Int]]
    let count: Int

    init(shape: [Int], strides operandStrides: [[Int]]) {
        count = shape.reduce(1, *)
        strides = operandStrides.map { _ in [] }
        for axis in shape.indices where shape[axis] != 1 {
            let merges = !sizes.isEmpty && operandStrides.indices.allSatisfy {
                strides[$0][sizes.count - 1] == operandStrides[$0][axis] * shape[axis]
            }
            if merges {
                sizes[sizes.count - 1] *= shape[axis]
                for k in strides.indices { strides[k][sizes.count - 1] = operandStrides[k][axis] }
            } else {
                sizes.append(shape[axis])
                for k in strides.indices { strides[k].append(operandStrides[k][axis]) }
            }
        }
        if sizes.isEmpty {   // one element: any stride reads it
            sizes = [1]
            strides = strides.map { _ in [1] }
        }
    }

    var inner: Int { sizes[sizes.count - 1] }
    var rows: Int { count / inner }
    func innerStride(_ operand: Int) -> Int { strides[operand][sizes.count - 1] }

    /// Where row `row` (an index over every axis but the innermost) starts in `operand`.
    func offset(row: Int, operand: Int) -> Int {
        var row = row, offset = 0
        for axis in stride(from: sizes.count - 2, through: 0, by: -1) {
            offset += (row % sizes[axis]) * strides[operand][axis]
            row /= sizes[axis]
        }
        return offset
    }

    /// Calls `body(row, columns)` so that the calls tile the output exactly once. Large loops are
    /// spread over the engine's threads, splitting rows into column pieces when there are too few
    /// rows to go round.
    func forEachRun(_ body: (_ row: Int, _ columns: Range<Int>) -> Void) {
        guard count > 0 else { return }
        let n = inner, rows = rows
        guard count >= parallelGrain, Engine.threads > 1 else {
            for row in 0..<rows { body(row, 0..<n) }
            return
        }
        let pieces = rows >= Engine.threads ? 1 : (Engine.threads + rows - 1) / rows
        Engine.parallelFor(rows * pieces) { task in
            let row = task / pieces, piece = task % pieces
            body(row, (piece * n / pieces)..<((piece + 1) * n / pieces))
        }
    }
}

/// kernel(x) for every element.
func mapUnary<K: UnaryKernel>(_ x: Tensor, _ kernel: K) -> Tensor {
    let loop = StridedLoop(shape: [x.count], strides: [[1]])
    return Tensor(shape: x.shape) { out in
        x.data.withUnsafeBufferPointer { px in
            loop.forEachRun { _, columns in
                let src = px.baseAddress!, dst = out.baseAddress!
                for i in columns { dst[i] = kernel(src[i]) }
            }
        }
    }
}

/// kernel(a, b) over the broadcast of `a` and `b`.
func mapBinary<K: BinaryKernel>(_ a: Tensor, _ b: Tensor, _ kernel: K) -> Tensor {
    let shape = a.shape == b.shape ? a.shape : broadcastShape(a.shape, b.shape)
    let loop = StridedLoop(shape: shape, strides: [broadcastStrides(a.shape, to: shape),
                                                   broadcastStrides(b.shape, to: shape)])
    // Along the merged innermost axis an operand either walks (stride 1) or stands still (stride 0),
    // and never both stand still: that axis would have size 1 and been dropped.
    let aWalks = loop.innerStride(0) == 1, bWalks = loop.innerStride(1) == 1
    return Tensor(shape: shape) { out in
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                loop.forEachRun { row, columns in
                    let n = columns.count
                    let dst = out.baseAddress! + row * loop.inner + columns.lowerBound
                    let x = pa.baseAddress! + loop.offset(row: row, operand: 0) + (aWalks ? columns.lowerBound : 0)
                    let y = pb.baseAddress! + loop.offset(row: row, operand: 1) + (bWalks ? columns.lowerBound : 0)
                    if aWalks && bWalks {
                        for i in 0..<n { dst[i] = kernel(x[i], y[i]) }
                    } else if aWalks {
                        let v = y.pointee
                        for i in 0..<n { dst[i] = kernel(x[i], v) }
                    } else {
                        let v = x.pointee
                        for i in 0..<n { dst[i] = kernel(v, y[i]) }
                    }
                }
            }
        }
    }
}

struct AddKernel: BinaryKernel { func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b } }
struct SubKernel: BinaryKernel { func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b } }
struct MulKernel: BinaryKernel { func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b } }
struct DivKernel: BinaryKernel { func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b } }

/// The gradient of one factor of a product: Σ g·other over the axes `shape` was stretched along.
func productGradient(_ g: Tensor, _ other: Tensor, to shape: [Int]) -> Tensor {
    if other.shape == g.shape { return reduceToShape(g, times: other, to: shape) }
    return reduceToShape(mapBinary(g, other, MulKernel()), to: shape)
}

// MARK: - Arithmetic

public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = mapBinary(a, b, AddKernel())
    return Autograd.record(out, inputs: [a, b]) { g in
        [a.tracksGradient ? reduceToShape(g, to: a.shape) : nil,
         b.tracksGradient ? reduceToShape(g, to: b.shape) : nil]
    }
}

public func sub(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = mapBinary(a, b, SubKernel())
    return Autograd.record(out, inputs: [a, b]) { g in
        [a.tracksGradient ? reduceToShape(g, to: a.shape) : nil,
         b.tracksGradient ? reduceToShape(g, scale: -1, to: b.shape) : nil]
    }
}

public func mul(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = mapBinary(a, b, MulKernel())
    return Autograd.record(out, inputs: [a, b]) { g in
        [a.tracksGradient ? productGradient(g, b, to: a.shape) : nil,
         b.tracksGradient ? productGradient(g, a, to: b.shape) : nil]
    }
}

public func div(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = mapBinary(a, b, DivKernel())
    let quotient = out.detached()   // shares storage; capturing `out` itself would make a cycle
    return Autograd.record(out, inputs: [a, b]) { g in
        // d(a/b)/db = -(a/b)/b, and b is constant along the axes it was stretched over, so the
        // division by b can wait until after the reduction.
        [a.tracksGradient ? reduceToShape(mapBinary(g, b, DivKernel()), to: a.shape) : nil,
         b.tracksGradient ? mapBinary(reduceToShape(g, times: quotient, scale: -1, to: b.shape), b, DivKernel()) : nil]
    }
}

public func neg(_ x: Tensor) -> Tensor { mul(x, Tensor(scalar: -1)) }

public func scaled(_ x: Tensor, by factor: Float) -> Tensor { mul(x, Tensor(scalar: factor)) }

extension Tensor {
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { add(lhs, rhs) }
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { sub(lhs, rhs) }
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { mul(lhs, rhs) }
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor { div(lhs, rhs) }

    public static func + (lhs: Tensor, rhs: Float) -> Tensor { add(lhs, Tensor(scalar: rhs)) }
    public static func - (lhs: Tensor, rhs: Float) -> Tensor { sub(lhs, Tensor(scalar: rhs)) }
    public static func * (lhs: Tensor, rhs: Float) -> Tensor { mul(lhs, Tensor(scalar: rhs)) }
    public static func / (lhs: Tensor, rhs: Float) -> Tensor { div(lhs, Tensor(scalar: rhs)) }

    public static func + (lhs: Float, rhs: Tensor) -> Tensor { add(Tensor(scalar: lhs), rhs) }
    public static func - (lhs: Float, rhs: Tensor) -> Tensor { sub(Tensor(scalar: lhs), rhs) }
    public static func * (lhs: Float, rhs: Tensor) -> Tensor { mul(Tensor(scalar: lhs), rhs) }
    public static func / (lhs: Float, rhs: Tensor) -> Tensor { div(Tensor(scalar: lhs), rhs) }

    public static prefix func - (x: Tensor) -> Tensor { neg(x) }
}

// MARK: - Unary maths

struct SquareKernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { x * x } }
/// g · 2x
struct SquareGradKernel: BinaryKernel { func callAsFunction(_ g: Float, _ x: Float) -> Float { 2 * x * g } }

public func square(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, SquareKernel())
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, x, SquareGradKernel())] }
}

struct SqrtKernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { x.squareRoot() } }
/// g / (2√x), from the saved root
struct SqrtGradKernel: BinaryKernel { func callAsFunction(_ g: Float, _ y: Float) -> Float { g / (2 * y) } }

public func sqrt(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, SqrtKernel())
    let root = out.detached()
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, root, SqrtGradKernel())] }
}

struct ExpKernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { Foundation.exp(x) } }

public func exp(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, ExpKernel())
    let power = out.detached()
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, power, MulKernel())] }
}
