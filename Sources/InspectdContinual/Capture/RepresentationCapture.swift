import Foundation
import InspectdModel
import InspectdTensor

/// Runs the scoring path over a product's latents and streams every protected layer's input
/// vectors into one sketch per layer: token vectors for the linear layers (the attention's
/// projections and the time-embedding MLP included), im2col columns for the convolutions. Only
/// one batch's vectors exist at a time; the sketches hold the rest in O(d²).
public final class RepresentationCapture: LayerInputObserver, @unchecked Sendable {
    // Unchecked: the network calls the observer from the one thread that runs `record`.
    public let network: CDADNetwork
    public let method: BasisMethod
    private let layers: [ObjectIdentifier: (name: String, sketch: RepresentationSketch)]

    public init(network: CDADNetwork, method: BasisMethod) {
        self.network = network
        self.method = method
        var layers: [ObjectIdentifier: (name: String, sketch: RepresentationSketch)] = [:]
        for p in network.namedParameters {
            if case .projected(let d) = ProtectedParameters.role(of: p) {
                layers[ObjectIdentifier(p.tensor)] = (p.name, method.makeSketch(dimension: d))
            }
        }
        self.layers = layers
    }

    /// The sketches by weight name.
    public var sketches: [String: RepresentationSketch] {
        Dictionary(uniqueKeysWithValues: layers.values.map { ($0.name, $0.sketch) })
    }

    /// Scores `latents` [N, C, H, W] (standardised) as the detector does, noised with `noise`, and
    /// records what every protected layer reads on the way.
    public func record(latents: Tensor, noiseLevel: Int, steps: Int, noise: Tensor) {
        LayerInputs.observing(self) {
            _ = network.reconstruct(latent: latents, noiseLevel: noiseLevel, steps: steps, noise: noise)
        }
    }

    public func linearInput(_ x: Tensor, weight: Tensor) {
        guard let layer = layers[ObjectIdentifier(weight)] else { return }
        let d = weight.shape[1]
        x.data.withUnsafeBufferPointer { layer.sketch.add($0.baseAddress!, count: x.count / d, layout: .rows) }
    }

    public func convolutionInput(_ x: Tensor, weight: Tensor, stride: Int, padding: Padding2d) {
        guard let layer = layers[ObjectIdentifier(weight)] else { return }
        let d = weight.shape[1] * weight.shape[2] * weight.shape[3]
        // One chunk for the whole batch: a sketch's work per chunk has a fixed part (iSVD's
        // decomposition above all) that fewer, larger chunks share.
        let columns = unfoldedPatches(x, kernelH: weight.shape[2], kernelW: weight.shape[3], stride: stride, padding: padding)
        columns.withUnsafeBufferPointer { layer.sketch.add($0.baseAddress!, count: columns.count / d, layout: .columns) }
    }
}
