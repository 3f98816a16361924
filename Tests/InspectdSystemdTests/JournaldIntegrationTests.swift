import Foundation
import InspectdSystemd
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

private let journaldPath = "/lib/systemd/systemd-journald"
private let journalctlPath = ["/usr/bin/journalctl", "/bin/journalctl"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// A systemd-journald of its own, isolated from the host's journal (if any).
///
/// libsystemd's client always sends to /run/systemd/journal/socket, so the test cannot simply point
/// it elsewhere. Instead a private mount namespace gets tmpfs over /run and /var/log/journal, and
/// journald runs there in a log namespace of its own (which, unlike the main instance, neither
/// reads the kernel log nor touches audit settings). A symlink /run/systemd/journal ->
/// journal.<namespace> on that tmpfs leads the client to it. The records sent and the journalctl
/// reading them stay inside; the host's /run and journal files are never touched.
struct StandaloneJournal {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let namespace: String

    /// Runs `body` on a dedicated thread inside the private namespace with journald running.
    static func run<T: Sendable>(_ body: @escaping @Sendable (StandaloneJournal) throws -> T) async throws -> T {
        var isDirectory: ObjCBool = false
        let persistent = FileManager.default.fileExists(atPath: "/var/log/journal", isDirectory: &isDirectory)
            && isDirectory.boolValue
        return try await PrivateMountNamespace.run(tmpfsOver: persistent ? ["/run", "/var/log/journal"] : ["/run"]) {
            try withJournald(body)
        }
    }

    private static func withJournald<T>(_ body: (StandaloneJournal) throws -> T) throws -> T {
        let journal = StandaloneJournal(namespace: "inspectdtest\(UInt32.random(in: .min ... .max))")
        let journald = Process()
        journald.executableURL = URL(fileURLWithPath: journaldPath)
        journald.arguments = [journal.namespace]
        journald.standardOutput = FileHandle.nullDevice
        journald.standardError = FileHandle.nullDevice
        try journald.run()
        defer {
            journald.terminate()
            journald.waitUntilExit()
        }
        let runtime = "/run/systemd/journal.\(journal.namespace)"
        try waitFor("journald's socket \(runtime)/socket") { FileManager.default.fileExists(atPath: "\(runtime)/socket") }
        guard symlink("journal.\(journal.namespace)", "/run/systemd/journal") == 0 else {
            throw Failure(description: "symlink /run/systemd/journal: \(String(cString: strerror(errno)))")
        }
        return try body(journal)
    }

    private static func waitFor(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw Failure(description: "timed out waiting for \(what)") }
            usleep(20_000)
        }
    }

    /// The entries matching a journalctl match expression, waiting until `count` of them are stored
    /// (journald writes asynchronously). Only text fields are kept; binary ones come as byte arrays.
    func entries(matching match: String, count: Int) throws -> [[String: String]] {
        var entries: [[String: String]] = []
        try Self.waitFor("\(count) journal entries with \(match)") {
            entries = try read(match)
            return entries.count >= count
        }
        return entries
    }

    private func read(_ match: String) throws -> [[String: String]] {
        let result = try runCommand(journalctlPath!, ["--namespace=\(namespace)", "--output=json", "--no-pager", match],
                                    includingErrors: false)
        return try result.output.split(separator: "\n").map { line in
            guard let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw Self.Failure(description: "journalctl printed a line that is not a JSON object: \(line)")
            }
            return entry.compactMapValues { $0 as? String }
        }
    }
}

@Suite(.enabled(if: PrivateMountNamespace.isAvailable && FileManager.default.isExecutableFile(atPath: journaldPath) && journalctlPath != nil,
                "needs root with CAP_SYS_ADMIN (for a private mount namespace), \(journaldPath) and journalctl"))
struct JournaldIntegrationTests {
    @Test func ngAlertAndFrameErrorArriveWithTheirFields() async throws {
        let (namespace, line, alerts, errors) = try await StandaloneJournal.run { journal in
            let logger = Logger(label: "inspectd.scorer") { _ in
                JournalLogHandler(identifier: "inspectd-test", logLevel: .info, metadataProvider: nil)
            }
            let line = #line + 1
            logger.warning(
                "NG frame 000.png on line-1: score 0.87",
                metadata: JournalMessageID.ngVerdict.metadata.merging([
                    JournalField.verdict: "NG",
                    JournalField.score: "0.87",
                    "inspect_product": "bottle",
                    JournalField.camera: "line-1",
                    JournalField.file: "/srv/inspectd/cameras/line-1/000.png",
                    JournalField.heatmap: "/var/spool/inspectd/cur/000.heatmap.png",
                    JournalField.model: "/var/lib/inspectd/models/current",
                ]) { $1 }
            )
            logger.error(
                "frame undecodable, quarantined",
                metadata: JournalMessageID.frameError.metadata.merging([
                    JournalField.file: "/srv/inspectd/cameras/line-1/001.png",
                    JournalField.reason: "PNG: truncated IDAT\nat byte 4096",
                ]) { $1 }
            )
            return (
                journal.namespace,
                line,
                try journal.entries(matching: "MESSAGE_ID=\(JournalMessageID.ngVerdict.id)", count: 1),
                try journal.entries(matching: "MESSAGE_ID=\(JournalMessageID.frameError.id)", count: 1)
            )
        }
        // The host saw nothing of it.
        #expect(!FileManager.default.fileExists(atPath: "/run/systemd/journal.\(namespace)"))
        for folder in ["/var/log/journal", "/run/log/journal"] {
            let journals = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            #expect(!journals.contains { $0.hasSuffix(".\(namespace)") }, "\(folder) holds the test's journal")
        }

        #expect(alerts.count == 1)
        let alert = try #require(alerts.first)
        #expect(alert["MESSAGE"] == "NG frame 000.png on line-1: score 0.87")
        #expect(alert["PRIORITY"] == "4")
        #expect(alert["SYSLOG_IDENTIFIER"] == "inspectd-test")
        #expect(alert["MESSAGE_ID"] == JournalMessageID.ngVerdict.id)
        #expect(alert["INSPECT_VERDICT"] == "NG")
        #expect(alert["INSPECT_SCORE"] == "0.87")
        #expect(alert["INSPECT_PRODUCT"] == "bottle")
        #expect(alert["INSPECT_CAMERA"] == "line-1")
        #expect(alert["INSPECT_FILE"] == "/srv/inspectd/cameras/line-1/000.png")
        #expect(alert["INSPECT_HEATMAP"] == "/var/spool/inspectd/cur/000.heatmap.png")
        #expect(alert["INSPECT_MODEL"] == "/var/lib/inspectd/models/current")
        #expect(alert["CODE_FILE"] == "InspectdSystemdTests/JournaldIntegrationTests.swift")
        #expect(alert["CODE_LINE"] == String(line))
        #expect(alert["CODE_FUNC"] == "ngAlertAndFrameErrorArriveWithTheirFields()")
        #expect(alert["_TRANSPORT"] == "journal")
        #expect(alert["_NAMESPACE"] == namespace)

        let error = try #require(errors.first)
        #expect(error["PRIORITY"] == "3")
        // A newline in a value needs the native protocol's binary form; it must arrive intact.
        #expect(error["INSPECT_REASON"] == "PNG: truncated IDAT\nat byte 4096")
    }
}
