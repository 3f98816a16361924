import InspectdTensor

/// Which parameters an increment may move, and how.
///
/// Every matrix (a linear weight [out, in] or a convolution weight [out, C, kh, kw]) stays
/// trainable, its changes kept orthogonal to the inputs its layer saw on the products already
/// learnt. Vectors (biases, LayerNorm and GroupNorm scales and shifts) are frozen after the first
/// product: a bias shifts the output for every input alike, so no input subspace can protect it.
public enum ProtectedParameters {
    public enum Role: Sendable, Equatable {
        /// Trained with its changes projected off the layer's basis.
        case projected(dimension: Int)
        case frozen
    }

    public static func role(of parameter: NamedParameter) -> Role {
        let shape = parameter.tensor.shape
        guard shape.count >= 2 else { return .frozen }
        return .projected(dimension: shape.dropFirst().reduce(1, *))
    }

    /// Each projected parameter's name and input dimension d (its weight viewed as [out, d]).
    public static func projectedDimensions(_ parameters: [NamedParameter]) -> [String: Int] {
        var out: [String: Int] = [:]
        for p in parameters { if case .projected(let d) = role(of: p) { out[p.name] = d } }
        return out
    }
}
