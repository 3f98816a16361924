import Foundation
import FuzzDriver
import InspectdTensor

/// Model folders hold their weights, int8 layers and bases as safetensors; `Safetensors.read` maps
/// the file and hands its bytes to `decode`.
func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    _ = try? Safetensors.decode(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

exit(inspectd_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzSafetensors))
