import Foundation
import InspectdSystemd
import Logging
import XCTest

/// What would leave a line running uninspected is said at warning level: a camera folder that does
/// not exist (and is watched once it appears), and a camera set to a product the model lacks.
final class ConfigurationWarningTests: XCTestCase {
    func testAMissingFolderAndAnUnknownProductAreWarnedAboutAndTheFolderIsWatchedOnceItAppears() async throws {
        let records = Locked<[CapturedRecord]>([])
        let harness = try DaemonHarness()
        defer { harness.cleanUp() }
        let cam = harness.camera("cam1")
        try FileManager.default.removeItem(at: cam)
        let logger = CapturingHandler.logger(into: records)
        try await harness.start(scorer: BrightnessScorer(products: ["gadget"]), logger: logger)
        try await Task.sleep(for: .milliseconds(300))
        let warnings = records.current.filter { $0.level == .warning }.map(\.message)
        XCTAssertTrue(warnings.contains { $0.contains("camera folder \(cam.path) does not exist") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.hasPrefix("camera cam1 is set to product widget, which model test-model-1 does not know") },
                      "\(warnings)")

        try FileManager.default.createDirectory(at: cam, withIntermediateDirectories: true)
        let deadline = Date().addingTimeInterval(20)
        while !records.current.contains(where: { $0.message.contains("camera folder \(cam.path) exists now") }) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        try Data(DaemonHarness.frame(bright: false)).write(to: cam.appendingPathComponent("late.png"))
        let verdicts = try await harness.waitForVerdicts(1)
        try await harness.stop()
        XCTAssertEqual(verdicts.first?["verdict"] as? String, "ERROR", "widget is unknown to this model")
    }
}
