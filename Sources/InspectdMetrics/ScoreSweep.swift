// The machinery every metric here shares: scores become integer keys, the keys
// are radix-sorted, and one walk from the highest score down visits each group
// of tied scores once. A threshold t classifies "score >= t" as anomalous, so
// each group boundary is one point of the ROC, PR and PRO curves.

/// The order-preserving integer image of a score: unsigned comparison of keys
/// agrees with numeric comparison of non-NaN floats, which lets the scores be
/// radix-sorted. -0 is folded into +0 first because the two compare equal and
/// must tie.
@inline(__always)
func scoreKey(_ score: Float) -> UInt32 {
    let bits = (score == 0 ? 0 : score).bitPattern
    // Negative floats sort in reverse bit order (flip everything); positive ones
    // sort in bit order but must land above every negative (set the sign bit).
    return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
}

@inline(__always)
func score(fromKey key: UInt32) -> Float {
    Float(bitPattern: key & 0x8000_0000 != 0 ? key & 0x7FFF_FFFF : ~key)
}

/// The key of a positive sample, with its payload (the ground-truth region for
/// pixels, 0 for images) in the low half so one integer sort carries both.
@inline(__always)
func positiveKey(score: Float, payload: UInt32) -> UInt64 {
    UInt64(scoreKey(score)) << 32 | UInt64(payload)
}

/// `values` sorted ascending by the 32-bit score key held in the top bits of
/// each element. Least-significant-digit radix sort, 11 + 11 + 10 bits: linear time
/// on tens of millions of pixels where a comparison sort would take seconds.
/// Elements with equal keys end up adjacent in no particular payload order,
/// which is all the sweep needs.
func sortedByScoreKey<Element: FixedWidthInteger & UnsignedInteger>(_ values: [Element]) -> [Element] {
    var values = values
    let count = values.count
    guard count > 1 else { return values }
    let keyShift = Element.bitWidth - 32
    let digits: [(shift: Int, bits: Int)] = [(0, 11), (11, 11), (22, 10)]
    let offsets = [0, 1 << 11, 2 << 11]

    // All three histograms in one read of the data.
    var histograms = [Int](repeating: 0, count: 3 << 11)
    values.withUnsafeBufferPointer { source in
        histograms.withUnsafeMutableBufferPointer { counts in
            for value in source {
                let key = Int(truncatingIfNeeded: value >> keyShift)
                counts[key & 0x7FF] += 1
                counts[(1 << 11) + (key >> 11 & 0x7FF)] += 1
                counts[(2 << 11) + (key >> 22)] += 1
            }
        }
    }

    var scratch = [Element](repeating: 0, count: count)
    for (pass, digit) in digits.enumerated() {
        let base = offsets[pass]
        let buckets = 1 << digit.bits
        // A digit every element shares would copy the data unchanged; scores
        // from one map usually share their top bits, so this saves passes.
        if histograms[base..<base + buckets].contains(count) { continue }

        // Exclusive prefix sums: where each bucket starts in the output.
        var next = 0
        for bucket in base..<base + buckets {
            let size = histograms[bucket]
            histograms[bucket] = next
            next += size
        }
        let shift = keyShift + digit.shift
        let mask = Element(buckets - 1)
        values.withUnsafeBufferPointer { source in
            scratch.withUnsafeMutableBufferPointer { target in
                histograms.withUnsafeMutableBufferPointer { starts in
                    for value in source {
                        let bucket = base + Int(truncatingIfNeeded: value >> shift & mask)
                        target[starts[bucket]] = value
                        starts[bucket] += 1
                    }
                }
            }
        }
        swap(&values, &scratch)
    }
    return values
}

/// Samples that share one score: at a threshold equal to `score` they all
/// become anomalous together.
struct TiedGroup {
    var score: Float
    var negatives: Int
    /// Indices of the group's positives in the sorted positive keys.
    var positives: Range<Int>
}

/// Visits the tied groups of two key arrays sorted ascending by
/// `sortedByScoreKey`, from the highest score down.
func forEachTiedGroupDescending(
    negatives: [UInt32], positives: [UInt64], _ body: (TiedGroup) -> Void
) {
    negatives.withUnsafeBufferPointer { negatives in
        positives.withUnsafeBufferPointer { positives in
            var negativeEnd = negatives.count
            var positiveEnd = positives.count
            // Every non-NaN score has a key above 0, so 0 stands for "exhausted".
            while negativeEnd > 0 || positiveEnd > 0 {
                let key = max(
                    negativeEnd > 0 ? negatives[negativeEnd - 1] : 0,
                    positiveEnd > 0 ? UInt32(truncatingIfNeeded: positives[positiveEnd - 1] >> 32) : 0)
                var negativeStart = negativeEnd
                while negativeStart > 0, negatives[negativeStart - 1] == key { negativeStart -= 1 }
                var positiveStart = positiveEnd
                while positiveStart > 0, UInt32(truncatingIfNeeded: positives[positiveStart - 1] >> 32) == key {
                    positiveStart -= 1
                }
                body(TiedGroup(
                    score: score(fromKey: key),
                    negatives: negativeEnd - negativeStart,
                    positives: positiveStart..<positiveEnd))
                negativeEnd = negativeStart
                positiveEnd = positiveStart
            }
        }
    }
}

/// ROC, precision-recall and F1 state, advanced one tied group at a time.
struct RankAccumulator {
    let totalPositives: Int
    let totalNegatives: Int
    private(set) var truePositives = 0
    private(set) var falsePositives = 0
    /// Twice the Mann-Whitney U: each (positive, negative) pair scores 2 when
    /// the positive is higher, 1 when tied. Kept as an integer so AUROC is exact
    /// up to the final division.
    private var twiceU = 0
    /// Σ over groups of (new true positives) × (precision after the group).
    private var precisionSum = 0.0
    private var bestF1 = 0.0
    private var bestThreshold = Float.infinity

    init(totalPositives: Int, totalNegatives: Int) {
        self.totalPositives = totalPositives
        self.totalNegatives = totalNegatives
    }

    mutating func add(score: Float, positives: Int, negatives: Int) {
        // Negatives strictly below this group are those not yet passed.
        let negativesBelow = totalNegatives - falsePositives - negatives
        twiceU += positives * (2 * negativesBelow + negatives)
        truePositives += positives
        falsePositives += negatives
        guard positives > 0 else { return }
        // Recall only moves on groups with positives, so only those add area.
        precisionSum += Double(positives) * Double(truePositives) / Double(truePositives + falsePositives)
        // F1 = 2TP / (2TP + FP + FN) = 2TP / (TP + FP + all positives): one
        // correctly rounded division of exact integers, so equal F1 values come
        // out identical and strictly greater keeps the highest threshold.
        let f1 = 2 * Double(truePositives) / Double(truePositives + falsePositives + totalPositives)
        if f1 > bestF1 {
            bestF1 = f1
            bestThreshold = score
        }
    }

    var auroc: Double { Double(twiceU) / (2 * Double(totalPositives) * Double(totalNegatives)) }
    var averagePrecision: Double { precisionSum / Double(totalPositives) }
    var f1Max: (f1: Double, threshold: Float) { (bestF1, bestThreshold) }
}
