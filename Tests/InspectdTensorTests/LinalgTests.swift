import InspectdTesting
import Testing
@testable import InspectdTensor

@Suite struct LinalgTests {
    /// Σ v vᵀ against plain loops, in both layouts, large enough to be cut into bands for the threads.
    @Test(arguments: [true, false])
    func addOuterProductsMatchesLoops(vectorsInRows: Bool) {
        var random = TestRandom(seed: 21)
        let (d, count) = (157, 509)
        let vectors = (0..<(d * count)).map { _ in Double(random.uniform()) }
        func component(_ v: Int, _ i: Int) -> Double { vectorsInRows ? vectors[v * d + i] : vectors[i * count + v] }
        var sum = (0..<(d * d)).map { _ in Double(random.uniform()) }
        let start = sum
        Linalg.addOuterProducts(vectors, count: count, dimension: d, vectorsInRows: vectorsInRows, to: &sum)
        var worst = 0.0
        for i in 0..<d {
            for j in 0..<d {
                var expected = start[i * d + j]
                if j >= i { for v in 0..<count { expected += component(v, i) * component(v, j) } }
                worst = max(worst, abs(sum[i * d + j] - expected))
            }
        }
        #expect(worst < 1e-9)
    }
}
