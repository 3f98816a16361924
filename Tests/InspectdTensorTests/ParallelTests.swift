import Synchronization
import Testing
@testable import InspectdTensor

/// The engine's ways of sharing work between threads: every index exactly once, on a worker
/// index below the thread count, and nested work kept on its thread.
@Suite struct ParallelTests {
    struct Record {
        var runs: [Int]
        var workers = Set<Int>()
        var nestedThreads = Set<Int>()
    }

    @Test func itemsAreEachRunOnceOnAKnownWorker() {
        for count in [0, 1, 2, 3, 17, 1000] {
            let record = Mutex(Record(runs: [Int](repeating: 0, count: count)))
            Engine.parallelItems(count) { worker, item in
                let threads = Engine.threads
                record.withLock {
                    $0.runs[item] += 1
                    $0.workers.insert(worker)
                    $0.nestedThreads.insert(threads)
                }
            }
            record.withLock { r in
                #expect(r.runs.allSatisfy { $0 == 1 })
                #expect(r.workers.allSatisfy { (0..<max(1, Engine.threads)).contains($0) })
                if count > 1 && Engine.threads > 1 { #expect(r.nestedThreads == [1], "work inside an item sees one thread") }
            }
        }
    }

    @Test func rangesCoverTheCountOnce() {
        for count in [1, 2, 5, 64] {
            let runs = Mutex([Int](repeating: 0, count: count))
            Engine.parallelRanges(count) { _, range in runs.withLock { for i in range { $0[i] += 1 } } }
            runs.withLock { r in #expect(r.allSatisfy { $0 == 1 }) }
        }
    }

    @Test func parallelSumAddsEveryRange() {
        let total = Engine.parallelSum(100_000, grain: 10) { range in Double(range.reduce(0, +)) }
        #expect(total == Double(99_999 * 100_000 / 2))
    }
}
