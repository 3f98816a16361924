import Foundation
import InspectdContinual
import InspectdTensor
import InspectdTesting
import Testing

@Suite struct BasisSketchTests {
    /// Twelve directions with well separated scales, so that every leading subspace is well defined.
    static let scales: [Double] = (0..<12).map { 10 * pow(0.8, Double($0)) }

    static func spreadSamples(seed: UInt64, count: Int = 200) throws -> BasisSamples {
        var random = TestRandom(seed: seed)
        let directions = try randomOrthonormal(dimension: 12, rank: 12, random: &random)
        return BasisSamples(count: count, directions: directions, scales: scales, random: &random)
    }

    @Test func covarianceSketchMatchesTheFullSVD() throws {
        let samples = try Self.spreadSamples(seed: 11)
        let d = samples.dimension
        let sketch = CovarianceSketch(dimension: d)
        samples.add(to: sketch, chunks: [1, 13, 50, 7, 129], layouts: [.rows, .columns])
        #expect(sketch.sampleCount == 200)

        let full = try samples.fullSVD()
        let (energies, vectors) = try sketch.residualDirections(outside: .empty(dimension: d))
        #expect(energies.count == d)
        #expect(abs(sketch.totalEnergy - full.energies.reduce(0, +)) < 1e-9 * sketch.totalEnergy)
        #expect(maxDifference(energies, full.energies) < 1e-5 * full.energies[0])
        for m in 1..<d {
            let distance = projectorDistance(leadingColumns(vectors, width: d, take: m),
                                             leadingColumns(full.vectors, width: d, take: m), dimension: d)
            #expect(distance < 1e-3, "leading \(m) directions")
        }
    }

