import Foundation
import Glibc
import InspectdSystemd
import XCTest

/// The daemon's side of the sd_notify protocol, seen from a datagram socket standing in for
/// systemd's $NOTIFY_SOCKET.
final class NotifyTests: XCTestCase {
    func testReadyStatusWatchdogAndStoppingArriveInOrder() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let socket = try NotifySocketListener(path: harness.root.appendingPathComponent("notify.sock").path)
        // Read as systemd does, all the time: the kernel queues only a few datagrams per socket.
        let received = Locked<[String]>([])
        let stopped = Locked(false)
        let reader = Thread {
            while !stopped.current {
                if let message = socket.receive(timeout: 0.05) { received.update { $0.append(message) } }
            }
        }
        reader.start()

        try await harness.start(environment: [
            "NOTIFY_SOCKET": socket.notifySocket, "WATCHDOG_USEC": "600000", "WATCHDOG_PID": "\(getpid())",
        ])
        try Data(DaemonHarness.frame(bright: false)).write(to: harness.camera("cam1").appendingPathComponent("a.png"))
        _ = try await harness.waitForVerdicts(1)
        try await Task.sleep(for: .milliseconds(900))
        try await harness.stop()

        try await Task.sleep(for: .milliseconds(200))
        stopped.update { $0 = true }
        try await Task.sleep(for: .milliseconds(150))  // the reader's last receive times out
        let messages = received.current + socket.drain()
        let ready = try XCTUnwrap(messages.firstIndex { $0.contains("READY=1") }, "\(messages)")
        let stopping = try XCTUnwrap(messages.firstIndex { $0.contains("STOPPING=1") }, "\(messages)")
        let watchdogs = messages.indices.filter { messages[$0].contains("WATCHDOG=1") }
        let statuses = messages.indices.filter { messages[$0].contains("STATUS=") }
        XCTAssertFalse(watchdogs.isEmpty, "\(messages)")
        XCTAssertTrue(watchdogs.allSatisfy { $0 > ready && $0 < stopping }, "\(messages)")
        XCTAssertTrue(statuses.contains { $0 > ready }, "\(messages)")
        XCTAssertEqual(stopping, messages.count - 1, "nothing after STOPPING=1: \(messages)")
        XCTAssertTrue(messages.contains { $0.contains("frames/s") && $0.contains("backlog") }, "\(messages)")
    }
}
