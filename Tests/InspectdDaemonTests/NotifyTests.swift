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
        let collector = Collector()
        let reader = Thread {
            while !collector.stopped {
                if let message = socket.receive(timeout: 0.05) { collector.append(message) }
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
        collector.stopped = true
        try await Task.sleep(for: .milliseconds(150))  // the reader's last receive times out
        let messages = collector.messages + socket.drain()
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


final class Collector: @unchecked Sendable {
    private let lock = NSLock()
    private var _messages: [String] = []
    private var _stopped = false
    var messages: [String] { lock.withLock { _messages } }
    var stopped: Bool {
        get { lock.withLock { _stopped } }
        set { lock.withLock { _stopped = newValue } }
    }
    func append(_ message: String) { lock.withLock { _messages.append(message) } }
}
