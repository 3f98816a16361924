import Foundation
import FuzzDriver
import InspectdImage

/// Frames arrive from cameras and operators' folders; the daemon decodes each with
/// `Image(decoding:)` and samples it down to the model's input. The pixel limit is lowered from the
/// default so that a small input declaring a huge, highly compressible image costs milliseconds,
/// not seconds: the code that enforces the limit is the same at any value.
private let options = DecodeOptions(maxPixels: 1 << 22)

func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let image = try? Image(decoding: bytes, name: "fuzz", options: options) else { return 0 }
    _ = image.planarFloats(width: 32, height: 32, normalisation: .efficientNetLite)
    return 0
}

// Last: the constants above are initialised as this file runs, top to bottom.
exit(inspectd_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzImage))
