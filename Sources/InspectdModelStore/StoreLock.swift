import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on the store, held by one process at a time: the trainer while it makes and
/// publishes a version, the CLI while it activates, rolls back or prunes. It is flock(2) on a file
/// in the store, so the kernel releases it when its holder exits, however it exits; a crashed
/// trainer never leaves the store locked.
public final class StoreLock {
    public struct Busy: Error, CustomStringConvertible, Sendable {
        public let path: String
        /// What the holder wrote into the lock file when it took it (its pid and purpose).
        public let holder: String
        public var description: String {
            "\(path): the model store is locked by another process (\(holder.isEmpty ? "unknown holder" : holder))"
        }
    }

    private let descriptor: Int32
    public let path: String

    /// Takes the lock at `path` without waiting, writing `purpose` and the pid into it; throws
    /// `Busy` when another holder has it.
    public init(path: String, purpose: String) throws {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StoreFailure(path: path, reason: "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            if error == EWOULDBLOCK { throw Busy(path: path, holder: holder) }
            throw StoreFailure(path: path, reason: "cannot lock: \(String(cString: strerror(error)))")
        }
        let note = "pid \(getpid()): \(purpose)\n"
        ftruncate(descriptor, 0)
        _ = note.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
