import Foundation
import InspectdTensor

/// One layer's int8 form: its weights quantised per output channel and the calibrated scale of its
/// input. What a model folder's int8 file stores per layer.
public struct Int8Layer: Equatable, Sendable {
    public let weights: Int8Weights
    public let input: Int8Scale

    public init(weights: Int8Weights, input: Int8Scale) {
        self.weights = weights
        self.input = input
    }
}

/// The int8 twins of a network's layers, used in place of the float layers while `running` runs.
///
/// Keyed by the float weight tensor, as the `LayerInputs` tap is: a `Linear` or `Conv2d` that finds
/// its weight here runs on the int8 kernels, every other layer (and everything that is not a
/// convolution or a linear layer: norms, attention's products, the diffusion arithmetic) stays in
/// Float32. Task-local, so int8 and float scoring can run side by side (a benchmark alternates
/// them). Safe to share between threads.
public final class QuantisedLayers: @unchecked Sendable {
    public let path: Int8Path
    /// Parameter name of each quantised weight → its layer.
    public let layers: [String: Int8Layer]

    private struct Entry {
        let layer: Int8Layer
        let bias: Tensor?
    }
    private let entries: [ObjectIdentifier: Entry]
    private let lock = NSLock()
    private var linears: [ObjectIdentifier: Int8Linear] = [:]
    private var convolutions: [ObjectIdentifier: Int8Convolution] = [:]

    /// `layers` by weight name (`amn.layers.0.attn.q.weight`); each must name a weight of
    /// `network` of the same shape, whose bias (if any) is the `.bias` beside it.
    public init(network: some ParameterContainer, layers: [String: Int8Layer], path: Int8Path = .active) throws {
        let parameters = network.parameterDictionary
        var entries: [ObjectIdentifier: Entry] = [:]
        for (name, layer) in layers {
            guard let weight = parameters[name] else { throw QuantisedLayersError.unknownLayer(name) }
            guard weight.shape == layer.weights.shape else {
                throw QuantisedLayersError.shapeMismatch(name, expected: weight.shape, found: layer.weights.shape)
            }
            let biasName = name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) + ".bias" : nil
            entries[ObjectIdentifier(weight)] = Entry(layer: layer, bias: biasName.flatMap { parameters[$0] })
        }
        self.path = path
        self.layers = layers
        self.entries = entries
    }

    @TaskLocal static var current: QuantisedLayers?

    /// Runs `body` with the network's layers on their int8 twins.
    public func running<R>(_ body: () throws -> R) rethrows -> R {
        try Self.$current.withValue(self, operation: body)
    }

    func linear(for weight: Tensor) -> Int8Linear? {
        let key = ObjectIdentifier(weight)
        guard let entry = entries[key] else { return nil }
        return lock.withLock {
            if let built = linears[key] { return built }
            let built = Int8Linear(weights: entry.layer.weights, bias: entry.bias, input: entry.layer.input, path: path)
            linears[key] = built
            return built
        }
    }

    /// Built on first use: the stride and padding are the calling layer's.
    func convolution(for weight: Tensor, stride: Int, padding: Padding2d) -> Int8Convolution? {
        let key = ObjectIdentifier(weight)
        guard let entry = entries[key] else { return nil }
        return lock.withLock {
            if let built = convolutions[key] { return built }
            let built = Int8Convolution(weights: entry.layer.weights, bias: entry.bias, stride: stride, padding: padding,
                                        input: entry.layer.input, path: path)
            convolutions[key] = built
            return built
        }
    }
}

public enum QuantisedLayersError: Error, Equatable, CustomStringConvertible {
    case unknownLayer(String)
    case shapeMismatch(String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .unknownLayer(let name): "the network has no weight called \(name)"
        case .shapeMismatch(let name, let expected, let found): "\(name) is \(expected) in the network, \(found) in its int8 form"
        }
    }
}

/// The range of every linear and convolution layer's input over the passes it watched (through
/// `LayerInputs.observing`): what int8 calibration sets the input scales from.
public final class ActivationRanges: LayerInputObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var ranges: [ObjectIdentifier: (minimum: Float, maximum: Float)] = [:]

    public init() {}

    public func linearInput(_ x: Tensor, weight: Tensor) { record(x, weight) }

    public func convolutionInput(_ x: Tensor, weight: Tensor, stride: Int, padding: Padding2d) { record(x, weight) }

    private func record(_ x: Tensor, _ weight: Tensor) {
        var low = Float.infinity, high = -Float.infinity
        for v in x.data where v.isFinite {
            low = min(low, v)
            high = max(high, v)
        }
        guard low <= high else { return }
        lock.withLock {
            let key = ObjectIdentifier(weight)
            let old = ranges[key] ?? (low, high)
            ranges[key] = (min(old.minimum, low), max(old.maximum, high))
        }
    }

    /// Weight name → the range its layer's input took, for the layers of `network` that ran.
    public func ranges(of network: some ParameterContainer) -> [String: (minimum: Float, maximum: Float)] {
        lock.withLock {
            var named: [String: (minimum: Float, maximum: Float)] = [:]
            for parameter in network.namedParameters {
                if let range = ranges[ObjectIdentifier(parameter.tensor)] { named[parameter.name] = range }
            }
            return named
        }
    }
}
