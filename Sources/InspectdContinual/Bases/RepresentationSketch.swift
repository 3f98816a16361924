/// How a chunk of input vectors is laid out in memory.
public enum SampleLayout: Sendable {
    /// count × d: one sample per row (token vectors).
    case rows
    /// d × count: one sample per column (im2col output).
    case columns

    /// Where component `component` of sample `sample` lies in a chunk of `count` samples of
    /// dimension `dimension`.
    @inline(__always)
    func offset(sample: Int, component: Int, count: Int, dimension: Int) -> Int {
        switch self {
        case .rows: sample * dimension + component
        case .columns: component * count + sample
        }
    }
}

/// A streaming summary of the inputs a layer saw while one product was scored, from which that
/// product's principal directions are taken. Memory does not grow with the number of samples.
public protocol RepresentationSketch: AnyObject {
    var dimension: Int { get }
    /// How many sample vectors were added.
    var sampleCount: Int { get }
    /// Adds `count` samples of dimension `dimension` from `samples` in `layout`.
    func add(_ samples: UnsafePointer<Float>, count: Int, layout: SampleLayout)
    /// Σ‖x‖² over all samples added.
    var totalEnergy: Double { get }
    /// Σ‖Pᵀx‖² for the basis P (the energy the stored basis already holds).
    func energy(inside basis: LayerBasis) -> Double
    /// The principal directions of the samples after projecting out `basis` (x − PPᵀx), strongest
    /// first: energies (descending squared singular values / eigenvalues of the residual) and
    /// vectors d × m row-major Float64, unit columns. At most d − k directions: the others would lie
    /// inside the basis.
    func residualDirections(outside basis: LayerBasis) throws -> (energies: [Double], vectors: [Double])
}

/// How a product's representation is summarised.
public enum BasisMethod: String, Sendable, CaseIterable, Codable {
    /// Exact streaming covariance, eigen-decomposed once per product.
    case covariance
    /// Incremental SVD carrying U·S, truncated as it goes.
    case isvd

    public func makeSketch(dimension: Int) -> RepresentationSketch {
        switch self {
        case .covariance: CovarianceSketch(dimension: dimension)
        case .isvd: IncrementalSVDSketch(dimension: dimension)
        }
    }
}
