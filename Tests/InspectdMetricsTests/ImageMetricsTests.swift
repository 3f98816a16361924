import InspectdMetrics
import Testing

func isClose(_ value: Double?, _ expected: Double, tolerance: Double = 1e-12) -> Bool {
    guard let value else { return false }
    return abs(value - expected) <= tolerance
}

/// Image-level metrics on sets small enough to work out by hand.
@Suite struct ImageMetricsTests {
    @Test func perfectRankingScoresOne() {
        let scores: [Float] = [0.1, 0.2, 0.8, 0.9]
        let labels = [false, false, true, true]
        #expect(Metrics.auroc(scores: scores, labels: labels) == 1)
        #expect(Metrics.averagePrecision(scores: scores, labels: labels) == 1)
        let f1 = Metrics.f1Max(scores: scores, labels: labels)
        #expect(f1?.f1 == 1 && f1?.threshold == 0.8)
    }

    /// An inverted detector is reported as such, never silently flipped to 1.
    @Test func invertedRankingScoresZero() {
        #expect(Metrics.auroc(scores: [0.1, 0.2, 0.8, 0.9], labels: [true, true, false, false]) == 0)
    }

    /// Descending: + − + + − −. Positives beat 3, 2 and 2 of the 3 negatives:
    /// AUROC 7/9. Precision where recall grows: 1, 2/3, 3/4, so AP = 29/36.
    /// F1 = 2TP / (TP + FP + 3) peaks at 6/7 with threshold 0.6.
    @Test func mixedRankingByHand() {
        let scores: [Float] = [0.5, 0.9, 0.4, 0.7, 0.8, 0.6]
        let labels = [false, true, false, true, false, true]
        #expect(isClose(Metrics.auroc(scores: scores, labels: labels), 7.0 / 9))
        #expect(isClose(Metrics.averagePrecision(scores: scores, labels: labels), 29.0 / 36))
        let f1 = Metrics.f1Max(scores: scores, labels: labels)
        #expect(isClose(f1?.f1, 6.0 / 7))
        #expect(f1?.threshold == 0.6)
    }

    /// Scikit-learn's documented example for average_precision_score and
    /// roc_auc_score.
    @Test func scikitLearnDocumentationExample() {
        let scores: [Float] = [0.1, 0.4, 0.35, 0.8]
        let labels = [false, false, true, true]
        #expect(isClose(Metrics.averagePrecision(scores: scores, labels: labels), 5.0 / 6))
        #expect(isClose(Metrics.auroc(scores: scores, labels: labels), 0.75))
    }

    /// Each positive (score 1) ties the negative at 1 (½) and beats the one at
    /// 0 (1): AUROC = 3/4. The tied group at 1 enters at once: TP 2, FP 1, so
    /// precision 2/3 at recall 1 gives AP 2/3 and F1 4/5 at threshold 1.
    @Test func tiesCountHalfAndMoveTogether() {
        let scores: [Float] = [1, 1, 1, 0]
        let labels = [true, false, true, false]
        #expect(Metrics.auroc(scores: scores, labels: labels) == 0.75)
        #expect(isClose(Metrics.averagePrecision(scores: scores, labels: labels), 2.0 / 3))
        let f1 = Metrics.f1Max(scores: scores, labels: labels)
        #expect(isClose(f1?.f1, 0.8))
        #expect(f1?.threshold == 1)
    }

    @Test func allScoresTiedIsChance() {
        #expect(Metrics.auroc(scores: [3, 3, 3, 3, 3], labels: [true, false, false, true, false]) == 0.5)
        #expect(isClose(Metrics.averagePrecision(scores: [3, 3, 3, 3, 3], labels: [true, false, false, true, false]), 0.4))
    }

    /// -0 and +0 are equal scores, so they tie; negative and infinite scores
    /// rank in numeric order.
    @Test func signedZeroTiesAndNegativeScoresRank() {
        #expect(Metrics.auroc(scores: [-0.0, 0.0], labels: [true, false]) == 0.5)
        #expect(Metrics.auroc(scores: [-.infinity, -2, -1, -0.5, 3, .infinity],
                              labels: [false, false, true, false, true, true]) == 8.0 / 9)
    }

    @Test(arguments: [
        [true, true, true],
        [false, false],
        [],
    ])
    func singleClassIsUndefined(labels: [Bool]) {
        let scores = labels.indices.map { Float($0) }
        #expect(Metrics.auroc(scores: scores, labels: labels) == nil)
        #expect(Metrics.averagePrecision(scores: scores, labels: labels) == nil)
        #expect(Metrics.f1Max(scores: scores, labels: labels) == nil)
    }

    @Test func nanScoreIsUndefined() {
        let scores: [Float] = [0.1, .nan, 0.9]
        let labels = [false, false, true]
        #expect(Metrics.auroc(scores: scores, labels: labels) == nil)
        #expect(Metrics.averagePrecision(scores: scores, labels: labels) == nil)
        #expect(Metrics.f1Max(scores: scores, labels: labels) == nil)
    }
}
