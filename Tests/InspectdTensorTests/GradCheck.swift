@testable import InspectdTensor

/// A small seeded generator for test data (SplitMix64), so failures reproduce.
struct TestRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }

    mutating func tensor(_ shape: [Int], scale: Float = 1, requiresGrad: Bool = false) -> Tensor {
        let n = shape.reduce(1, *)
        var data = [Float](repeating: 0, count: n)
        for i in 0..<n { data[i] = uniform() * scale }
        return Tensor(shape: shape, data: data, requiresGrad: requiresGrad)
    }
}

/// The largest relative error between autograd's gradients and central finite differences.
///
/// The scalar checked is L = Σ f(inputs) · R for a fixed random R, so every output element
/// contributes. For each input, up to `samples` elements are perturbed by ±`step`; the error is
/// ‖numeric − analytic‖ / max(‖numeric‖, ‖analytic‖, 1e-6) over those elements, with L summed in
/// Float64 so that the difference quotient is not drowned by rounding.
func gradientError(_ inputs: [Tensor], step: Float = 1e-2, samples: Int = 48, seed: UInt64 = 7,
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
