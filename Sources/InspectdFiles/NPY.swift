import Foundation

/// NumPy's `.npy` format, version 1.0, for Float32 arrays: what `numpy.load` reads without any
/// options, and what anomalib's users keep their anomaly maps in.
///
/// Layout: the magic `\x93NUMPY`, the version bytes 1 and 0, the header's length as a little-endian
/// UInt16, the header (a Python dict literal in ASCII: `descr` `'<f4'`, `fortran_order` False,
/// `shape` a tuple), padded with spaces and ended by a newline so that the data starts at a
/// multiple of 64 bytes, then the values as little-endian Float32 in C order.
public enum NPY {
    /// Where the data starts: a multiple of this many bytes, as NumPy itself writes.
    public static let alignment = 64

    /// The file's bytes for `values` laid out in C order as `shape` (the product of `shape` must be
    /// `values.count`; an empty shape is a scalar).
    public static func float32(_ values: [Float], shape: [Int]) -> [UInt8] {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == values.count,
                     "NPY: shape \(shape) does not hold \(values.count) values")
        // Python's tuple syntax: a one-element tuple needs its trailing comma.
        let dimensions = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (\(dimensions)), }".utf8)
        let prefix = 10   // magic (6), version (2), header length (2)
        let padded = (prefix + header.count + 1 + alignment - 1) / alignment * alignment
        header += [UInt8](repeating: UInt8(ascii: " "), count: padded - prefix - header.count - 1) + [UInt8(ascii: "\n")]
        precondition(header.count <= Int(UInt16.max), "NPY: a header of \(header.count) bytes needs format 2.0")

        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        bytes += [UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        bytes += header
        let start = bytes.count
        bytes += [UInt8](repeating: 0, count: 4 * values.count)
        bytes.withUnsafeMutableBytes { raw in
            for (i, value) in values.enumerated() {
                raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: start + 4 * i, as: UInt32.self)
            }
        }
        return bytes
    }

    /// Writes `values` as an `.npy` file at `url`, atomically (`AtomicFile`); a failure names the
    /// file and the reason.
    public static func write(_ values: [Float], shape: [Int], to url: URL) throws {
        try AtomicFile.write(float32(values, shape: shape), to: url)
    }
}
