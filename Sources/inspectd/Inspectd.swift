import ArgumentParser
import InspectdTensor

@main
struct Inspectd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspectd",
        abstract: "Edge inspection daemon: scores camera frames with a continual diffusion anomaly detector.",
        version: Inspectd.version,
        subcommands: [Run.self, CheckConfig.self, Train.self, TrainPending.self, Continual.self, Calibrate.self, Quantize.self, Score.self, Eval.self, Bench.self, BenchEngine.self, BenchInt8.self, BenchDaemon.self, Soak.self, BenchBases.self, ModelCommand.self, Products.self, Info.self]
    )

    /// Raised by hand at each release; `inspectd --version` prints it.
    static let version = "0.6.0"

    static func main() async {
        // Before anything else runs: it may replace the process (see BLASCore).
        BLASCore.restartWithBetterCoreIfNeeded()
        await main(nil)
    }
}
