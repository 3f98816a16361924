/// GPM's merge of a new product's representation into a layer's stored basis.
public enum BasisMerge {
    public struct Report: Sendable {
        public let previousRank: Int
        public let addedRank: Int
        public let dimension: Int
        /// The share of the new representation's energy the old basis already held, and the share
        /// held after the merge. Both are 1 for a representation without energy: nothing of it is
        /// left outside.
        public let sharedBefore: Double
        public let sharedAfter: Double
    }

    /// Residual directions holding less than this share of the representation's energy are never
    /// added: in directions without data, rounding leaves eigenvalues and singular values near
    /// 1e-16 of the energy, and only a threshold the rounded energies cannot reach would ask for
    /// them. A direction below the floor moves old outputs by about 1e-6 of their size.
    static let negligibleEnergy = 1e-12

    /// A direction whose norm falls below this after re-orthonormalisation lies inside the basis.
    static let dependentNorm = 1e-6

    /// The residual of `sketch` outside `existing`, its strongest directions by the energy rule
    /// against the new representation's total energy, re-orthonormalised against `existing` and
    /// each other, appended as new columns. The existing columns are kept as they are, and the
    /// result is orthonormal. The first product is the merge into `LayerBasis.empty`.
    public static func merge(_ existing: LayerBasis, with sketch: RepresentationSketch, threshold: Double) throws
        -> (basis: LayerBasis, report: Report) {
        let d = existing.dimension, k = existing.rank
        precondition(sketch.dimension == d, "merge: a sketch of dimension \(sketch.dimension) into a basis of \(d)")
        let total = sketch.totalEnergy
        guard total > 0 else {
            return (existing, Report(previousRank: k, addedRank: 0, dimension: d, sharedBefore: 1, sharedAfter: 1))
        }
        let projected = sketch.energy(inside: existing)
        let residual = try sketch.residualDirections(outside: existing)
        let candidates = residual.energies.prefix { $0 > negligibleEnergy * total }
        let wanted = EnergyRule.rank(projectedEnergy: projected, residualEnergies: Array(candidates),
                                     totalEnergy: total, threshold: threshold)

        // Columns of the growing basis, each contiguous: old ones first, then those accepted.
        var columns = [Double](repeating: 0, count: k * d)
        for i in 0..<d { for j in 0..<k { columns[j * d + i] = Double(existing.vectors[i * k + j]) } }
        let m = residual.energies.count
        var added = 0, addedEnergy = 0.0
        for candidate in 0..<wanted {
            var v = (0..<d).map { residual.vectors[$0 * m + candidate] }
            // The residual directions are orthogonal to the basis only up to rounding, and the old
            // columns were rounded to Float32; two passes of modified Gram-Schmidt make the new
            // column orthogonal to working precision.
            for _ in 0..<2 { removeComponents(of: &v, along: columns, count: k + added, dimension: d) }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm >= dependentNorm else { continue }
            columns.append(contentsOf: v.map { $0 / norm })
            added += 1
            addedEnergy += residual.energies[candidate]
        }

        let rank = k + added
        var vectors = [Float](repeating: 0, count: d * rank)
        for i in 0..<d {
            for j in 0..<k { vectors[i * rank + j] = existing.vectors[i * k + j] }
            for j in k..<rank { vectors[i * rank + j] = Float(columns[j * d + i]) }
        }
        let basis = LayerBasis(dimension: d, rank: rank, vectors: vectors)
        // The added directions are the residual's own, orthogonal to the old basis: the energy the
        // new basis holds is the old basis's plus theirs, with no second pass over the sketch.
        let report = Report(previousRank: k, addedRank: added, dimension: d, sharedBefore: projected / total,
                            sharedAfter: (projected + addedEnergy) / total)
        return (basis, report)
    }

    /// v ← v − (cᵀv)c for each of the first `count` contiguous columns c in turn. The dot products
    /// run four lanes at a time: adding 500 directions to 450 at d = 1728 took 2.4 s with a scalar
    /// sum and 1.5 s this way (0.8 s of it the covariance's eigen-decomposition).
    private static func removeComponents(of v: inout [Double], along columns: [Double], count: Int, dimension d: Int) {
        let body = d & ~3
        columns.withUnsafeBufferPointer { c in
            v.withUnsafeMutableBufferPointer { v in
                let vp = UnsafeMutableRawPointer(v.baseAddress!)
                for j in 0..<count {
                    let column = c.baseAddress! + j * d, cp = UnsafeRawPointer(column)
                    var lanes = SIMD4<Double>()
                    for i in stride(from: 0, to: body, by: 4) {
                        lanes += cp.loadUnaligned(fromByteOffset: i * 8, as: SIMD4<Double>.self)
                            * vp.loadUnaligned(fromByteOffset: i * 8, as: SIMD4<Double>.self)
                    }
                    var dot = lanes.sum()
                    for i in body..<d { dot += column[i] * v[i] }
                    for i in 0..<d { v[i] -= dot * column[i] }
                }
            }
        }
    }
}
