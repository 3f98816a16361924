import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// unshare(2) and CLONE_NEWNS (<linux/sched.h>): glibc declares them only under _GNU_SOURCE, which
/// the Glibc module Swift imports does not define; the function is looked up at run time instead.
private let cloneNewMountNamespace: Int32 = 0x0002_0000
private let unshare: (@convention(c) (Int32) -> Int32)? = dlsym(nil, "unshare").map {
    unsafeBitCast($0, to: (@convention(c) (Int32) -> Int32).self)
}

/// Work that must not touch the host's files under some paths (its /run, its journal): one thread
/// enters a mount namespace of its own and lays empty tmpfs over those paths there.
///
/// Mount namespaces belong to threads, and processes inherit the namespace of the thread that
/// starts them, so what `body` does and runs stays inside while the rest of the test process (and
/// the host) keep their view. The tmpfs mounts vanish with the namespace.
enum PrivateMountNamespace {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Root with CAP_SYS_ADMIN: what creating a mount namespace and mounting in it takes.
    static let isAvailable: Bool = {
        guard unshare != nil, geteuid() == 0,
              let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let capabilities = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return capabilities & (1 << 21) != 0
    }()

    static func run<T: Sendable>(tmpfsOver targets: [String], _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try enter(tmpfsOver: targets, body) })
            }.start()
        }
    }

    private static func enter<T>(tmpfsOver targets: [String], _ body: () throws -> T) throws -> T {
        guard let unshare else { throw Failure(description: "unshare(2) not found in the C library") }
        guard unshare(cloneNewMountNamespace) == 0 else {
            throw Failure(description: "unshare(CLONE_NEWNS): \(String(cString: strerror(errno)))")
        }
        // Without this, mounts made below would propagate to the host where / is a shared mount.
        guard mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil) == 0 else {
            throw Failure(description: "making / private in the new namespace: \(String(cString: strerror(errno)))")
        }
        var mounted: [String] = []
        defer { for target in mounted.reversed() { umount2(target, Int32(MNT_DETACH)) } }
        for target in targets {
            guard mount("tmpfs", target, "tmpfs", 0, "mode=0755") == 0 else {
                throw Failure(description: "mounting tmpfs on \(target): \(String(cString: strerror(errno)))")
            }
            mounted.append(target)
        }
        return try body()
    }
}
