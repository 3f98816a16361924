import CInspectdKernels
import Foundation

/// Which instruction set the int8 kernels (CInspectdKernels' int8_gemm.c) run on. Every path gives
/// the same bits; they differ only in speed and in the CPUs that have them.
public enum Int8Path: Int, CaseIterable, Sendable, CustomStringConvertible {
    case portable = 0, avx2, avxVNNI, avx512VNNI

    /// The environment variable that forces a path: one of the `name`s.
    public static let environmentVariable = "INSPECTD_INT8_KERNEL"

    var kernel: inspectd_i8_path { inspectd_i8_path(rawValue: UInt32(rawValue)) }

    /// "portable", "avx2", "avx-vnni" or "avx512-vnni".
    public var name: String { String(cString: inspectd_i8_path_name(kernel)) }
    public var description: String { name }

    /// Whether this CPU has the instructions of this path.
    public var runsHere: Bool { inspectd_i8_path_runs(kernel) }

    /// What the path adds to every packed column byte (128 where vpdpbusd wants unsigned bytes).
    var columnOffset: Int32 { inspectd_i8_column_offset(kernel) }

    /// The fastest path this CPU runs.
    public static var best: Int8Path { Int8Path(rawValue: Int(inspectd_i8_best_path().rawValue))! }

    /// The path named `name`, which must run on this CPU.
    public static func named(_ name: String) throws -> Int8Path {
        guard let path = allCases.first(where: { $0.name == name }) else {
            throw Int8PathError.unknown(name)
        }
        guard path.runsHere else { throw Int8PathError.notOnThisCPU(path) }
        return path
    }

    /// The path scoring uses: the one `INSPECTD_INT8_KERNEL` names, else the fastest. A value that
    /// names no path, or one this CPU lacks, leaves the fastest in use and is reported by
    /// `environmentProblem`.
    public static let active: Int8Path = resolved.path

    /// Why `INSPECTD_INT8_KERNEL` was not followed, when it was set and could not be.
    public static let environmentProblem: String? = resolved.problem

    private static let resolved: (path: Int8Path, problem: String?) = {
        guard let value = ProcessInfo.processInfo.environment[environmentVariable], !value.isEmpty else {
            return (best, nil)
        }
        do {
            return (try named(value), nil)
        } catch {
            return (best, "\(environmentVariable)=\(value): \(error); using \(best.name)")
        }
    }()
}

public enum Int8PathError: Error, Equatable, CustomStringConvertible {
    case unknown(String)
    case notOnThisCPU(Int8Path)

    public var description: String {
        switch self {
        case .unknown(let name):
            "no int8 kernel path is called \"\(name)\" (expected one of \(Int8Path.allCases.map(\.name).joined(separator: ", ")))"
        case .notOnThisCPU(let path):
            "this CPU lacks the instructions of the \(path.name) int8 kernels"
        }
    }
}
