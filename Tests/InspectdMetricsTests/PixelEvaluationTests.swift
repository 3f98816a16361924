import InspectdMetrics
import Testing

/// Pixel metrics and AUPRO on maps small enough to work out by hand.
@Suite struct PixelEvaluationTests {
    /// 4×4, two ground-truth regions of two pixels each (A at the top left, B
    /// at the right edge), twelve normal pixels:
    ///
    ///     map                  mask
    ///     0.9 0.5 0.1 0.1      A A . .
    ///     0.1 0.1 0.7 0.1      . . . .
    ///     0.1 0.1 0.1 0.8      . . . B
    ///     0.2 0.1 0.1 0.2      . . . B
    ///
    /// Going down the thresholds, (FPR, PRO):
    ///   0.9: (0, 1/4)   0.8: (0, 1/2)   0.7: (1/12, 1/2)   0.5: (1/12, 3/4)
    ///   0.2: (1/6, 1), a tied group holding a normal pixel and B's last pixel
    ///   0.1: (1, 1)
    static func twoRegionExample(connectivity: Connectivity = .eight) -> PixelEvaluation {
        let map: [Float] = [
            0.9, 0.5, 0.1, 0.1,
            0.1, 0.1, 0.7, 0.1,
            0.1, 0.1, 0.1, 0.8,
            0.2, 0.1, 0.1, 0.2,
        ]
        let mask = [
            true, true, false, false,
            false, false, false, false,
            false, false, false, true,
            false, false, false, true,
        ]
        var evaluation = PixelEvaluation(connectivity: connectivity)
        evaluation.add(map: map, mask: mask, width: 4, height: 4)
        return evaluation
    }

    /// Area to FPR 0.3: ½·1/12 + (¾+1)/2·1/12 + 1·(0.3 − 1/6) = 119/480,
    /// over 0.3 is 119/144.
    @Test func auproByHand() {
        let evaluation = Self.twoRegionExample()
        #expect(evaluation.regionCount == 2)
        #expect(isClose(evaluation.aupro(), 119.0 / 144))
    }

    /// A limit of 1/8 falls inside the sloped segment from (1/12, 3/4) to
    /// (1/6, 1), where PRO interpolates to 7/8: area 1/24 + (¾+⅞)/2·1/24 =
    /// 29/384, over 1/8 is 29/48.
    @Test func auproInterpolatesAtTheLimit() {
        #expect(isClose(Self.twoRegionExample().aupro(fprLimit: 0.125), 29.0 / 48))
    }

    /// Same example, pixel by pixel. AUROC: the positives at 0.9 and 0.8 beat
    /// all 12 normals, 0.5 beats 11, 0.2 beats 10 and ties 1: 45.5/48.
    /// AP: precision 1, 1, 3/4, 4/6 as recall steps by ¼: 41/48.
    /// F1 = 2TP / (TP + FP + 4) peaks at threshold 0.2: 8/10.
    @Test func pixelRankMetricsByHand() {
        let metrics = Self.twoRegionExample().evaluate()
        #expect(isClose(metrics.auroc, 45.5 / 48))
        #expect(isClose(metrics.averagePrecision, 41.0 / 48))
        #expect(isClose(metrics.f1Max?.f1, 0.8))
        #expect(metrics.f1Max?.threshold == 0.2)
        #expect(isClose(metrics.aupro, 119.0 / 144))
        #expect(metrics.fprLimit == 0.3)
    }

    @Test(arguments: [Connectivity.four, .eight])
    func perfectMapScoresOne(connectivity: Connectivity) {
        var evaluation = PixelEvaluation(connectivity: connectivity)
        let mask = [true, false, true, false, false, true, false, false, true]
        evaluation.add(map: mask.map { $0 ? 0.9 : 0.1 }, mask: mask, width: 3, height: 3)
        evaluation.add(map: [0.2, 0.3, 0.1, 0.0], mask: nil, width: 2, height: 2)
        let metrics = evaluation.evaluate()
        #expect(metrics.auroc == 1)
        #expect(metrics.averagePrecision == 1)
        #expect(metrics.f1Max?.f1 == 1)
        #expect(isClose(metrics.aupro, 1))
    }

