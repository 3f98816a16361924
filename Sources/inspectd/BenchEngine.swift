import ArgumentParser
import InspectdTensor

struct BenchEngine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-engine",
        abstract: "Measures the tensor engine: sgemm, convolutions at the detector's shapes, the backbone."
    )

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Threads for OpenBLAS and the engine.")
    var threads: Int = 2

    func run() throws {
        Engine.setThreads(threads)
        print("threads: \(Engine.threads)")
    }
}
