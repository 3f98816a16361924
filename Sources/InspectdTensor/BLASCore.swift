import COpenBLAS
import Foundation

/// Which of its CPU-specific kernel sets OpenBLAS runs, and how to correct a poor choice.
///
/// OpenBLAS picks its kernels from the CPU's family and model number when the library loads. A
/// model it does not know falls back to the SSE3 "Prescott" kernels: on this project's 2-core
/// VM (an AVX-512 Xeon reporting model 207, which Debian's OpenBLAS 0.3.21 predates) that made
/// sgemm 3.6x slower (40.9 against 146.2 GFLOP/s, `inspectd bench-engine`) and a training step
/// 2.1x slower. `OPENBLAS_CORETYPE` overrides the choice but is read only at load time, so the
/// correction is to start the process again with it set (`restartWithBetterCoreIfNeeded`).
public enum BLASCore {
    /// The kernel set OpenBLAS is running, lower-case as OpenBLAS names it ("skylakex", "prescott").
    public static var current: String { String(cString: openblas_get_corename()).lowercased() }

    /// Kernel sets built for AVX2 or AVX-512 (names as OpenBLAS 0.3.x reports them): once one of
    /// these runs, OpenBLAS knew the CPU and its choice stands.
    static let vectorCores: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"]

    /// The core type to ask OpenBLAS for, or nil to leave its choice alone: when it already runs
    /// a vector kernel set, when the CPU has neither AVX-512 nor AVX2+FMA, or when the user has
    /// set `OPENBLAS_CORETYPE` (which also keeps a restarted process from restarting again).
    static func better(current: String, cpuFlags: Set<String>, userChoice: String?) -> String? {
        guard userChoice == nil, !vectorCores.contains(current) else { return nil }
        if cpuFlags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl"]) { return "SKYLAKEX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "HASWELL" }
        return nil
    }

    /// The flags of the first processor in a /proc/cpuinfo text. The kernel lists only features
    /// the OS has enabled, so an AVX-512 flag here is usable.
    static func cpuFlags(cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// Re-executes this program with `OPENBLAS_CORETYPE` set when OpenBLAS chose a kernel set
    /// below what the CPU can run; returns (having changed nothing) otherwise or when exec
    /// fails. Call it first thing in `main`, before any thread or file is opened.
    public static func restartWithBetterCoreIfNeeded() {
        let userChoice = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        // Most starts end here, without reading /proc/cpuinfo.
        guard userChoice == nil, !vectorCores.contains(current) else { return }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let core = better(current: current, cpuFlags: cpuFlags(cpuinfo: cpuinfo), userChoice: nil) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed: carry on with the slower kernels rather than not at all.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
