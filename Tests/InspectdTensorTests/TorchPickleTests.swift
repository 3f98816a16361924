import Foundation
import Testing
@testable import InspectdTensor

/// Assembles pickle opcodes by hand, as torch.save (protocol 2) emits them.
private struct PickleAssembler {
    var bytes: [UInt8] = []

    mutating func proto() { bytes += [0x80, 2] }
    mutating func stop() { bytes.append(0x2E) }
    mutating func mark() { bytes.append(0x28) }
    mutating func tuple() { bytes.append(0x74) }
    mutating func emptyTuple() { bytes.append(0x29) }
    mutating func emptyDict() { bytes.append(0x7D) }
    mutating func emptyList() { bytes.append(0x5D) }
    mutating func setItem() { bytes.append(0x73) }
    mutating func setItems() { bytes.append(0x75) }
    mutating func appends() { bytes.append(0x65) }
    mutating func reduce() { bytes.append(0x52) }
    mutating func build() { bytes.append(0x62) }
    mutating func persistentID() { bytes.append(0x51) }
    mutating func none() { bytes.append(0x4E) }
    mutating func bool(_ flag: Bool) { bytes.append(flag ? 0x88 : 0x89) }
    mutating func put(_ index: UInt8) { bytes += [0x71, index] }
    mutating func get(_ index: UInt8) { bytes += [0x68, index] }

    mutating func global(_ module: String, _ name: String) {
        bytes += [0x63] + Array("\(module)\n\(name)\n".utf8)
    }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes += [0x58] + withUnsafeBytes(of: UInt32(utf8.count).littleEndian, Array.init) + utf8
    }

    mutating func int(_ value: Int) {
        switch value {
        case 0..<0x100: bytes += [0x4B, UInt8(value)]
        case 0..<0x10000: bytes += [0x4D] + withUnsafeBytes(of: UInt16(value).littleEndian, Array.init)
        default: bytes += [0x4A] + withUnsafeBytes(of: Int32(value).littleEndian, Array.init)
        }
    }

    mutating func long1(_ littleEndian: [UInt8]) { bytes += [0x8A, UInt8(littleEndian.count)] + littleEndian }

    mutating func intTuple(_ values: [Int]) {
        mark()
        values.forEach { int($0) }
        tuple()
    }
}

private struct StorageSpec {
    let key: String
    let type: String
    let count: Int
    let payload: [UInt8]

    static func float(_ key: String, _ values: [Float]) -> StorageSpec {
        StorageSpec(key: key, type: "FloatStorage", count: values.count, payload: values.withUnsafeBytes(Array.init))
    }
}

private struct TensorSpec {
    let name: String
    let storage: StorageSpec
    var offset = 0
    let size: [Int]
    let stride: [Int]
    var parameter = false
}

/// The pickles before the state dict: magic number, protocol version, writer description.
private func legacyPreamble() -> [UInt8] {
    var p = PickleAssembler()
    p.proto(); p.long1([0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]); p.stop()
    p.proto(); p.int(1001); p.stop()
    p.proto(); p.emptyDict(); p.mark()
    p.string("protocol_version"); p.int(1001)
    p.string("little_endian"); p.bool(true)
    p.string("type_sizes"); p.emptyDict(); p.mark()
    p.string("short"); p.int(2); p.string("int"); p.int(4); p.string("long"); p.int(4)
    p.setItems(); p.setItems(); p.stop()
    return p.bytes
}

/// The state dict pickle, laid out like torch.save's: OrderedDict entries of `_rebuild_tensor_v2`
/// calls whose storages are persistent ids, then BUILD with the `_metadata` attribute.
private func stateDictPickle(_ tensors: [TensorSpec]) -> [UInt8] {
    var p = PickleAssembler()
    p.proto()
    p.global("collections", "OrderedDict"); p.put(0)
    p.emptyTuple(); p.reduce(); p.put(1)
    p.mark()
    for tensor in tensors {
        p.string(tensor.name)
        if tensor.parameter { p.global("torch._utils", "_rebuild_parameter"); p.mark() }
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.mark()
        p.mark()
        p.string("storage"); p.global("torch", tensor.storage.type); p.string(tensor.storage.key)
        p.string("cpu"); p.int(tensor.storage.count); p.none()
        p.tuple(); p.persistentID()
        p.int(tensor.offset); p.intTuple(tensor.size); p.intTuple(tensor.stride)
        p.bool(false); p.get(0); p.emptyTuple(); p.reduce()
        p.tuple(); p.reduce()
        if tensor.parameter { p.bool(true); p.get(0); p.emptyTuple(); p.reduce(); p.tuple(); p.reduce() }
    }
    p.setItems()
    p.emptyDict(); p.string("_metadata"); p.get(0); p.emptyTuple(); p.reduce()
    p.mark(); p.string(""); p.emptyDict(); p.string("version"); p.int(1); p.setItem(); p.setItems()
    p.setItem(); p.build()
    p.stop()
    return p.bytes
}

