/// Threshold-free metrics over (score, label) pairs, where a higher score means
/// "more anomalous" and `true` marks an anomalous sample.
///
/// Every metric is a fraction in [0, 1], or nil where it is undefined: no
/// positives, no negatives, or a NaN score (NaN has no place in a ranking, and
/// reporting a number for it would hide the bug that produced it). Tied scores
/// are one threshold: they change class together.
public enum Metrics {
    /// Area under the ROC curve: the probability that a random positive
    /// outscores a random negative, ties counting one half (Mann-Whitney U).
    public static func auroc(scores: [Float], labels: [Bool]) -> Double? {
        sweep(scores: scores, labels: labels)?.auroc
    }

    /// Average precision as scikit-learn's `average_precision_score` defines
    /// it: Σₙ (Rₙ − Rₙ₋₁) Pₙ over the distinct thresholds, without
    /// interpolation.
    public static func averagePrecision(scores: [Float], labels: [Bool]) -> Double? {
        sweep(scores: scores, labels: labels)?.averagePrecision
    }

    /// The best F1 over all thresholds, and the highest threshold reaching it;
    /// a sample is called anomalous when its score is >= the threshold.
    public static func f1Max(scores: [Float], labels: [Bool]) -> (f1: Double, threshold: Float)? {
        sweep(scores: scores, labels: labels)?.f1Max
    }

    private static func sweep(scores: [Float], labels: [Bool]) -> RankAccumulator? {
        precondition(scores.count == labels.count, "\(scores.count) scores but \(labels.count) labels")
        var negatives: [UInt32] = []
        var positives: [UInt64] = []
        for (score, isPositive) in zip(scores, labels) {
            if score.isNaN { return nil }
            if isPositive {
                positives.append(positiveKey(score: score, payload: 0))
            } else {
                negatives.append(scoreKey(score))
            }
        }
        guard !negatives.isEmpty, !positives.isEmpty else { return nil }
        var accumulator = RankAccumulator(totalPositives: positives.count, totalNegatives: negatives.count)
        forEachTiedGroupDescending(negatives: sortedByScoreKey(negatives), positives: sortedByScoreKey(positives)) { group in
            accumulator.add(score: group.score, positives: group.positives.count, negatives: group.negatives)
        }
        return accumulator
    }
}
