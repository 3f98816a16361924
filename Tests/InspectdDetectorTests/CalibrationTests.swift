import Foundation
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

    /// The default margin is a tenth of the held-out spread: every threshold in the manifests and
    /// figures of docs/RESULTS.md was fitted with it.
    @Test func theDefaultMarginIsATenthOfTheSpread() {
        let c = Calibration(heldOutNormalScores: [1, 2, 3, 5])
        #expect(abs(c.threshold - 5.4) < 1e-6)
        #expect(c.method == "max of 4 held-out normal scores + 0.1 x their spread")
    }

    @Test func identicalScoresStillGiveAUsableRange() {
        let c = Calibration(heldOutNormalScores: [2, 2])
        #expect(c.threshold > 2)
        #expect(c.max > c.min)
        #expect(c.normalised(2) < 0.5)
    }

    /// A product's chosen share counts only while the settings let calibration choose; a manifest
    /// from before the choice existed decodes to none.
    @Test func aChosenImageScoreAppliesOnlyWhenTheSettingsOfferCandidates() throws {
        var calibration = Calibration(heldOutNormalScores: [1, 2])
        var settings = TrainingProfile.standard.scoring
        settings.imageScoreTopFraction = 0.002
        #expect(settings.imageScoreTopFraction(for: calibration) == 0.002)
        calibration.imageScoreTopFraction = 0.01
        #expect(settings.imageScoreTopFraction(for: calibration) == 0.01)
        #expect(settings.imageScoreTopFraction(for: nil) == 0.002)
        settings.imageScoreCandidates = []
        #expect(settings.imageScoreTopFraction(for: calibration) == 0.002)

        let written = try JSONEncoder().encode(calibration)
        #expect(String(decoding: written, as: UTF8.self).contains(#""image_score_top_fraction":0.01"#))
        #expect(try JSONDecoder().decode(Calibration.self, from: written) == calibration)
        let old = #"{"threshold": 2, "min": 1, "max": 3, "method": "m", "images": 2}"#
        #expect(try JSONDecoder().decode(Calibration.self, from: Data(old.utf8)).imageScoreTopFraction == nil)
    }
}
