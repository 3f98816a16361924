import Foundation

/// A dense, contiguous, row-major Float32 tensor.
///
/// Images are NCHW, matrices row-major. Every op returns a new tensor; views are not a thing
/// here, which keeps the kernels plain loops over contiguous memory. A tensor that takes part in
/// training carries `requiresGrad` (leaves) or a `node` (results of recorded ops), and `backward()`
/// fills the `grad` of the leaves.
public final class Tensor {
    public let shape: [Int]
    public var data: [Float]
    /// Leaves with this flag collect a gradient in `grad` during `backward()`.
    public var requiresGrad: Bool
    public var grad: Tensor?
    /// How this tensor was computed, when the op was recorded for autograd.
    var node: Node?

    public init(shape: [Int], data: [Float], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) == data.count,
                     "shape \(shape) holds \(shape.reduce(1, *)) elements, data has \(data.count)")
        self.shape = shape
        self.data = data
        self.requiresGrad = requiresGrad
    }

    /// A tensor of zeros.
    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor whose elements are written by `fill` before anyone can read them.
    public convenience init(shape: [Int], uninitialized fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let n = shape.reduce(1, *)
        let data = [Float](unsafeUninitializedCapacity: n) { buffer, count in
            fill(buffer)
            count = n
        }
        self.init(shape: shape, data: data)
    }

    public convenience init(scalar: Float) {
        self.init(shape: [], data: [scalar])
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(data.count == 1, "item of a tensor of shape \(shape)")
        return data[0]
    }

    /// True when backward() will reach this tensor: a trainable leaf or a recorded result.
    public var tracksGradient: Bool { requiresGrad || node != nil }

    /// The same values, cut off from the graph.
    public func detached() -> Tensor { Tensor(shape: shape, data: data) }

    /// Row-major strides in elements.
    public var strides: [Int] { Tensor.strides(of: shape) }

    static func strides(of shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = step
            step *= shape[axis]
        }
        return strides
    }

    /// Runs `body` with a pointer to the elements of `tensor`, or nil when there is no tensor:
    /// the shape backward kernels need for gradients that are only wanted for some inputs.
    static func withMutablePointer<R>(_ tensor: Tensor?, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
        guard let tensor else { return body(nil) }
        return tensor.data.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    /// Adds `other` into `grad`, creating it on first use.
    func accumulateGrad(_ other: Tensor) {
        precondition(other.shape == shape, "gradient of shape \(other.shape) for a tensor of shape \(shape)")
        if let grad {
            grad.data.withUnsafeMutableBufferPointer { g in
                other.data.withUnsafeBufferPointer { o in
                    for i in 0..<g.count { g[i] += o[i] }
                }
            }
        } else {
            grad = other.detached()
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = data.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(data.count > 8 ? ", ..." : "")]"
    }
}
