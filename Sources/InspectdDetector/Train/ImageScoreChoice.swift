import InspectdImage
import InspectdMetrics
import InspectdTensor

/// Chooses, for one product, how its image score reads the anomaly map: the mean of the map's
/// highest `topFraction` (0 = its maximum), among candidate shares, from held-out data only.
///
/// No defective image may be used to calibrate, so the anomalies are made: each held-out normal
/// image gets patch-perturbed copies (the corruption training repairs, with the product's training
/// images as donors). A share is judged by the AUROC of the held-out normals against those copies;
/// ties go to the share that flags more copies above the threshold the normals would set, then to
/// the earlier candidate. A product whose defects are small and sharp keeps the maximum; one whose
/// normal maps have stray bright pixels and whose defects are spread moves to a wider share.
public struct ImageScoreChoice: Sendable, Equatable {
    public struct Candidate: Sendable, Equatable {
        public let topFraction: Float
        /// Held-out normals against perturbed copies; 0.5 where it cannot be computed (NaN maps).
        public let auroc: Double
        /// Share of perturbed copies scoring above the threshold fitted on the normal scores.
        public let recall: Double
    }

    public let candidates: [Candidate]
    public let chosen: Candidate
    /// How many perturbed maps the candidates were judged on.
    public let perturbedCount: Int

    /// Judges each of `fractions` on maps of held-out normal images and of perturbed copies of them.
    public init(fractions: [Float], normal: [AnomalyMap], perturbed: [AnomalyMap]) {
        precondition(!fractions.isEmpty && !normal.isEmpty && !perturbed.isEmpty,
                     "choosing among \(fractions.count) image scores from \(normal.count) normal and \(perturbed.count) perturbed maps")
        perturbedCount = perturbed.count
        let normalScores = normal.map { $0.imageScores(topFractions: fractions) }
        let perturbedScores = perturbed.map { $0.imageScores(topFractions: fractions) }
        let labels = [Bool](repeating: false, count: normal.count) + [Bool](repeating: true, count: perturbed.count)
        candidates = fractions.indices.map { k in
            let negatives = normalScores.map { $0[k] }, positives = perturbedScores.map { $0[k] }
            let threshold = Calibration(heldOutNormalScores: negatives).threshold
            return Candidate(topFraction: fractions[k],
                             auroc: Metrics.auroc(scores: negatives + positives, labels: labels) ?? 0.5,
                             recall: Double(positives.filter { $0 > threshold }.count) / Double(positives.count))
        }
        // AUROCs are ratios of small counts: equal ones may differ in the last bits.
        chosen = candidates.dropFirst().reduce(candidates[0]) { best, next in
            if next.auroc > best.auroc + 1e-9 { return next }
            if next.auroc >= best.auroc - 1e-9 && next.recall > best.recall { return next }
            return best
        }
    }

    /// How many perturbed copies each of `heldOut` held-out images gets: at least 4, and together
    /// at least 32, so a product with two held-out images is still judged on a few dozen anomalies.
    public static func copiesPerImage(heldOut: Int) -> Int {
        max(4, (32 + heldOut - 1) / max(1, heldOut))
    }

    /// Patch-perturbed copies of `heldOut` (always perturbed), donors drawn from `donors`, from a
    /// generator seeded by `seed`: the same images give the same copies on every run.
    public static func perturbedCopies(of heldOut: [Image], donors: [Image], seed: UInt64,
                                       perturbation: PatchPerturbation = PatchPerturbation()) -> [Image] {
        var generator = SeededGenerator(seed: seed)
        let copies = copiesPerImage(heldOut: heldOut.count)
        return heldOut.flatMap { image in
            (0..<copies).map { _ in perturbation.perturb(image, donors: donors, using: &generator).image }
        }
    }

    /// One line for logs and the manifest: every candidate's figures, the chosen one marked.
    public var summary: String {
        candidates.map { c in
            let share = c.topFraction == 0 ? "max" : "top \(c.topFraction)"
            let line = "\(share) AUROC \(formatted(c.auroc)) recall \(formatted(c.recall))"
            return c == chosen ? "[\(line)]" : line
        }.joined(separator: ", ")
    }

    private func formatted(_ value: Double) -> String {
        String(Double((value * 1000).rounded()) / 1000)
    }
}
