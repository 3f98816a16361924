import Foundation
import InspectdFiles

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// describing every tensor, then the raw little-endian tensor bytes.
///
/// Writing produces what the reference implementation produces for Float32 tensors: compact JSON,
/// `__metadata__` first, tensors sorted by name with their data in the same order, the header padded
/// with spaces to a multiple of 8 bytes; tensors named in `int8` are stored as I8 (int8 weights), the
/// rest as F32. Reading accepts F32, F16, BF16, F64 and I8 and converts to Float;
/// it validates the header as strictly as the reference does, so a file that loads here loads there.
public enum Safetensors {
    /// The reserved header key for free-form string metadata.
    static let metadataKey = "__metadata__"

    private static let dtypes: [String: ElementType] = ["F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64, "I8": .int8]

    // MARK: Writing

    /// The complete file as bytes.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:], int8: Set<String> = []) throws -> [UInt8] {
        let (header, order) = try makeHeader(tensors, metadata: metadata, int8: int8, source: "<memory>")
        var bytes = header
        for (tensor, asInt8) in order {
            if asInt8 {
                bytes.append(contentsOf: tensor.data.map { UInt8(bitPattern: Int8($0)) })
            } else {
                tensor.data.withUnsafeBytes { bytes.append(contentsOf: $0) }
            }
        }
        return bytes
    }

