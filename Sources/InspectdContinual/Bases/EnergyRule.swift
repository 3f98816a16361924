/// The energy threshold schedule: each product learnt raises the share of a new product's energy
/// its basis must hold, so later products keep more of their own directions as the space fills
/// (GPM used 0.97 + 0.003 per task).
public struct EnergySchedule: Codable, Sendable, Equatable {
    public var base: Double
    public var stepPerProduct: Double
    public var maximum: Double

    public init(base: Double = 0.97, stepPerProduct: Double = 0.003, maximum: Double = 0.999) {
        self.base = base
        self.stepPerProduct = stepPerProduct
        self.maximum = maximum
    }

    public static let standard = EnergySchedule()

    /// min(maximum, base + step·k) for the product with 0-based index k.
    public func threshold(forProductIndex index: Int) -> Double {
        min(maximum, base + stepPerProduct * Double(index))
    }
}

public enum EnergyRule {
    /// GPM's rule: the fewest leading residual directions r such that
    /// (projectedEnergy + Σ_{i<r} residualEnergies[i]) ≥ threshold·totalEnergy; 0 if the projected
    /// energy alone reaches it, and every direction if even all of them fall short.
    /// `residualEnergies` are sorted descending.
    public static func rank(projectedEnergy: Double, residualEnergies: [Double], totalEnergy: Double, threshold: Double) -> Int {
        let target = threshold * totalEnergy
        var held = projectedEnergy
        for (r, energy) in residualEnergies.enumerated() {
            if held >= target { return r }
            held += energy
        }
        return residualEnergies.count
    }
}
