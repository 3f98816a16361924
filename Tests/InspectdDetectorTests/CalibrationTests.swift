import Testing
@testable import InspectdDetector

@Suite struct CalibrationTests {
    @Test func thresholdSitsAboveHeldOutNormalsAndMapsToHalf() {
        let c = Calibration(heldOutNormalScores: [1, 2, 3, 5], margin: 0.25)
        #expect(c.threshold == 6)             // 5 + 0.25 * (5 - 1)
        #expect(c.normalised(6) == 0.5)
        #expect(c.normalised(1) == 0)         // the lowest held-out score
        #expect(c.normalised(11) == 1)        // as far above the threshold as the lowest is below
        #expect(c.normalised(100) == 1 && c.normalised(-100) == 0)
        #expect(!c.isAnomalous(5) && c.isAnomalous(6.5))
        #expect(c.images == 4)
    }

    @Test func identicalScoresStillGiveAUsableRange() {
        let c = Calibration(heldOutNormalScores: [2, 2])
        #expect(c.threshold > 2)
        #expect(c.max > c.min)
        #expect(c.normalised(2) < 0.5)
    }
}
