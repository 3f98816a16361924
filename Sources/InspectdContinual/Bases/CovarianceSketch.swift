import InspectdTensor

/// Exact streaming covariance: C = Σ x xᵀ over every sample, d × d in Float64. Memory O(d²)
/// whatever the number of samples, and nothing is approximated, so its directions are the ones a
/// full SVD of all samples at once would give.
public final class CovarianceSketch: RepresentationSketch {
    public let dimension: Int
    public private(set) var sampleCount = 0
    /// The upper triangle of C, row-major; the strict lower triangle stays zero.
    private var upper: [Double]

    public init(dimension: Int) {
        precondition(dimension > 0, "CovarianceSketch: dimension \(dimension)")
        self.dimension = dimension
        upper = [Double](repeating: 0, count: dimension * dimension)
    }

    public func add(_ samples: UnsafePointer<Float>, count: Int, layout: SampleLayout) {
        guard count > 0 else { return }
        // In Float64 from the start. Float32 chunk sums left eigenvalues of 2e-8 to 3e-8 of the
        // trace in directions without data (1024-sample chunks, d = 64 and 320), as large as real
        // directions that a threshold close to 1 must keep; Float64 leaves 2e-16. It costs 66 ms
        // per 1024 samples at d = 1728 (ssyrk: 40 ms).
        let x = [Double](unsafeUninitializedCapacity: count * dimension) { buffer, initialised in
            for i in 0..<(count * dimension) { buffer[i] = Double(samples[i]) }
            initialised = count * dimension
        }
        Linalg.addOuterProducts(x, count: count, dimension: dimension, vectorsInRows: layout == .rows, to: &upper)
        sampleCount += count
    }

    /// Σ‖x‖² is the trace of C.
    public var totalEnergy: Double { (0..<dimension).reduce(0) { $0 + upper[$1 * dimension + $1] } }

    public func energy(inside basis: LayerBasis) -> Double {
        precondition(basis.dimension == dimension, "energy: a basis of dimension \(basis.dimension) for a sketch of \(dimension)")
        guard basis.rank > 0 else { return 0 }
        // Σ‖Pᵀx‖² = trace(PᵀCP) = Σ P ∘ (CP).
        let p = basis.float64Vectors
        let cp = Linalg.product(covariance(), p, m: dimension, n: basis.rank, k: dimension)
        return zip(p, cp).reduce(0) { $0 + $1.0 * $1.1 }
    }

    public func residualDirections(outside basis: LayerBasis) throws -> (energies: [Double], vectors: [Double]) {
        precondition(basis.dimension == dimension, "residualDirections: a basis of dimension \(basis.dimension) for a sketch of \(dimension)")
        let d = dimension, k = basis.rank
        var residual = covariance()
        if k > 0 {
            // (I − PPᵀ)C(I − PPᵀ) = C − P(CP)ᵀ + (P(PᵀCP) − CP)Pᵀ: products with the d × k basis only,
            // never the d × d projector.
            let p = basis.float64Vectors
            let cp = Linalg.product(residual, p, m: d, n: k, k: d)
            var w = Linalg.product(p, Linalg.product(p, cp, m: k, n: k, k: d, transposeA: true), m: d, n: k, k: k)
            for i in w.indices { w[i] -= cp[i] }
            Linalg.multiply(p, cp, m: d, n: d, k: k, transposeB: true, alpha: -1, beta: 1, into: &residual)
            Linalg.multiply(w, p, m: d, n: d, k: k, transposeB: true, alpha: 1, beta: 1, into: &residual)
        }
        let (values, vectors) = try Linalg.symmetricEigen(residual, n: d)
        // The residual has rank at most d − k; the last k eigenvectors span the basis itself.
        let m = d - k
        var kept = [Double](repeating: 0, count: d * m)
        for i in 0..<d { for j in 0..<m { kept[i * m + j] = vectors[i * d + j] } }
        // Rounding can leave eigenvalues of the semi-definite residual slightly below zero.
        return (values.prefix(m).map { max($0, 0) }, kept)
    }

    /// C with both triangles filled.
    private func covariance() -> [Double] {
        var c = upper
        for i in 0..<dimension { for j in 0..<i { c[i * dimension + j] = c[j * dimension + i] } }
        return c
    }
}
