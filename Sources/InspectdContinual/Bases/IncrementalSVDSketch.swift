import InspectdTensor

/// Incremental SVD, the reference's method done right: the sketch keeps the leading left singular
/// vectors U (d × r) and singular values S of all samples so far, and each chunk X takes the SVD
/// of [U·S | Xᵀ], whose left singular vectors and values are those of all samples together
/// ([US | Xᵀ][US | Xᵀ]ᵀ = US²Uᵀ + XᵀX). Columns beyond `retainedEnergy` of the running energy
/// are dropped, so memory stays O(d·(d + chunk)).
public final class IncrementalSVDSketch: RepresentationSketch {
    public let dimension: Int
    public private(set) var sampleCount = 0
    public private(set) var totalEnergy = 0.0
    /// false reproduces the reference code's flaw, [U | Xᵀ]: the old data re-enters every merge
    /// with unit weight per direction, so its share shrinks chunk by chunk. Kept only to show
    /// the difference.
    public let carriesSingularValues: Bool
    /// The share of the running energy each truncation keeps.
    public let retainedEnergy: Double
    /// d × r row-major, orthonormal columns.
    private var u: [Double] = []
    /// r values, descending.
    private var s: [Double] = []
    private var failure: Error?

    public init(dimension: Int, carriesSingularValues: Bool = true, retainedEnergy: Double = 0.99999) {
        precondition(dimension > 0, "IncrementalSVDSketch: dimension \(dimension)")
        precondition(retainedEnergy > 0 && retainedEnergy <= 1, "IncrementalSVDSketch: retained energy \(retainedEnergy)")
        self.dimension = dimension
        self.carriesSingularValues = carriesSingularValues
        self.retainedEnergy = retainedEnergy
    }

    /// How many directions the sketch holds now.
    public var rank: Int { s.count }

    /// The singular values held, descending.
    public var singularValues: [Double] { s }

    public func add(_ samples: UnsafePointer<Float>, count: Int, layout: SampleLayout) {
        guard count > 0, failure == nil else { return }
        do {
            try merge(samples, count: count, layout: layout)
        } catch {
            // A chunk LAPACK refuses (NaN or infinity in the samples) spoils everything after it;
            // the failure surfaces from residualDirections, as it would from the covariance
            // sketch's eigen-decomposition.
            failure = error
        }
        sampleCount += count
        // Summed from the samples, not from S: truncation drops a little of the energy.
        var energy = 0.0
        for i in 0..<(count * dimension) { energy += Double(samples[i]) * Double(samples[i]) }
        totalEnergy += energy
    }

    private func merge(_ samples: UnsafePointer<Float>, count: Int, layout: SampleLayout) throws {
        let d = dimension, r = rank
        // A chunk with more samples than d enters as Rᵀ from X = QR: XᵀX = RᵀR, so [US | Rᵀ] has
        // the same left singular vectors and values as [US | Xᵀ] and the SVD stays d × (r + d).
        let reduced = count > d
        let n = r + (reduced ? d : count)
        var m = [Double](repeating: 0, count: d * n)
        for i in 0..<d { for j in 0..<r { m[i * n + j] = carriesSingularValues ? u[i * r + j] * s[j] : u[i * r + j] } }
        if reduced {
            var x = [Double](repeating: 0, count: count * d)
            for sample in 0..<count { for i in 0..<d {
                x[sample * d + i] = Double(samples[layout.offset(sample: sample, component: i, count: count, dimension: d)])
            }}
            let triangle = try Linalg.qrTriangle(x, rows: count, columns: d)
            for i in 0..<d { for j in 0...i { m[i * n + r + j] = triangle[j * d + i] } }
        } else {
            for i in 0..<d { for sample in 0..<count {
                m[i * n + r + sample] = Double(samples[layout.offset(sample: sample, component: i, count: count, dimension: d)])
            }}
        }
        let (values, vectors) = try Linalg.thinSVD(m, rows: d, columns: n)
        let running = values.reduce(0) { $0 + $1 * $1 }
        var kept = 0, held = 0.0
        while kept < values.count, values[kept] > 0, held < retainedEnergy * running {
            held += values[kept] * values[kept]
            kept += 1
        }
        let p = values.count
        u = [Double](repeating: 0, count: d * kept)
        for i in 0..<d { for j in 0..<kept { u[i * kept + j] = vectors[i * p + j] } }
        s = Array(values.prefix(kept))
    }

    /// Σ‖Pᵀx‖² as ‖PᵀUS‖²: the energy of the retained directions, so up to 1 − `retainedEnergy`
    /// below the exact figure.
    public func energy(inside basis: LayerBasis) -> Double {
        precondition(basis.dimension == dimension, "energy: a basis of dimension \(basis.dimension) for a sketch of \(dimension)")
        guard basis.rank > 0, rank > 0 else { return 0 }
        let k = basis.rank, r = rank
        let ptu = Linalg.product(basis.float64Vectors, u, m: k, n: r, k: dimension, transposeA: true)
        var sum = 0.0
        for i in 0..<k { for j in 0..<r { sum += ptu[i * r + j] * ptu[i * r + j] * s[j] * s[j] } }
        return sum
    }

    /// From the SVD of (I − PPᵀ)·U·S.
    public func residualDirections(outside basis: LayerBasis) throws -> (energies: [Double], vectors: [Double]) {
        precondition(basis.dimension == dimension, "residualDirections: a basis of dimension \(basis.dimension) for a sketch of \(dimension)")
        if let failure { throw failure }
        let d = dimension, k = basis.rank, r = rank
        var us = u
        for i in 0..<d { for j in 0..<r { us[i * r + j] *= s[j] } }
        if k > 0 {
            let p = basis.float64Vectors
            let ptus = Linalg.product(p, us, m: k, n: r, k: d, transposeA: true)
            Linalg.multiply(p, ptus, m: d, n: r, k: k, alpha: -1, beta: 1, into: &us)
        }
        let (values, vectors) = try Linalg.thinSVD(us, rows: d, columns: r)
        // The residual has rank at most d − k; further directions would lie inside the basis.
        let p = values.count, m = min(p, d - k)
        var kept = [Double](repeating: 0, count: d * m)
        for i in 0..<d { for j in 0..<m { kept[i * m + j] = vectors[i * p + j] } }
        return (values.prefix(m).map { $0 * $0 }, kept)
    }
}
