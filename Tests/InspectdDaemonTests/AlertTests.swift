import Foundation
import InspectdSystemd
import Logging
import XCTest

/// The journal fields of the daemon's alerts, captured at the logging layer (the journald
/// handler's own test reads such records back from a real journald).
final class AlertTests: XCTestCase {
    func testNGAndErrorVerdictsCarryTheirJournalFields() async throws {
        let records = Locked<[CapturedRecord]>([])
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let logger = CapturingHandler.logger(into: records)
        try await harness.start(logger: logger)
        let cam = harness.camera("cam1")
        try Data(DaemonHarness.frame(bright: true)).write(to: cam.appendingPathComponent("bright.png"))
        try Data("garbage".utf8).write(to: cam.appendingPathComponent("garbage.png"))
        try Data(DaemonHarness.frame(bright: false)).write(to: cam.appendingPathComponent("dark.png"))
        _ = try await harness.waitForVerdicts(3)
        try await harness.stop()

        let ng = try XCTUnwrap(records.current.first { $0.metadata[JournalField.messageID] == .string(JournalMessageID.ngVerdict.id) })
        XCTAssertEqual(ng.level, .warning)
        XCTAssertEqual(ng.metadata[JournalField.verdict], "NG")
        XCTAssertEqual(ng.metadata[JournalField.product], "widget")
        XCTAssertEqual(ng.metadata[JournalField.camera], "cam1")
        XCTAssertEqual(ng.metadata[JournalField.model], "test-model-1")
        XCTAssertEqual(ng.metadata[JournalField.file]?.description, cam.appendingPathComponent("bright.png").path)
        XCTAssertGreaterThan(Double(ng.metadata[JournalField.score]?.description ?? "") ?? 0, 0.5)
        let heatmap = try XCTUnwrap(ng.metadata[JournalField.heatmap]?.description)
        XCTAssertTrue(FileManager.default.fileExists(atPath: heatmap), heatmap)

        let error = try XCTUnwrap(records.current.first { $0.metadata[JournalField.messageID] == .string(JournalMessageID.frameError.id) })
        XCTAssertEqual(error.level, .error)
        XCTAssertEqual(error.metadata[JournalField.verdict], "ERROR")
        XCTAssertTrue(error.metadata[JournalField.reason]?.description.contains("garbage.png") ?? false)

        XCTAssertNotNil(records.current.first { $0.metadata[JournalField.messageID] == .string(JournalMessageID.modelLoaded.id) })
        XCTAssertNil(records.current.first { $0.message.contains("dark.png") && $0.level >= .warning })
    }

    /// What the model says about itself (an old calibration, say) is a warning when it loads.
    func testTheModelsWarningsAreLoggedWhenItLoads() async throws {
        let records = Locked<[CapturedRecord]>([])
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let logger = CapturingHandler.logger(into: records)
        var scorer = BrightnessScorer()
        scorer.warnings = ["its calibration is older than its scoring"]
        try await harness.start(scorer: scorer, logger: logger)
        try Data(DaemonHarness.frame(bright: false)).write(to: harness.camera("cam1").appendingPathComponent("dark.png"))
        _ = try await harness.waitForVerdicts(1)
        try await harness.stop()

        let warning = try XCTUnwrap(records.current.first { $0.message.contains("its calibration is older") })
        XCTAssertEqual(warning.level, .warning)
        XCTAssertEqual(warning.message, "model test-model-1: its calibration is older than its scoring")
        XCTAssertEqual(warning.metadata[JournalField.model], "test-model-1")
    }
}

struct CapturedRecord {
    let level: Logger.Level
    let message: String
    let metadata: Logger.Metadata
}

struct CapturingHandler: LogHandler {
    let records: Locked<[CapturedRecord]>

    /// A logger at info level whose every record lands in `records`.
    static func logger(into records: Locked<[CapturedRecord]>) -> Logger {
        var logger = Logger(label: "inspectd-test") { _ in CapturingHandler(records: records) }
        logger.logLevel = .info
        return logger
    }
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let record = CapturedRecord(level: level, message: message.description, metadata: self.metadata.merging(metadata ?? [:]) { $1 })
        records.update { $0.append(record) }
    }
}
