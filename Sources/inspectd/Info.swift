import ArgumentParser
import InspectdDetector
import InspectdTensor

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What this machine gives inspectd: the OpenBLAS kernel set, the vector kernels, the int8 kernel path, the engine's threads, the backbone file.")

    @Flag(help: "Print one JSON object instead of lines.")
    var json = false

    func run() {
        var report: [String: Any] = ["blas_core": BLASCore.current, "vector_kernels": Engine.vectorKernels, "threads": Engine.threads,
                                     "int8_kernels": Int8Path.active.name,
                                     "int8_paths_here": Int8Path.allCases.filter(\.runsHere).map(\.name)]
        if let problem = Int8Path.environmentProblem { note("warning: \(problem)") }
        if let backbone = BackboneLocator.find() { report["backbone"] = backbone }
        if json {
            printJSONLine(report)
        } else {
            print("OpenBLAS kernels: \(BLASCore.current)")
            print("vector kernels: \(Engine.vectorKernels)")
            print("int8 kernels: \(Int8Path.active.name) (this CPU runs: \(Int8Path.allCases.filter(\.runsHere).map(\.name).joined(separator: ", ")))")
            print("engine threads: \(Engine.threads)")
            print("backbone: \(report["backbone"] ?? "not found (set \(BackboneLocator.environmentVariable))")")
        }
    }
}
