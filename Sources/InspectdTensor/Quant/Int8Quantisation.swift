import CInspectdKernels

/// How an activation tensor maps to int8: x ≈ scale · (q − zeroPoint), q in −127...127 (−128 is
/// never used, so the AVX2 kernels' byte products cannot saturate). Asymmetric, so a tensor that is
/// mostly positive (after SiLU, a noised latent's shifted channels) keeps its full resolution.
public struct Int8Scale: Equatable, Sendable {
    public let scale: Float
    public let zeroPoint: Int32

    public init(scale: Float, zeroPoint: Int32) {
        precondition(scale > 0 && scale.isFinite, "int8 scale must be positive and finite, got \(scale)")
        precondition((-127...127).contains(zeroPoint), "int8 zero point \(zeroPoint) outside -127...127")
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// The scale that spreads minimum...maximum (widened to hold 0, so that 0 and the zero padding
    /// of convolutions are exact) over the 255 levels.
    public init(minimum: Float, maximum: Float) {
        precondition(minimum.isFinite && maximum.isFinite && minimum <= maximum,
                     "int8 range \(minimum)...\(maximum) is not a finite interval")
        let low = min(minimum, 0), high = max(maximum, 0)
        let scale = high > low ? (high - low) / 254 : 1
        let zero = (-127 - low / scale).rounded(.toNearestOrEven)
        self.init(scale: scale, zeroPoint: Int32(max(-127, min(127, zero))))
    }

    var inverse: Float { 1 / scale }

    /// The level of `x`, as every int8 kernel rounds it (ties to even, clamped).
    public func quantise(_ x: Float) -> Int32 { inspectd_i8_quantize(x, inverse, zeroPoint) }

    /// The value a level stands for.
    public func value(_ q: Int32) -> Float { scale * Float(q - zeroPoint) }
}

/// A weight tensor quantised symmetrically per output channel (the first axis): w ≈ scale[o] · q,
/// q in −127...127, in the tensor's own layout. What a model folder stores.
public struct Int8Weights: Equatable, Sendable {
    public let shape: [Int]
    public let values: [Int8]
    /// One per output channel.
    public let scales: [Float]

    public init(shape: [Int], values: [Int8], scales: [Float]) {
        precondition(shape.count >= 2, "int8 weights need an output axis and at least one more, got \(shape)")
        precondition(values.count == shape.reduce(1, *), "int8 weights \(shape) hold \(shape.reduce(1, *)) values, got \(values.count)")
        precondition(scales.count == shape[0], "int8 weights \(shape) need \(shape[0]) scales, got \(scales.count)")
        precondition(!values.contains(-128), "int8 weights use -127...127")
        self.shape = shape
        self.values = values
        self.scales = scales
    }

    /// Each output channel scaled so that its largest magnitude becomes 127 (a zero channel keeps
    /// scale 1 and stays zero).
    public init(quantising weight: Tensor) {
        precondition(weight.rank >= 2, "int8 weights need an output axis and at least one more, got \(weight.shape)")
        let rows = weight.shape[0], columns = weight.count / max(1, rows)
        var values = [Int8](repeating: 0, count: weight.count)
        var scales = [Float](repeating: 1, count: rows)
        for o in 0..<rows {
            let row = weight.data[(o * columns)..<((o + 1) * columns)]
            let largest = row.reduce(Float(0)) { max($0, abs($1)) }
            guard largest > 0 else { continue }
            let scale = largest / 127
            scales[o] = scale
            for (j, w) in row.enumerated() {
                values[o * columns + j] = Int8(inspectd_i8_quantize(w, 1 / scale, 0))
            }
        }
        self.init(shape: weight.shape, values: values, scales: scales)
    }

    /// Values per output channel.
    public var columns: Int { values.count / shape[0] }

    /// The weights these levels stand for, as a tensor of the original shape.
    public func dequantised() -> Tensor {
        let columns = self.columns
        return Tensor(shape: shape) { out in
            for (i, q) in values.enumerated() { out[i] = scales[i / columns] * Float(q) }
        }
    }
}
