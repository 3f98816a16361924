import InspectdImage
import Testing
@testable import InspectdDetector

/// The per-product image score choice on maps made by hand, and the copies it is judged on.
@Suite struct ImageScoreChoiceTests {
    static let side = 32

    /// A flat map of `level` with `spots` added: (x, y, radius, height) squares.
    static func map(level: Float = 1, _ spots: [(Int, Int, Int, Float)]) -> AnomalyMap {
        var values = [Float](repeating: level, count: side * side)
        for (x, y, r, height) in spots {
            for row in max(0, y - r)...min(side - 1, y + r) {
                for col in max(0, x - r)...min(side - 1, x + r) { values[row * side + col] += height }
            }
        }
        return AnomalyMap(width: side, height: side, values: values)
    }

    /// Normals with one stray bright pixel each, anomalies with a broad, weaker rise: the maximum
    /// ranks every normal first (AUROC 0), the top tenth ranks every anomaly first.
    @Test func broadDefectsOnSpeckledNormalsMoveToAWiderShare() {
        let normal = (0..<4).map { i in Self.map([(3 + 5 * i, 7, 0, 10)]) }
        let perturbed = (0..<6).map { i in Self.map([(10 + 2 * i, 16, 6, 4)]) }
        let choice = ImageScoreChoice(fractions: [0, 0.1], normal: normal, perturbed: perturbed)
        #expect(choice.candidates.map(\.auroc) == [0, 1])
        #expect(choice.candidates.map(\.recall) == [0, 1])
        #expect(choice.chosen.topFraction == 0.1 && choice.perturbedCount == 6)
        #expect(choice.summary == "max AUROC 0.0 recall 0.0, [top 0.1 AUROC 1.0 recall 1.0]")
    }

    /// Anomalies a little above every normal, with a small sharp spot each: every share ranks
    /// them first, but only the maximum lifts them over the threshold the normals set.
    @Test func aTieInAUROCGoesToTheShareThatFlagsMore() {
        let normal = [Self.map(level: 1, []), Self.map(level: 1.01, []), Self.map(level: 1.02, [])]
        let perturbed = [Self.map(level: 1.021, [(5, 5, 0, 0.2)]), Self.map(level: 1.021, [(20, 9, 0, 0.2)])]
        let choice = ImageScoreChoice(fractions: [0.5, 0], normal: normal, perturbed: perturbed)
        // Threshold 1.022 either way (1.02 + 0.1 x 0.02); the top half of an anomaly's map
        // averages to 1.021 + 0.2 / 512, below it; its maximum is 1.221.
        #expect(choice.candidates.map(\.auroc) == [1, 1])
        #expect(choice.candidates.map(\.recall) == [0, 1])
        #expect(choice.chosen.topFraction == 0)
    }

    /// With nothing to tell them apart the first candidate stays.
    @Test func aFullTieKeepsTheFirstCandidate() {
        let normal = [Self.map(level: 1, [])], perturbed = [Self.map(level: 9, [])]
        let choice = ImageScoreChoice(fractions: [0.01, 0, 0.1], normal: normal, perturbed: perturbed)
        #expect(choice.chosen.topFraction == 0.01)
        #expect(choice.candidates.allSatisfy { $0.auroc == 1 && $0.recall == 1 })
    }

    @Test func everyHeldOutImageGetsReproducibleChangedCopies() {
        func image(_ value: UInt8) -> Image {
            Image(width: 40, height: 40, format: .grey, pixels: [UInt8](repeating: value, count: 1600))
        }
        #expect(ImageScoreChoice.copiesPerImage(heldOut: 2) == 16)
        #expect(ImageScoreChoice.copiesPerImage(heldOut: 5) == 7)
        #expect(ImageScoreChoice.copiesPerImage(heldOut: 21) == 4)
        let heldOut = [image(10), image(20)], donors = [image(200), image(250)]
        let copies = ImageScoreChoice.perturbedCopies(of: heldOut, donors: donors, seed: 7)
        #expect(copies.count == 32)
        for (k, copy) in copies.enumerated() {
            let original = heldOut[k / 16].pixels[0]
            #expect(copy.pixels.contains { $0 != original }, "copy \(k) was left unperturbed")
            #expect(copy.pixels.contains(original), "copy \(k) was replaced entirely")
        }
        #expect(ImageScoreChoice.perturbedCopies(of: heldOut, donors: donors, seed: 7).map(\.pixels) == copies.map(\.pixels))
        #expect(ImageScoreChoice.perturbedCopies(of: heldOut, donors: donors, seed: 8).map(\.pixels) != copies.map(\.pixels))
    }
}
