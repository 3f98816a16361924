import Foundation
import XCTest
@testable import InspectdDaemon

final class RetentionTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("retention-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("new"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("tmp"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    let now = Date(timeIntervalSince1970: 2_000_000_000)

    /// A verdict's JSON and its pictures, `bytes` each, last modified `age` seconds before `now`.
    func makeVerdict(_ name: String, age: TimeInterval, bytes: Int = 100) throws {
        for suffix in [".json", ".heatmap.png", ".mask.png"] {
            let url = root.appendingPathComponent("new/\(name)\(suffix)")
            try Data(count: bytes).write(to: url)
            try FileManager.default.setAttributes([.modificationDate: now.addingTimeInterval(-age)], ofItemAtPath: url.path)
        }
    }

    func remaining() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("new").path).sorted()
    }

    func retention(maxBytes: Int64?, maxAge: TimeInterval?) -> Retention {
        Retention(maxBytes: maxBytes, maxAge: maxAge, folders: [root.appendingPathComponent("new")],
                  staging: [root.appendingPathComponent("tmp")])
    }

    func testOldVerdictsGoWithTheirPictures() throws {
        try makeVerdict("old", age: 3 * 86_400)
        try makeVerdict("young", age: 60)
        let report = retention(maxBytes: nil, maxAge: 86_400).prune(now: now)
        XCTAssertEqual(try remaining(), ["young.heatmap.png", "young.json", "young.mask.png"])
        XCTAssertEqual(report.removedFiles, 3)
        XCTAssertEqual(report.removedBytes, 300)
        XCTAssertEqual(report.keptBytes, 300)
    }

    func testOldestGoFirstUntilTheBudgetFits() throws {
        try makeVerdict("a", age: 300)
        try makeVerdict("b", age: 200)
        try makeVerdict("c", age: 100)
        let report = retention(maxBytes: 700, maxAge: nil).prune(now: now)
        XCTAssertEqual(try remaining(), ["b.heatmap.png", "b.json", "b.mask.png", "c.heatmap.png", "c.json", "c.mask.png"])
        XCTAssertEqual(report.keptBytes, 600)
    }

    func testNothingGoesWhenEverythingFits() throws {
        try makeVerdict("a", age: 10)
        let report = retention(maxBytes: 10_000, maxAge: 86_400).prune(now: now)
        XCTAssertEqual(report.removedFiles, 0)
        XCTAssertEqual(try remaining().count, 3)
    }

    func testStaleStagingLeftoversAreRemoved() throws {
        let stale = root.appendingPathComponent("tmp/crashed.json.123.456")
        let fresh = root.appendingPathComponent("tmp/writing.json.123.789")
        try Data(count: 10).write(to: stale)
        try Data(count: 10).write(to: fresh)
        try FileManager.default.setAttributes([.modificationDate: now.addingTimeInterval(-2 * 86_400)], ofItemAtPath: stale.path)
        try FileManager.default.setAttributes([.modificationDate: now], ofItemAtPath: fresh.path)
        _ = retention(maxBytes: nil, maxAge: nil).prune(now: now)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("tmp").path), ["writing.json.123.789"])
    }
}
