import CInspectdKernels
import InspectdTesting
import Testing
@testable import InspectdTensor

/// The C sums behind bias gradients and gradient clipping, against plain double loops, at lengths
/// that leave a remainder past the 16 lanes.
@Suite struct ReductionKernelTests {
    @Test func sumsMatchDoubleLoops() {
        var r = TestRandom(seed: 51)
        for n in [0, 1, 15, 16, 17, 1000, 40_003] {
            let x = r.tensor([n]).data
            let exact = x.reduce(0.0) { $0 + Double($1) }
            let squares = x.reduce(0.0) { $0 + Double($1) * Double($1) }
            x.withUnsafeBufferPointer { p in
                #expect(abs(Double(inspectd_sum(p.baseAddress, n)) - exact) <= 1e-5 * max(1, Double(n).squareRoot()))
                #expect(abs(inspectd_sum_of_squares(p.baseAddress, n) - squares) <= 1e-9 * max(1, squares))
            }
        }
    }

    @Test func columnSumsSplitBetweenThreadsMatchALoop() {
        var r = TestRandom(seed: 52)
        for (rows, columns) in [(3, 5), (1100, 67), (2, 40_000)] {
            let x = r.tensor([rows, columns]).data
            var sums = [Float](repeating: .nan, count: columns)
            x.withUnsafeBufferPointer { p in
                sums.withUnsafeMutableBufferPointer { columnSums(p.baseAddress!, rows: rows, columns: columns, into: $0.baseAddress!) }
            }
            var worst = 0.0
            for j in 0..<columns {
                let exact = (0..<rows).reduce(0.0) { $0 + Double(x[$1 * columns + j]) }
                worst = max(worst, abs(Double(sums[j]) - exact))
            }
            #expect(worst < 1e-4)
        }
    }
}
