import Foundation

/// A checkpoint that could not be read or written.
///
/// Always names the file (or the label given for an in-memory buffer) and the reason, so one log line
/// at daemon start says which artefact to replace and why.
public struct CheckpointError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// The file path, or the label passed for in-memory data.
    public let source: String
    public let reason: String

    public init(source: String, reason: String) {
        self.source = source
        self.reason = reason
    }

    public var description: String { "\(source): \(reason)" }
    public var errorDescription: String? { description }
}

/// The checkpoint readers hand raw file bytes straight to `[Float]` storage, which is only right when
/// the host order matches the little-endian order both formats prescribe.
#if !_endian(little)
#error("checkpoint readers assume a little-endian host")
#endif

/// A bounds-checked cursor over a byte buffer: every read that would pass the end throws instead of
/// touching memory outside the file.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let source: String
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer, source: String) {
        self.bytes = bytes
        self.source = source
    }

    var remaining: Int { bytes.count - position }
    var isAtEnd: Bool { position == bytes.count }

    func error(_ reason: String) -> CheckpointError {
        CheckpointError(source: source, reason: reason)
    }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw error("unexpected end of file at byte \(position)") }
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian integer of `T`'s width.
    mutating func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let raw = try take(MemoryLayout<T>.size)
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    /// The next `count` bytes, without copying.
    mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw error("needs \(count) bytes at byte \(position), only \(remaining) left")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    /// Bytes up to the next newline, which is consumed but not returned.
    mutating func line() throws -> UnsafeRawBufferPointer {
        let start = position
        guard let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else {
            throw error("unterminated text line at byte \(start)")
        }
        position = end + 1
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }
}

/// A checkpoint file's bytes, mapped rather than copied: each tensor's bytes are copied once, later.
func mappedContents(of url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        throw CheckpointError(source: url.path, reason: "cannot read: \(error.localizedDescription)")
    }
}
