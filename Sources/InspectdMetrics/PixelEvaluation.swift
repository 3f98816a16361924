/// Pixel-level metrics over a whole test set; each is nil where undefined (see
/// `Metrics`).
public struct PixelMetrics: Sendable {
    public var auroc: Double?
    public var averagePrecision: Double?
    public var f1Max: (f1: Double, threshold: Float)?
    /// Area under the per-region-overlap curve up to `fprLimit`, divided by
    /// `fprLimit` so a perfect map scores 1.
    public var aupro: Double?
    public var fprLimit: Double
}

/// Accumulates anomaly maps and ground-truth masks image by image, then
/// computes pixel AUROC, AP, F1-max and AUPRO over all pixels of all images.
///
/// Memory: 4 bytes per normal pixel and 8 per anomalous one (score key plus
/// region), plus an 8-byte size per region. `evaluate` sorts a copy and needs
/// a same-sized scratch buffer, so it peaks at about three times the stored
/// keys: 20 M pixels store about 80 MB and peaked at about 250 MB resident.
public struct PixelEvaluation: Sendable {
    public let connectivity: Connectivity
    private var negativeKeys: [UInt32] = []
    /// Score key in the high half, index into `regionSizes` in the low half.
    private var positiveKeys: [UInt64] = []
    private var regionSizes: [Int] = []
    private var sawNaN = false

    /// `connectivity` decides which ground-truth pixels form one region for
    /// AUPRO; `.eight` matches MVTec's reference evaluation.
    public init(connectivity: Connectivity = .eight) {
        self.connectivity = connectivity
    }

    /// Pixels added so far.
    public var pixelCount: Int { negativeKeys.count + positiveKeys.count }

    /// Ground-truth regions found so far, over all images.
    public var regionCount: Int { regionSizes.count }

    /// Adds one image: its anomaly map and its ground-truth mask (`true` =
    /// anomalous pixel), both row-major `width` × `height`. A nil mask means
    /// the image has no defect: every pixel is normal.
    public mutating func add(map: [Float], mask: [Bool]?, width: Int, height: Int) {
        precondition(width >= 0 && height >= 0 && map.count == width * height,
                     "map has \(map.count) values for \(width)×\(height)")
        guard let mask else {
            for value in map {
                sawNaN = sawNaN || value.isNaN
                negativeKeys.append(scoreKey(value))
            }
            return
        }
        precondition(mask.count == map.count, "mask has \(mask.count) values for \(width)×\(height)")
        let (labels, sizes) = connectedComponents(of: mask, width: width, height: height, connectivity: connectivity)
        precondition(regionSizes.count + sizes.count <= Int(UInt32.max), "too many ground-truth regions")
        // Local component k becomes global region firstRegion + k - 1.
        let firstRegion = UInt32(regionSizes.count)
        regionSizes.append(contentsOf: sizes)
        for (value, label) in zip(map, labels) {
            sawNaN = sawNaN || value.isNaN
            if label == 0 {
                negativeKeys.append(scoreKey(value))
            } else {
                positiveKeys.append(positiveKey(score: value, payload: firstRegion + label - 1))
            }
        }
    }

    /// All pixel metrics from one sort and one sweep; prefer this over the
    /// single-metric accessors when more than one is needed.
    ///
    /// AUPRO follows MVTec's definition: at each threshold, a region's overlap
    /// is the fraction of its pixels at or above the threshold, PRO is the mean
    /// overlap over all regions of all images, and FPR is the fraction of all
    /// normal pixels at or above it. The (FPR, PRO) curve starts at (0, 0), is
    /// integrated with the trapezoid rule up to `fprLimit` (interpolating
    /// linearly at the limit), and divided by `fprLimit`.
    public func evaluate(fprLimit: Double = 0.3) -> PixelMetrics {
        precondition(fprLimit > 0 && fprLimit <= 1, "fprLimit must be in (0, 1], got \(fprLimit)")
        var metrics = PixelMetrics(fprLimit: fprLimit)
        guard !sawNaN, !negativeKeys.isEmpty, !positiveKeys.isEmpty else { return metrics }

        let negatives = sortedByScoreKey(negativeKeys)
        let positives = sortedByScoreKey(positiveKeys)
        var rank = RankAccumulator(totalPositives: positives.count, totalNegatives: negatives.count)
        var pro = ProCurveIntegral(regionCount: regionSizes.count, totalNegatives: negatives.count, fprLimit: fprLimit)
        // A positive pixel lifts its region's overlap by 1 / region size.
        let overlapPerPixel = regionSizes.map { 1 / Double($0) }
        forEachTiedGroupDescending(negatives: negatives, positives: positives) { group in
            rank.add(score: group.score, positives: group.positives.count, negatives: group.negatives)
            var overlapGain = 0.0
            for index in group.positives {
                overlapGain += overlapPerPixel[Int(truncatingIfNeeded: positives[index] & 0xFFFF_FFFF)]
            }
            pro.add(negatives: group.negatives, overlapGain: overlapGain)
        }
        metrics.auroc = rank.auroc
        metrics.averagePrecision = rank.averagePrecision
        metrics.f1Max = rank.f1Max
        metrics.aupro = pro.normalizedArea
        return metrics
    }

    // Each of these runs a full `evaluate`.
    public func auroc() -> Double? { evaluate().auroc }
    public func averagePrecision() -> Double? { evaluate().averagePrecision }
    public func f1Max() -> (f1: Double, threshold: Float)? { evaluate().f1Max }
    public func aupro(fprLimit: Double = 0.3) -> Double? { evaluate(fprLimit: fprLimit).aupro }
}

/// Trapezoid integral of PRO over FPR from 0 to the limit, fed one tied group
/// at a time in descending score order (so FPR never decreases).
private struct ProCurveIntegral {
    let regionCount: Int
    let totalNegatives: Int
    let fprLimit: Double
    private var falsePositives = 0
    /// Σ over regions of their overlap fraction.
    private var overlapSum = 0.0
    private var last = (fpr: 0.0, pro: 0.0)
    private var area = 0.0

    init(regionCount: Int, totalNegatives: Int, fprLimit: Double) {
        self.regionCount = regionCount
        self.totalNegatives = totalNegatives
        self.fprLimit = fprLimit
    }

    mutating func add(negatives: Int, overlapGain: Double) {
        guard last.fpr < fprLimit else { return }
        falsePositives += negatives
        overlapSum += overlapGain
        let fpr = Double(falsePositives) / Double(totalNegatives)
        // Summing 1/size over a region's pixels can overshoot 1 by a rounding
        // error; the clamp keeps the result inside [0, 1].
        let pro = min(overlapSum / Double(regionCount), 1)
        if fpr <= fprLimit {
            area += (fpr - last.fpr) * (last.pro + pro) / 2
        } else {
            let proAtLimit = last.pro + (pro - last.pro) * (fprLimit - last.fpr) / (fpr - last.fpr)
            area += (fprLimit - last.fpr) * (last.pro + proAtLimit) / 2
        }
        last = (fpr, pro)
    }

    /// The sweep always ends at FPR 1 >= limit, so by then the area is complete.
    var normalizedArea: Double { min(area / fprLimit, 1) }
}
