import Foundation
import FuzzDriver
@testable import InspectdConfig

/// The daemon reads its main file and then every drop-in, each parsed on its own and applied in
/// order. This line starts a new drop-in, so one input covers the merge of several files; it is a
/// TOML comment, so a seed keeps parsing as one file when the fuzzer breaks the separator.
private let separator = Array("\n#drop-in\n".utf8)

func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var documents: [(file: String, table: TOMLTable)] = []
    for (index, part) in split(bytes).enumerated() {
        let file = index == 0 ? "inspectd.toml" : "inspectd.conf.d/\(index).toml"
        guard let table = try? TOML.parse(part, file: file) else { return 0 }
        documents.append((file, table))
    }
    _ = try? Configuration.decode(documents)
    return 0
}

private func split(_ bytes: [UInt8]) -> [[UInt8]] {
    var parts: [[UInt8]] = [], start = 0, index = 0
    while index + separator.count <= bytes.count {
        if bytes[index..<index + separator.count].elementsEqual(separator) {
            parts.append(Array(bytes[start..<index]))
            index += separator.count
            start = index
        } else {
            index += 1
        }
    }
    parts.append(Array(bytes[start...]))
    return parts
}

// Last: the constants above are initialised as this file runs, top to bottom.
exit(inspectd_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzConfig))
