import InspectdMetrics
import Testing

/// The sorted sweep against the slow reference implementations on random
/// inputs drawn from a handful of values, so ties are everywhere.
@Suite struct ReferenceCrossCheckTests {
    /// Few distinct values, including negatives and both zeros.
    static func tiedScore(_ rng: inout SeededGenerator) -> Float {
        [-1, -0.0, 0, 0.25, 0.5, 0.5, 0.75, 1, 2].randomElement(using: &rng)!
    }

    static func expectAgreement(scores: [Float], labels: [Bool], _ comment: Comment) {
        let auroc = Metrics.auroc(scores: scores, labels: labels)
        let ap = Metrics.averagePrecision(scores: scores, labels: labels)
        let f1 = Metrics.f1Max(scores: scores, labels: labels)
        guard let expectedAUROC = Reference.auroc(scores: scores, labels: labels) else {
            #expect(auroc == nil && ap == nil && f1 == nil, comment)
            return
        }
        #expect(isClose(auroc, expectedAUROC), comment)
        #expect(isClose(ap, Reference.averagePrecision(scores: scores, labels: labels)!), comment)
        let expectedF1 = Reference.f1Max(scores: scores, labels: labels)!
        #expect(isClose(f1?.f1, expectedF1.f1), comment)
        #expect(f1?.threshold == expectedF1.threshold, comment)
    }

    @Test func imageMetricsMatchReferenceWithTies() {
        var rng = SeededGenerator(seed: 1)
        for trial in 0..<300 {
            let count = Int.random(in: 1...40, using: &rng)
            let scores = (0..<count).map { _ in Self.tiedScore(&rng) }
            let positiveRate = Double.random(in: 0...1, using: &rng)
            let labels = (0..<count).map { _ in Double.random(in: 0..<1, using: &rng) < positiveRate }
            Self.expectAgreement(scores: scores, labels: labels, "trial \(trial)")
        }
    }

    /// Scores spread over the whole Float range (any sign and exponent), so
    /// every radix digit of the sort is exercised.
    @Test func imageMetricsMatchReferenceOverTheFloatRange() {
        var rng = SeededGenerator(seed: 2)
        for trial in 0..<4 {
            var scores: [Float] = []
            while scores.count < 1000 {
                let score = Float(bitPattern: UInt32.random(in: .min ... .max, using: &rng))
                if !score.isNaN { scores.append(score) }
            }
            // Some exact repeats, so ties also occur among far-apart values.
            for i in stride(from: 0, to: scores.count, by: 7) { scores[i] = scores[i / 2] }
            let labels = scores.map { _ in Bool.random(using: &rng) }
            Self.expectAgreement(scores: scores, labels: labels, "trial \(trial)")
        }
    }

    @Test(arguments: [Connectivity.four, .eight])
    func pixelMetricsMatchReferenceWithTies(connectivity: Connectivity) {
        var rng = SeededGenerator(seed: connectivity == .four ? 3 : 4)
        for trial in 0..<150 {
            var images: [Reference.Image] = []
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let width = Int.random(in: 1...7, using: &rng)
                let height = Int.random(in: 1...7, using: &rng)
                let map = (0..<width * height).map { _ in Self.tiedScore(&rng) }
                // Sparse to dense masks: from isolated pixels touching at
                // corners to sprawling regions; some images have none.
                let density = Double.random(in: 0...0.7, using: &rng)
                let mask = Bool.random(using: &rng)
                    ? (0..<width * height).map { _ in Double.random(in: 0..<1, using: &rng) < density }
                    : nil
                images.append(Reference.Image(map: map, mask: mask, width: width, height: height))
            }
            var evaluation = PixelEvaluation(connectivity: connectivity)
            for image in images {
                evaluation.add(map: image.map, mask: image.mask, width: image.width, height: image.height)
            }
            let fprLimit = [0.3, 0.05, 1.0].randomElement(using: &rng)!
            let metrics = evaluation.evaluate(fprLimit: fprLimit)
            let comment: Comment = "trial \(trial), limit \(fprLimit)"

            let scores = images.flatMap(\.map)
            let labels = images.flatMap { $0.mask ?? [Bool](repeating: false, count: $0.map.count) }
            let expectedAUPRO = Reference.aupro(images: images, connectivity: connectivity, fprLimit: fprLimit)
            guard let expectedAUROC = Reference.auroc(scores: scores, labels: labels) else {
                #expect(metrics.auroc == nil && metrics.averagePrecision == nil, comment)
                #expect(metrics.f1Max == nil && metrics.aupro == nil && expectedAUPRO == nil, comment)
                continue
            }
            #expect(isClose(metrics.auroc, expectedAUROC), comment)
            #expect(isClose(metrics.averagePrecision, Reference.averagePrecision(scores: scores, labels: labels)!), comment)
            let expectedF1 = Reference.f1Max(scores: scores, labels: labels)!
            #expect(isClose(metrics.f1Max?.f1, expectedF1.f1), comment)
            #expect(metrics.f1Max?.threshold == expectedF1.threshold, comment)
            #expect(isClose(metrics.aupro, expectedAUPRO!, tolerance: 1e-9), comment)
        }
    }
}
