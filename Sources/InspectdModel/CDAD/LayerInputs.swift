import InspectdTensor

/// Receives what the trainable layers read while the network runs: gradient projection builds
/// each layer's protected subspace from these vectors. The weight identifies the layer (match it
/// against `namedParameters` by identity); the observer must not keep or change `x`.
public protocol LayerInputObserver: AnyObject, Sendable {
    /// `x` [..., in] feeds the linear layer whose weight [out, in] is `weight`: every row is one input vector.
    func linearInput(_ x: Tensor, weight: Tensor)
    /// `x` [B, C, H, W] feeds the convolution whose weight [out, C, kh, kw] is `weight`, at `stride`
    /// and `padding`: its input vectors are the im2col columns.
    func convolutionInput(_ x: Tensor, weight: Tensor, stride: Int, padding: Padding2d)
}

/// Where the layers find the observer, if any. Task-local, so capturing on one thread leaves
/// frames scored on another untouched, and the layers stay values without a hook of their own.
public enum LayerInputs {
    @TaskLocal static var observer: (any LayerInputObserver)?

    /// Runs `body` with `observer` receiving every linear and convolution layer's input.
    public static func observing<R>(_ observer: any LayerInputObserver, _ body: () throws -> R) rethrows -> R {
        try $observer.withValue(observer, operation: body)
    }
}
