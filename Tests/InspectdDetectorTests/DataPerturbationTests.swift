import InspectdImage
import InspectdTensor
import InspectdTesting
import Testing
@testable import InspectdDetector

@Suite struct DataPerturbationTests {
    static let side = 64

    static func noise(seed: UInt64, format: PixelFormat = .rgb) -> Image {
        var random = TestRandom(seed: seed)
        return Image(width: side, height: side, format: format, pixels: random.bytes(side * side * format.rawValue))
    }

    @Test func halfOfTheImagesAreLeftAlone() {
        let image = Self.noise(seed: 1), donors = [Self.noise(seed: 2)]
        let perturbation = PatchPerturbation()
        var perturbed = 0
        let trials = 2000
        for seed in 0..<trials {
            var generator = SeededGenerator(seed: UInt64(seed))
            let result = perturbation.apply(to: image, donors: donors, using: &generator)
            if result.isPerturbed {
                perturbed += 1
            } else {
                #expect(result.image == image)
                #expect(result.mask.allSatisfy { $0 == 0 })
            }
        }
        // Binomial(2000, 0.5): the standard deviation is 22, so 100 is more than four of them.
        #expect(abs(perturbed - trials / 2) < 100, "\(perturbed) of \(trials) perturbed")
        var generator = SeededGenerator(seed: 3)
        #expect(PatchPerturbation(probability: 1).apply(to: image, donors: donors, using: &generator).isPerturbed)
        #expect(!PatchPerturbation(probability: 0).apply(to: image, donors: donors, using: &generator).isPerturbed)
    }

    @Test func patchCountsAndSidesStayInTheirRanges() {
        let image = Self.noise(seed: 1), donors = [Self.noise(seed: 2), Self.noise(seed: 3)]
        let perturbation = PatchPerturbation()
        var counts = Set<Int>(), donorsUsed = Set<Int?>()
        var shortest = Int.max, longest = 0
        for seed in 0..<400 {
            var generator = SeededGenerator(seed: UInt64(seed))
            let result = perturbation.perturb(image, donors: donors, using: &generator)
            counts.insert(result.patches.count)
            for patch in result.patches {
                donorsUsed.insert(patch.donor)
                shortest = min(shortest, patch.width, patch.height)
                longest = max(longest, patch.width, patch.height)
                #expect(patch.x >= 0 && patch.x + patch.width <= Self.side && patch.sourceX + patch.width <= Self.side)
                #expect(patch.y >= 0 && patch.y + patch.height <= Self.side && patch.sourceY + patch.height <= Self.side)
            }
        }
        #expect(counts == [1, 2, 3, 4])
        #expect(donorsUsed == [0, 1])
        // 3% and 40% of 64 px, in whole pixels: 2 (1.92 rounded up) to 25 (25.6 rounded down).
        #expect(shortest == 2 && longest == 25, "sides \(shortest)...\(longest)")
    }

    @Test func changedPixelsComeFromTheDonorWithBlendedEdges() {
        let image = Self.noise(seed: 10), donor = Self.noise(seed: 11)
        let perturbation = PatchPerturbation(patchCount: 1...1, sideFraction: 0.3...0.4)
        for seed in 0..<50 {
            var generator = SeededGenerator(seed: UInt64(seed))
            let result = perturbation.perturb(image, donors: [donor], using: &generator)
            let patch = result.patches[0]
            var blendedBorderPixels = 0
            for y in 0..<Self.side {
                for x in 0..<Self.side {
                    let inside = (patch.x..<(patch.x + patch.width)).contains(x) && (patch.y..<(patch.y + patch.height)).contains(y)
                    let share = result.mask[y * Self.side + x]
                    let onBorder = inside && (x == patch.x || y == patch.y
                                              || x == patch.x + patch.width - 1 || y == patch.y + patch.height - 1)
                    for c in 0..<3 {
                        let old = image[x, y, c], value = result.image[x, y, c]
                        guard inside else {
                            #expect(share == 0 && value == old)
                            continue
                        }
                        let new = donor[x - patch.x + patch.sourceX, y - patch.y + patch.sourceY, c]
                        if share == 1 {
                            #expect(value == new)
                        } else {
                            #expect(value >= min(old, new) && value <= max(old, new))
                        }
                    }
                    if onBorder {
                        #expect(share > 0 && share < 1, "border pixel (\(x), \(y)) has share \(share)")
                        blendedBorderPixels += 1
                    }
                    if inside && !onBorder && share == 0 { Issue.record("pixel (\(x), \(y)) inside the patch is untouched") }
                }
            }
            #expect(blendedBorderPixels == 2 * (patch.width + patch.height) - 4)
            // The centre is fully replaced.
            #expect(result.mask[(patch.y + patch.height / 2) * Self.side + patch.x + patch.width / 2] == 1)
        }
    }

    @Test func aSeedReproducesTheWholeResult() {
        let image = Self.noise(seed: 20), donors = [Self.noise(seed: 21), Self.noise(seed: 22)]
        let perturbation = PatchPerturbation(probability: 1)
        var first = SeededGenerator(seed: 99), second = SeededGenerator(seed: 99), other = SeededGenerator(seed: 100)
        let a = perturbation.apply(to: image, donors: donors, using: &first)
        let b = perturbation.apply(to: image, donors: donors, using: &second)
        let c = perturbation.apply(to: image, donors: donors, using: &other)
        #expect(a.image == b.image && a.patches == b.patches && a.mask == b.mask)
        #expect(a.patches != c.patches)
    }

    @Test func withoutDonorsTheImageIsItsOwnDonor() {
        let image = Self.noise(seed: 30, format: .grey)
        var generator = SeededGenerator(seed: 5)
        let result = PatchPerturbation().perturb(image, donors: [], using: &generator)
        #expect(result.patches.allSatisfy { $0.donor == nil })
        #expect(result.image.format == .grey && result.image != image)
    }

    @Test func rampRisesFromTheBorderToOne() {
        let ramp = PatchPerturbation.ramp(length: 20, feather: 0.15)
        #expect(ramp == ramp.reversed())
        #expect(ramp[0] > 0 && ramp[0] < ramp[1] && ramp[1] < 1 && ramp[3] == 1)
        #expect(PatchPerturbation.ramp(length: 1, feather: 0.15) == [0.5])
    }
}