    /// Every normal pixel outscores every defect pixel: PRO stays 0 until FPR
    /// reaches 1, so nothing accrues below the limit.
    @Test func normalPixelsOutscoringDefectsScoreZero() {
        var evaluation = PixelEvaluation()
        let mask = [false, true, true, false, false, false]
        evaluation.add(map: mask.map { $0 ? 0.2 : 0.7 }, mask: mask, width: 3, height: 2)
        let metrics = evaluation.evaluate()
        #expect(metrics.aupro == 0)
        #expect(metrics.auroc == 0)
    }

    /// A defect pixel touching a three-pixel defect only at a corner:
    ///
    ///     X . . .
    ///     . Y Y Y
    ///
    /// With 4-connectivity they are two regions, with 8 one. Only X lights up
    /// (map 1 there, 0 elsewhere), so PRO jumps to p at FPR 0 and then runs
    /// straight to (1, 1): normalised area p + 0.15·(1 − p). Two regions:
    /// p = ½ → 0.575; one region of four pixels: p = ¼ → 0.3625.
    @Test func fourConnectivitySplitsDiagonalNeighbours() {
        let mask = [
            true, false, false, false,
            false, true, true, true,
        ]
        let map: [Float] = [1, 0, 0, 0, 0, 0, 0, 0]
        var four = PixelEvaluation(connectivity: .four)
        var eight = PixelEvaluation(connectivity: .eight)
        four.add(map: map, mask: mask, width: 4, height: 2)
        eight.add(map: map, mask: mask, width: 4, height: 2)
        #expect(four.regionCount == 2)
        #expect(eight.regionCount == 1)
        #expect(isClose(four.aupro(), 0.575))
        #expect(isClose(eight.aupro(), 0.3625))
    }

    /// Regions are counted per image and pooled: a U-shaped region stays one
    /// region, and regions of later images add up.
    @Test func regionsAreConnectedWithinAndCountedAcrossImages() {
        var evaluation = PixelEvaluation(connectivity: .four)
        let u = [
            true, false, true,
            true, false, true,
            true, true, true,
        ]
        evaluation.add(map: [Float](repeating: 0, count: 9), mask: u, width: 3, height: 3)
        evaluation.add(map: [0, 0, 0], mask: [true, false, true], width: 3, height: 1)
        #expect(evaluation.regionCount == 3)
        #expect(evaluation.pixelCount == 12)
    }

    /// An image without a mask adds only normal pixels: here its 0.9 outscores
    /// the single defect pixel (0.5), which beats the other two normals.
    @Test func imagesWithoutMaskAreAllNormal() {
        var evaluation = PixelEvaluation()
        evaluation.add(map: [0.5, 0.1], mask: [true, false], width: 2, height: 1)
        evaluation.add(map: [0.9, 0.0], mask: nil, width: 1, height: 2)
        #expect(evaluation.pixelCount == 4)
        #expect(evaluation.regionCount == 1)
        #expect(isClose(evaluation.auroc(), 2.0 / 3))
        #expect(isClose(evaluation.averagePrecision(), 0.5))
    }

    @Test func undefinedWithoutBothClasses() {
        let empty = PixelEvaluation().evaluate()
        #expect(empty.auroc == nil && empty.averagePrecision == nil && empty.f1Max == nil && empty.aupro == nil)

        var allNormal = PixelEvaluation()
        allNormal.add(map: [0.1, 0.2], mask: nil, width: 2, height: 1)
        allNormal.add(map: [0.3, 0.4], mask: [false, false], width: 2, height: 1)
        #expect(allNormal.regionCount == 0)
        #expect(allNormal.auroc() == nil && allNormal.aupro() == nil)

        var allDefect = PixelEvaluation()
        allDefect.add(map: [0.1, 0.2], mask: [true, true], width: 1, height: 2)
        #expect(allDefect.averagePrecision() == nil && allDefect.aupro() == nil)
    }

    @Test func nanInAMapIsUndefined() {
        var evaluation = Self.twoRegionExample()
        evaluation.add(map: [.nan], mask: nil, width: 1, height: 1)
        let metrics = evaluation.evaluate()
        #expect(metrics.auroc == nil && metrics.averagePrecision == nil && metrics.f1Max == nil && metrics.aupro == nil)
    }
}
