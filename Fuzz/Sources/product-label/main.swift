import Foundation
import FuzzDriver
@testable import InspectdConfig

/// `product.toml` is written by operators beside a new product's images; intake reads it with
/// `ProductLabel.load(file:)`, which parses the bytes and decodes the table as here.
func fuzzProductLabel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let table = try? TOML.parse(bytes, file: ProductLabel.fileName) else { return 0 }
    _ = try? ProductLabel.decode(table, file: ProductLabel.fileName)
    return 0
}

exit(inspectd_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzProductLabel))
