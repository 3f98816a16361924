import Foundation
import FuzzDriver
import InspectdModelStore
import InspectdProducts

/// The JSON files that the daemon, the trainer and the CLI read back from disk, each decoded the way
/// its reader does: a product's queue record, the trainer's status, a store version's record and
/// the store's activation history.
func fuzzRecords(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    let decoder = JSONDecoder()
    _ = try? decoder.decode(QueuedProduct.self, from: bytes)
    _ = try? decoder.decode(TrainingStatus.self, from: bytes)
    _ = try? decoder.decode(VersionRecord.self, from: bytes)
    _ = try? decoder.decode([Activation].self, from: bytes)
    return 0
}

exit(inspectd_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzRecords))