/// The storage key list and the raw storages in that order.
private func storageSection(_ storages: [StorageSpec]) -> [UInt8] {
    var p = PickleAssembler()
    p.proto(); p.emptyList(); p.mark()
    storages.forEach { p.string($0.key) }
    p.appends(); p.stop()
    return storages.reduce(p.bytes) { bytes, storage in
        bytes + withUnsafeBytes(of: Int64(storage.count).littleEndian, Array.init) + storage.payload
    }
}

private func legacyFile(_ tensors: [TensorSpec], storages: [StorageSpec]) -> [UInt8] {
    legacyPreamble() + stateDictPickle(tensors) + storageSection(storages)
}

private enum Fixture {
    /// A 2x3 matrix [[0, 1, 2], [3, 4, 5]].
    static let matrix = StorageSpec.float("0", [0, 1, 2, 3, 4, 5])
    static let vector = StorageSpec.float("1", [10, 11, 12, 13, 14])
    static let counter = StorageSpec(key: "2", type: "LongStorage", count: 1,
                                     payload: withUnsafeBytes(of: Int64(7).littleEndian, Array.init))
    static let halves = StorageSpec(key: "3", type: "HalfStorage", count: 2, payload: [0x00, 0x3C, 0x00, 0xC0])
    static let doubles = StorageSpec(key: "4", type: "DoubleStorage", count: 2,
                                     payload: [0.25, 1e10].withUnsafeBytes(Array.init))

    static let tensors = [
        TensorSpec(name: "fc.weight", storage: matrix, size: [3, 2], stride: [1, 3]),
        TensorSpec(name: "fc.bias", storage: vector, offset: 2, size: [3], stride: [1]),
        TensorSpec(name: "tied", storage: matrix, size: [2, 3], stride: [3, 1]),
        TensorSpec(name: "bn.num_batches_tracked", storage: counter, size: [], stride: []),
        TensorSpec(name: "half", storage: halves, size: [2], stride: [1]),
        TensorSpec(name: "double", storage: doubles, size: [2], stride: [1]),
        TensorSpec(name: "param", storage: vector, size: [2, 2], stride: [1, 2], parameter: true),
        TensorSpec(name: "sliced", storage: matrix, offset: 1, size: [2, 2], stride: [3, 1]),
    ]
    /// Not the order of first use, so storages must be matched by key.
    static let storages = [vector, matrix, counter, halves, doubles]

    static let file = legacyFile(tensors, storages: storages)
}

@Suite struct TorchPickleTests {
    @Test func readsHandAssembledStateDict() throws {
        let (tensors, names) = try TorchCheckpoint.decodeLegacy(Fixture.file)
        #expect(names == Fixture.tensors.map(\.name))

        #expect(tensors["fc.weight"]?.shape == [3, 2])
        #expect(tensors["fc.weight"]?.data == [0, 3, 1, 4, 2, 5])
        #expect(tensors["fc.bias"]?.data == [12, 13, 14])
        #expect(tensors["tied"]?.shape == [2, 3])
        #expect(tensors["tied"]?.data == [0, 1, 2, 3, 4, 5])
        #expect(tensors["bn.num_batches_tracked"]?.shape == [])
        #expect(tensors["bn.num_batches_tracked"]?.data == [7])
        #expect(tensors["half"]?.data == [1, -2])
        #expect(tensors["double"]?.data == [0.25, 1e10])
        #expect(tensors["param"]?.data == [10, 12, 11, 13])
        #expect(tensors["param"]?.requiresGrad == true)
        #expect(tensors["fc.weight"]?.requiresGrad == false)
        #expect(tensors["sliced"]?.data == [1, 2, 4, 5])
    }

