import InspectdTensor

/// An orthonormal basis of part of a layer's input space: the directions whose outputs the
/// products learnt so far rely on.
public struct LayerBasis: Sendable, Equatable {
    /// d: the length of the layer's input vectors.
    public let dimension: Int
    /// k: how many directions the basis holds.
    public let rank: Int
    /// d × k row-major Float32: column j is direction j; columns orthonormal. Float32 because the
    /// gradient projection that reads it runs in Float32.
    public let vectors: [Float]

    public init(dimension: Int, rank: Int, vectors: [Float]) {
        precondition(dimension > 0 && (0...dimension).contains(rank) && vectors.count == dimension * rank,
                     "LayerBasis: \(vectors.count) values for \(rank) directions of dimension \(dimension)")
        self.dimension = dimension
        self.rank = rank
        self.vectors = vectors
    }

    public static func empty(dimension: Int) -> LayerBasis {
        LayerBasis(dimension: dimension, rank: 0, vectors: [])
    }

    /// The share of the input space the basis takes up: at 1 the layer cannot learn anything new.
    public var occupancy: Double { Double(rank) / Double(dimension) }

    /// The largest entry of |VᵀV − I|, in Float64 so that the check does not add rounding of its own.
    public func orthonormalityError() -> Double {
        let gram = Linalg.product(float64Vectors, float64Vectors, m: rank, n: rank, k: dimension, transposeA: true)
        var worst = 0.0
        for i in 0..<rank { for j in 0..<rank {
            worst = max(worst, abs(gram[i * rank + j] - (i == j ? 1 : 0)))
        }}
        return worst
    }

    /// `vectors` widened to Float64 (d × k row-major), for the arithmetic of sketches and merges.
    var float64Vectors: [Double] { vectors.map(Double.init) }
}
