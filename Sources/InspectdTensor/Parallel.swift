import CInspectdKernels
import COpenBLAS
import Dispatch
import Synchronization

/// How many threads the engine uses, for OpenBLAS and for its own loops.
public enum Engine {
    private static let threadCount = Atomic<Int>(defaultThreads())

    /// The configured count starts at OpenBLAS's own choice (its environment variables, else the
    /// cores), and from then on OpenBLAS itself runs single-threaded: see `sgemm`.
    private static func defaultThreads() -> Int {
        let n = Int(openblas_get_num_threads())
        openblas_set_num_threads(1)
        return max(1, n)
    }

    /// Set on the threads of `parallelRanges`: work nested inside one of them stays on that thread.
    @TaskLocal private static var insideWorker = false

    /// Threads available to the calling code: the configured count, or 1 inside a parallel worker.
    /// Which build of the C elementwise kernels (`CInspectdKernels`) this CPU runs: "avx512",
    /// "avx2" or "baseline".
    public static var vectorKernels: String { String(cString: inspectd_kernels_isa()) }

    public static var threads: Int { insideWorker ? 1 : threadCount.load(ordering: .relaxed) }

    /// Sets the number of threads for the engine's parallel loops and GEMMs.
    public static func setThreads(_ n: Int) {
        precondition(n >= 1, "thread count must be at least 1, got \(n)")
        _ = threadCount.load(ordering: .relaxed)   // first touch runs defaultThreads(), which pins OpenBLAS to 1
        threadCount.store(n, ordering: .relaxed)
    }

    /// Returns the freed memory that malloc keeps for reuse (CInspectdKernels tunes it so when the
    /// program loads) to the system: for a long-lived process after a burst of work (a training)
    /// that its steady state (scoring) will not need.
    public static func releaseFreedMemory() {
        inspectd_release_freed_memory()
    }

    /// Splits 0..<count into one contiguous range per thread and runs `body(worker, range)` on each.
    /// Work nested inside a worker (GEMMs, loops) stays on its thread: for many medium GEMMs (one
    /// per image), running them side by side beats splitting each one across threads (measured:
    /// 160 vs 135 GFLOP/s on a 96x1024x864 conv GEMM, 2 cores).
    public static func parallelRanges(_ count: Int, _ body: (_ worker: Int, _ range: Range<Int>) -> Void) {
        let workers = min(threads, count)
        guard workers > 1 else {
            body(0, 0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let start = w * count / workers, end = (w + 1) * count / workers
                $insideWorker.withValue(true) { shared.value(w, start..<end) }
            }
        }
    }

    /// Runs `body(worker, item)` for every item of 0..<count, handing items out one at a time to
    /// whichever thread is free: on a shared machine a core that a neighbour slows down takes fewer
    /// items instead of holding the other up at the end. Only for items whose results do not depend
    /// on which thread ran them (no per-worker partial sums), so results stay reproducible.
    public static func parallelItems(_ count: Int, _ body: (_ worker: Int, _ item: Int) -> Void) {
        let workers = min(threads, count)
        guard workers > 1 else {
            for item in 0..<count { body(0, item) }
            return
        }
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                $insideWorker.withValue(true) {
                    while case let item = next.add(1, ordering: .relaxed).oldValue, item < count {
                        shared.value(w, item)
                    }
                }
            }
        }
    }

    /// The sum of `part(range)` over one contiguous range of 0..<count per thread, added in range
    /// order; below `grain` elements, one range and no dispatch.
    public static func parallelSum(_ count: Int, grain: Int, _ part: (Range<Int>) -> Double) -> Double {
        guard count >= grain, threads > 1 else { return part(0..<count) }
        var partials = [Double](repeating: 0, count: min(threads, count))
        partials.withUnsafeMutableBufferPointer { sums in
            parallelRanges(count) { worker, range in sums[worker] = part(range) }
        }
        return partials.reduce(0, +)
    }

    /// Runs `body(i)` for i in 0..<count, spread over the engine's threads in contiguous chunks.
    /// Small jobs run inline: a dispatch costs more than a few thousand flops.
    public static func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Int) -> Void) {
        let workers = min(threads, max(1, count / max(1, minChunk)))
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            // The kernels hand disjoint index ranges to the workers; that is the whole contract.
            let shared = UncheckedSendable(body)
            let chunk = (count + workers - 1) / workers
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let start = w * chunk
                let end = min(count, start + chunk)
                if start < end { for i in start..<end { shared.value(i) } }
            }
        }
    }
}

struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