    /// Writes the file atomically: the destination holds either its previous content or the whole
    /// new checkpoint, never a partial one.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], int8: Set<String> = [],
                             to url: URL) throws {
        let (header, order) = try makeHeader(tensors, metadata: metadata, int8: int8, source: url.path)
        do {
            try AtomicFile.write(to: url) { sink in
                try header.withUnsafeBytes { try sink.write($0) }
                for (tensor, asInt8) in order {
                    if asInt8 {
                        try tensor.data.map { UInt8(bitPattern: Int8($0)) }.withUnsafeBytes { try sink.write($0) }
                    } else {
                        try tensor.data.withUnsafeBytes { try sink.write($0) }
                    }
                }
            }
        } catch let failure as AtomicFile.Failure {
            throw CheckpointError(source: failure.path, reason: failure.reason)
        }
    }

    /// The length prefix plus padded JSON header, and the tensors in the order their data follows,
    /// each with whether it is stored as I8.
    private static func makeHeader(_ tensors: [String: Tensor], metadata: [String: String], int8: Set<String>,
                                   source: String) throws -> (header: [UInt8], order: [(Tensor, Bool)]) {
        guard tensors[metadataKey] == nil else {
            throw CheckpointError(source: source, reason: "'\(metadataKey)' is reserved and cannot name a tensor")
        }
        for name in int8.sorted() {
            guard let tensor = tensors[name] else {
                throw CheckpointError(source: source, reason: "'\(name)' is listed as int8 but is not among the tensors")
            }
            guard tensor.data.allSatisfy({ $0 == $0.rounded() && $0 >= -128 && $0 <= 127 }) else {
                throw CheckpointError(source: source, reason: "'\(name)' holds values that are not integers in -128...127, so it cannot be stored as I8")
            }
        }
        var json = Array("{".utf8)
        if !metadata.isEmpty {
            appendJSONString(metadataKey, to: &json)
            json.append(contentsOf: Array(":{".utf8))
            for (index, key) in metadata.keys.sorted().enumerated() {
                if index > 0 { json.append(UInt8(ascii: ",")) }
                appendJSONString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                appendJSONString(metadata[key]!, to: &json)
            }
            json.append(UInt8(ascii: "}"))
        }
        let names = tensors.keys.sorted()
        var offset = 0
        for (index, name) in names.enumerated() {
            if index > 0 || !metadata.isEmpty { json.append(UInt8(ascii: ",")) }
            let tensor = tensors[name]!
            let asInt8 = int8.contains(name)
            let end = offset + tensor.count * (asInt8 ? 1 : 4)
            appendJSONString(name, to: &json)
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            let dtype = asInt8 ? "I8" : "F32"
            json.append(contentsOf: Array(#":{"dtype":"\#(dtype)","shape":[\#(shape)],"data_offsets":[\#(offset),\#(end)]}"#.utf8))
            offset = end
        }
        json.append(UInt8(ascii: "}"))
        // Padding keeps the data 8-byte aligned in the file, so readers can map it in place.
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))

        var header = [UInt8]()
        header.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { header.append(contentsOf: $0) }
        header.append(contentsOf: json)
        return (header, names.map { (tensors[$0]!, int8.contains($0)) })
    }

    // MARK: Reading

    /// Reads a file; the file is mapped, not copied, and each tensor's bytes are copied once.
    public static func read(from url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        return try decode(try mappedContents(of: url), source: url.path)
    }

    /// Decodes a complete file held in memory; `source` names it in errors.
    public static func decode(_ bytes: some ContiguousBytes,
                              source: String = "<memory>") throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try bytes.withUnsafeBytes { try decode(raw: $0, source: source) }
    }

    private struct Entry {
        let name: String
        let type: ElementType
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    private static func decode(raw: UnsafeRawBufferPointer,
                               source: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ reason: String) -> CheckpointError { CheckpointError(source: source, reason: reason) }

        guard raw.count >= 8 else {
            throw fail("file has \(raw.count) bytes, too few for the 8-byte header length")
        }
        let declared = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(raw.count - 8) else {
            throw fail("header length \(declared) exceeds the \(raw.count - 8) bytes after the length field")
        }
        let headerLength = Int(declared)
        let header: JSONValue
        do {
            header = try JSONValue.parse(UnsafeRawBufferPointer(rebasing: raw[8..<8 + headerLength]))
        } catch {
            throw fail("header is not valid JSON: \(error.reason) at header byte \(error.offset)")
        }
        guard case .object(let members) = header else {
            throw fail("header is \(header.kind), expected an object")
        }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        var seen = Set<String>()
        for (name, value) in members {
            guard seen.insert(name).inserted else { throw fail("header names '\(name)' twice") }
            if name == metadataKey {
                metadata = try parseMetadata(value, fail: fail)
            } else {
                entries.append(try parseEntry(name: name, value, fail: fail))
            }
        }

        let buffer = UnsafeRawBufferPointer(rebasing: raw[(8 + headerLength)...])
        try checkLayout(entries, bufferSize: buffer.count, fail: fail)

        var tensors: [String: Tensor] = [:]
        tensors.reserveCapacity(entries.count)
        for entry in entries {
            let count = (entry.end - entry.begin) / entry.type.byteSize
            let data = [Float](unsafeUninitializedCapacity: count) { out, initialized in
                if count > 0 {
                    entry.type.convert(from: buffer.baseAddress! + entry.begin, count: count, into: out.baseAddress!)
                }
                initialized = count
            }
            tensors[entry.name] = Tensor(shape: entry.shape, data: data)
        }
        return (tensors, metadata)
    }

    private static func parseMetadata(_ value: JSONValue, fail: (String) -> CheckpointError) throws -> [String: String] {
        guard case .object(let members) = value else {
            throw fail("'\(metadataKey)' is \(value.kind), expected an object of strings")
        }
        var metadata: [String: String] = [:]
        for (key, value) in members {
            guard case .string(let text) = value else {
                throw fail("metadata '\(key)' is \(value.kind), expected a string")
            }
            guard metadata.updateValue(text, forKey: key) == nil else {
                throw fail("metadata names '\(key)' twice")
            }
        }
        return metadata
    }

    private static func parseEntry(name: String, _ value: JSONValue, fail: (String) -> CheckpointError) throws -> Entry {
        guard case .object(let fields) = value else {
            throw fail("tensor '\(name)' is described by \(value.kind), expected an object")
        }
        var dtype: String?, shape: [Int]?, offsets: [Int]?
        for (field, value) in fields {
            switch field {
            case "dtype" where dtype == nil:
                guard case .string(let text) = value else { throw fail("tensor '\(name)': dtype is \(value.kind)") }
                dtype = text
            case "shape" where shape == nil:
                guard let dims = naturals(value) else {
                    throw fail("tensor '\(name)': shape must be an array of non-negative integers")
                }
                shape = dims
            case "data_offsets" where offsets == nil:
                guard let pair = naturals(value), pair.count == 2, pair[0] <= pair[1] else {
                    throw fail("tensor '\(name)': data_offsets must be [begin, end] with 0 <= begin <= end")
                }
                offsets = pair
            case "dtype", "shape", "data_offsets":
                throw fail("tensor '\(name)': field '\(field)' appears twice")
            default:
                throw fail("tensor '\(name)': unexpected field '\(field)'")
            }
        }
        guard let dtype, let shape, let offsets else {
            throw fail("tensor '\(name)' needs dtype, shape and data_offsets")
        }
        guard let type = dtypes[dtype] else {
            throw fail("tensor '\(name)' has unsupported dtype '\(dtype)' (readable: F32, F16, BF16, F64)")
        }
        var byteCount = type.byteSize
        for dimension in shape {
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw fail("tensor '\(name)': shape \(shape) is too large") }
            byteCount = product
        }
        guard offsets[1] - offsets[0] == byteCount else {
            throw fail("tensor '\(name)': shape \(shape) of \(dtype) needs \(byteCount) bytes, data_offsets \(offsets) span \(offsets[1] - offsets[0])")
        }
        return Entry(name: name, type: type, shape: shape, begin: offsets[0], end: offsets[1])
    }

    private static func naturals(_ value: JSONValue) -> [Int]? {
        guard case .array(let elements) = value else { return nil }
        var result: [Int] = []
        for element in elements {
            guard case .integer(let n) = element, n >= 0 else { return nil }
            result.append(n)
        }
        return result
    }

    /// The tensors must tile the data buffer exactly: in range, no overlap, no gap, no trailing bytes.
    private static func checkLayout(_ entries: [Entry], bufferSize: Int, fail: (String) -> CheckpointError) throws {
        for entry in entries where entry.end > bufferSize {
            throw fail("tensor '\(entry.name)': data_offsets [\(entry.begin), \(entry.end)] pass the end of the \(bufferSize)-byte data section")
        }
        var covered = 0
        var previous: Entry?
        for entry in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            if entry.begin < covered, let previous {
                throw fail("data of tensors '\(previous.name)' and '\(entry.name)' overlap")
            }
            if entry.begin > covered {
                throw fail("\(entry.begin - covered) unused bytes before the data of tensor '\(entry.name)'")
            }
            covered = entry.end
            previous = entry
        }
        guard covered == bufferSize else {
            throw fail("\(bufferSize - covered) bytes after the last tensor's data")
        }
    }
}
