import Foundation
#if canImport(Glibc)
import Glibc
private let systemRead = Glibc.read
#elseif canImport(Darwin)
import Darwin
private let systemRead = Darwin.read
#endif

/// A file path as Linux stores it: bytes without a NUL, not necessarily UTF-8.
///
/// Cameras and the tools that copy their frames write names in whatever encoding they were set up
/// with (Latin-1 from an old PLC, a stray byte from a broken one). Swift's `String` and
/// Foundation's `URL` replace such a byte with U+FFFD, and the path they give back names a file
/// that does not exist, so the frame would get no verdict at all. Frame paths therefore travel as
/// these bytes from the watcher's listing to every system call made on the frame, and are turned
/// into text only to be shown (`description`).
public struct RawPath: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let bytes: [UInt8]

    public init(_ text: String) { bytes = Array(text.utf8) }

    public init(stringLiteral text: String) { self.init(text) }

    public init(bytes: some Sequence<UInt8>) { self.bytes = Array(bytes) }

    /// The path a file URL names, byte for byte.
    public init(_ url: URL) {
        bytes = url.withUnsafeFileSystemRepresentation { pointer in
            guard let pointer else { return Array(url.path.utf8) }
            return Array(UnsafeBufferPointer(start: pointer, count: strlen(pointer))).map { UInt8(bitPattern: $0) }
        }
    }

    /// `self/name`.
    public func appending(_ name: RawPath) -> RawPath {
        if bytes.last == Self.slash { return RawPath(bytes: bytes + name.bytes) }
        return RawPath(bytes: bytes + [Self.slash] + name.bytes)
    }

    public func appending(_ name: String) -> RawPath { appending(RawPath(name)) }

    /// What follows the last slash.
    public var lastComponent: RawPath {
        guard let slash = bytes.lastIndex(of: Self.slash) else { return self }
        return RawPath(bytes: bytes[(slash + 1)...])
    }

    /// Everything before the last slash ("/" for a file at the root).
    public var parent: RawPath {
        guard let slash = bytes.lastIndex(of: Self.slash) else { return RawPath(".") }
        return slash == 0 ? RawPath("/") : RawPath(bytes: bytes[..<slash])
    }

    /// The last component split at its last dot: ("frame", "png"); a name starting with its only
    /// dot has no extension.
    public var stemAndExtension: (stem: RawPath, ext: RawPath?) {
        let name = lastComponent.bytes
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")), dot > 0 else { return (RawPath(bytes: name), nil) }
        return (RawPath(bytes: name[..<dot]), RawPath(bytes: name[(dot + 1)...]))
    }

    /// The path below `folder`, without the slash between them; nil when it is not below it.
    public func relative(to folder: RawPath) -> RawPath? {
        let prefix = folder.bytes.last == Self.slash ? folder.bytes : folder.bytes + [Self.slash]
        guard bytes.count > prefix.count, bytes.starts(with: prefix) else { return nil }
        return RawPath(bytes: bytes[prefix.count...])
    }

    /// The components between slashes, empty ones left out.
    public var components: [RawPath] {
        bytes.split(separator: Self.slash).map { RawPath(bytes: $0) }
    }

    /// The path as text when it is valid UTF-8.
    public var string: String? { String(validating: bytes, as: UTF8.self) }

    /// The path for people and JSON: valid UTF-8 as it is, every other byte as `\xHH`. Two paths
    /// can show alike (a name may really contain `\xff`); `bytes` tell them apart.
    public var description: String {
        if let string { return string }
        var text = ""
        var i = 0
        while i < bytes.count {
            let length = Self.sequenceLength(bytes[i])
            if length > 1, i + length <= bytes.count, let scalar = String(validating: bytes[i..<(i + length)], as: UTF8.self) {
                text += scalar
                i += length
            } else if length == 1 {
                text.unicodeScalars.append(Unicode.Scalar(bytes[i]))
                i += 1
            } else {
                text += "\\x" + String(bytes[i], radix: 16, uppercase: false).leftPadded(to: 2)
                i += 1
            }
        }
        return text
    }

    /// A NUL-terminated copy for system calls.
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (bytes + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    public static func < (a: RawPath, b: RawPath) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    private static let slash = UInt8(ascii: "/")

    /// How many bytes the UTF-8 sequence led by `byte` takes; 0 for a byte that leads none.
    private static func sequenceLength(_ byte: UInt8) -> Int {
        switch byte {
        case 0x00...0x7F: 1
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 0
        }
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// The file operations the daemon makes on frames, on their exact bytes.
public enum RawFile {
    /// The whole file.
    public static func read(_ path: RawPath) throws -> [UInt8] {
        let descriptor = path.withCString { open($0, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else { throw failure(path, "cannot open: \(systemError())") }
        defer { close(descriptor) }
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, "read failed: \(systemError())")
            }
            if n == 0 { return content }
            content += chunk[..<n]
        }
    }

    /// Removes a file; one that is already gone is no error.
    public static func remove(_ path: RawPath) throws {
        guard path.withCString(unlink) == 0 || errno == ENOENT else { throw failure(path, "cannot remove: \(systemError())") }
    }

    public static func exists(_ path: RawPath) -> Bool {
        var info = stat()
        return path.withCString { lstat($0, &info) } == 0
    }

    /// Makes `folder` and the folders above it that are missing.
    public static func createFolders(_ folder: RawPath) throws {
        var current = folder.bytes.first == UInt8(ascii: "/") ? RawPath("/") : RawPath(".")
        for component in folder.components {
            current = current.appending(component)
            if current.withCString({ mkdir($0, 0o755) }) != 0 && errno != EEXIST {
                throw failure(current, "cannot create the folder: \(systemError())")
            }
        }
    }

    /// Moves a file, across file systems too (camera shares, archive disks): a rename where it can,
    /// otherwise a copy that is fsynced and renamed into place before the original is removed, so a
    /// crash leaves the file at one of the two places, whole.
    public static func move(_ source: RawPath, to target: RawPath) throws {
        let renamed = source.withCString { from in target.withCString { to in rename(from, to) } }
        if renamed == 0 { return }
        guard errno == EXDEV else { throw failure(source, "cannot move to \(target): \(systemError())") }
        let partial = target.parent.appending(RawPath(bytes: Array(".".utf8) + target.lastComponent.bytes + Array(".partial".utf8)))
        try remove(partial)
        let content = try read(source)
        let descriptor = partial.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        guard descriptor >= 0 else { throw failure(partial, "cannot create: \(systemError())") }
        var done = 0
        while done < content.count {
            let n = content.withUnsafeBytes { write(descriptor, $0.baseAddress! + done, content.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = systemError()
                close(descriptor)
                try? remove(partial)
                throw failure(partial, "write failed: \(reason)")
            }
            done += n
        }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard synced else {
            try? remove(partial)
            throw failure(partial, "fsync failed: \(systemError())")
        }
        guard partial.withCString({ from in target.withCString { to in rename(from, to) } }) == 0 else {
            throw failure(target, "cannot rename \(partial) into place: \(systemError())")
        }
        try remove(source)
    }

    private static func failure(_ path: RawPath, _ reason: String) -> AtomicFile.Failure {
        AtomicFile.Failure(path: path.description, reason: reason)
    }
}
