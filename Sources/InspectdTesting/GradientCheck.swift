import InspectdTensor

/// Seeded random test data, so that failures reproduce.
public struct TestRandom: RandomNumberGenerator {
    private var generator: SeededGenerator

    public init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    public mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [-1, 1).
    public mutating func uniform() -> Float { 2 * generator.nextUnit() - 1 }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * generator.nextUnit() }

    /// Uniform in [-scale, scale).
    public mutating func tensor(_ shape: [Int], scale: Float = 1, requiresGrad: Bool = false) -> Tensor {
        let data = (0..<shape.reduce(1, *)).map { _ in uniform() * scale }
        return Tensor(shape: shape, data: data, requiresGrad: requiresGrad)
    }

    /// Uniform in [lo, hi).
    public mutating func tensor(_ shape: [Int], _ lo: Float, _ hi: Float) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in uniform(lo, hi) })
    }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next() >> 56) }
    }
}

/// The largest relative error between autograd's gradients and central finite differences.
///
/// The scalar checked is L = Σ f(inputs) · R for a fixed random R, so every output element
/// contributes. For each input, up to `samples` elements are perturbed by ±`step`; the error is
/// ‖numeric − analytic‖ / max(‖numeric‖, ‖analytic‖, 1e-6) over those elements, with L summed in
/// Float64 so that the difference quotient is not drowned by rounding.
public func gradientError(_ inputs: [Tensor], step: Float = 1e-2, samples: Int = 48, seed: UInt64 = 7,
                   _ f: ([Tensor]) -> Tensor) -> Float {
    var random = TestRandom(seed: seed)
    for input in inputs { input.grad = nil }
    let out = f(inputs)
    let projection = random.tensor(out.shape)
    out.backward(seed: projection)

    func loss() -> Double {
        let y = Autograd.withoutRecording { f(inputs) }
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(projection.data[i]) }
        return s
    }

    var worst: Float = 0
    for input in inputs where input.requiresGrad {
        let analytic = input.grad?.data ?? [Float](repeating: 0, count: input.count)
        let picks = input.count <= samples
            ? Array(0..<input.count)
            : (0..<samples).map { _ in Int(random.next() % UInt64(input.count)) }
        var diff = 0.0, normNumeric = 0.0, normAnalytic = 0.0
        for i in picks {
            let saved = input.data[i]
            input.data[i] = saved + step
            let plus = loss()
            input.data[i] = saved - step
            let minus = loss()
            input.data[i] = saved
            let numeric = (plus - minus) / (2 * Double(step))
            let a = Double(analytic[i])
            diff += (numeric - a) * (numeric - a)
            normNumeric += numeric * numeric
            normAnalytic += a * a
        }
        let error = diff.squareRoot() / max(normNumeric.squareRoot(), normAnalytic.squareRoot(), 1e-6)
        worst = max(worst, Float(error))
    }
    return worst
}
