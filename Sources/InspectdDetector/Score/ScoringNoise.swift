import Foundation
import InspectdTensor

/// The standard normal noise ε that scoring's diffusion path noises the latent with
/// (docs/MODEL.md §6, step 3): one tensor [C, h, w] per model, drawn from the manifest's
/// `scoring.noise_seed` and shared by every frame.
///
/// It depends on the seed and the shape alone, never on the frame, so another implementation of
/// the model, or another precision of this one, that noises the same latent starts from the same
/// ε. The generator is chosen so that it can be written down completely in a few lines:
/// SplitMix64 outputs, each made a uniform in (0, 1), and pairs of uniforms made pairs of normals
/// by Box–Muller in binary64, both branches used.
public struct ScoringNoise: Sendable, Equatable {
    /// The seed of the training profiles, and of models whose manifest predates
    /// `scoring.noise_seed`.
    public static let defaultSeed: UInt64 = 1

    public let seed: UInt64
    /// [channels, height, width] of one frame's latent.
    public let shape: [Int]
    /// In fill order: channel-major, then row, then column.
    public let values: [Float]

    public init(seed: UInt64, shape: [Int]) {
        precondition(shape.count == 3 && shape.allSatisfy { $0 > 0 }, "scoring noise is [C, h, w], got \(shape)")
        self.seed = seed
        self.shape = shape
        let count = shape.reduce(1, *)
        values = [Float](unsafeUninitializedCapacity: count) { out, initialised in
            // Output i of SplitMix64 depends on i alone, so the pairs can be filled in any order.
            Engine.parallelFor((count + 1) / 2, minChunk: 4096) { pair in
                let (first, second) = Self.normals(seed: seed, pair: pair)
                out[2 * pair] = first
                if 2 * pair + 1 < count { out[2 * pair + 1] = second }
            }
            initialised = count
        }
    }

    /// The noise of a batch [count, C, h, w]: the same tensor for every frame.
    public func batch(_ count: Int) -> Tensor {
        Tensor(shape: [count] + shape) { out in
            values.withUnsafeBufferPointer { one in
                for frame in 0..<count {
                    (out.baseAddress! + frame * one.count).update(from: one.baseAddress!, count: one.count)
                }
            }
        }
    }

    /// Values 2k and 2k + 1: Box–Muller on the uniforms of SplitMix64 outputs 2k and 2k + 1, the
    /// cosine branch first. Computed in binary64 and rounded once to binary32, so that a libm that
    /// differs in the last binary64 bit almost never changes a value.
    static func normals(seed: UInt64, pair k: Int) -> (Float, Float) {
        let u1 = unit(splitMix64(seed: seed, index: 2 * UInt64(k)))
        let u2 = unit(splitMix64(seed: seed, index: 2 * UInt64(k) + 1))
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        return (Float(radius * cos(angle)), Float(radius * sin(angle)))
    }

    /// Output `index` (from 0) of SplitMix64 seeded with `seed`: the state after index + 1 Weyl
    /// steps, mixed. The same as stepping the usual sequential generator.
    static func splitMix64(seed: UInt64, index: UInt64) -> UInt64 {
        var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The 52 high bits as a fraction, moved to the middle of their cell: exact in binary64, never
    /// 0 (so the logarithm is finite) and never 1 (so the radius is never a signed zero).
    static func unit(_ x: UInt64) -> Double {
        (Double(x >> 12) + 0.5) * 0x1p-52
    }
}
