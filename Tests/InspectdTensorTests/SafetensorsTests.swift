import Foundation
import Testing
@testable import InspectdTensor

/// A fresh directory per test, removed afterwards.
private struct ScratchDirectory: ~Copyable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A safetensors file from a header written out by hand: the length prefix, the JSON, the data.
private func safetensorsFile(header: String, data: [UInt8]) -> [UInt8] {
    let json = Array(header.utf8)
    return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
}

private func floatBytes(_ values: [Float]) -> [UInt8] { values.withUnsafeBytes(Array.init) }

@Suite struct SafetensorsTests {
    @Test func roundTripThroughFile() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.url.appendingPathComponent("model.safetensors")
        let tensors: [String: Tensor] = [
            "unet.down.0.conv.weight": Tensor(shape: [2, 3, 2, 2], data: (0..<24).map { Float($0) * 0.5 - 3 }),
            "unet.down.0.conv.bias": Tensor(shape: [2], data: [.pi, -.infinity]),
            "scale": Tensor(scalar: 3.25),
            "empty": Tensor(shape: [0, 3], data: []),
        ]
        try Safetensors.write(tensors, to: url)
        let loaded = try Safetensors.read(from: url)

        #expect(loaded.metadata.isEmpty)
        #expect(Set(loaded.tensors.keys) == Set(tensors.keys))
        for (name, tensor) in tensors {
            #expect(loaded.tensors[name]?.shape == tensor.shape, "\(name)")
            #expect(loaded.tensors[name]?.data == tensor.data, "\(name)")
        }
        // The temporary file was renamed into place, not left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["model.safetensors"])
    }

    @Test func int8TensorsAreStoredAsOneByteEach() throws {
        let weights = Tensor(shape: [2, 3], data: [-127, -1, 0, 1, 64, 127]), scales = Tensor(shape: [2], data: [0.5, 0.25])
        let bytes = try Safetensors.encode(["w": weights, "w.scale": scales], int8: ["w"])
        let header = String(decoding: bytes[8..<(8 + Int(bytes[0]))], as: UTF8.self)
        #expect(header.contains(#""w":{"dtype":"I8","shape":[2,3],"data_offsets":[0,6]}"#))
        #expect(header.contains(#""w.scale":{"dtype":"F32","shape":[2],"data_offsets":[6,14]}"#))
        #expect(Array(bytes.suffix(14).prefix(6)) == [0x81, 0xFF, 0, 1, 64, 127])
        let read = try Safetensors.decode(bytes).tensors
        #expect(read["w"]?.data == weights.data && read["w.scale"]?.data == scales.data)
        // Only whole numbers in the byte's range can be stored so.
        #expect(throws: CheckpointError.self) { try Safetensors.encode(["w": Tensor(shape: [1], data: [0.5])], int8: ["w"]) }
        #expect(throws: CheckpointError.self) { try Safetensors.encode(["w": Tensor(shape: [1], data: [128])], int8: ["w"]) }
        #expect(throws: CheckpointError.self) { try Safetensors.encode(["w": weights], int8: ["v"]) }
    }

    @Test func overwriteReplacesTheWholeFile() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.url.appendingPathComponent("model.safetensors")
        try Safetensors.write(["a": Tensor(shape: [1000], data: [Float](repeating: 1, count: 1000))], to: url)
        try Safetensors.write(["b": Tensor(scalar: 2)], to: url)
        let loaded = try Safetensors.read(from: url)
        #expect(Array(loaded.tensors.keys) == ["b"])
        #expect(loaded.tensors["b"]?.data == [2])
    }

    @Test func metadataRoundTripWithEscapes() throws {
        let metadata = ["format": "pt", "note": "quote \" backslash \\ newline \n tab \t bell \u{07} ünïcode ✓ slash /"]
        let tensors = ["straße.weight": Tensor(shape: [2], data: [1, 2])]
        let loaded = try Safetensors.decode(try Safetensors.encode(tensors, metadata: metadata))
        #expect(loaded.metadata == metadata)
        #expect(loaded.tensors["straße.weight"]?.data == [1, 2])
    }

    @Test func headerEscapesAreDecoded() throws {
        let file = safetensorsFile(header: #"{"__metadata__":{"k\u00e9":"\ud83d\ude00\/\n"}}"#, data: [])
        #expect(try Safetensors.decode(file).metadata == ["ké": "😀/\n"])
    }

    @Test func byteLayoutMatchesTheReferenceWriter() throws {
        let tensors = ["b": Tensor(shape: [2], data: [1, -2]), "a": Tensor(scalar: 0.5)]
        let json = #"{"__metadata__":{"format":"pt"},"#
            + #""a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        #expect(json.utf8.count == 138)
        let expected: [UInt8] = [144, 0, 0, 0, 0, 0, 0, 0] + Array(json.utf8) + Array(repeating: 0x20, count: 6)
            + [0x00, 0x00, 0x00, 0x3F] + [0x00, 0x00, 0x80, 0x3F] + [0x00, 0x00, 0x00, 0xC0]

        #expect(try Safetensors.encode(tensors, metadata: ["format": "pt"]) == expected)

        let scratch = try ScratchDirectory()
        let url = scratch.url.appendingPathComponent("tiny.safetensors")
        try Safetensors.write(tensors, metadata: ["format": "pt"], to: url)
        #expect(Array(try Data(contentsOf: url)) == expected)
    }

    @Test func emptyCheckpointIsPaddedHeaderOnly() throws {
        #expect(try Safetensors.encode([:]) == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    }

    @Test func halfBFloatAndDoubleConvertToFloat() throws {
        let header = #"{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"#
            + #""d":{"dtype":"F64","shape":[2,1],"data_offsets":[12,28]}}"#
        // Half: 1, -2, 65504 (largest finite), 2^-24 (smallest subnormal). bfloat16: 1, -3.
        // The doubles start at byte 12 of the data, so they are read unaligned.
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0x01, 0x00]
            + [0x80, 0x3F, 0x40, 0xC0]
            + withUnsafeBytes(of: 1.5.bitPattern.littleEndian, Array.init)
            + withUnsafeBytes(of: (-0.1).bitPattern.littleEndian, Array.init)
        let tensors = try Safetensors.decode(safetensorsFile(header: header, data: data)).tensors
        #expect(tensors["h"]?.data == [1, -2, 65504, 0x1p-24])
        #expect(tensors["b"]?.data == [1, -3])
        #expect(tensors["d"]?.shape == [2, 1])
        #expect(tensors["d"]?.data == [1.5, Float(-0.1)])
    }

    struct Corruption: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let reason: String
        var testDescription: String { name }
    }

    static let corruptions: [Corruption] = {
        let two = floatBytes([1, 2])
        func entry(_ name: String, _ dtype: String = "F32", shape: String, _ begin: Int, _ end: Int) -> String {
            #""\#(name)":{"dtype":"\#(dtype)","shape":[\#(shape)],"data_offsets":[\#(begin),\#(end)]}"#
        }
        return [
            Corruption(name: "too-short", bytes: [1, 2, 3], reason: "too few"),
            Corruption(name: "header-beyond-file",
                       bytes: withUnsafeBytes(of: UInt64(1000).littleEndian, Array.init) + Array("{}".utf8), reason: "exceeds"),
            Corruption(name: "bad-json", bytes: safetensorsFile(header: #"{"a":{"dtype":"F32","#, data: []), reason: "not valid JSON"),
            Corruption(name: "not-an-object", bytes: safetensorsFile(header: "[]", data: []), reason: "expected an object"),
            Corruption(name: "out-of-range", bytes: safetensorsFile(header: "{\(entry("a", shape: "2", 0, 8))}", data: floatBytes([1])),
                       reason: "pass the end"),
            Corruption(name: "overlap",
                       bytes: safetensorsFile(header: "{\(entry("a", shape: "2", 0, 8)),\(entry("b", shape: "2", 4, 12))}",
                                              data: floatBytes([1, 2, 3])),
                       reason: "overlap"),
            Corruption(name: "gap", bytes: safetensorsFile(header: "{\(entry("a", shape: "1", 4, 8))}", data: two),
                       reason: "unused bytes"),
            Corruption(name: "trailing", bytes: safetensorsFile(header: "{\(entry("a", shape: "1", 0, 4))}", data: two),
                       reason: "after the last"),
            Corruption(name: "size-mismatch", bytes: safetensorsFile(header: "{\(entry("a", shape: "3", 0, 8))}", data: two),
                       reason: "needs 12 bytes"),
            Corruption(name: "negative-dimension", bytes: safetensorsFile(header: "{\(entry("a", shape: "-2", 0, 8))}", data: two),
                       reason: "non-negative"),
            Corruption(name: "unsupported-dtype", bytes: safetensorsFile(header: "{\(entry("a", "I64", shape: "1", 0, 8))}", data: two),
                       reason: "unsupported dtype 'I64'"),
            Corruption(name: "duplicate-name",
                       bytes: safetensorsFile(header: "{\(entry("a", shape: "1", 0, 4)),\(entry("a", shape: "1", 4, 8))}", data: two),
                       reason: "names 'a' twice"),
            Corruption(name: "metadata-not-string",
                       bytes: safetensorsFile(header: #"{"__metadata__":{"epoch":3}}"#, data: []), reason: "expected a string"),
        ]
    }()

    @Test(arguments: corruptions)
    func corruptFileIsRejectedWithItsName(_ corruption: Corruption) throws {
        let scratch = try ScratchDirectory()
        let url = scratch.url.appendingPathComponent("\(corruption.name).safetensors")
        try Data(corruption.bytes).write(to: url)
        let error = #expect(throws: CheckpointError.self) { try Safetensors.read(from: url) }
        #expect(error?.description.contains("\(corruption.name).safetensors") == true)
        #expect(error?.reason.contains(corruption.reason) == true, "\(error?.reason ?? "")")
    }

    @Test func missingFileNamesThePath() {
        let error = #expect(throws: CheckpointError.self) {
            try Safetensors.read(from: URL(fileURLWithPath: "/nonexistent/weights.safetensors"))
        }
        #expect(error?.source == "/nonexistent/weights.safetensors")
    }

    @Test func writeRejectsTheReservedNameAndMissingDirectory() throws {
        #expect(throws: CheckpointError.self) { try Safetensors.encode(["__metadata__": Tensor(scalar: 1)]) }
        let error = #expect(throws: CheckpointError.self) {
            try Safetensors.write(["a": Tensor(scalar: 1)], to: URL(fileURLWithPath: "/nonexistent/out.safetensors"))
        }
        #expect(error?.source == "/nonexistent/out.safetensors")
    }
}
