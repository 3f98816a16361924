import Foundation
@testable import InspectdSystemd
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct JournalFieldNameTests {
    @Test func metadataKeysBecomeValidJournalFields() {
        #expect(JournalLogHandler.fieldName(forMetadataKey: "INSPECT_VERDICT") == "INSPECT_VERDICT")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "inspect_verdict") == "INSPECT_VERDICT")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "MESSAGE_ID") == "MESSAGE_ID")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "error.message") == "ERROR_MESSAGE")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "frame-path") == "FRAME_PATH")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "größe") == "GR__E")
        // journald reserves leading '_' for its trusted fields and refuses a leading digit.
        #expect(JournalLogHandler.fieldName(forMetadataKey: "_pid") == "META__PID")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "3d") == "META_3D")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "") == "META_")
        // Metadata cannot replace the fields the handler sets.
        #expect(JournalLogHandler.fieldName(forMetadataKey: "message") == "META_MESSAGE")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "priority") == "META_PRIORITY")
        #expect(JournalLogHandler.fieldName(forMetadataKey: String(repeating: "k", count: 80))
                == String(repeating: "K", count: 64))
    }

    @Test func everyNameIsOneJournaldAccepts() {
        for key in ["a", "Z9", "_", "9", "ü", "x.y.z", String(repeating: "_", count: 70), "MESSAGE"] {
            let name = JournalLogHandler.fieldName(forMetadataKey: key)
            #expect(!name.isEmpty && name.count <= 64, "\(key) -> \(name)")
            #expect(name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
            #expect(name.first.map { $0 != "_" && !$0.isNumber } == true, "\(key) -> \(name)")
        }
    }

    @Test func syslogPriorities() {
        let expected: [(Logger.Level, Int)] = [
            (.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
        ]
        for (level, priority) in expected {
            #expect(level.syslogPriority == priority, "\(level)")
        }
    }

    /// A journal socket that refuses records (here a plain file where the socket belongs, in a /run
    /// of the test's own so no host journal is written to): records go to stderr with the reason.
    @Test(.enabled(if: PrivateMountNamespace.isAvailable, "needs root with CAP_SYS_ADMIN for a private /run"))
    func refusedRecordsFallBackToStderr() async throws {
        let text = try await PrivateMountNamespace.run(tmpfsOver: ["/run"]) {
            try FileManager.default.createDirectory(atPath: "/run/systemd/journal", withIntermediateDirectories: true)
            try Data().write(to: URL(fileURLWithPath: InspectdLogging.journalSocket))
            return try capture { writer in
                var handler = JournalLogHandler(identifier: "inspectd", metadataProvider: nil)
                handler.fallbackDescriptor = writer
                Logger(label: "inspectd") { _ in handler }.error("model folder unreadable", metadata: ["INSPECT_MODEL": "v2"])
            }
        }
        #expect(text.hasSuffix(" error inspectd: model folder unreadable INSPECT_MODEL=v2 journal.error=\"Connection refused\"\n"),
                "\(text)")
    }

    @Test func recordFieldsInOrderWithMergedMetadata() {
        struct DecodeFailure: Error, CustomStringConvertible { var description: String { "truncated PNG" } }
        var handler = JournalLogHandler(identifier: "inspectd", logLevel: .debug, metadataProvider: nil)
        handler[metadataKey: "inspect_camera"] = "line-1"
        handler[metadataKey: "INSPECT_MODEL"] = "v3"
        let event = LogEvent(level: .error, message: "frame undecodable", error: DecodeFailure(),
                             metadata: ["INSPECT_MODEL": "v4", "message": "forged"],
                             source: "InspectdDaemon", file: "InspectdDaemon/Watcher.swift",
                             function: "scan()", line: 42)
        let record = LogRecord(event: event, handlerMetadata: handler.metadata, provider: nil)
        let fields = handler.fields(of: record)
        #expect(fields.map(\.name) == [
            "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
            "ERROR_MESSAGE", "ERROR_TYPE", "INSPECT_CAMERA", "INSPECT_MODEL", "META_MESSAGE",
        ])
        #expect(fields.map(\.value) == [
            "frame undecodable", "3", "inspectd", "InspectdDaemon/Watcher.swift", "42", "scan()",
            "truncated PNG", fields[7].value, "line-1", "v4", "forged",
        ])
        #expect(fields[7].value.hasSuffix("DecodeFailure"))
    }
}

/// Hands `body` the writing end of a pipe and returns what was written to it.
func capture(_ body: (Int32) throws -> Void) throws -> String {
    var ends: [Int32] = [0, 0]
    try #require(pipe(&ends) == 0)
    defer { close(ends[0]) }
    do {
        defer { close(ends[1]) }
        try body(ends[1])
    }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while case let count = read(ends[0], &buffer, buffer.count), count > 0 {
        bytes += buffer.prefix(count)
    }
    return String(decoding: bytes, as: UTF8.self)
}

