import Foundation
import InspectdImage
import XCTest
@testable import InspectdDaemon

/// A new model on disk (a store's `current` link moved to another version) is loaded beside the
/// one in use and swapped in between two batches, while frames keep arriving.
final class ModelSwapTests: XCTestCase {
    func testANewVersionIsSwappedInWhileFramesArriveAndEveryFrameGetsOneVerdict() async throws {
        let models = FileManager.default.temporaryDirectory.appendingPathComponent("models-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: models) }
        for version in ["v0001", "v0002"] {
            try FileManager.default.createDirectory(at: models.appendingPathComponent(version), withIntermediateDirectories: true)
            try Data("model-\(version)".utf8).write(to: models.appendingPathComponent("\(version)/weights.bin"))
        }
        let current = models.appendingPathComponent("current")
        XCTAssertEqual(symlink("v0001", current.path), 0)
        let harness = try DaemonHarness(daemonExtra: "model_dir = \"\(current.path)\"")
        defer { harness.cleanUp() }
        let loads = Locked(0)
        // A slow load (a second and a half), named after the version folder it read.
        try await harness.start(loader: { configuration in
            let folder = URL(fileURLWithPath: configuration.daemon.modelDirectory).resolvingSymlinksInPath()
            let version = try String(contentsOf: folder.appendingPathComponent("weights.bin"), encoding: .utf8)
            loads.update { $0 += 1 }
            Thread.sleep(forTimeInterval: 1.5)
            return BrightnessScorer(version: version)
        })
        let cam = harness.camera("cam1")
        var written = 0
        func write() throws {
            try Data(DaemonHarness.frame(bright: written % 2 == 0, seed: UInt8(written % 200)))
                .write(to: cam.appendingPathComponent(String(format: "f%03d.png", written)))
            written += 1
        }
        for _ in 0..<3 { try write() }
        let before = try await harness.waitForVerdicts(3)
        XCTAssertEqual(Set(before.compactMap { $0["model"] as? String }), ["model-v0001"])

        // Activate v0002 as the store does (a new link renamed over `current`) and keep frames coming.
        XCTAssertEqual(symlink("v0002", models.appendingPathComponent(".current-new").path), 0)
        XCTAssertEqual(rename(models.appendingPathComponent(".current-new").path, current.path), 0)
        for _ in 0..<25 {
            try write()
            try await Task.sleep(for: .milliseconds(100))
        }
        let verdicts = try await harness.waitForVerdicts(written)
        try await harness.stop()

        let frames = verdicts.compactMap { ($0["frame"] as? String).map { ($0 as NSString).lastPathComponent } }
        XCTAssertEqual(frames.count, written, "one verdict per frame")
        XCTAssertEqual(Set(frames).count, written, "no frame scored twice")
        XCTAssertTrue(verdicts.allSatisfy { $0["verdict"] as? String != "ERROR" }, "\(verdicts)")
        // In the order the frames arrived: the old model, then the new one, never back.
        let scoredBy = verdicts.sorted { ($0["frame"] as? String ?? "") < ($1["frame"] as? String ?? "") }.compactMap { $0["model"] as? String }
        XCTAssertEqual(scoredBy.last, "model-v0002", "\(scoredBy)")
        let firstNew = try XCTUnwrap(scoredBy.firstIndex(of: "model-v0002"))
        XCTAssertTrue(scoredBy[firstNew...].allSatisfy { $0 == "model-v0002" }, "\(scoredBy)")
        XCTAssertGreaterThan(firstNew, 3, "frames were scored by the old model while the new one loaded: \(scoredBy)")
        XCTAssertEqual(loads.current, 2, "loaded once per version")
    }
}

final class RenamedScorerTests: XCTestCase {
    func testARenamedScorerScoresAsItsInnerOneUnderItsOwnName() throws {
        let inner = BrightnessScorer(version: "abc123")
        let renamed = RenamedScorer(inner, version: "v0003-abc123")
        XCTAssertEqual(renamed.version, "v0003-abc123")
        XCTAssertEqual(renamed.products, inner.products)
        let frame = Image(width: 2, height: 1, format: .grey, pixels: [200, 220])
        let a = try renamed.score(frame, product: "widget", normalisedThreshold: 0.5)
        let b = try inner.score(frame, product: "widget", normalisedThreshold: 0.5)
        XCTAssertEqual(a.raw, b.raw)
        XCTAssertEqual(a.isAnomalous, b.isAnomalous)
        XCTAssertEqual(try renamed.score([FrameRequest(frame: frame, product: "widget", normalisedThreshold: 0.5)]).map(\.raw), [b.raw])
    }
}
