import InspectdTensor

/// Keeps every protected layer's output on the old products' inputs: for a weight W viewed as
/// [out, d] with basis P [d, k], a change ΔW becomes ΔW − (ΔW·P)·Pᵀ, so that X_old·ΔWᵀ ≈ 0 for
/// inputs X_old inside span(P).
///
/// It acts twice in a step. As a gradient hook it removes the protected part of the gradient, so
/// Adam's moments follow only the directions that may move (and clipping measures those). As the
/// optimiser's update projection it removes what Adam's per-coordinate scaling and the weight
/// decay put back into the protected subspace; that second pass is what makes ΔW·P = 0 hold to
/// rounding. The products (out·d·k each) never form the d × d projector.
public final class GradientProjector: GradientHook, UpdateProjection {
    /// By weight name; layers without a basis (or with rank 0) move freely.
    public let bases: [String: LayerBasis]

    public init(bases: [String: LayerBasis]) {
        self.bases = bases.filter { $0.value.rank > 0 }
    }

    public func adjust(_ parameters: [NamedParameter]) {
        for p in parameters where bases[p.name] != nil {
            guard let grad = p.tensor.grad else { continue }
            grad.data.withUnsafeMutableBufferPointer { project(p.name, change: $0) }
        }
    }

    public func constrains(_ name: String) -> Bool { bases[name] != nil }

    public func project(_ name: String, change: UnsafeMutableBufferPointer<Float>) {
        guard let basis = bases[name] else { return }
        let d = basis.dimension, k = basis.rank
        precondition(change.count % d == 0, "\(name): \(change.count) values do not split into rows of \(d)")
        let rows = change.count / d
        var inside = [Float](repeating: 0, count: rows * k)
        basis.vectors.withUnsafeBufferPointer { p in
            inside.withUnsafeMutableBufferPointer { t in
                // T = ΔW·P [rows, k], then ΔW −= T·Pᵀ.
                sgemm(m: rows, n: k, k: d, a: change.baseAddress!, lda: d, b: p.baseAddress!, ldb: k,
                      c: t.baseAddress!, ldc: k)
                sgemm(transposeB: true, m: rows, n: d, k: k, alpha: -1, a: t.baseAddress!, lda: k,
                      b: p.baseAddress!, ldb: k, beta: 1, c: change.baseAddress!, ldc: d)
            }
        }
    }
}
