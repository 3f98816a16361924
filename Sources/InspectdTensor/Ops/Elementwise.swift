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

    /// An odometer over the rows (every axis but the innermost), starting at row `row`.
    func cursor(at row: Int) -> RowCursor {
        let outer = sizes.count - 1
        return RowCursor(sizes: Array(sizes[..<outer]), strides0: Array(strides[0][..<outer]),
                         strides1: strides.count > 1 ? Array(strides[1][..<outer]) : [Int](repeating: 0, count: outer),
                         start: row)
    }

    /// Calls `body(rows, columns)` so that the calls tile the output exactly once. Large loops are
    /// spread over the engine's threads: by blocks of rows, or, when there are too few rows to go
    /// round, by pieces of a row.
    /// `work` is the number of elements the calls touch in all, when that is more than the output.
    func forEachRun(work: Int? = nil, _ body: (_ rows: Range<Int>, _ columns: Range<Int>) -> Void) {
        guard count > 0 else { return }
        let n = inner, rows = rows, threads = Engine.threads
        guard (work ?? count) >= parallelGrain, threads > 1 else {
            body(0..<rows, 0..<n)
            return
        }
        if rows >= threads {
            Engine.parallelFor(threads) { t in body((t * rows / threads)..<((t + 1) * rows / threads), 0..<n) }
        } else {
            let pieces = (threads + rows - 1) / rows
            Engine.parallelFor(rows * pieces) { task in
                let row = task / pieces, piece = task % pieces
                body(row..<(row + 1), (piece * n / pieces)..<((piece + 1) * n / pieces))
            }
        }
    }
}

/// Where successive rows of a `StridedLoop` start in (up to) two operands, advanced like an
/// odometer so that walking the rows costs no division.
struct RowCursor {
    private let sizes: [Int], strides0: [Int], strides1: [Int]
    private var index: [Int]
    private(set) var offset0 = 0, offset1 = 0

    init(sizes: [Int], strides0: [Int], strides1: [Int], start: Int) {
        (self.sizes, self.strides0, self.strides1) = (sizes, strides0, strides1)
        index = [Int](repeating: 0, count: sizes.count)
        var rest = start
        for axis in sizes.indices.reversed() {
            index[axis] = rest % sizes[axis]
            rest /= sizes[axis]
            offset0 += index[axis] * strides0[axis]
            offset1 += index[axis] * strides1[axis]
        }
    }

    mutating func advance() {
        var axis = sizes.count - 1
        while axis >= 0 {
            index[axis] += 1
            offset0 += strides0[axis]
            offset1 += strides1[axis]
            if index[axis] < sizes[axis] { return }
            offset0 -= strides0[axis] * sizes[axis]
            offset1 -= strides1[axis] * sizes[axis]
            index[axis] = 0
            axis -= 1
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

/// For ops whose loop is C (`CInspectdKernels`): `kernel(offset, count)` over contiguous runs of
/// `count` elements from `offset`, covering 0..<count of a tensor, the runs split between the
/// engine's threads.
func forEachContiguousRun(_ count: Int, _ kernel: (_ offset: Int, _ count: Int) -> Void) {
    StridedLoop(shape: [count], strides: [[1]]).forEachRun { _, columns in
        kernel(columns.lowerBound, columns.count)
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
                loop.forEachRun { rows, columns in
                    let n = columns.count, lo = columns.lowerBound
                    var cursor = loop.cursor(at: rows.lowerBound)
                    for row in rows {
                        let dst = out.baseAddress! + row * loop.inner + lo
                        let x = pa.baseAddress! + cursor.offset0 + (aWalks ? lo : 0)
                        let y = pb.baseAddress! + cursor.offset1 + (bWalks ? lo : 0)
                        if aWalks && bWalks {
                            for i in 0..<n { dst[i] = kernel(x[i], y[i]) }
                        } else if aWalks {
                            let v = y.pointee
                            for i in 0..<n { dst[i] = kernel(x[i], v) }
                        } else {
                            let v = x.pointee
                            for i in 0..<n { dst[i] = kernel(v, y[i]) }
                        }
                        cursor.advance()
                    }
                }
            }
        }
    }
}

/// e^x to within a few ulp, in branch-free code that the compiler vectorises. glibc's expf is a
/// scalar call, and it would dominate sigmoid, SiLU and GELU.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    // e^x = 2^n · e^r with n = round(x / ln 2) and |r| ≤ ln 2 / 2 (Cephes' expf polynomial).
    // Adding 1.5·2²³ rounds to an integer that then sits in the low mantissa bits.
    let shifter: Float = 12_582_912
    let clamped = Swift.min(Swift.max(x, -104), 89)   // beyond these e^x is 0 or ∞ anyway; NaN passes
    let t = clamped * 1.442_695_04 + shifter
    let n = t - shifter
    let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4   // ln 2 in two parts, exact products
    let p = (((((1.987_569_15e-4 * r + 1.398_199_95e-3) * r + 8.333_451_9e-3) * r + 4.166_579_59e-2) * r
              + 1.666_666_55e-1) * r + 5.000_000_12e-1) * (r * r) + r + 1
    // 2^n as two normal halves, so that results far into the subnormals or overflow come out right.
    let k = Int32(bitPattern: t.bitPattern &- shifter.bitPattern)
    let half = k &>> 1
    let s1 = Float(bitPattern: UInt32(bitPattern: (half &+ 127) &<< 23))
    let s2 = Float(bitPattern: UInt32(bitPattern: (k &- half &+ 127) &<< 23))
    return p * s1 * s2
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

struct ExpKernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { fastExp(x) } }

public func exp(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, ExpKernel())
    let power = out.detached()
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, power, MulKernel())] }
}
