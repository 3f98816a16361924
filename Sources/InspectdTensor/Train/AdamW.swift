import CInspectdKernels
import Foundation

/// Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch's AdamW computes it.
public final class AdamW {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public var weightDecay: Float
    public private(set) var step: Int = 0
    public let parameters: [NamedParameter]
    /// First and second moment estimates, one per parameter, in `parameters` order.
    private var moment1: [[Float]]
    private var moment2: [[Float]]

    public init(_ parameters: [NamedParameter], learningRate: Float = 1e-3, beta1: Float = 0.9,
                beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        moment1 = parameters.map { [Float](repeating: 0, count: $0.tensor.count) }
        moment2 = moment1
    }

    /// Clears the gradients of all parameters.
    public func zeroGrad() {
        for p in parameters { p.tensor.grad = nil }
    }

    /// Applies the hooks to the gradients, then updates every parameter that has a gradient. Where
    /// `projection` constrains a parameter, the change the update makes (Adam's step and the decay
    /// together) is handed to it and what it returns is applied instead.
    public func step(hooks: [GradientHook] = [], projection: UpdateProjection? = nil) {
        for hook in hooks { hook.adjust(parameters) }
        step += 1
        let correction1 = 1 - pow(beta1, Float(step))
        let correction2 = 1 - pow(beta2, Float(step))
        let update = inspectd_adamw_step(beta1: beta1, beta2: beta2, epsilon: epsilon, correction2: correction2,
                                         step_size: learningRate / correction1, decay: 1 - learningRate * weightDecay)
        for (index, p) in parameters.enumerated() {
            guard let grad = p.tensor.grad else { continue }
            let before = projection?.constrains(p.name) == true ? p.tensor.data : nil
            p.tensor.data.withUnsafeMutableBufferPointer { w in
                grad.data.withUnsafeBufferPointer { g in
                    moment1[index].withUnsafeMutableBufferPointer { m in
                        moment2[index].withUnsafeMutableBufferPointer { v in
                            forEachContiguousRun(w.count) { i, n in
                                inspectd_adamw_update(w.baseAddress! + i, g.baseAddress! + i, m.baseAddress! + i,
                                                      v.baseAddress! + i, n, update)
                            }
                        }
                    }
                }
            }
            if let before, let projection { Self.constrainChange(of: p, from: before, projection) }
        }
    }

    /// w = before + projected(w − before). The old values are a copy because `w` was written in place.
    private static func constrainChange(of p: NamedParameter, from before: [Float], _ projection: UpdateProjection) {
        var change = [Float](repeating: 0, count: before.count)
        p.tensor.data.withUnsafeMutableBufferPointer { w in
            change.withUnsafeMutableBufferPointer { c in
                for i in 0..<c.count { c[i] = w[i] - before[i] }
                projection.project(p.name, change: c)
                for i in 0..<c.count { w[i] = before[i] + c[i] }
            }
        }
    }

    /// The optimiser's state by parameter name, for checkpoints that let training resume.
    public func state() -> (step: Int, tensors: [String: Tensor]) {
        var tensors: [String: Tensor] = [:]
        for (index, p) in parameters.enumerated() {
            tensors["\(p.name).exp_avg"] = Tensor(shape: p.tensor.shape, data: moment1[index])
            tensors["\(p.name).exp_avg_sq"] = Tensor(shape: p.tensor.shape, data: moment2[index])
        }
        return (step, tensors)
    }

    /// Restores what `state()` produced; names that are absent keep fresh (zero) moments.
    public func restore(step: Int, tensors: [String: Tensor]) {
        self.step = step
        for (index, p) in parameters.enumerated() {
            if let m = tensors["\(p.name).exp_avg"], m.shape == p.tensor.shape { moment1[index] = m.data }
            if let v = tensors["\(p.name).exp_avg_sq"], v.shape == p.tensor.shape { moment2[index] = v.data }
        }
    }
}

/// Scales all gradients down together when their global L2 norm exceeds `maxNorm`.
public struct GradientNormClip: GradientHook {
    public let maxNorm: Float
    public init(maxNorm: Float) { self.maxNorm = maxNorm }

    public func adjust(_ parameters: [NamedParameter]) {
        var total: Double = 0
        for p in parameters {
            p.tensor.grad?.data.withUnsafeBufferPointer { g in
                total += Engine.parallelSum(g.count, grain: parallelGrain) { inspectd_sum_of_squares(g.baseAddress! + $0.lowerBound, $0.count) }
            }
        }
        let norm = Float(total.squareRoot())
        guard norm > maxNorm else { return }
        let scale = maxNorm / norm
        for p in parameters {
            p.tensor.grad?.data.withUnsafeMutableBufferPointer { g in
                forEachContiguousRun(g.count) { i, n in
                    for j in i..<(i + n) { g[j] *= scale }
                }
            }
        }
    }
}
