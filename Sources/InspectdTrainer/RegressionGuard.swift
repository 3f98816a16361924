import InspectdDetector

/// Decides whether an increment may be published: no product learnt before may get worse on its
/// held-out normals, and the new product must be recognisably learnt. Both sides are measured by
/// `HeldOutCheck`, the old model's figures before the increment and the candidate's after, so each
/// product is compared with itself on the same images and the same perturbed copies.
public struct RegressionGuard: Sendable, Equatable {
    /// How much an older product's false-positive rate may rise (0 to 1). A rise of one image is
    /// always allowed: a product with n held-out normals cannot resolve less than 1/n, and with
    /// the 2 of a 20-image folder a single image would otherwise decide.
    public var maxFalsePositiveRise: Double
    /// How much an older product's AUROC against perturbed copies may drop (0 to 1).
    public var maxAUROCDrop: Double
    /// The AUROC the new product's own check must reach (0 to 1).
    public var newProductAUROC: Double

    public init(maxFalsePositiveRise: Double, maxAUROCDrop: Double, newProductAUROC: Double) {
        self.maxFalsePositiveRise = maxFalsePositiveRise
        self.maxAUROCDrop = maxAUROCDrop
        self.newProductAUROC = newProductAUROC
    }

    public struct Verdict: Sendable, Equatable {
        /// Why the increment is refused, one line per failed check; empty when it passes.
        public var failures: [String]
        /// Every figure compared, by "<product>.<figure>" (kept in the version's record).
        public var figures: [String: Double]
        /// What could not be checked (a product without held-out images), for the log.
        public var notes: [String]
        public var passed: Bool { failures.isEmpty }
    }

    /// Judges the candidate's checks `after` against the old model's `before`. Products in `after`
    /// and not in `before` are new; those in both are older products. An updated product (more
    /// images of a known one) is held to the older products' rules.
    public func judge(before: [String: HeldOutCheck], after: [String: HeldOutCheck]) -> Verdict {
        var verdict = Verdict(failures: [], figures: [:], notes: [])
        for name in after.keys.sorted() {
            let now = after[name]!
            if let auroc = now.auroc { verdict.figures["\(name).auroc"] = auroc }
            if let rate = now.falsePositiveRate { verdict.figures["\(name).fpr"] = rate }
            guard let old = before[name] else {
                guard let auroc = now.auroc else {
                    verdict.failures.append("\(name): no held-out normal images to check the new product on")
                    continue
                }
                if auroc < newProductAUROC {
                    verdict.failures.append("\(name): its held-out normals against perturbed copies reach AUROC \(Self.format(auroc)), "
                                            + "below the floor \(Self.format(newProductAUROC))")
                }
                continue
            }
            if let auroc = old.auroc { verdict.figures["\(name).auroc_before"] = auroc }
            if let rate = old.falsePositiveRate { verdict.figures["\(name).fpr_before"] = rate }
            guard let oldRate = old.falsePositiveRate, let newRate = now.falsePositiveRate, let oldAUROC = old.auroc,
                  let newAUROC = now.auroc else {
                verdict.notes.append("\(name): not checked, it has no held-out normal images")
                continue
            }
            let allowedRise = max(maxFalsePositiveRise, 1 / Double(now.normals))
            if newRate - oldRate > allowedRise + 1e-9 {
                verdict.failures.append("\(name): false-positive rate on its \(now.normals) held-out normals rose from "
                                        + "\(Self.format(oldRate)) to \(Self.format(newRate)) (allowed: \(Self.format(allowedRise)))")
            }
            if oldAUROC - newAUROC > maxAUROCDrop + 1e-9 {
                verdict.failures.append("\(name): AUROC against perturbed copies dropped from \(Self.format(oldAUROC)) to "
                                        + "\(Self.format(newAUROC)) (allowed: \(Self.format(maxAUROCDrop)))")
            }
        }
        return verdict
    }

    static func format(_ value: Double) -> String { String(Double((value * 1000).rounded()) / 1000) }
}
