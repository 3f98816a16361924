import Foundation
import InspectdSystemd
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket standing in for systemd's notification socket.
final class NotifyReceiver {
    let descriptor: Int32
    /// The value `NOTIFY_SOCKET` gets.
    let notifySocket: String
    private let directory: URL?

    /// A socket bound to a path in a fresh temporary folder.
    init(pathIn parent: URL = FileManager.default.temporaryDirectory) throws {
        let directory = parent.appendingPathComponent("notify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("notify").path
        self.directory = directory
        notifySocket = path
        descriptor = try Self.bind(address: Array(path.utf8) + [0])
    }

    /// A socket with a name in the abstract namespace (no file anywhere).
    init(abstractName: String) throws {
        directory = nil
        notifySocket = "@" + abstractName
        descriptor = try Self.bind(address: [0] + Array(abstractName.utf8))
    }

    deinit {
        close(descriptor)
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    private static func bind(address: [UInt8]) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(descriptor >= 0)
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: address) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + address.count)
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(descriptor, $0, length) }
        }
        try #require(bound == 0, "bind: \(String(cString: strerror(errno)))")
        // A lost datagram must fail the test, not hang it.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return descriptor
    }

    /// The next datagram as text; nil when none came within the timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    /// Whether a datagram is waiting, without blocking.
    func hasPending() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 1)
        return recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK)) >= 0
    }
}

@Suite struct ServiceNotifierTests {
    /// Sends the life cycle of a service and checks each datagram arrives whole and in order.
    func checkLifeCycle(through receiver: NotifyReceiver) throws {
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        #expect(notifier.isActive)
        try notifier.ready(status: "watching 2 cameras")
        try notifier.status("scored 10 frames\n1 NG")
        try notifier.watchdog()
        try notifier.reloading()
        try notifier.ready()
        try notifier.stopping()

        #expect(receiver.receive() == "READY=1\nSTATUS=watching 2 cameras")
        #expect(receiver.receive() == "STATUS=scored 10 frames 1 NG")
        #expect(receiver.receive() == "WATCHDOG=1")
        let reload = try #require(receiver.receive()).split(separator: "\n")
        #expect(reload.count == 2)
        #expect(reload.first == "RELOADING=1")
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nowMicroseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        let stamp = try #require(reload.last.flatMap { $0.hasPrefix("MONOTONIC_USEC=") ? UInt64($0.dropFirst(15)) : nil })
        #expect(stamp <= nowMicroseconds && nowMicroseconds - stamp < 60_000_000)
        #expect(receiver.receive() == "READY=1")
        #expect(receiver.receive() == "STOPPING=1")
        #expect(!receiver.hasPending())
    }

    @Test func messagesReachAPathSocketInOrder() throws {
        try checkLifeCycle(through: try NotifyReceiver())
    }

    @Test func messagesReachAnAbstractSocketInOrder() throws {
        try checkLifeCycle(through: try NotifyReceiver(abstractName: "inspectd-test-\(UUID().uuidString)"))
    }

    @Test func withoutNotifySocketEverythingIsANoOp() throws {
        let notifier = ServiceNotifier(environment: [:])
        #expect(!notifier.isActive)
        #expect(notifier.watchdogInterval == nil)
        try notifier.ready(status: "nobody listens")
        try notifier.watchdog()
        try notifier.stopping()
    }

    @Test func aMissingSocketIsAnErrorNamingIt() throws {
        let path = "/nonexistent-\(UUID().uuidString)/notify"
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": path])
        #expect(notifier.isActive)
        do {
            try notifier.ready()
            Issue.record("sending to a missing socket succeeded")
        } catch let failure as ServiceNotifier.Failure {
            #expect(failure.socket == path)
            #expect(failure.description.contains(path))
        }
    }

    @Test func aRelativeSocketNameIsRejected() throws {
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": "run/notify"])
        #expect(throws: ServiceNotifier.Failure.self) { try notifier.watchdog() }
    }

    @Test func watchdogIntervalComesFromWatchdogUsec() {
        let pid = String(getpid())
        #expect(ServiceNotifier(environment: ["WATCHDOG_USEC": "60000000"]).watchdogInterval == .seconds(60))
        #expect(ServiceNotifier(environment: ["WATCHDOG_USEC": "1500", "WATCHDOG_PID": pid]).watchdogInterval
                == .microseconds(1500))
        // Another process's deadline (an inherited environment) is not ours.
        #expect(ServiceNotifier(environment: ["WATCHDOG_USEC": "60000000", "WATCHDOG_PID": String(getpid() + 1)])
                .watchdogInterval == nil)
        #expect(ServiceNotifier(environment: ["WATCHDOG_USEC": "0"]).watchdogInterval == nil)
        #expect(ServiceNotifier(environment: ["WATCHDOG_USEC": "sixty"]).watchdogInterval == nil)
        #expect(ServiceNotifier(environment: ["WATCHDOG_USEC": "-5"]).watchdogInterval == nil)
    }
}