    /// A permuted view larger than the copy tiles, with partial tiles on every edge.
    @Test func readsLargePermutedView() throws {
        let size = [40, 3, 37], stride = [1, 40 * 37, 40], offset = 5
        let storage = StorageSpec.float("0", (0..<(offset + 40 * 3 * 37)).map(Float.init))
        let file = legacyFile([TensorSpec(name: "w", storage: storage, offset: offset, size: size, stride: stride)],
                              storages: [storage])
        var expected: [Float] = []
        for i in 0..<size[0] {
            for j in 0..<size[1] {
                for k in 0..<size[2] { expected.append(Float(offset + i * stride[0] + j * stride[1] + k * stride[2])) }
            }
        }
        let tensor = try #require(try TorchCheckpoint.decodeLegacy(file).tensors["w"])
        #expect(tensor.shape == size)
        #expect(tensor.data == expected)
    }

    @Test func readsFromFileAndNamesItInErrors() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("legacy-\(UUID().uuidString).pth")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(Fixture.file).write(to: url)
        #expect(try TorchCheckpoint.readLegacy(from: url).names.count == Fixture.tensors.count)

        try Data(Fixture.file.dropLast()).write(to: url)
        let error = #expect(throws: CheckpointError.self) { try TorchCheckpoint.readLegacy(from: url) }
        #expect(error?.source == url.path)
    }

    @Test func everyTruncationThrows() {
        for length in 0..<Fixture.file.count {
            #expect(throws: CheckpointError.self, "prefix of \(length) bytes") {
                try TorchCheckpoint.decodeLegacy(Fixture.file.prefix(length))
            }
        }
    }

    /// Corrupting any single byte must end in a result or a CheckpointError, never a crash.
    @Test func corruptedBytesNeverCrash() {
        for position in Fixture.file.indices {
            for replacement: UInt8 in [0x00, 0xFF, Fixture.file[position] ^ 0x01] {
                var bytes = Fixture.file
                bytes[position] = replacement
                do {
                    let (tensors, _) = try TorchCheckpoint.decodeLegacy(bytes)
                    #expect(tensors.values.allSatisfy { $0.count == $0.shape.reduce(1, *) })
                } catch is CheckpointError {
                } catch {
                    Issue.record("byte \(position) = \(replacement): unexpected \(error)")
                }
            }
        }
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let reason: String
        var testDescription: String { name }
    }

    static let malformed: [Malformed] = {
        let weight = TensorSpec(name: "w", storage: Fixture.matrix, size: [6], stride: [1])
        func mainPickle(_ body: (inout PickleAssembler) -> Void) -> [UInt8] {
            var p = PickleAssembler()
            p.proto()
            body(&p)
            p.stop()
            return legacyPreamble() + p.bytes + storageSection([])
        }
        return [
            Malformed(name: "os.system", bytes: mainPickle { p in
                p.global("os", "system"); p.string("echo pwned"); p.bytes.append(0x85); p.reduce()
            }, reason: "global 'os.system' is not allowed"),
            Malformed(name: "builtins.eval via STACK_GLOBAL", bytes: mainPickle { p in
                p.string("builtins"); p.string("eval"); p.bytes.append(0x93)
            }, reason: "global 'builtins.eval' is not allowed"),
            Malformed(name: "unsupported storage type",
                      bytes: legacyFile([TensorSpec(name: "mask", storage: StorageSpec(key: "0", type: "ByteStorage", count: 1, payload: [1]),
                                                    size: [1], stride: [1])],
                                        storages: []),
                      reason: "torch.ByteStorage is not supported"),
            Malformed(name: "unknown storage key",
                      bytes: legacyFile([weight], storages: [Fixture.matrix, StorageSpec.float("9", [1])]),
                      reason: "storage '9', which no tensor uses"),
            Malformed(name: "storage without data", bytes: legacyFile([weight], storages: []),
                      reason: "storage '0' has no data"),
            Malformed(name: "element count beyond file",
                      bytes: legacyFile([weight], storages: [StorageSpec(key: "0", type: "FloatStorage", count: 1 << 40, payload: [])]),
                      reason: "more than the"),
            Malformed(name: "element count differs from declaration",
                      bytes: legacyFile([weight], storages: [StorageSpec.float("0", [1, 2])]),
                      reason: "2 elements in the data section, 6 in the state dict"),
            Malformed(name: "view past storage end",
                      bytes: legacyFile([TensorSpec(name: "w", storage: Fixture.matrix, offset: 1, size: [6], stride: [1])],
                                        storages: [Fixture.matrix]),
                      reason: "passes the end of storage '0'"),
            Malformed(name: "expanded view",
                      bytes: legacyFile([TensorSpec(name: "w", storage: StorageSpec.float("0", [1]), size: [4], stride: [0])],
                                        storages: [StorageSpec.float("0", [1])]),
                      reason: "expanded views are not supported"),
            Malformed(name: "trailing bytes", bytes: Fixture.file + [0], reason: "1 unexpected bytes"),
            Malformed(name: "zip format", bytes: [0x50, 0x4B, 0x03, 0x04] + Fixture.file, reason: "zip-format"),
            Malformed(name: "not a checkpoint", bytes: Array("not a checkpoint".utf8), reason: "not a legacy torch checkpoint"),
            Malformed(name: "wrong magic number", bytes: [0x80, 2, 0x4B, 1, 0x2E], reason: "magic number is missing"),
            Malformed(name: "entry is not a tensor", bytes: mainPickle { p in
                p.emptyDict(); p.string("epoch"); p.int(3); p.setItem()
            }, reason: "entry 'epoch' is an int, not a tensor"),
            Malformed(name: "deep nesting", bytes: mainPickle { p in
                p.emptyTuple()
                p.bytes += Array(repeating: 0x85, count: 1000)
            }, reason: "nested deeper than"),
            Malformed(name: "list containing itself", bytes: mainPickle { p in
                p.emptyList(); p.put(0); p.get(0); p.bytes.append(0x61)
            }, reason: "cannot contain itself"),
            Malformed(name: "pop below mark", bytes: mainPickle { p in
                p.none(); p.mark(); p.bytes.append(0x30)
            }, reason: "stack underflow"),
            Malformed(name: "undefined memo entry", bytes: mainPickle { p in p.get(7) }, reason: "memo entry 7 is not defined"),
        ]
    }()

    @Test(arguments: malformed)
    func malformedInputThrows(_ malformed: Malformed) {
        let error = #expect(throws: CheckpointError.self) {
            try TorchCheckpoint.decodeLegacy(malformed.bytes, source: "broken.pth")
        }
        #expect(error?.source == "broken.pth")
        #expect(error?.reason.contains(malformed.reason) == true, "\(error?.reason ?? "")")
    }

    @Test func plainPickleValues() throws {
        let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        var p = PickleAssembler()
        p.bytes += [0x80, 4, 0x95] + withUnsafeBytes(of: UInt64(0).littleEndian, Array.init)  // PROTO 4, FRAME
        p.mark()
        p.long1([0xFF])
        p.long1([0x00, 0x80])
        p.long1([0x00, 0x80, 0x00, 0x00])  // redundant sign-extension byte
        p.long1([])
        p.long1(magic)
        p.bytes += [0x47] + withUnsafeBytes(of: (-2.5).bitPattern.bigEndian, Array.init)  // BINFLOAT
        p.bytes += [0x8C, 3] + Array("hé".utf8) + [0x94]  // SHORT_BINUNICODE, MEMOIZE
        p.get(0)
        p.tuple()
        p.stop()

        let value = try p.bytes.withUnsafeBytes { raw in
            var reader = ByteReader(raw, source: "plain")
            var resolver = PlainDataResolver()
            return try Pickle.load(&reader, resolver: &resolver)
        }
        guard case .tuple(let tuple) = value else {
            Issue.record("expected a tuple, got \(value.kind)")
            return
        }
        let rendered = tuple.items.map { item -> String in
            switch item {
            case .int(let n): "\(n)"
            case .bigInt(let bytes): bytes == magic ? "magic" : "\(bytes)"
            case .float(let x): "\(x)"
            case .string(let text): text
            default: item.kind
            }
        }
        #expect(rendered == ["-1", "-32768", "32768", "0", "magic", "-2.5", "hé", "hé"])
    }
}
