import InspectdMetrics

/// Slow, obvious implementations of every metric, straight from the
/// definitions, for cross-checking the sorted sweep on small inputs.
enum Reference {
    /// Pair counting: every (positive, negative) pair, ties worth one half.
    static func auroc(scores: [Float], labels: [Bool]) -> Double? {
        let positives = zip(scores, labels).filter { $0.1 }.map(\.0)
        let negatives = zip(scores, labels).filter { !$0.1 }.map(\.0)
        guard !positives.isEmpty, !negatives.isEmpty else { return nil }
        var wins = 0.0
        for positive in positives {
            for negative in negatives {
                if positive > negative { wins += 1 } else if positive == negative { wins += 0.5 }
            }
        }
        return wins / Double(positives.count * negatives.count)
    }

    /// Distinct scores, highest first: the thresholds where anything changes.
    static func thresholds(_ scores: [Float]) -> [Float] {
        Set(scores).sorted(by: >)
    }

    /// (true positives, false positives) when "score >= threshold" is anomalous.
    static func counts(scores: [Float], labels: [Bool], threshold: Float) -> (tp: Int, fp: Int) {
        var tp = 0, fp = 0
        for (score, label) in zip(scores, labels) where score >= threshold {
            if label { tp += 1 } else { fp += 1 }
        }
        return (tp, fp)
    }

    static func averagePrecision(scores: [Float], labels: [Bool]) -> Double? {
        let positives = labels.filter { $0 }.count
        guard positives > 0, positives < labels.count else { return nil }
        var ap = 0.0
        var lastRecall = 0.0
        for threshold in thresholds(scores) {
            let (tp, fp) = counts(scores: scores, labels: labels, threshold: threshold)
            let recall = Double(tp) / Double(positives)
            ap += (recall - lastRecall) * Double(tp) / Double(tp + fp)
            lastRecall = recall
        }
        return ap
    }

    static func f1Max(scores: [Float], labels: [Bool]) -> (f1: Double, threshold: Float)? {
        let positives = labels.filter { $0 }.count
        guard positives > 0, positives < labels.count else { return nil }
        // The best is chosen on exact fractions, F1 = 2TP / (TP + FP + P), so
        // that rounding cannot pick a different threshold among equal F1s.
        var best: (numerator: Int, denominator: Int, f1: Double, threshold: Float) = (0, 1, 0, .infinity)
        for threshold in thresholds(scores) {
            let (tp, fp) = counts(scores: scores, labels: labels, threshold: threshold)
            guard tp > 0 else { continue }
            let (numerator, denominator) = (2 * tp, tp + fp + positives)
            guard numerator * best.denominator > best.numerator * denominator else { continue }
            let precision = Double(tp) / Double(tp + fp)
            let recall = Double(tp) / Double(positives)
            best = (numerator, denominator, 2 * precision * recall / (precision + recall), threshold)
        }
        return (best.f1, best.threshold)
    }

    struct Image {
        var map: [Float]
        var mask: [Bool]?
        var width: Int
        var height: Int
    }

    /// Component label per pixel (0 outside the mask) by union-find, a
    /// different algorithm from the library's flood fill.
    static func regions(mask: [Bool], width: Int, height: Int, connectivity: Connectivity) -> (labels: [Int], count: Int) {
        var parent = Array(mask.indices)
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i { i = parent[i] }
            return i
        }
        // Looking only forward (right, down, and the two lower diagonals)
        // still visits every adjacent pair once.
        let forward: [(dx: Int, dy: Int)] = connectivity == .four
            ? [(1, 0), (0, 1)]
            : [(1, 0), (0, 1), (1, 1), (-1, 1)]
        for y in 0..<height {
            for x in 0..<width where mask[y * width + x] {
                for (dx, dy) in forward {
                    let nx = x + dx, ny = y + dy
                    guard nx >= 0, nx < width, ny < height, mask[ny * width + nx] else { continue }
                    parent[root(ny * width + nx)] = root(y * width + x)
                }
            }
        }
        var labelOfRoot: [Int: Int] = [:]
        var labels = [Int](repeating: 0, count: mask.count)
        for i in mask.indices where mask[i] {
            let r = root(i)
            if labelOfRoot[r] == nil { labelOfRoot[r] = labelOfRoot.count + 1 }
            labels[i] = labelOfRoot[r]!
        }
        return (labels, labelOfRoot.count)
    }

    /// Binarises every map at every distinct score, as the definition reads,
    /// then integrates the way MVTec's `trapezoid(x, y, x_max)` does: cut the
    /// curve at the limit and add the interpolated piece up to it.
    static func aupro(images: [Image], connectivity: Connectivity, fprLimit: Double) -> Double? {
        // Per region: its pixels' scores. Normal pixels: one pooled list.
        var regionScores: [[Float]] = []
        var normalScores: [Float] = []
        for image in images {
            let mask = image.mask ?? [Bool](repeating: false, count: image.map.count)
            let (labels, count) = regions(mask: mask, width: image.width, height: image.height, connectivity: connectivity)
            var scores = [[Float]](repeating: [], count: count)
            for (score, label) in zip(image.map, labels) {
                if label == 0 { normalScores.append(score) } else { scores[label - 1].append(score) }
            }
            regionScores += scores
        }
        guard !regionScores.isEmpty, !normalScores.isEmpty else { return nil }

        var fprs = [0.0], pros = [0.0]
        for threshold in thresholds(images.flatMap(\.map)) {
            fprs.append(Double(normalScores.filter { $0 >= threshold }.count) / Double(normalScores.count))
            let overlaps = regionScores.map { Double($0.filter { $0 >= threshold }.count) / Double($0.count) }
            pros.append(overlaps.reduce(0, +) / Double(overlaps.count))
        }

        var correction = 0.0
        if !fprs.contains(fprLimit) {
            let above = fprs.firstIndex { $0 > fprLimit }!
            let (x0, x1, y0, y1) = (fprs[above - 1], fprs[above], pros[above - 1], pros[above])
            let yAtLimit = y0 + (y1 - y0) * (fprLimit - x0) / (x1 - x0)
            correction = (fprLimit - x0) * (y0 + yAtLimit) / 2
        }
        let kept = fprs.indices.filter { fprs[$0] <= fprLimit }
        var area = correction
        for (i, j) in zip(kept, kept.dropFirst()) {
            area += (fprs[j] - fprs[i]) * (pros[i] + pros[j]) / 2
        }
        return area / fprLimit
    }
}

/// SplitMix64: a tiny seeded generator so every random case is reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
