import CLAPACKE
import COpenBLAS

/// Dense linear algebra in Float64 through LAPACK and BLAS, for the few places that need it (bases
/// for gradient projection from accumulated covariances or incremental SVDs).
public enum Linalg {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Eigen-decomposition of a symmetric n×n matrix (row-major; only its upper triangle is read).
    /// Eigenvalues come in descending order; `vectors` is n×n row-major with eigenvector j in column j.
    public static func symmetricEigen(_ matrix: [Double], n: Int) throws -> (values: [Double], vectors: [Double]) {
        precondition(matrix.count == n * n, "symmetricEigen: \(matrix.count) elements for a \(n)x\(n) matrix")
        guard n > 0 else { return ([], []) }
        var a = matrix
        var w = [Double](repeating: 0, count: n)
        let info = a.withUnsafeMutableBufferPointer { pa in
            w.withUnsafeMutableBufferPointer { pw in
                LAPACKE_dsyevd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")),
                               Int32(n), pa.baseAddress, Int32(n), pw.baseAddress)
            }
        }
        guard info == 0 else {
            throw Failure(description: "LAPACK dsyevd failed on a \(n)x\(n) matrix (info \(info))")
        }
        // LAPACK returns ascending order; reverse columns so the largest energy comes first.
        var vectors = [Double](repeating: 0, count: n * n)
        for row in 0..<n { for col in 0..<n { vectors[row * n + col] = a[row * n + (n - 1 - col)] } }
        return (Array(w.reversed()), vectors)
    }

    /// Thin SVD of an m×n row-major matrix, through LAPACK's divide and conquer (dgesdd): the
    /// min(m, n) singular values in descending order and the left singular vectors, m×min(m, n)
    /// row-major with vector j in column j. The right singular vectors are not returned.
    public static func thinSVD(_ matrix: [Double], rows m: Int, columns n: Int) throws -> (values: [Double], u: [Double]) {
        precondition(matrix.count == m * n, "thinSVD: \(matrix.count) elements for a \(m)x\(n) matrix")
        let p = min(m, n)
        guard p > 0 else { return ([], []) }
        var a = matrix
        var s = [Double](repeating: 0, count: p)
        var u = [Double](repeating: 0, count: m * p)
        var vt = [Double](repeating: 0, count: p * n)
        let info = a.withUnsafeMutableBufferPointer { pa in
            s.withUnsafeMutableBufferPointer { ps in
                u.withUnsafeMutableBufferPointer { pu in
                    vt.withUnsafeMutableBufferPointer { pv in
                        LAPACKE_dgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), Int32(m), Int32(n),
                                       pa.baseAddress, Int32(n), ps.baseAddress,
                                       pu.baseAddress, Int32(p), pv.baseAddress, Int32(n))
                    }
                }
            }
        }
        guard info == 0 else {
            throw Failure(description: "LAPACK dgesdd failed on a \(m)x\(n) matrix (info \(info))")
        }
        return (s, u)
    }

    /// The triangular factor R of a QR factorisation (dgeqrf) of an m×n row-major matrix with
    /// m ≥ n: n×n row-major, zero below the diagonal, with AᵀA = RᵀR.
    public static func qrTriangle(_ matrix: [Double], rows m: Int, columns n: Int) throws -> [Double] {
        precondition(matrix.count == m * n && m >= n, "qrTriangle: \(matrix.count) elements for a \(m)x\(n) matrix (needs rows ≥ columns)")
        guard n > 0 else { return [] }
        var a = matrix
        var tau = [Double](repeating: 0, count: n)
        let info = a.withUnsafeMutableBufferPointer { pa in
            tau.withUnsafeMutableBufferPointer { pt in
                LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), pa.baseAddress, Int32(n), pt.baseAddress)
            }
        }
        guard info == 0 else {
            throw Failure(description: "LAPACK dgeqrf failed on a \(m)x\(n) matrix (info \(info))")
        }
        // Below the diagonal dgeqrf leaves the Householder vectors, not zeros.
        var r = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in i..<n { r[i * n + j] = a[i * n + j] } }
        return r
    }

    /// C = alpha·op(A)·op(B) + beta·C for row-major Float64 matrices (dgemm): op(A) is m×k, op(B)
    /// k×n, C m×n.
    public static func multiply(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int,
                                transposeA: Bool = false, transposeB: Bool = false,
                                alpha: Double = 1, beta: Double = 0, into c: inout [Double]) {
        precondition(a.count == m * k && b.count == k * n && c.count == m * n,
                     "multiply: \(a.count), \(b.count), \(c.count) elements for \(m)x\(k) times \(k)x\(n)")
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // BLAS leaves C alone for k = 0 only when beta is 1; say what the product means.
            for i in c.indices { c[i] *= beta }
            return
        }
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
                    beta, &c, Int32(n))
    }

    /// op(A)·op(B) as a new m×n row-major matrix; see `multiply(_:_:m:n:k:transposeA:transposeB:alpha:beta:into:)`.
    public static func product(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int,
                               transposeA: Bool = false, transposeB: Bool = false) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        multiply(a, b, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, into: &c)
        return c
    }

    /// Adds Σ v vᵀ over `count` vectors of length `dimension` to the upper triangle of the
    /// dimension×dimension row-major `sum`, leaving its strict lower triangle alone. The vectors are
    /// stored row-major either as the rows of a count×dimension matrix (`vectorsInRows`) or as the
    /// columns of a dimension×count one.
    ///
    /// The triangle is cut into bands of rows of equal work, handed to the engine's threads: each
    /// band is a dsyrk on its diagonal block and a dgemm right of it, and the bands write disjoint
    /// parts of `sum`, so no thread needs a d × d partial of its own (at d = 3456 that is 95 MB).
    public static func addOuterProducts(_ vectors: [Double], count: Int, dimension: Int, vectorsInRows: Bool,
                                        to sum: inout [Double]) {
        precondition(vectors.count == count * dimension && sum.count == dimension * dimension,
                     "addOuterProducts: \(vectors.count) values for \(count) vectors of \(dimension), a sum of \(sum.count)")
        guard count > 0, dimension > 0 else { return }
        let d = dimension
        // Rows 0..<x of the triangle hold d·x − x²/2 of its d²/2 entries: band b ends where that is b/bands of it.
        let bands = Double(count) * Double(d) * Double(d) < 1e7 ? 1 : 2 * Engine.threads
        let edges = (0...bands).map { b in b == bands ? d : Int((Double(d) * (1 - (1 - Double(b) / Double(bands)).squareRoot())).rounded()) }
        let lda = Int32(vectorsInRows ? d : count)
        vectors.withUnsafeBufferPointer { x in
            sum.withUnsafeMutableBufferPointer { c in
                let (x, c) = (x.baseAddress!, c.baseAddress!)
                Engine.parallelItems(bands) { _, band in
                    let (lo, hi) = (edges[band], edges[band + 1])
                    guard lo < hi else { return }
                    // Vector components lo..<hi: columns of the rows layout, rows of the columns layout.
                    let block = vectorsInRows ? x + lo : x + lo * count
                    cblas_dsyrk(CblasRowMajor, CblasUpper, vectorsInRows ? CblasTrans : CblasNoTrans,
                                Int32(hi - lo), Int32(count), 1, block, lda, 1, c + lo * d + lo, Int32(d))
                    guard hi < d else { return }
                    let right = vectorsInRows ? x + hi : x + hi * count
                    cblas_dgemm(CblasRowMajor, vectorsInRows ? CblasTrans : CblasNoTrans, vectorsInRows ? CblasNoTrans : CblasTrans,
                                Int32(hi - lo), Int32(d - hi), Int32(count), 1, block, lda, right, lda, 1, c + lo * d + hi, Int32(d))
                }
            }
        }
    }
}
