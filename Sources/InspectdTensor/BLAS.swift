import COpenBLAS

/// Row-major single-precision GEMM, the one BLAS entry point the engine needs:
/// C = alpha * op(A) * op(B) + beta * C, with op(X) = X or Xᵀ.
///
/// OpenBLAS itself always runs single-threaded; the engine splits a large product into blocks of
/// C's rows or columns across its own workers. With one pool of threads there is no contention
/// between OpenBLAS's spinning threads and the engine's loops on a 2-core machine (measured before:
/// one frame through the backbone varied between 8 and 13 ms from run to run).
public func sgemm(
    transposeA: Bool = false, transposeB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        // BLAS leaves C untouched for k = 0 only when beta = 1; make the meaning explicit.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
        return
    }
    let workers = Engine.threads
    // Below about a million multiply-adds a split costs more than it saves.
    guard workers > 1, m * n * k >= 1 << 20, max(m, n) >= 32 * workers else {
        serialSgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    if k >= 8 * max(m, n) {
        splitInnerSum(transposeA, transposeB, m, n, k, workers, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    let splitColumns = n >= m
    let extent = splitColumns ? n : m
    Engine.parallelRanges(workers) { _, parts in
        for part in parts {
            // Block boundaries on multiples of 16 keep the kernels' vector loads aligned.
            let lo = (extent * part / workers) & ~15, hi = part == workers - 1 ? extent : (extent * (part + 1) / workers) & ~15
            guard lo < hi else { continue }
            if splitColumns {
                let bBlock = transposeB ? b + lo * ldb : b + lo
                serialSgemm(transposeA, transposeB, m, hi - lo, k, alpha, a, lda, bBlock, ldb, beta, c + lo, ldc)
            } else {
                let aBlock = transposeA ? a + lo : a + lo * lda
                serialSgemm(transposeA, transposeB, hi - lo, n, k, alpha, aBlock, lda, b, ldb, beta, c + lo * ldc, ldc)
            }
        }
    }
}

/// A product whose inner size dwarfs the result (a weight gradient: [out, in] summed over 8192
/// tokens) split along k: each worker sums its share of k into its own [m, n] block, and the
/// blocks are added in worker order, so the result does not depend on timing. Splitting rows or
/// columns instead made both workers pack the whole of the other operand (measured 128x128x8192:
/// 84 GFLOP/s per worker for half the columns, 122 for half of k).
private func splitInnerSum(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ workers: Int, _ alpha: Float,
    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
    _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: (workers - 1) * m * n)
    defer { partials.deallocate() }
    Engine.parallelRanges(workers) { _, parts in
        for part in parts {
            let lo = k * part / workers, hi = k * (part + 1) / workers
            let aPart = transposeA ? a + lo * lda : a + lo
            let bPart = transposeB ? b + lo : b + lo * ldb
            if part == 0 {
                serialSgemm(transposeA, transposeB, m, n, hi - lo, alpha, aPart, lda, bPart, ldb, beta, c, ldc)
            } else {
                serialSgemm(transposeA, transposeB, m, n, hi - lo, alpha, aPart, lda, bPart, ldb, 0,
                            partials + (part - 1) * m * n, n)
            }
        }
    }
    for part in 1..<workers {
        let block = partials + (part - 1) * m * n
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] += block[i * n + j] } }
    }
}

@inline(__always)
private func serialSgemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
    _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
    cblas_sgemm(CblasRowMajor,
                transposeA ? CblasTrans : CblasNoTrans,
                transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(lda), b, Int32(ldb),
                beta, c, Int32(ldc))
}
