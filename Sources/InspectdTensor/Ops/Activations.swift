import Foundation

/// Pointwise activations, each forward kernel beside the kernel of its derivative. Backward
/// kernels take (g, v), the incoming gradient and whichever of input or output the derivative is
/// cheapest from. At kinks the subgradient is 0, as in PyTorch.

struct ReLUKernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { x > 0 ? x : 0 } }
struct ReLUGradKernel: BinaryKernel { func callAsFunction(_ g: Float, _ x: Float) -> Float { x > 0 ? g : 0 } }

public func relu(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, ReLUKernel())
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, x, ReLUGradKernel())] }
}

struct ReLU6Kernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { x > 0 ? (x < 6 ? x : 6) : 0 } }
struct ReLU6GradKernel: BinaryKernel { func callAsFunction(_ g: Float, _ x: Float) -> Float { x > 0 && x < 6 ? g : 0 } }

public func relu6(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, ReLU6Kernel())
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, x, ReLU6GradKernel())] }
}

@inline(__always)
private func logistic(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

struct SigmoidKernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { logistic(x) } }
/// σ' = σ(1 − σ), from the saved output
struct SigmoidGradKernel: BinaryKernel { func callAsFunction(_ g: Float, _ y: Float) -> Float { g * y * (1 - y) } }

public func sigmoid(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, SigmoidKernel())
    let saved = out.detached()   // shares storage; capturing `out` would make a reference cycle
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, saved, SigmoidGradKernel())] }
}

struct TanhKernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { Foundation.tanh(x) } }
/// tanh' = 1 − tanh², from the saved output
struct TanhGradKernel: BinaryKernel { func callAsFunction(_ g: Float, _ y: Float) -> Float { g * (1 - y * y) } }

public func tanh(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, TanhKernel())
    let saved = out.detached()
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, saved, TanhGradKernel())] }
}

struct SiLUKernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { x * logistic(x) } }
/// (xσ)' = σ(1 + x(1 − σ)); σ is recomputed rather than kept, to save a tensor per activation.
struct SiLUGradKernel: BinaryKernel {
    func callAsFunction(_ g: Float, _ x: Float) -> Float {
        let s = logistic(x)
        return g * s * (1 + x * (1 - s))
    }
}

public func silu(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, SiLUKernel())
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, x, SiLUGradKernel())] }
}

/// GELU in its exact form x·Φ(x), Φ the standard normal CDF (PyTorch's default, not the tanh fit).
struct GELUKernel: UnaryKernel {
    func callAsFunction(_ x: Float) -> Float { 0.5 * x * (1 + Foundation.erf(x * 0.70710678)) }
}
/// (xΦ)' = Φ(x) + x·φ(x)
struct GELUGradKernel: BinaryKernel {
    func callAsFunction(_ g: Float, _ x: Float) -> Float {
        let cdf = 0.5 * (1 + Foundation.erf(x * 0.70710678))
        let pdf = 0.39894228 * Foundation.exp(-0.5 * x * x)
        return g * (cdf + x * pdf)
    }
}

public func gelu(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, GELUKernel())
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, x, GELUGradKernel())] }
}
