import Foundation
#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// Writes a file so that readers see either the old content or the complete new one.
///
/// The bytes go to a temporary file in the destination directory (a rename is only atomic within one
/// file system), are fsynced before the rename (otherwise a crash can leave the new name pointing at
/// unwritten blocks), and the directory is fsynced after it so the rename itself survives a power loss.
public enum AtomicFile {
    /// A file that could not be written; names the file and the reason.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }

        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }
    }

    /// Sink handed to the producer; each call appends bytes to the temporary file.
    public struct Sink {
        fileprivate let descriptor: Int32
        fileprivate let path: String

        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let n = systemWrite(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure(path: path, reason: "write failed: \(systemError())")
                }
                done += n
            }
        }
    }

    /// Writes `bytes` as the whole new content of `url`.
    public static func write(_ bytes: some ContiguousBytes, to url: URL, staging: URL? = nil) throws {
        try write(to: url, staging: staging) { sink in try bytes.withUnsafeBytes { try sink.write($0) } }
    }

    /// Lets `produce` stream the new content of `url` into the sink.
    ///
    /// The temporary file is a hidden name beside `url`, or, with `staging`, a file in that folder
    /// (on the same file system): a maildir's `tmp/`, so that readers of the destination folder
    /// never see a temporary name at all.
    public static func write(to url: URL, staging: URL? = nil, _ produce: (Sink) throws -> Void) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        let unique = "\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let temporary = staging.map { $0.path + "/" + url.lastPathComponent + "." + unique }
            ?? directory + "/." + url.lastPathComponent + "." + unique + ".tmp"

        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw Failure(path: path, reason: "cannot create temporary file \(temporary): \(systemError())")
        }
        do {
            defer { close(descriptor) }
            try produce(Sink(descriptor: descriptor, path: path))
            guard fsync(descriptor) == 0 else {
                throw Failure(path: path, reason: "fsync failed: \(systemError())")
            }
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let reason = "cannot rename \(temporary) into place: \(systemError())"
            unlink(temporary)
            throw Failure(path: path, reason: reason)
        }
        // Best effort: some file systems refuse fsync on directories, and the new file is already
        // complete under its name, so failing here would report an error for a good checkpoint.
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

}
