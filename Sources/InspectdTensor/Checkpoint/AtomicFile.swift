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
enum AtomicFile {
    /// Sink handed to the producer; each call appends bytes to the temporary file.
    struct Sink {
        fileprivate let descriptor: Int32
        fileprivate let path: String

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let n = systemWrite(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CheckpointError(source: path, reason: "write failed: \(systemError())")
                }
                done += n
            }
        }
    }

    static func write(to url: URL, _ produce: (Sink) throws -> Void) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"

        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CheckpointError(source: path, reason: "cannot create temporary file \(temporary): \(systemError())")
        }
        do {
            defer { close(descriptor) }
            try produce(Sink(descriptor: descriptor, path: path))
            guard fsync(descriptor) == 0 else {
                throw CheckpointError(source: path, reason: "fsync failed: \(systemError())")
            }
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let reason = "cannot rename \(temporary) into place: \(systemError())"
            unlink(temporary)
            throw CheckpointError(source: path, reason: reason)
        }
        // Best effort: some file systems refuse fsync on directories, and the new file is already
        // complete under its name, so failing here would report an error for a good checkpoint.
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}
