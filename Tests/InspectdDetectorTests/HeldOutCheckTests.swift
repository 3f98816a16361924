@testable import InspectdDetector
import Testing

/// The guard's false-positive rate: direct against a stored threshold, and leave-one-out when the
/// threshold was fitted on the same images (where the direct rate is zero by construction).
struct HeldOutCheckTests {
    @Test func aThresholdFittedOnTheImagesIsJudgedLeaveOneOut() {
        let scores: [Float] = [1.0, 1.1, 1.2, 1.3, 3.0]
        let fitted = Calibration(heldOutNormalScores: scores).threshold
        #expect(scores.allSatisfy { $0 <= fitted })
        // Without the outlier the others set a threshold near 1.33, which 3.0 exceeds; without any
        // other image the outlier keeps the threshold above it.
        #expect(HeldOutCheck.falsePositiveRate(scores, threshold: fitted) == 0.2)
        #expect(HeldOutCheck.falsePositiveRate([1.0, 1.1, 1.2, 1.3], threshold: 10) == 0.25)
    }

    @Test func aStoredThresholdBelowTheScoresCountsDirectly() {
        #expect(HeldOutCheck.falsePositiveRate([1, 2, 3, 4], threshold: 2.5) == 0.5)
        #expect(HeldOutCheck.falsePositiveRate([5], threshold: 2.5) == 1)
        #expect(HeldOutCheck.falsePositiveRate([1], threshold: 2.5) == 0)
    }
}
