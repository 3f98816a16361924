import InspectdTensor

/// The protected subspaces of one model: an orthonormal basis per projected weight, grown by one
/// merge per product learnt.
public struct ProtectedSubspaces: Sendable, Equatable {
    /// By weight name (`unet.up.1.res.0.conv1.weight`); a layer absent here has rank 0.
    public var bases: [String: LayerBasis]

    public init(bases: [String: LayerBasis] = [:]) { self.bases = bases }

    /// Names in a file: `basis.<weight name>`, [d, k] Float32, for the layers whose rank is not 0.
    public static let tensorPrefix = "basis."

    /// A basis file that cannot be used; names the file and the tensor.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let file: String
        public let tensor: String
        public let reason: String
        public var description: String { "\(file): tensor '\(tensor)': \(reason)" }
    }

    public func tensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, basis) in bases where basis.rank > 0 {
            out[Self.tensorPrefix + name] = Tensor(shape: [basis.dimension, basis.rank], data: basis.vectors)
        }
        return out
    }

    /// The share of d each layer's basis occupies.
    public var occupancy: [String: Double] { bases.mapValues(\.occupancy) }

    /// Reads the bases of `file`'s tensors and checks them against what the model expects: for each
    /// projected weight its input dimension d and the rank the manifest recorded. A basis whose
    /// shape disagrees, an unexpected or missing tensor, or columns that are not orthonormal (a
    /// damaged file) are refused.
    public init(tensors: [String: Tensor], expected: [String: (dimension: Int, rank: Int)], file: String) throws {
        var bases: [String: LayerBasis] = [:]
        for (key, tensor) in tensors {
            guard key.hasPrefix(Self.tensorPrefix) else {
                throw Failure(file: file, tensor: key, reason: "not a basis (names start with '\(Self.tensorPrefix)')")
            }
            let name = String(key.dropFirst(Self.tensorPrefix.count))
            guard let want = expected[name] else {
                throw Failure(file: file, tensor: key, reason: "the model has no protected layer '\(name)'")
            }
            guard tensor.shape == [want.dimension, want.rank] else {
                throw Failure(file: file, tensor: key, reason: "shape \(tensor.shape), expected [\(want.dimension), \(want.rank)] "
                              + "(the layer's input dimension and the rank the manifest records)")
            }
            let basis = LayerBasis(dimension: want.dimension, rank: want.rank, vectors: tensor.data)
            let error = basis.orthonormalityError()
            guard error < 1e-3 else {
                throw Failure(file: file, tensor: key, reason: "columns are not orthonormal (largest |VᵀV − I| entry \(error))")
            }
            bases[name] = basis
        }
        for (name, want) in expected where want.rank > 0 && bases[name] == nil {
            throw Failure(file: file, tensor: Self.tensorPrefix + name, reason: "missing (the manifest records rank \(want.rank))")
        }
        self.bases = bases
    }

    /// Adds one product's representation, layer by layer, with GPM's merge at `threshold`. Layers
    /// are merged side by side on the engine's threads, the largest first so that the last one
    /// started is a small one.
    public func merged(with sketches: [String: RepresentationSketch], threshold: Double) throws
        -> (subspaces: ProtectedSubspaces, reports: [String: BasisMerge.Report]) {
        let names = sketches.keys.sorted { (sketches[$0]!.dimension, $0) > (sketches[$1]!.dimension, $1) }
        var results = [Result<(LayerBasis, BasisMerge.Report), Error>?](repeating: nil, count: names.count)
        results.withUnsafeMutableBufferPointer { results in
            Engine.parallelItems(names.count) { _, item in
                let sketch = sketches[names[item]]!
                results[item] = Result { try BasisMerge.merge(bases[names[item]] ?? .empty(dimension: sketch.dimension), with: sketch, threshold: threshold) }
            }
        }
        var next = self
        var reports: [String: BasisMerge.Report] = [:]
        for (item, name) in names.enumerated() {
            let (basis, report) = try results[item]!.get()
            next.bases[name] = basis
            reports[name] = report
        }
        return (next, reports)
    }
}
