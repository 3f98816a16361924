import ArgumentParser
import InspectdDetector
import InspectdTensor

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What this machine gives inspectd: the OpenBLAS kernel set, the vector kernels, the engine's threads, the backbone file.")

    @Flag(help: "Print one JSON object instead of lines.")
    var json = false

    func run() {
        var report: [String: Any] = ["blas_core": BLASCore.current, "vector_kernels": Engine.vectorKernels, "threads": Engine.threads]
        if let backbone = BackboneLocator.find() { report["backbone"] = backbone }
        if json {
            printJSONLine(report)
        } else {
            print("OpenBLAS kernels: \(BLASCore.current)")
            print("vector kernels: \(Engine.vectorKernels)")
            print("engine threads: \(Engine.threads)")
            print("backbone: \(report["backbone"] ?? "not found (set \(BackboneLocator.environmentVariable))")")
        }
    }
}
