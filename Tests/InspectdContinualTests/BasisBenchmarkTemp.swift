import Foundation
import InspectdContinual
import InspectdTensor
import InspectdTesting
import Testing

@Suite struct BasisBenchmarkTemp {
    func run(d: Int, chunk: Int, chunks: Int, layout: SampleLayout, method: BasisMethod) throws {
        var random = TestRandom(seed: 5)
        let structure = try randomOrthonormal(dimension: d, rank: min(d, 200), random: &random)
        let scales = (0..<min(d, 200)).map { 10 * pow(0.98, Double($0)) }
        let sketch = method.makeSketch(dimension: d)
        let clock = ContinuousClock()
        var addTime = Duration.zero
        for _ in 0..<chunks {
            let samples = BasisSamples(count: chunk, directions: structure, scales: scales, noise: 0.3, random: &random)
            let data = layout == .rows ? samples.rows : samples.columns
            addTime += clock.measure { data.withUnsafeBufferPointer { sketch.add($0.baseAddress!, count: chunk, layout: layout) } }
        }
        var result: (basis: LayerBasis, report: BasisMerge.Report)!
        let mergeTime = try clock.measure { result = try BasisMerge.merge(.empty(dimension: d), with: sketch, threshold: 0.97) }
        var second: (basis: LayerBasis, report: BasisMerge.Report)!
        let mergeTime2 = try clock.measure { second = try BasisMerge.merge(result.basis, with: sketch, threshold: 0.99) }
        print("BENCH \(method) d=\(d) chunk=\(chunk)x\(chunks) \(layout): add \(addTime / chunks) per chunk, merge \(mergeTime) rank \(result.basis.rank) shared \(result.report.sharedAfter), merge2 \(mergeTime2) rank \(second.basis.rank) err \(second.basis.orthonormalityError())")
    }

    @Test func bench() throws {
        guard ProcessInfo.processInfo.environment["BASIS_BENCH"] != nil else { return }
        for method in BasisMethod.allCases {
            try run(d: 1728, chunk: 1024, chunks: 3, layout: .columns, method: method)
            try run(d: 320, chunk: 1024, chunks: 4, layout: .rows, method: method)
        }
    }
}
