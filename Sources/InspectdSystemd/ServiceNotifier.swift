import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Tells the service manager about the daemon's state over the sd_notify protocol.
///
/// Written in Swift rather than calling libsystemd's `sd_notify` so that the socket and the watchdog
/// settings come from an explicit environment (tests hand in their own) and failures surface as
/// errors naming the socket instead of a bare negative errno.
///
/// Without `$NOTIFY_SOCKET` (started by hand, or under a manager that does not supervise it) every
/// call does nothing, so the daemon calls these unconditionally.
public final class ServiceNotifier: Sendable {
    /// A notification that could not be delivered; names the socket and the reason.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let socket: String
        public let reason: String
        public var description: String { "NOTIFY_SOCKET \(socket): \(reason)" }
    }

    private enum Destination: Sendable {
        case inactive
        case invalid(socket: String, reason: String)
        case socket(name: String, address: [UInt8])
    }

    private let destination: Destination

    /// The watchdog deadline the manager enforces, when it set one for this very process.
    ///
    /// `WATCHDOG_PID` guards against a child that inherited the environment pinging on the parent's
    /// behalf; a mismatch means the deadline belongs to another process. Ping at half this interval.
    public let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        destination = Self.destination(from: environment["NOTIFY_SOCKET"])
        watchdogInterval = Self.watchdogInterval(from: environment, pid: getpid())
    }

    /// Whether a notification socket was given, i.e. whether notifications go anywhere.
    public var isActive: Bool {
        if case .inactive = destination { return false }
        return true
    }

    /// Start-up finished: the daemon serves. Also ends a reload begun with ``reloading()``.
    public func ready(status: String? = nil) throws {
        var fields = [("READY", "1")]
        if let status { fields.append(("STATUS", status)) }
        try send(fields)
    }

    /// A reload began; the manager shows the unit as reloading until the next ``ready(status:)``.
    ///
    /// MONOTONIC_USEC lets managers newer than systemd 252 match the reload to its request;
    /// 252 ignores it.
    public func reloading() throws {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        try send([("RELOADING", "1"), ("MONOTONIC_USEC", String(microseconds))])
    }

    /// Free-form status shown by `systemctl status`.
    public func status(_ text: String) throws {
        try send([("STATUS", text)])
    }

    /// Keep-alive for `WatchdogSec=`.
    public func watchdog() throws {
        try send([("WATCHDOG", "1")])
    }

    /// Shutdown began; the manager stops expecting watchdog pings.
    public func stopping() throws {
        try send([("STOPPING", "1")])
    }

    /// Sends `KEY=value` assignments as one datagram.
    ///
    /// The protocol is line-based, so a newline inside a value would start a bogus assignment;
    /// newlines become spaces.
    public func send(_ fields: [(key: String, value: String)]) throws {
        let name: String
        let address: [UInt8]
        switch destination {
        case .inactive:
            return
        case .invalid(let socket, let reason):
            throw Failure(socket: socket, reason: reason)
        case .socket(let socketName, let socketAddress):
            name = socketName
            address = socketAddress
        }
        let message = fields.map { field in
            let value = field.value.replacingOccurrences(of: "\n", with: " ")
            return "\(field.key)=\(value)"
        }.joined(separator: "\n")

        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw Failure(socket: name, reason: "cannot create a datagram socket: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }

        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { path in
            path.copyBytes(from: address)
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + address.count)
        let sent = Array(message.utf8).withUnsafeBytes { bytes in
            withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    // Never wait on the manager: a full queue must not stall scoring. The message is
                    // lost and reported; the next status or watchdog tick sends a fresh one.
                    sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), $0, length)
                }
            }
        }
        if sent < 0 {
            throw Failure(socket: name, reason: String(cString: strerror(errno)))
        }
    }

    /// Parses `$NOTIFY_SOCKET`: an absolute path, or '@' for a name in the abstract namespace
    /// (the address then starts with a NUL byte and is not NUL-terminated).
    private static func destination(from value: String?) -> Destination {
        guard let value, !value.isEmpty else { return .inactive }
        if value.utf8.contains(0) {
            return .invalid(socket: value, reason: "contains a NUL byte")
        }
        let address: [UInt8]
        if value.hasPrefix("@") {
            address = [0] + Array(value.utf8.dropFirst())
        } else if value.hasPrefix("/") {
            address = Array(value.utf8) + [0]
        } else {
            return .invalid(socket: value, reason: "neither an absolute path nor an abstract name starting with '@'")
        }
        let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        if address.count > capacity {
            return .invalid(socket: value, reason: "longer than a socket address holds (\(capacity - 1) bytes)")
        }
        return .socket(name: value, address: address)
    }

    private static func watchdogInterval(from environment: [String: String], pid: pid_t) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else {
            return nil
        }
        if let owner = environment["WATCHDOG_PID"], pid_t(owner) != pid { return nil }
        return .microseconds(Int64(clamping: microseconds))
    }
}
