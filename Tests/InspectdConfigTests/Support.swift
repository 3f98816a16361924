import Foundation
@testable import InspectdConfig

/// A TOML value without positions, so expected documents can be written as literals.
indirect enum Plain: Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([Plain])
    case table([String: Plain])

    init(_ value: TOMLValue) {
        switch value.kind {
        case .string(let text): self = .string(text)
        case .integer(let number): self = .integer(number)
        case .float(let number): self = .float(number)
        case .boolean(let flag): self = .boolean(flag)
        case .array(let elements): self = .array(elements.map(Plain.init))
        case .table(let table): self = Plain(table)
        }
    }

    init(_ table: TOMLTable) {
        self = .table(Dictionary(uniqueKeysWithValues: table.keys.map { ($0, Plain(table[$0]!)) }))
    }
}

func parse(_ text: String) throws -> Plain {
    Plain(try TOML.parse(text, file: "t.toml"))
}

/// The message of the error parsing `text` throws, or nil if it parses.
func parseError(_ text: String) -> String? {
    do {
        _ = try TOML.parse(text, file: "t.toml")
        return nil
    } catch {
        return "\(error)"
    }
}

/// Decodes `main` (as main.toml) and the drop-ins in order, without the file system.
func decode(_ main: String, _ dropIns: [(name: String, text: String)] = []) throws -> Configuration {
    var documents = [(file: "main.toml", table: try TOML.parse(main, file: "main.toml"))]
    for dropIn in dropIns {
        documents.append((dropIn.name, try TOML.parse(dropIn.text, file: dropIn.name)))
    }
    return try Configuration.decode(documents)
}

/// The message of the error decoding throws, or nil if the configuration is valid.
func decodeError(_ main: String, _ dropIns: [(name: String, text: String)] = []) -> String? {
    do {
        _ = try decode(main, dropIns)
        return nil
    } catch {
        return "\(error)"
    }
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try write(name, Data(text.utf8))
    }

    @discardableResult
    func write(_ name: String, _ data: Data) throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: file))
        return file
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The repository root, found from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
