import Foundation
import Glibc
import XCTest

/// The daemon's side of the sd_notify protocol, seen from a datagram socket standing in for
/// systemd's $NOTIFY_SOCKET.
final class NotifyTests: XCTestCase {
    func testReadyStatusWatchdogAndStoppingArriveInOrder() async throws {
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let socket = try DatagramSocket(path: harness.root.appendingPathComponent("notify.sock").path)
        defer { socket.close() }

        try await harness.start(environment: [
            "NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "600000", "WATCHDOG_PID": "\(getpid())",
        ])
        try Data(DaemonHarness.frame(bright: false)).write(to: harness.camera("cam1").appendingPathComponent("a.png"))
        _ = try await harness.waitForVerdicts(1)
        try await Task.sleep(for: .milliseconds(900))
        try await harness.stop()

        let messages = socket.drain()
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

/// A bound AF_UNIX datagram socket that collects what is sent to it.
final class DatagramSocket: @unchecked Sendable {
    let path: String
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1)) + [0]
            raw.copyBytes(from: bytes)
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw POSIXError(.init(rawValue: errno)!) }
    }

    /// Every datagram received so far, oldest first.
    func drain() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { break }
            messages.append(String(decoding: buffer[..<n], as: UTF8.self))
        }
        return messages
    }

    func close() {
        Glibc.close(descriptor)
        unlink(path)
    }
}
