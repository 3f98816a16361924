import CLAPACKE

/// Dense linear algebra in Float64 through LAPACK, for the few places that need it
/// (bases for gradient projection from accumulated covariances).
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
}