    /// The residual outside a stored basis is the decomposition of (I − PPᵀ)XᵀX(I − PPᵀ), and the
    /// energy inside is Σ‖Pᵀx‖², for both sketches.
    @Test(arguments: BasisMethod.allCases) func residualAndInsideEnergyAgainstTheSamples(method: BasisMethod) throws {
        let samples = try Self.spreadSamples(seed: 12)
        let d = samples.dimension
        var random = TestRandom(seed: 13)
        let basis = LayerBasis(float64: try randomOrthonormal(dimension: d, rank: 3, random: &random), dimension: d)
        let sketch = method.makeSketch(dimension: d)
        samples.add(to: sketch, chunks: [30, 9])

        let x = samples.transposed(), outside = samples.transposed(outside: basis)
        let inside = zip(x, outside).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        #expect(abs(sketch.energy(inside: basis) - inside) < 1e-5 * sketch.totalEnergy)

        let (energies, vectors) = try sketch.residualDirections(outside: basis)
        #expect(energies.count == d - basis.rank)
        #expect(zip(energies, energies.dropFirst()).allSatisfy { $0 >= $1 })
        let full = try samples.fullSVD(outside: basis)
        #expect(maxDifference(energies, Array(full.energies.prefix(d - basis.rank))) < 1e-5 * full.energies[0])
        let residualGram = Linalg.product(outside, outside, m: d, n: d, k: samples.count, transposeB: true)
        #expect(maxDifference(reassemble(energies: energies, vectors: vectors, dimension: d), residualGram)
                < 1e-5 * full.energies[0])
        let p = basis.vectors.map(Double.init)
        let crossing = Linalg.product(p, vectors, m: basis.rank, n: energies.count, k: d, transposeA: true)
        #expect(crossing.allSatisfy { abs($0) < 1e-5 })
    }

    static func lowRankSamples(seed: UInt64) throws -> BasisSamples {
        var random = TestRandom(seed: seed)
        let directions = try randomOrthonormal(dimension: 20, rank: 4, random: &random)
        return BasisSamples(count: 300, directions: directions, scales: [4, 3, 2, 1], noise: 1e-4, random: &random)
    }

    @Test func incrementalSVDMatchesTheFullSVDOnLowRankData() throws {
        let samples = try Self.lowRankSamples(seed: 21)
        let d = samples.dimension
        let sketch = IncrementalSVDSketch(dimension: d)
        samples.add(to: sketch, chunks: [15, 25])
        // The noise holds about 1e-8 of the energy, below what the truncation keeps.
        #expect(sketch.rank == 4)

        let full = try samples.fullSVD()
        let (energies, vectors) = try sketch.residualDirections(outside: .empty(dimension: d))
        #expect(energies.count == 4)
        for j in 0..<4 { #expect(abs(energies[j] - full.energies[j]) < 1e-6 * full.energies[j]) }
        #expect(projectorDistance(vectors, leadingColumns(full.vectors, width: d, take: 4), dimension: d) < 1e-4)
    }

    /// The reference's merge [U | Xᵀ] weighs everything before the last chunk at one per direction.
    /// Strong directions in the first half of the samples and weak ones in the second: the full
    /// SVD leads with the strong pair, the flawed sketch with the weak one.
    @Test func incrementalSVDWithoutSingularValuesForgetsEarlierChunks() throws {
        var random = TestRandom(seed: 31)
        let d = 20
        let both = try randomOrthonormal(dimension: d, rank: 4, random: &random)
        let strong = leadingColumns(both, width: 4, take: 2)
        let weak = (0..<(d * 2)).map { (index: Int) -> Double in both[(index / 2) * 4 + 2 + index % 2] }
        let samples = BasisSamples(concatenating: [
            BasisSamples(count: 150, directions: strong, scales: [3, 3], noise: 1e-4, random: &random),
            BasisSamples(count: 150, directions: weak, scales: [1, 1], noise: 1e-4, random: &random),
        ])
        let full = try samples.fullSVD()
        let leadingPair = leadingColumns(full.vectors, width: d, take: 2)
        #expect(projectorDistance(leadingPair, strong, dimension: d) < 1e-3)

        let carried = IncrementalSVDSketch(dimension: d)
        let dropped = IncrementalSVDSketch(dimension: d, carriesSingularValues: false)
        for sketch in [carried, dropped] { samples.add(to: sketch, chunks: [15]) }

        let good = try carried.residualDirections(outside: .empty(dimension: d))
        #expect(projectorDistance(leadingColumns(good.vectors, width: good.energies.count, take: 2), leadingPair, dimension: d) < 1e-4)
        for j in 0..<4 { #expect(abs(good.energies[j] - full.energies[j]) < 1e-6 * full.energies[j]) }

        let bad = try dropped.residualDirections(outside: .empty(dimension: d))
        // Its leading pair is the weak one: as far from the truth as two planes can be (distance 2).
        #expect(projectorDistance(leadingColumns(bad.vectors, width: bad.energies.count, take: 2), leadingPair, dimension: d) > 1.9)
        // And it holds a small part of the energy the samples have.
        #expect(bad.energies.reduce(0, +) < 0.2 * dropped.totalEnergy)
        #expect(good.energies.reduce(0, +) > 0.99999 * carried.totalEnergy)
    }

    /// Chunks of more samples than d enter through their QR triangle; with nothing truncated both
    /// paths must reassemble XᵀX exactly, like the full SVD.
    @Test func incrementalSVDChunksLargerThanTheDimensionMatchSmallChunks() throws {
        let samples = try Self.spreadSamples(seed: 41)
        let d = samples.dimension
        let large = IncrementalSVDSketch(dimension: d, retainedEnergy: 1)
        let small = IncrementalSVDSketch(dimension: d, retainedEnergy: 1)
        samples.add(to: large, chunks: [50, 80], layouts: [.rows, .columns])
        samples.add(to: small, chunks: [7, 5], layouts: [.columns, .rows])
        let full = try samples.fullSVD()
        let x = samples.transposed()
        let gram = Linalg.product(x, x, m: d, n: d, k: samples.count, transposeB: true)

        let a = try large.residualDirections(outside: .empty(dimension: d))
        let b = try small.residualDirections(outside: .empty(dimension: d))
        #expect(a.energies.count == d && b.energies.count == d)
        #expect(maxDifference(a.energies, full.energies) < 1e-9 * full.energies[0])
        #expect(maxDifference(a.energies, b.energies) < 1e-9 * full.energies[0])
        #expect(maxDifference(reassemble(energies: a.energies, vectors: a.vectors, dimension: d), gram) < 1e-9 * full.energies[0])
        for m in 1..<d {
            #expect(projectorDistance(leadingColumns(a.vectors, width: d, take: m),
                                      leadingColumns(b.vectors, width: d, take: m), dimension: d) < 1e-6, "leading \(m)")
        }
    }

    @Test(arguments: BasisMethod.allCases) func layoutsGiveTheSameSketch(method: BasisMethod) throws {
        let samples = try Self.spreadSamples(seed: 51, count: 90)
        let d = samples.dimension
        let rows = method.makeSketch(dimension: d), columns = method.makeSketch(dimension: d)
        samples.add(to: rows, chunks: [8, 30], layouts: [.rows])
        samples.add(to: columns, chunks: [8, 30], layouts: [.columns])
        #expect(rows.sampleCount == columns.sampleCount)
        #expect(abs(rows.totalEnergy - columns.totalEnergy) < 1e-12 * rows.totalEnergy)

        var random = TestRandom(seed: 52)
        let basis = LayerBasis(float64: try randomOrthonormal(dimension: d, rank: 2, random: &random), dimension: d)
        #expect(abs(rows.energy(inside: basis) - columns.energy(inside: basis)) < 1e-9 * rows.totalEnergy)
        let a = try rows.residualDirections(outside: basis), b = try columns.residualDirections(outside: basis)
        // dsyrk may add in another order for the other layout; nothing else differs.
        #expect(maxDifference(a.energies, b.energies) < 1e-9 * rows.totalEnergy)
        #expect(maxDifference(reassemble(energies: a.energies, vectors: a.vectors, dimension: d),
                              reassemble(energies: b.energies, vectors: b.vectors, dimension: d)) < 1e-9 * rows.totalEnergy)
    }
}
