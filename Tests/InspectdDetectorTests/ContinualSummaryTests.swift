import Foundation
import Testing
@testable import InspectdDetector

/// The figures a continual run is judged by, on matrices worked out by hand.
@Suite struct ContinualSummaryTests {
    func increment(_ trained: String, image: [String: Double], pixel: [String: Double] = [:]) -> ContinualRun.Increment {
        ContinualRun.Increment(trained: [trained], imageAUROC: image, pixelAUROC: pixel, trainingSeconds: 1, basisSeconds: nil,
                               evaluationSeconds: 1, basisOccupancy: ["w": 0.25])
    }

    @Test func forgettingBackwardTransferAndMeans() {
        let plan = ContinualRun.Plan(mode: .finetune, sequence: ["a", "b", "c"], profile: "quick", stepsPerProduct: 10, basis: .covariance)
        let state = ContinualRun.State(plan: plan, increments: [
            increment("a", image: ["a": 90], pixel: ["a": 80]),
            increment("b", image: ["a": 95, "b": 70], pixel: ["a": 82]),
            increment("c", image: ["a": 85, "b": 60, "c": 100], pixel: ["a": 81]),
        ])
        let summary = ContinualSummary(state)
        #expect(summary.matrix(\.imageAUROC) == [[90, nil, nil], [95, 70, nil], [85, 60, 100]])
        #expect(summary.finalMean(\.imageAUROC) == 245.0 / 3)
        // a: best earlier 95, final 85; b: best earlier 70, final 60.
        #expect(summary.forgetting(\.imageAUROC) == 10)
        // a: 85 − 90; b: 60 − 70.
        #expect(summary.backwardTransfer(\.imageAUROC) == -7.5)
        #expect(summary.justAfter(\.imageAUROC) == ["a": 90, "b": 70, "c": 100])
        // Pixel figures exist for `a` alone: best earlier 82, final 81.
        #expect(summary.forgetting(\.pixelAUROC) == 1)
        #expect(summary.finalMean(\.pixelAUROC) == 81)
        #expect(summary.basisOccupancy == ["w": [25, 25, 25]])
    }

    @Test func aSingleRowHasNothingToForget() {
        let plan = ContinualRun.Plan(mode: .joint, sequence: ["a", "b"], profile: "quick", stepsPerProduct: 10, basis: .covariance)
        let summary = ContinualSummary(ContinualRun.State(plan: plan, increments: [
            ContinualRun.Increment(trained: ["a", "b"], imageAUROC: ["a": 99, "b": 80], pixelAUROC: [:], trainingSeconds: 1,
                                   basisSeconds: nil, evaluationSeconds: 1, basisOccupancy: nil),
        ]))
        #expect(summary.forgetting(\.imageAUROC) == nil && summary.backwardTransfer(\.imageAUROC) == nil)
        #expect(summary.finalMean(\.imageAUROC) == 89.5)
        #expect(summary.justAfter(\.imageAUROC) == ["a": 99, "b": 80])
        #expect(summary.finalMean(\.pixelAUROC) == nil)
    }

    /// A run's state from before `keepLevels` existed resumes as it started (refitting); a plan
    /// that keeps levels says so in its state, and resuming it with the other setting is refused.
    @Test func aStateWithoutKeepLevelsResumesRefitting() throws {
        let old = #"{"mode":"projected","sequence":["a","b"],"profile":"standard","stepsPerProduct":1000,"basis":"covariance","replayImages":16}"#
        let plan = try JSONDecoder().decode(ContinualRun.Plan.self, from: Data(old.utf8))
        #expect(plan == ContinualRun.Plan(mode: .projected, sequence: ["a", "b"], profile: "standard", stepsPerProduct: 1000, basis: .covariance))
        #expect(!plan.keepLevels)
        var keeping = plan
        keeping.keepLevels = true
        let again = try JSONDecoder().decode(ContinualRun.Plan.self, from: JSONEncoder().encode(keeping))
        #expect(again.keepLevels && again != plan)
    }
}
