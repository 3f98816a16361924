import Foundation
import InspectdSystemd
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ServiceNotifierTests {
    /// Sends the life cycle of a service and checks each datagram arrives whole and in order.
    func checkLifeCycle(through receiver: NotifySocketListener) throws {
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        #expect(notifier.isActive)
        try notifier.ready(status: "watching 2 cameras")
        try notifier.status("scored 10 frames\n1 NG")
        try notifier.watchdog()
        try notifier.reloading()
        try notifier.ready()
        try notifier.stopping()

        #expect(receiver.receive(timeout: 5) == "READY=1\nSTATUS=watching 2 cameras")
        #expect(receiver.receive(timeout: 5) == "STATUS=scored 10 frames 1 NG")
        #expect(receiver.receive(timeout: 5) == "WATCHDOG=1")
        let reload = try #require(receiver.receive(timeout: 5)).split(separator: "\n")
        #expect(reload.count == 2)
        #expect(reload.first == "RELOADING=1")
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nowMicroseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        let stamp = try #require(reload.last.flatMap { $0.hasPrefix("MONOTONIC_USEC=") ? UInt64($0.dropFirst(15)) : nil })
        #expect(stamp <= nowMicroseconds && nowMicroseconds - stamp < 60_000_000)
        #expect(receiver.receive(timeout: 5) == "READY=1")
        #expect(receiver.receive(timeout: 5) == "STOPPING=1")
        #expect(receiver.drain().isEmpty)
    }

    @Test func messagesReachAPathSocketInOrder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try checkLifeCycle(through: try NotifySocketListener(path: folder.appendingPathComponent("notify").path))
    }

    @Test func messagesReachAnAbstractSocketInOrder() throws {
        try checkLifeCycle(through: try NotifySocketListener(abstractName: "inspectd-test-\(UUID().uuidString)"))
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
