import InspectdDetector
import InspectdTrainer
import Testing

/// The guard's rules on figures made up for each case: what passes, what is refused and why.
struct RegressionGuardTests {
    let rules = RegressionGuard(maxFalsePositiveRise: 0.1, maxAUROCDrop: 0.03, newProductAUROC: 0.8)

    func check(_ name: String, normals: Int = 20, fpr: Double? = 0, auroc: Double? = 0.99) -> HeldOutCheck {
        HeldOutCheck(product: name, normals: normals, perturbed: 4 * normals, falsePositiveRate: fpr, auroc: auroc)
    }

    @Test func anIncrementThatKeepsTheOlderProductsPasses() {
        let verdict = rules.judge(before: ["a": check("a", fpr: 0.05, auroc: 0.97)],
                                  after: ["a": check("a", fpr: 0.1, auroc: 0.95), "b": check("b", auroc: 0.9)])
        #expect(verdict.passed)
        #expect(verdict.figures == ["a.fpr_before": 0.05, "a.fpr": 0.1, "a.auroc_before": 0.97, "a.auroc": 0.95, "b.fpr": 0, "b.auroc": 0.9])
    }

    @Test func aFalsePositiveRiseBeyondTheMarginIsRefused() {
        let verdict = rules.judge(before: ["a": check("a", fpr: 0)], after: ["a": check("a", fpr: 0.15), "b": check("b")])
        #expect(verdict.failures == ["a: false-positive rate on its 20 held-out normals rose from 0.0 to 0.15 (allowed: 0.1)"])
    }

    /// With 2 held-out normals one image is 0.5: a rise of one image is within what the set
    /// resolves, two images are not.
    @Test func oneImageMoreIsAlwaysAllowed() {
        let small = { (fpr: Double) in check("a", normals: 2, fpr: fpr) }
        #expect(rules.judge(before: ["a": small(0)], after: ["a": small(0.5)]).passed)
        #expect(!rules.judge(before: ["a": small(0)], after: ["a": small(1)]).passed)
    }

    @Test func anAUROCDropBeyondTheMarginIsRefused() {
        let verdict = rules.judge(before: ["a": check("a", auroc: 0.99)], after: ["a": check("a", auroc: 0.95)])
        #expect(verdict.failures == ["a: AUROC against perturbed copies dropped from 0.99 to 0.95 (allowed: 0.03)"])
        #expect(rules.judge(before: ["a": check("a", auroc: 0.99)], after: ["a": check("a", auroc: 0.97)]).passed)
    }

    @Test func theNewProductMustReachTheFloor() {
        let verdict = rules.judge(before: [:], after: ["b": check("b", auroc: 0.7)])
        #expect(verdict.failures == ["b: its held-out normals against perturbed copies reach AUROC 0.7, below the floor 0.8"])
        #expect(!rules.judge(before: [:], after: ["b": check("b", normals: 0, fpr: nil, auroc: nil)]).passed)
    }

    /// An older product without held-out images cannot be judged: noted, not refused.
    @Test func anOlderProductWithoutHeldOutImagesIsNotedNotRefused() {
        let none = check("a", normals: 0, fpr: nil, auroc: nil)
        let verdict = rules.judge(before: ["a": none], after: ["a": none, "b": check("b")])
        #expect(verdict.passed)
        #expect(verdict.notes == ["a: not checked, it has no held-out normal images"])
    }
}
