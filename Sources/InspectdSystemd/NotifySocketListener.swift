import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// systemd's end of the notification protocol: a datagram socket that collects what a service
/// sends to `$NOTIFY_SOCKET`. For tests and for `inspectd bench-daemon`, which run the daemon
/// the way systemd does and need to know when it is ready.
public final class NotifySocketListener: @unchecked Sendable {
    // Sendable: the descriptor is immutable; the kernel serialises reads on it.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let socket: String
        public let reason: String
        public var description: String { "notification socket \(socket): \(reason)" }
    }

    /// The value `NOTIFY_SOCKET` gets.
    public let notifySocket: String
    private let descriptor: Int32
    private let path: String?

    /// A socket at `path` (the file must not exist yet; it is removed again on deinit).
    public init(path: String) throws {
        self.path = path
        notifySocket = path
        descriptor = try Self.bind(address: Array(path.utf8) + [0], name: path)
    }

    /// A socket with a name in the abstract namespace (no file anywhere).
    public init(abstractName: String) throws {
        path = nil
        notifySocket = "@" + abstractName
        descriptor = try Self.bind(address: [0] + Array(abstractName.utf8), name: notifySocket)
    }

    deinit {
        close(descriptor)
        if let path { unlink(path) }
    }

    private static func bind(address: [UInt8], name: String) throws -> Int32 {
        var storage = sockaddr_un()
        guard address.count <= MemoryLayout.size(ofValue: storage.sun_path) else {
            throw Failure(socket: name, reason: "name longer than a socket address allows")
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(socket: name, reason: String(cString: strerror(errno))) }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: address) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + address.count)
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw Failure(socket: name, reason: "bind: \(reason)")
        }
        return descriptor
    }

    /// The next datagram as text; nil when none came within `timeout` seconds.
    public func receive(timeout: TimeInterval) -> String? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(max(0, timeout * 1000))) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        guard count >= 0 else { return nil }
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    /// Every datagram already waiting, oldest first.
    public func drain() -> [String] {
        var messages: [String] = []
        while let message = receive(timeout: 0) { messages.append(message) }
        return messages
    }

    /// Reads datagrams until one carries the line `assignment` (e.g. "READY=1"); false on timeout.
    public func waitFor(_ assignment: String, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while case let left = deadline.timeIntervalSinceNow, left > 0 {
            if let message = receive(timeout: left), message.split(separator: "\n").contains(Substring(assignment)) { return true }
        }
        return false
    }
}