@Suite struct StderrLogHandlerTests {
    /// Logs through a handler writing into a pipe and returns what arrived.
    func output(_ body: (Logger) -> Void) throws -> String {
        try capture { writer in
            var logger = Logger(label: "inspectd.watcher") { label in
                StderrLogHandler(label: label, logLevel: .info, metadataProvider: nil, fileDescriptor: writer)
            }
            logger[metadataKey: "INSPECT_CAMERA"] = "line 1"
            body(logger)
        }
    }

    @Test func oneLinePerRecordWithTimeLevelMessageAndSortedMetadata() throws {
        let text = try output { logger in
            logger.debug("below the level")
            logger.warning("NG frame\nsecond line", metadata: ["INSPECT_VERDICT": "NG", "INSPECT_SCORE": "0.87",
                                                               "INSPECT_FILE": "/srv/cam 1/a=b.png"])
            logger.info("started")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines.last == "")
        let first = String(lines[0])
        // 2026-05-20T14:03:07.412+0200
        let time = try #require(first.split(separator: " ").first)
        #expect(time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}/) != nil, "\(time)")
        #expect(first.dropFirst(time.count) == #" warning inspectd.watcher: NG frame\nsecond line "#
                + #"INSPECT_CAMERA="line 1" INSPECT_FILE="/srv/cam 1/a=b.png" INSPECT_SCORE=0.87 INSPECT_VERDICT=NG"#)
        #expect(lines[1].hasSuffix(#" info inspectd.watcher: started INSPECT_CAMERA="line 1""#))
    }

    @Test func quotingEscapesWhatWouldBreakTheLine() {
        #expect(StderrLogHandler.quoted("plain") == "plain")
        #expect(StderrLogHandler.quoted("") == #""""#)
        #expect(StderrLogHandler.quoted("say \"hi\"\n\\") == #""say \"hi\"\n\\""#)
    }
}

@Suite struct LoggingDestinationTests {
    @Test func journalWhenStderrIsTheJournalStream() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)")
        try Data().write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var status = stat()
        try #require(fstat(descriptor, &status) == 0)
        let stream = "\(status.st_dev):\(status.st_ino)"

        #expect(try InspectdLogging.destination(environment: ["JOURNAL_STREAM": stream], standardError: descriptor) == .journal)
        // Inherited from a parent whose stderr was the journal: not ours.
        #expect(try InspectdLogging.destination(environment: ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino + 1)"],
                                                standardError: descriptor) == .stderr)
        #expect(try InspectdLogging.destination(environment: ["JOURNAL_STREAM": "garbage"], standardError: descriptor) == .stderr)
        #expect(try InspectdLogging.destination(environment: [:], standardError: descriptor) == .stderr)
        #expect(try InspectdLogging.destination(environment: ["JOURNAL_STREAM": stream, "INSPECTD_LOG": "stderr"],
                                                standardError: descriptor) == .stderr)
    }

    /// In a /run of the test's own: first without journald's socket, then with one.
    @Test(.enabled(if: PrivateMountNamespace.isAvailable, "needs root with CAP_SYS_ADMIN for a private /run"))
    func forcedJournalNeedsJournald() async throws {
        try await PrivateMountNamespace.run(tmpfsOver: ["/run"]) {
            do {
                _ = try InspectdLogging.destination(environment: ["INSPECTD_LOG": "journal"])
                Issue.record("INSPECTD_LOG=journal accepted without \(InspectdLogging.journalSocket)")
            } catch let error as InspectdLogging.ConfigurationError {
                #expect(error.description == "INSPECTD_LOG=journal: no journald here (/run/systemd/journal/socket does not exist)")
            }
            try FileManager.default.createDirectory(atPath: "/run/systemd/journal", withIntermediateDirectories: true)
            try Data().write(to: URL(fileURLWithPath: InspectdLogging.journalSocket))
            #expect(try InspectdLogging.destination(environment: ["INSPECTD_LOG": "journal"]) == .journal)
        }
    }

    @Test func unknownForcedDestinationIsAnErrorNamingTheValue() {
        do {
            _ = try InspectdLogging.destination(environment: ["INSPECTD_LOG": "syslog"])
            Issue.record("INSPECTD_LOG=syslog was accepted")
        } catch let error as InspectdLogging.ConfigurationError {
            #expect(error.description.contains("INSPECTD_LOG=syslog"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func factoryMakesTheHandlerOfTheDestination() {
        let journal = InspectdLogging.factory(identifier: "inspectd", level: .notice, destination: .journal)("x")
        let stderr = InspectdLogging.factory(identifier: "inspectd", level: .debug, destination: .stderr)("x")
        #expect((journal as? JournalLogHandler)?.identifier == "inspectd")
        #expect(journal.logLevel == .notice)
        #expect(stderr is StderrLogHandler)
        #expect(stderr.logLevel == .debug)
    }
}
