import Foundation
@testable import InspectdProducts
import XCTest
@testable import InspectdDaemon

/// With `launch = "daemon"` the daemon starts the trainer when its window is open and products
/// wait, never two at once, and not again right after one ended; otherwise it leaves training to
/// the timer.
final class TrainingWindowTests: XCTestCase {
    final class FakeTrainer: TrainerChild, @unchecked Sendable {
        let exit = Locked<Int32?>(nil)
        let stopped = Locked(false)
        var exitStatus: Int32? { exit.current }
        func stop() { stopped.update { $0 = true } }
    }

    /// A daemon on `training`, a product waiting in its queue, and every trainer it started.
    func run(training: String, for seconds: Double, restartDelay: TimeInterval = 60,
             during: (Locked<[FakeTrainer]>) async throws -> Void = { _ in }) async throws -> [FakeTrainer] {
        let harness = try DaemonHarness(trainingExtra: training)
        defer { harness.cleanUp() }
        let queue = ProductQueue(stateDirectory: harness.root.appendingPathComponent("state").path)
        try queue.save(QueuedProduct(name: "solar_poly", state: .queued, displayName: "Poly", labelledBy: "op", note: "", cameras: [],
                                     update: false, images: 20, source: "/nowhere", queued: "2026-12-07T00:00:00Z", figures: [:]))
        let started = Locked<[FakeTrainer]>([])
        try await harness.start(loader: { _ in BrightnessScorer() }, startTrainer: { _ in
            let trainer = FakeTrainer()
            started.update { $0.append(trainer) }
            return trainer
        })
        await harness.daemon!.setTrainerRestartDelay(restartDelay)
        try await Task.sleep(for: .seconds(seconds))
        try await during(started)
        try await harness.stop()
        return started.current
    }

    func testTheDaemonStartsOneTrainerInItsWindowAndStopsItWhenItStops() async throws {
        let trainers = try await run(training: "window = \"always\"\nlaunch = \"daemon\"", for: 1.5, restartDelay: 0.6) { started in
            // Ticks every 200 ms: still one while it runs.
            XCTAssertEqual(started.current.count, 1)
            started.current[0].exit.update { $0 = 0 }
            // Ended with the product still waiting: started again only after the delay.
            try await Task.sleep(for: .milliseconds(300))
            XCTAssertEqual(started.current.count, 1)
            try await Task.sleep(for: .seconds(1))
            XCTAssertEqual(started.current.count, 2)
        }
        XCTAssertEqual(trainers.count, 2)
        XCTAssertTrue(trainers[1].stopped.current, "the daemon's stop stops the trainer it started")
    }

    func testOutsideTheWindowOrWithTheTimerTheDaemonStartsNone() async throws {
        let closed = try await run(training: "window = \"never\"\nlaunch = \"daemon\"", for: 1)
        XCTAssertEqual(closed.count, 0)
        let timer = try await run(training: "window = \"always\"\nlaunch = \"timer\"", for: 1)
        XCTAssertEqual(timer.count, 0)
    }
}
