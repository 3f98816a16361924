import Foundation
import InspectdImage
import InspectdSystemd
import Logging
import XCTest

/// The running daemon answers ready product folders by itself, and says so in the journal.
final class ProductIntakeDaemonTests: XCTestCase {
    func testReadyFoldersAreQueuedOrRejectedWhileTheDaemonRuns() async throws {
        let records = Locked<[CapturedRecord]>([])
        let harness = try DaemonHarness(trainingExtra: "minimum_images = 3")
        defer { harness.cleanUp() }
        let logger = CapturingHandler.logger(into: records)
        try await harness.start(logger: logger)
        let products = harness.root.appendingPathComponent("state/products")
        func folder(_ name: String, images: Int, known: Bool = false) throws -> URL {
            let folder = products.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<images {
                try Data(PNG.encode(Image(width: 40, height: 40, format: .grey, pixels: [UInt8](repeating: UInt8(i * 30), count: 1600))))
                    .write(to: folder.appendingPathComponent("\(i).png"))
            }
            try Data("display_name = \"\(name)\"\nlabelled_by = \"op\"\n".utf8).write(to: folder.appendingPathComponent("product.toml"))
            try Data().write(to: folder.appendingPathComponent("READY"))
            return folder
        }
        let good = try folder("solar_poly", images: 3)
        let few = try folder("few", images: 2)
        let known = try folder("widget", images: 3)  // the test model's product, without update = true
        let deadline = Date().addingTimeInterval(20)
        let answers = [good.appendingPathComponent("QUEUED.txt"), few.appendingPathComponent("REJECTED.txt"),
                       known.appendingPathComponent("REJECTED.txt")]
        while !answers.allSatisfy({ FileManager.default.fileExists(atPath: $0.path) }) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        try await harness.stop()
        for answer in answers { XCTAssertTrue(FileManager.default.fileExists(atPath: answer.path), answer.path) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: harness.root.appendingPathComponent("state/product-queue/solar_poly/record.json").path))

        let queued = try XCTUnwrap(records.current.first { $0.metadata[JournalField.messageID] == .string(JournalMessageID.productQueued.id) })
        XCTAssertEqual(queued.metadata[JournalField.product], "solar_poly")
        let rejections = records.current.filter { $0.metadata[JournalField.messageID] == .string(JournalMessageID.productRejected.id) }
        XCTAssertEqual(Set(rejections.compactMap { $0.metadata[JournalField.product]?.description }), ["few", "widget"])
        XCTAssertTrue(rejections.allSatisfy { $0.level == .warning })
        XCTAssertTrue(rejections.contains { $0.metadata[JournalField.reason]?.description.contains("the model already knows 'widget'") == true })
    }
}
