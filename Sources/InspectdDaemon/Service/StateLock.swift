import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One daemon per state folder: two would score every frame twice and interleave the index.
/// An advisory lock on `<state>/inspectd.lock`, held while the daemon runs; the kernel drops it
/// when the process dies, so a crash never leaves a stale lock behind.
final class StateLock: Sendable {
    struct Taken: Error, CustomStringConvertible {
        let file: String
        let holder: String
        var description: String {
            "\(file): another inspectd (\(holder)) is already running on this state folder; stop it, or give this one its own state_dir"
        }
    }

    let file: String
    private let descriptor: Int32

    init(stateDirectory: String) throws {
        file = URL(fileURLWithPath: stateDirectory).appendingPathComponent("inspectd.lock").path
        descriptor = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file,
                NSLocalizedDescriptionKey: "\(file): cannot open the lock file: \(String(cString: strerror(errno)))"])
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(descriptor, &buffer, buffer.count, 0)
            let pid = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            throw Taken(file: file, holder: pid.isEmpty ? "pid unknown" : "pid \(pid)")
        }
        let pid = Array("\(getpid())\n".utf8)
        ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.count, 0)
    }

    deinit { close(descriptor) }
}
