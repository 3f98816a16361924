import CInspectdKernels

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
private func logistic(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }

/// tanh in branch-free, vectorisable form: Cephes' odd polynomial near 0, where 1 − 2/(e^{2|x|} + 1)
/// would cancel, and that identity further out.
@inline(__always)
func fastTanh(_ x: Float) -> Float {
    let s = x * x
    let near = ((((-5.704_988_7e-3 * s + 2.063_908_9e-2) * s - 5.373_971_6e-2) * s + 1.333_144_2e-1) * s
                - 3.333_328_2e-1) * s * x + x
    let far = Float(signOf: x, magnitudeOf: 1 - 2 / (fastExp(2 * abs(x)) + 1))
    return abs(x) < 0.625 ? near : far
}

struct SigmoidKernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { logistic(x) } }
/// σ' = σ(1 − σ), from the saved output
struct SigmoidGradKernel: BinaryKernel { func callAsFunction(_ g: Float, _ y: Float) -> Float { g * y * (1 - y) } }

public func sigmoid(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, SigmoidKernel())
    let saved = out.detached()   // shares storage; capturing `out` would make a reference cycle
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, saved, SigmoidGradKernel())] }
}

struct TanhKernel: UnaryKernel { func callAsFunction(_ x: Float) -> Float { fastTanh(x) } }
/// tanh' = 1 − tanh², from the saved output
struct TanhGradKernel: BinaryKernel { func callAsFunction(_ g: Float, _ y: Float) -> Float { g * (1 - y * y) } }

public func tanh(_ x: Tensor) -> Tensor {
    let out = mapUnary(x, TanhKernel())
    let saved = out.detached()
    return Autograd.record(out, inputs: [x]) { g in [mapBinary(g, saved, TanhGradKernel())] }
}

/// SiLU, x·σ(x), in C (`inspectd_silu`); its backward, σ(1 + x(1 − σ)), recomputes σ from the
/// input rather than keeping it, to save a tensor per activation.
public func silu(_ x: Tensor) -> Tensor {
    activationInC(x, forward: inspectd_silu, backward: inspectd_silu_backward)
}

/// GELU in its exact form x·Φ(x), Φ the standard normal CDF (PyTorch's default, not the tanh fit),
/// in C (`inspectd_gelu`); its backward, Φ(x) + x·φ(x), from the input.
public func gelu(_ x: Tensor) -> Tensor {
    activationInC(x, forward: inspectd_gelu, backward: inspectd_gelu_backward)
}

/// An activation whose forward (x → y) and backward (g, x → dx) are C loops over contiguous runs,
/// split between the workers.
private func activationInC(_ x: Tensor,
                           forward: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void,
                           backward: @escaping (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void)
    -> Tensor {
    let out = Tensor(shape: x.shape) { y in
        x.data.withUnsafeBufferPointer { px in
            forEachContiguousRun(x.count) { i, n in forward(px.baseAddress! + i, y.baseAddress! + i, n) }
        }
    }
    return Autograd.record(out, inputs: [x]) { g in
        [Tensor(shape: x.shape) { dx in
            g.data.withUnsafeBufferPointer { pg in
                x.data.withUnsafeBufferPointer { px in
                    forEachContiguousRun(x.count) { i, n in backward(pg.baseAddress! + i, px.baseAddress! + i, dx.baseAddress! + i, n) }
                }
            }
        }]
    }
}
