import Foundation

/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64): the same seed
/// gives the same weights on every machine, which reproducible training needs.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 24 bits, enough for Float.
    public mutating func nextUnit() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Standard normal by Box–Muller.
    public mutating func nextNormal() -> Float {
        let u1 = max(nextUnit(), 1e-12), u2 = nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

/// Weight initialisers with PyTorch's defaults, so a model trained here behaves like its prototype.
public enum Initialiser {
    /// PyTorch's default for Conv2d and Linear weights: kaiming_uniform with a = √5,
    /// i.e. U(−b, b) with b = 1/√fanIn; the same bound serves their biases.
    public static func defaultWeight(_ shape: [Int], fanIn: Int, using rng: inout SeededGenerator) -> Tensor {
        uniform(shape, bound: 1 / Float(fanIn).squareRoot(), using: &rng)
    }

    public static func uniform(_ shape: [Int], bound: Float, using rng: inout SeededGenerator) -> Tensor {
        let t = Tensor(zeros: shape, requiresGrad: true)
        for i in 0..<t.count { t.data[i] = (2 * rng.nextUnit() - 1) * bound }
        return t
    }

    public static func normal(_ shape: [Int], std: Float, using rng: inout SeededGenerator) -> Tensor {
        let t = Tensor(zeros: shape, requiresGrad: true)
        for i in 0..<t.count { t.data[i] = rng.nextNormal() * std }
        return t
    }

    public static func constant(_ shape: [Int], _ value: Float) -> Tensor {
        let t = Tensor(repeating: value, shape: shape)
        t.requiresGrad = true
        return t
    }
}
