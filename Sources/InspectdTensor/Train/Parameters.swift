/// A trainable tensor and the name it has in checkpoints (PyTorch style: `unet.down.0.conv.weight`).
public struct NamedParameter {
    public let name: String
    public let tensor: Tensor

    public init(_ name: String, _ tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }
}

/// Anything that owns parameters lists them, with names, in a stable order.
public protocol ParameterContainer {
    /// The parameters, each name prefixed with `prefix` (which ends in "." unless empty).
    func parameters(prefix: String) -> [NamedParameter]
}

extension ParameterContainer {
    public var namedParameters: [NamedParameter] { parameters(prefix: "") }

    /// Name → tensor, for checkpoints. Duplicate names are a programming error.
    public var parameterDictionary: [String: Tensor] {
        Dictionary(namedParameters.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in
            preconditionFailure("two parameters share a name (shape \(a.shape))")
        })
    }

    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.tensor.count } }

    /// Copies values from `source` into the parameters with the same names and shapes.
    /// Returns the names that were missing or mis-shaped, so callers can report them.
    @discardableResult
    public func load(_ source: [String: Tensor]) -> [String] {
        var problems: [String] = []
        for p in namedParameters {
            guard let t = source[p.name] else { problems.append("\(p.name): missing"); continue }
            guard t.shape == p.tensor.shape else {
                problems.append("\(p.name): shape \(t.shape), expected \(p.tensor.shape)")
                continue
            }
            p.tensor.data = t.data
        }
        return problems
    }
}

/// Changes gradients after backward() and before the optimiser uses them: the place where
/// gradient projection (continual learning) and clipping live.
public protocol GradientHook {
    func adjust(_ parameters: [NamedParameter])
}

/// Constrains the change an optimiser step makes to some parameters. Gradient projection needs it
/// on top of a `GradientHook`: Adam's per-coordinate scaling and the weight decay move a weight
/// inside the protected subspace even when its gradient has none of it.
public protocol UpdateProjection {
    /// Whether the changes of parameter `name` are constrained (the optimiser keeps the old values then).
    func constrains(_ name: String) -> Bool
    /// Replaces `change` (the whole step's change of `name`, in the parameter's layout) in place.
    func project(_ name: String, change: UnsafeMutableBufferPointer<Float>)
}
