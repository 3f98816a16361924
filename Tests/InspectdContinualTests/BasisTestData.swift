import InspectdContinual
import InspectdTensor
import InspectdTesting

/// Samples for the basis tests: `count` vectors of dimension `dimension`, one per row.
struct BasisSamples {
    let count: Int
    let dimension: Int
    var rows: [Float]

    /// Σ_j c_j·scales[j]·directions[:, j] + noise per sample, with c_j and the noise uniform in
    /// [-1, 1) (the noise times `noise`); `directions` is d × scales.count row-major.
    init(count: Int, directions: [Double], scales: [Double], noise: Float = 0, random: inout TestRandom) {
        let k = scales.count, d = directions.count / k
        self.count = count
        dimension = d
        rows = []
        rows.reserveCapacity(count * d)
        for _ in 0..<count {
            let c = scales.map { Double(random.uniform()) * $0 }
            for i in 0..<d {
                var x = 0.0
                for j in 0..<k { x += directions[i * k + j] * c[j] }
                rows.append(Float(x) + noise * random.uniform())
            }
        }
    }

    init(concatenating parts: [BasisSamples]) {
        count = parts.reduce(0) { $0 + $1.count }
        dimension = parts[0].dimension
        rows = parts.flatMap(\.rows)
    }

    /// The same samples one per column (d × count), as im2col lays them out.
    var columns: [Float] {
        var out = [Float](repeating: 0, count: count * dimension)
        for s in 0..<count { for i in 0..<dimension { out[i * count + s] = rows[s * dimension + i] } }
        return out
    }

    /// Adds the samples to `sketch` in chunks of the given sizes (cycled until all are in), each
    /// chunk in the next of `layouts`, cycled.
    func add(to sketch: RepresentationSketch, chunks: [Int], layouts: [SampleLayout] = [.rows]) {
        var start = 0, index = 0
        while start < count {
            let n = min(chunks[index % chunks.count], count - start)
            let layout = layouts[index % layouts.count]
            let chunk = Array(rows[(start * dimension)..<((start + n) * dimension)])
            let data = layout == .rows ? chunk : BasisSamples(rows: chunk, count: n, dimension: dimension).columns
            data.withUnsafeBufferPointer { sketch.add($0.baseAddress!, count: n, layout: layout) }
            start += n
            index += 1
        }
    }

    private init(rows: [Float], count: Int, dimension: Int) {
        self.rows = rows
        self.count = count
        self.dimension = dimension
    }

    /// Xᵀ (d × count) in Float64, optionally with the component inside `basis` removed.
    func transposed(outside basis: LayerBasis? = nil) -> [Double] {
        var xt = columns.map(Double.init)
        if let basis, basis.rank > 0 {
            let p = basis.vectors.map(Double.init), k = basis.rank
            let ptx = Linalg.product(p, xt, m: k, n: count, k: dimension, transposeA: true)
            Linalg.multiply(p, ptx, m: dimension, n: count, k: k, alpha: -1, beta: 1, into: &xt)
        }
        return xt
    }

    /// The SVD of all samples at once (of Xᵀ, optionally outside `basis`): squared singular values,
    /// descending, and the left singular vectors, d × min(d, count).
    func fullSVD(outside basis: LayerBasis? = nil) throws -> (energies: [Double], vectors: [Double]) {
        let (values, u) = try Linalg.thinSVD(transposed(outside: basis), rows: dimension, columns: count)
        return (values.map { $0 * $0 }, u)
    }
}

/// d × k row-major with orthonormal columns, random.
func randomOrthonormal(dimension d: Int, rank k: Int, random: inout TestRandom) throws -> [Double] {
    try Linalg.thinSVD((0..<(d * k)).map { _ in Double(random.uniform()) }, rows: d, columns: k).u
}

/// The first `take` columns of a d × `width` row-major matrix.
func leadingColumns(_ m: [Double], width: Int, take: Int) -> [Double] {
    let d = m.count / width
    return (0..<(d * take)).map { m[($0 / take) * width + $0 % take] }
}

/// ‖AAᵀ − BBᵀ‖_F for d × ka and d × kb matrices A and B: 0 exactly when their columns span the
/// same subspace (for orthonormal columns), √(ka + kb) for orthogonal subspaces.
func projectorDistance(_ a: [Double], _ b: [Double], dimension d: Int) -> Double {
    let aa = Linalg.product(a, a, m: d, n: d, k: a.count / d, transposeB: true)
    let bb = Linalg.product(b, b, m: d, n: d, k: b.count / d, transposeB: true)
    return zip(aa, bb).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
}

/// V·diag(e)·Vᵀ for d × m V: the matrix whose eigen-decomposition (e, V) is.
func reassemble(energies e: [Double], vectors v: [Double], dimension d: Int) -> [Double] {
    let m = e.count
    var scaled = v
    for i in 0..<d { for j in 0..<m { scaled[i * m + j] *= e[j] } }
    return Linalg.product(scaled, v, m: d, n: d, k: m, transposeB: true)
}

func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

extension LayerBasis {
    init(float64 vectors: [Double], dimension: Int) {
        self.init(dimension: dimension, rank: vectors.count / dimension, vectors: vectors.map { Float($0) })
    }
}
