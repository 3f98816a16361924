import InspectdContinual
import InspectdTensor
import InspectdTesting
import Testing

@Suite struct BasisTests {
    @Test func energyRulePicksTheFewestDirectionsThatReachTheThreshold() {
        let spectrum: [Double] = [50, 30, 10, 5, 3, 2]
        func rank(_ threshold: Double) -> Int {
            EnergyRule.rank(projectedEnergy: 0, residualEnergies: spectrum, totalEnergy: 100, threshold: threshold)
        }
        #expect(rank(0.8) == 2)
        #expect(rank(0.9) == 3)
        #expect(rank(0.97) == 5)
        #expect(rank(0.5) == 1)
        #expect(rank(1) == 6)
        #expect(EnergyRule.rank(projectedEnergy: 60, residualEnergies: [25, 10, 5], totalEnergy: 100, threshold: 0.9) == 2)
        #expect(EnergyRule.rank(projectedEnergy: 60, residualEnergies: [25, 10, 5], totalEnergy: 100, threshold: 0.6) == 0)
        #expect(EnergyRule.rank(projectedEnergy: 95, residualEnergies: [3, 2], totalEnergy: 100, threshold: 0.9) == 0)
        // Short of the threshold with every direction: all of them.
        #expect(EnergyRule.rank(projectedEnergy: 10, residualEnergies: [20, 10], totalEnergy: 100, threshold: 0.9) == 2)
    }

    @Test func energyScheduleRisesByProductUpToItsMaximum() {
        let schedule = EnergySchedule.standard
        #expect(schedule == EnergySchedule(base: 0.97, stepPerProduct: 0.003, maximum: 0.999))
        #expect(abs(schedule.threshold(forProductIndex: 0) - 0.97) < 1e-15)
        #expect(abs(schedule.threshold(forProductIndex: 2) - 0.976) < 1e-15)
        #expect(schedule.threshold(forProductIndex: 9) < 0.999)
        #expect(schedule.threshold(forProductIndex: 10) == 0.999)
        #expect(schedule.threshold(forProductIndex: 100) == 0.999)
    }

    @Test func orthonormalityErrorSeesADamagedColumn() throws {
        var random = TestRandom(seed: 1)
        let d = 9, k = 4
        let basis = LayerBasis(float64: try randomOrthonormal(dimension: d, rank: k, random: &random), dimension: d)
        #expect(basis.orthonormalityError() < 1e-6)
        #expect(basis.occupancy == 4.0 / 9.0)
        #expect(LayerBasis.empty(dimension: d).orthonormalityError() == 0)
        var damaged = basis.vectors
        damaged[2 * k + 1] += 0.01
        #expect(LayerBasis(dimension: d, rank: k, vectors: damaged).orthonormalityError() > 1e-3)
    }

    /// A representation for merge tests: strong directions in a random 6-dimensional subspace
    /// (different per seed), and weak noise in every direction.
    static func representation(seed: UInt64, method: BasisMethod, dimension d: Int = 16) throws -> RepresentationSketch {
        var random = TestRandom(seed: seed)
        let directions = try randomOrthonormal(dimension: d, rank: 6, random: &random)
        let samples = BasisSamples(count: 120, directions: directions, scales: [5, 4, 3, 2, 1.5, 1], noise: 0.05, random: &random)
        let sketch = method.makeSketch(dimension: d)
        samples.add(to: sketch, chunks: [17, 40], layouts: [.rows, .columns])
        return sketch
    }

    @Test(arguments: BasisMethod.allCases) func mergedBasesStayOrthonormalAndKeepTheirColumns(method: BasisMethod) throws {
        let d = 15
        var basis = LayerBasis.empty(dimension: d)
        for (product, seed) in [UInt64(61), 62, 63].enumerated() {
            let threshold = EnergySchedule(base: 0.9, stepPerProduct: 0.03).threshold(forProductIndex: product)
            let sketch = try Self.representation(seed: seed, method: method, dimension: d)
            let (merged, report) = try BasisMerge.merge(basis, with: sketch, threshold: threshold)
            let k = basis.rank
            #expect(report.previousRank == k && report.dimension == d)
            #expect(merged.rank == k + report.addedRank && report.addedRank > 0)
            #expect(merged.rank < d)
            #expect(merged.orthonormalityError() < 1e-5)
            for i in 0..<d { for j in 0..<k {
                #expect(merged.vectors[i * merged.rank + j] == basis.vectors[i * k + j])
            }}
            var worstCrossing = 0.0
            for a in 0..<k { for b in k..<merged.rank {
                var dot = 0.0
                for i in 0..<d { dot += Double(merged.vectors[i * merged.rank + a]) * Double(merged.vectors[i * merged.rank + b]) }
                worstCrossing = max(worstCrossing, abs(dot))
            }}
            #expect(worstCrossing < 1e-5)
            #expect(report.sharedAfter >= threshold - 1e-6)
            #expect(report.sharedBefore < threshold)
            #expect(abs(report.sharedBefore - sketch.energy(inside: basis) / sketch.totalEnergy) < 1e-12)
            basis = merged
        }
    }

    /// Into an empty basis, the merge takes the rank GPM's rule gives on the full spectrum, and
    /// those leading directions.
    @Test(arguments: BasisMethod.allCases) func firstMergeTakesTheLeadingDirectionsTheRuleAsksFor(method: BasisMethod) throws {
        var random = TestRandom(seed: 71)
        let d = 12
        let samples = BasisSamples(count: 150, directions: try randomOrthonormal(dimension: d, rank: d, random: &random),
                                   scales: BasisSketchTests.scales, random: &random)
        let sketch = method.makeSketch(dimension: d)
        samples.add(to: sketch, chunks: [40])
        let full = try samples.fullSVD()
        for threshold in [0.5, 0.8, 0.95] {
            let (basis, report) = try BasisMerge.merge(.empty(dimension: d), with: sketch, threshold: threshold)
            let expected = EnergyRule.rank(projectedEnergy: 0, residualEnergies: full.energies,
                                           totalEnergy: full.energies.reduce(0, +), threshold: threshold)
            #expect(expected > 1 && basis.rank == expected, "threshold \(threshold)")
            #expect(report.previousRank == 0 && report.sharedBefore == 0 && report.sharedAfter >= threshold - 1e-6)
            let leading = leadingColumns(full.vectors, width: d, take: expected)
            #expect(projectorDistance(basis.vectors.map(Double.init), leading, dimension: d) < 1e-4)
        }
    }

    @Test(arguments: BasisMethod.allCases) func mergingWhatTheBasisHoldsAddsNothing(method: BasisMethod) throws {
        let sketch = try Self.representation(seed: 81, method: method)
        let (first, _) = try BasisMerge.merge(.empty(dimension: 16), with: sketch, threshold: 0.95)
        let (second, report) = try BasisMerge.merge(first, with: sketch, threshold: 0.95)
        #expect(second == first && report.addedRank == 0 && report.sharedBefore >= 0.95 - 1e-6)

        let silent = method.makeSketch(dimension: 16)
        let zeros = [Float](repeating: 0, count: 16 * 5)
        zeros.withUnsafeBufferPointer { silent.add($0.baseAddress!, count: 5, layout: .rows) }
        let (unchanged, quiet) = try BasisMerge.merge(first, with: silent, threshold: 0.95)
        #expect(silent.sampleCount == 5 && silent.totalEnergy == 0)
        #expect(unchanged == first && quiet.addedRank == 0)
    }
}
