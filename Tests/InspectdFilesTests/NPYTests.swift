import Foundation
import InspectdFiles
import Testing

@Suite struct NPYTests {
    /// Reads the header and data back as NumPy's format 1.0 describes them.
    func parse(_ bytes: [UInt8]) throws -> (header: String, values: [Float]) {
        #expect(Array(bytes[0..<8]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])   // \x93NUMPY, version 1.0
        let length = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + length)], as: UTF8.self)
        let data = Array(bytes[(10 + length)...])
        try #require(data.count % 4 == 0)
        let values = stride(from: 0, to: data.count, by: 4).map { i in
            Float(bitPattern: UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24)
        }
        return (header, values)
    }

    @Test func headerIsNumPysAndTheDataIsAligned() throws {
        let bytes = NPY.float32([Float](repeating: 0, count: 256 * 256), shape: [256, 256])
        let (header, _) = try parse(bytes)
        let dictionary = "{'descr': '<f4', 'fortran_order': False, 'shape': (256, 256), }"
        #expect(header.hasPrefix(dictionary) && header.hasSuffix("\n"))
        #expect(header.dropFirst(dictionary.count).dropLast().allSatisfy { $0 == " " })
        #expect((10 + header.utf8.count) % NPY.alignment == 0)
        #expect(10 + header.utf8.count == 128)   // as numpy.save writes it for this shape
        #expect(bytes.count == 128 + 4 * 256 * 256)
    }

    @Test func tuplesOfEveryRankAreWrittenAsPythonDoes() throws {
        #expect(try parse(NPY.float32([1, 2, 3], shape: [3])).header.contains("'shape': (3,), }"))
        #expect(try parse(NPY.float32([5], shape: [])).header.contains("'shape': (), }"))
        #expect(try parse(NPY.float32([], shape: [0, 4])).header.contains("'shape': (0, 4), }"))
        for shape in [[3], [], [2, 3, 1]] {
            let header = try parse(NPY.float32([Float](repeating: 1, count: shape.reduce(1, *)), shape: shape)).header
            #expect((10 + header.utf8.count) % 64 == 0, "shape \(shape)")
        }
    }

    @Test func valuesRoundTripBitForBit() throws {
        let values: [Float] = [0, -0.0, 1.5, -Float(bitPattern: 0x0018_0000), .greatestFiniteMagnitude, .infinity, -.infinity, .nan, 3.1415927, .leastNonzeroMagnitude]
        let bytes = NPY.float32(values, shape: [2, 5])
        // The data starts at byte 128: 0, then −0 and 1.5, little-endian.
        #expect(Array(bytes[128..<140]) == [0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0xC0, 0x3F])
        #expect(try parse(bytes).values.map(\.bitPattern) == values.map(\.bitPattern))

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("000.npy")
        try NPY.write(values, shape: [2, 5], to: file)
        #expect(try [UInt8](Data(contentsOf: file)) == bytes)
    }

    @Test func aFailedWriteNamesTheFile() {
        let file = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/map.npy")
        #expect { try NPY.write([1], shape: [1], to: file) } throws: { "\($0)".contains(file.path) }
    }
}
