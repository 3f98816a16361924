import Foundation
import InspectdImage

/// The training-time corruption of the reference method: rectangles cut from other normal images
/// of the same product, pasted at random places. The anomaly-masked network sees the corrupted
/// image and must still reproduce the clean latent, so it learns to replace what does not belong.
///
/// Where the reference Poisson-blends each patch, this feathers it: the patch's weight rises along
/// a raised-cosine ramp over `featherFraction` of each side, so no hard seam is left for the network
/// to detect instead of the content. Works on 8-bit images already at model resolution (any pixel
/// format, as long as the image and its donors agree in size and format): a few rectangles of
/// bytes cost microseconds, and the 8-bit pool is a quarter of the size of float planes.
public struct PatchPerturbation: Sendable {
    /// Chance that `apply` perturbs an image at all; the reference perturbs half of them.
    public var probability: Double
    /// How many patches a perturbed image gets, uniformly.
    public var patchCount: ClosedRange<Int>
    /// Each side of a patch, as a fraction of the same side of the image, uniformly (width and
    /// height drawn independently).
    public var sideFraction: ClosedRange<Double>
    /// Width of the soft edge, as a fraction of the patch side (at least one pixel).
    public var featherFraction: Double

    public init(probability: Double = 0.5, patchCount: ClosedRange<Int> = 1...4,
                sideFraction: ClosedRange<Double> = 0.03...0.40, featherFraction: Double = 0.15) {
        precondition((0...1).contains(probability), "perturbation probability \(probability) is outside 0...1")
        precondition(patchCount.lowerBound >= 1, "a perturbed image needs at least one patch")
        precondition(sideFraction.lowerBound > 0 && sideFraction.upperBound <= 1,
                     "patch side fraction \(sideFraction) is outside (0, 1]")
        precondition(featherFraction >= 0 && featherFraction <= 0.5, "feather fraction \(featherFraction) is outside 0...0.5")
        self.probability = probability
        self.patchCount = patchCount
        self.sideFraction = sideFraction
        self.featherFraction = featherFraction
    }

    /// One pasted rectangle: `width` x `height` pixels read at (`sourceX`, `sourceY`) of the donor,
    /// written at (`x`, `y`) of the image.
    public struct Patch: Sendable, Equatable {
        /// Index into the donors; nil when the image was its own donor (an empty pool).
        public let donor: Int?
        public let sourceX: Int, sourceY: Int
        public let x: Int, y: Int
        public let width: Int, height: Int
    }

    public struct Result: Sendable {
        public let image: Image
        /// Per pixel (row-major, `image.width * image.height`), the share of the value that came
        /// from donors: 0 where untouched, 1 where fully replaced, in between on feathered edges.
        public let mask: [Float]
        /// The patches in the order they were pasted; empty when the image was left alone.
        public let patches: [Patch]

        public var isPerturbed: Bool { !patches.isEmpty }
    }

    /// Perturbs `image` with probability `probability`, otherwise returns it untouched (the coin
    /// is drawn from `generator` too, so a seeded generator reproduces the whole batch).
    public func apply<Generator: RandomNumberGenerator>(to image: Image, donors: [Image],
                                                        using generator: inout Generator) -> Result {
        if generator.unitInterval() < probability {
            return perturb(image, donors: donors, using: &generator)
        }
        return Result(image: image, mask: [Float](repeating: 0, count: image.width * image.height), patches: [])
    }

    /// Always perturbs: `patchCount` patches, each from a donor drawn uniformly from `donors` (the
    /// caller leaves the image itself out of them). With no donors the image is its own donor,
    /// CutPaste-style, so a product with a single image can still be trained.
    public func perturb<Generator: RandomNumberGenerator>(_ image: Image, donors: [Image],
                                                          using generator: inout Generator) -> Result {
        for donor in donors {
            precondition(donor.width == image.width && donor.height == image.height && donor.format == image.format,
                         "donor \(donor.width)x\(donor.height) \(donor.format) for a \(image.width)x\(image.height) \(image.format) image")
        }
        var output = image
        var mask = [Float](repeating: 0, count: image.width * image.height)
        var patches: [Patch] = []
        let count = generator.uniformInteger(in: patchCount)
        for _ in 0..<count {
            let donorIndex: Int? = donors.isEmpty ? nil : generator.uniformInteger(in: 0...(donors.count - 1))
            let width = generator.uniformInteger(in: sideRange(image.width))
            let height = generator.uniformInteger(in: sideRange(image.height))
            let patch = Patch(donor: donorIndex,
                              sourceX: generator.uniformInteger(in: 0...(image.width - width)),
                              sourceY: generator.uniformInteger(in: 0...(image.height - height)),
                              x: generator.uniformInteger(in: 0...(image.width - width)),
                              y: generator.uniformInteger(in: 0...(image.height - height)),
                              width: width, height: height)
            paste(patch, from: donorIndex.map { donors[$0] } ?? image, into: &output, mask: &mask)
            patches.append(patch)
        }
        return Result(image: output, mask: mask, patches: patches)
    }

    /// Whole-pixel sides whose fraction of `side` lies inside `sideFraction`.
    private func sideRange(_ side: Int) -> ClosedRange<Int> {
        let shortest = max(1, Int((sideFraction.lowerBound * Double(side)).rounded(.up)))
        let longest = min(side, Int((sideFraction.upperBound * Double(side)).rounded(.down)))
        return shortest...max(shortest, longest)
    }

    /// Blends the donor's rectangle over the image with weight rampX(column) * rampY(row).
    private func paste(_ patch: Patch, from donor: Image, into image: inout Image, mask: inout [Float]) {
        let columnWeights = Self.ramp(length: patch.width, feather: featherFraction)
        let rowWeights = Self.ramp(length: patch.height, feather: featherFraction)
        let channels = image.channels, imageWidth = image.width
        donor.pixels.withUnsafeBufferPointer { source in
            image.pixels.withUnsafeMutableBufferPointer { target in
                mask.withUnsafeMutableBufferPointer { share in
                    for row in 0..<patch.height {
                        let from = source.baseAddress! + ((patch.sourceY + row) * imageWidth + patch.sourceX) * channels
                        let to = target.baseAddress! + ((patch.y + row) * imageWidth + patch.x) * channels
                        let shareRow = share.baseAddress! + (patch.y + row) * imageWidth + patch.x
                        let rowWeight = rowWeights[row]
                        for column in 0..<patch.width {
                            let weight = rowWeight * columnWeights[column]
                            for c in 0..<channels {
                                let old = Float(to[column * channels + c]), new = Float(from[column * channels + c])
                                to[column * channels + c] = UInt8(old + weight * (new - old) + 0.5)
                            }
                            shareRow[column] += weight * (1 - shareRow[column])
                        }
                    }
                }
            }
        }
    }

    /// Weight along one side of a patch: a raised cosine from near 0 at the border to 1 at
    /// `feather * length` pixels in, measured at pixel centres so the border pixel is a true blend.
    static func ramp(length: Int, feather: Double) -> [Float] {
        let width = max(1, feather * Double(length))
        return (0..<length).map { i in
            let inset = Double(min(i, length - 1 - i)) + 0.5
            return inset >= width ? 1 : Float(0.5 - 0.5 * cos(Double.pi * inset / width))
        }
    }
}

extension RandomNumberGenerator {
    /// Uniform in `range` by rejection. The standard library's `Int.random(in:using:)` does not
    /// promise its algorithm, and a training run must draw the same patches on every toolchain.
    fileprivate mutating func uniformInteger(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int(truncatingIfNeeded: next()) }   // the whole 64-bit range
        let rejectBelow = (0 &- span) % span
        while true {
            let draw = next()
            if draw >= rejectBelow { return range.lowerBound + Int(draw % span) }
        }
    }

    /// Uniform in [0, 1) from the top 53 bits.
    fileprivate mutating func unitInterval() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}
