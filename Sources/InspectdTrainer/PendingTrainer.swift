import Foundation
import InspectdConfig
import InspectdDetector
import InspectdFiles
import InspectdModel
import InspectdModelStore
import InspectdProducts
import InspectdSystemd
import Logging

/// `inspectd train-pending`: learns the queued products, one increment at a time, into new
/// versions of the model store.
///
/// An increment: copy the active version into a work folder, train the product there as a
/// projected increment (the trainer refits the older products' levels and makes the int8 layers),
/// run the regression guard against the active version, then publish the work folder as a new
/// version and, with `activation = "auto"`, make it current. A refused increment changes nothing
/// but the product's record.
///
/// Resumable: `<state>/training/increment.json` names the product, the version it started from
/// and how far it got, and the trainer checkpoints the work folder every 100 steps. A run that is
/// stopped (SIGTERM, the window closing) or killed continues there next time, as long as the
/// active version is still the one it started from; otherwise it starts again from the new one.
/// One increment runs at a time: the run holds `<state>/training/lock` throughout, and takes the
/// store's lock only to publish and activate, so `inspectd model` commands still work meanwhile.
public final class PendingTrainer {
    public struct Settings: Sendable {
        public var store: ModelStore
        public var queue: ProductQueue
        /// `<state_dir>`: the work folder, the lock and the status live in its `training/`.
        public var stateDirectory: String
        public var profile: TrainingProfile
        public var activation: TrainingWindowSettings.Activation
        public var keepVersions: Int
        public var regressionGuard: RegressionGuard
        public var window: DailyWindow

        /// The settings of `configuration`; `profile` replaces the configured one (tests train for a few steps).
        public init(configuration: Configuration, profile: TrainingProfile? = nil) throws {
            let state = configuration.daemon.stateDirectory
            store = ModelStore(root: URL(fileURLWithPath: state).appendingPathComponent("models"))
            // The daemon must score what this publishes; a model_dir elsewhere would never see it.
            let expected = store.currentLink.standardizedFileURL.path
            let configured = URL(fileURLWithPath: configuration.daemon.modelDirectory).standardizedFileURL.path
            guard configured == expected else {
                throw Failure(description: "\(configuration.files.first ?? "configuration"): [daemon] model_dir is \(configuration.daemon.modelDirectory), "
                              + "but the trainer publishes versions to the store \(store.root.path), so the daemon would never score them; "
                              + "set model_dir = \"\(store.currentLink.path)\" (or leave it out) and import the model there "
                              + "with 'inspectd model import --store \(store.root.path) --activate FOLDER'")
            }
            queue = ProductQueue(stateDirectory: state)
            stateDirectory = state
            self.profile = profile ?? TrainingProfile.named(configuration.training.profile)!
            activation = configuration.training.activation
            keepVersions = configuration.training.keepVersions
            regressionGuard = RegressionGuard(maxFalsePositiveRise: configuration.training.guardMaxFPRRise,
                                              maxAUROCDrop: configuration.training.guardMaxAUROCDrop,
                                              newProductAUROC: configuration.training.guardNewProductAUROC)
            window = configuration.training.window
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// What one run did.
    public enum Outcome: Sendable, Equatable {
        /// Learnt into `version`; `activated` unless activation is manual.
        case learnt(product: String, version: String, activated: Bool, seconds: Double)
        /// The guard refused it; the active version did not change.
        case refused(product: String, reasons: [String])
        /// Stopped half-way (a signal, or the window closed); the next run resumes it.
        case stopped(product: String, step: Int)
        /// Another run holds the training lock.
        case busy(holder: String)
        /// Outside the training window: nothing was started.
        case outsideWindow
    }

    let settings: Settings
    let backbone: EfficientNetLite0
    let backboneRecord: BackboneRecord
    let logger: Logger
    /// Asked between training steps; yes stops the run resumably. The window's end is checked besides.
    public var shouldStop: () -> Bool = { false }
    /// Called with each status the trainer writes (the CLI sends it as STATUS=).
    public var onStatus: ((TrainingStatus) -> Void)?
    /// Where "now" comes from, for the window.
    public var clock: () -> Date = Date.init

    /// The backbone's checkpoint, for a first model (later versions inherit the copy their parent carries).
    let backboneFile: String?

    public init(settings: Settings, backbone: EfficientNetLite0, backboneRecord: BackboneRecord, backboneFile: String? = nil,
                logger: Logger) {
        self.settings = settings
        self.backboneFile = backboneFile
        self.backbone = backbone
        self.backboneRecord = backboneRecord
        self.logger = logger
    }

    var trainingFolder: URL { URL(fileURLWithPath: settings.stateDirectory).appendingPathComponent("training") }
    var workFolder: ModelFolder { ModelFolder(trainingFolder.appendingPathComponent("work")) }
    var incrementFile: URL { trainingFolder.appendingPathComponent("increment.json") }

    /// Learns every queued product in turn, until the queue is empty, the window closes or a stop
    /// is asked for. `ignoreWindow` trains now whatever the window (an operator's request).
    public func run(ignoreWindow: Bool = false) throws -> [Outcome] {
        guard ignoreWindow || insideWindow else { return [.outsideWindow] }
        try FileManager.default.createDirectory(at: trainingFolder, withIntermediateDirectories: true)
        let lock: StoreLock
        do {
            lock = try StoreLock(path: trainingFolder.appendingPathComponent("lock").path, purpose: "inspectd train-pending")
        } catch let busy as StoreLock.Busy {
            return [.busy(holder: busy.holder)]
        }
        return try withExtendedLifetime(lock) {
            try settings.store.locked(purpose: "train-pending: recovering") { _ = try settings.store.recover() }
            var outcomes: [Outcome] = []
            defer { writeStatus(TrainingStatus(phase: .idle)) }
            while let next = try nextProduct() {
                let outcome: Outcome
                do {
                    outcome = try learn(next, ignoreWindow: ignoreWindow)
                } catch let error as Trainer.Failure {
                    outcome = try fail(next, reason: error.description)
                } catch let error as DataSetError {
                    outcome = try fail(next, reason: error.description)
                } catch let error as Failure {
                    outcome = try fail(next, reason: error.description)
                }
                outcomes.append(outcome)
                if case .stopped = outcome { break }
            }
            return outcomes
        }
    }

    var insideWindow: Bool { settings.window.contains(clock(), calendar: .current) }

    /// The product being trained when a run stopped, else the longest queued.
    func nextProduct() throws -> QueuedProduct? {
        let waiting = try settings.queue.products().filter { $0.state == .queued || $0.state == .training }
        return waiting.first { $0.state == .training } ?? waiting.min { ($0.queued, $0.name) < ($1.queued, $1.name) }
    }

    /// Where an increment stands on disk, so that a new run can pick it up.
    struct Increment: Codable, Equatable {
        enum Stage: String, Codable {
            /// The work folder holds the parent's copy, perhaps a training checkpoint.
            case training
            /// Trained, quantised and calibrated: the guard is next.
            case trained
        }
        var product: String
        /// The version it started from; nil when the store had none (the first product).
        var parent: String?
        var stage: Stage
        var started: String
        /// Seconds spent on it by earlier runs that stopped (a killed run's time is lost).
        var seconds: Double?
    }

    func learn(_ product: QueuedProduct, ignoreWindow: Bool) throws -> Outcome {
        // From here to the end of training, then from there to the end: what `increment.seconds` adds up.
        var counted = Date()
        let parent = try settings.store.current()
        if product.update && parent?.record.products.contains(product.name) != true {
            throw Failure(description: "'\(product.name)' is offered as an update (more images of a known product), and the active version "
                          + "\(parent.map { "\($0.name) knows \($0.record.products.joined(separator: ", "))" } ?? "does not exist yet")")
        }
        var increment = try prepare(product, parent: parent)
        var record = product
        record.state = .training
        record.reason = nil
        record.figures = [:]
        try settings.queue.save(record)

        if increment.stage == .training {
            logger.info("training \(product.name) as an increment of \(parent?.name ?? "a new model")",
                        metadata: meta(.trainingStarted, product.name, model: parent?.name))
            let trainer = Trainer(folder: workFolder, backbone: backbone, backboneRecord: backboneRecord,
                                  backboneFile: backboneFile) { [logger] line in
                logger.info("\(line)")
            }
            var lastWritten = Date.distantPast
            trainer.onStep = { [self] report in
                // Seconds apart at most: the status is for people and the metrics, not a log.
                guard report.step == report.totalSteps || Date().timeIntervalSince(lastWritten) >= 2 else { return }
                lastWritten = Date()
                writeStatus(TrainingStatus(phase: .training, product: product.name, step: report.step, steps: report.totalSteps,
                                           pid: getpid()))
            }
            trainer.shouldStop = { [self] in shouldStop() || (!ignoreWindow && !insideWindow) }
            do {
                try trainer.train(products: [Trainer.ProductSource(name: product.name, folder: settings.queue.imagesFolder(of: product.name).path)],
                                  profile: settings.profile, options: Trainer.IncrementOptions(update: product.update))
            } catch let interrupted as Trainer.Interrupted {
                increment.seconds = (increment.seconds ?? 0) + Date().timeIntervalSince(counted)
                try save(increment)
                logger.info("training \(product.name) stopped at step \(interrupted.step); the next run resumes it")
                return .stopped(product: product.name, step: interrupted.step)
            }
            increment.stage = .trained
            increment.seconds = (increment.seconds ?? 0) + Date().timeIntervalSince(counted)
            counted = Date()
            try save(increment)
        }

        writeStatus(TrainingStatus(phase: .validating, product: product.name, pid: getpid()))
        let verdict = try check(product.name, parent: parent)
        // The increment's time in every run that worked on it.
        let seconds = (increment.seconds ?? 0) + Date().timeIntervalSince(counted)
        guard verdict.passed else {
            record.state = .refused
            record.figures = verdict.figures
            record.reason = verdict.failures.joined(separator: "; ")
            try settings.queue.save(record)
            try discardWork()
            logger.warning("the increment for \(product.name) was refused by the regression guard, \(parent?.name ?? "no model") stays active: \(record.reason!)",
                           metadata: meta(.trainingRejected, product.name, model: parent?.name, reason: record.reason))
            finishStatus(product.name, outcome: "refused", seconds: seconds, version: nil)
            return .refused(product: product.name, reasons: verdict.failures)
        }

        var figures = verdict.figures
        figures["increment_seconds"] = seconds.rounded()
        let manifest = try workFolder.readManifest()
        let origin = "increment: \(product.name)\(product.update ? " (update)" : "")"
        let (version, activated) = try settings.store.locked(purpose: "train-pending: publishing \(product.name)") { () throws -> (ModelStore.Version, Bool) in
            // A run killed after publishing and before recording it left its version: not published twice.
            let version = try settings.store.versions().last {
                $0.record.origin == origin && $0.record.parent == parent?.name && $0.record.created >= increment.started
            } ?? settings.store.publishCopy(of: workFolder.url, products: Array(manifest.products.keys), parent: parent?.name,
                                            origin: origin, figures: figures)
            // A version activated by hand meanwhile is the operator's choice: not overridden.
            let active = try settings.store.current()?.name
            let activate = settings.activation == .auto && active == parent?.name
            if activate { try settings.store.activate(version.name) }
            let removed = try settings.store.prune(keep: settings.keepVersions)
            if !removed.isEmpty { logger.info("removed old model versions \(removed.joined(separator: ", ")) (keep_versions = \(settings.keepVersions))") }
            return (version, activate)
        }
        record.state = .learnt
        record.version = version.name
        record.figures = figures
        record.reason = nil
        try settings.queue.save(record)
        try discardWork()
        let next = activated ? "it is now the active version" : "it waits for 'inspectd model activate \(version.name)' (activation = manual)"
        logger.notice("learnt \(product.name) in \(Int(seconds)) s as model version \(version.name); \(next)",
                      metadata: meta(.trainingFinished, product.name, model: version.name))
        finishStatus(product.name, outcome: "learnt", seconds: seconds, version: version.name)
        return .learnt(product: product.name, version: version.name, activated: activated, seconds: seconds)
    }

    /// A product its increment cannot be made for (its images unreadable, an update of a product
    /// the active version does not know): refused with the reason, so that the queue moves on;
    /// `inspectd products --retry` queues it again once the cause is fixed.
    func fail(_ product: QueuedProduct, reason: String) throws -> Outcome {
        var record = product
        record.state = .refused
        record.reason = "training failed: \(reason)"
        try settings.queue.save(record)
        try discardWork()
        logger.error("cannot learn \(product.name): \(reason)", metadata: meta(.trainingRejected, product.name, model: nil, reason: record.reason))
        finishStatus(product.name, outcome: "refused", seconds: 0, version: nil)
        return .refused(product: product.name, reasons: [record.reason!])
    }

    /// The increment to continue: the one on disk when it is for this product and this parent,
    /// else a fresh copy of the parent's files (no copy for a first product: the trainer makes
    /// the model).
    func prepare(_ product: QueuedProduct, parent: ModelStore.Version?) throws -> Increment {
        if let data = try? Data(contentsOf: incrementFile), let increment = try? JSONDecoder().decode(Increment.self, from: data),
           increment.product == product.name, increment.parent == parent?.name {
            logger.info("continuing the increment for \(product.name) begun \(increment.started) (\(increment.stage.rawValue))")
            return increment
        }
        try discardWork()
        try FileManager.default.createDirectory(at: workFolder.url, withIntermediateDirectories: true)
        if let parent {
            for name in try FileManager.default.contentsOfDirectory(atPath: parent.folder.path).sorted() where name != "version.json" {
                try FileManager.default.copyItem(at: parent.folder.appendingPathComponent(name), to: workFolder.url.appendingPathComponent(name))
            }
        }
        let increment = Increment(product: product.name, parent: parent?.name, stage: .training, started: Timestamp.iso8601())
        try save(increment)
        return increment
    }

    /// The guard's verdict on the work folder against `parent` (every product of the parent is
    /// an older product; with no parent there is only the new product's floor).
    func check(_ product: String, parent: ModelStore.Version?) throws -> RegressionGuard.Verdict {
        let log: (String) -> Void = { [logger] line in logger.info("\(line)") }
        let before = try parent.map { try HeldOutCheck.run(folder: ModelFolder($0.folder), backbone: backbone, log: log) } ?? [:]
        let after = try HeldOutCheck.run(folder: workFolder, backbone: backbone, log: log)
        let verdict = settings.regressionGuard.judge(before: before, after: after)
        for note in verdict.notes { logger.warning("regression guard: \(note)") }
        for name in after.keys.sorted() {
            let figures = ["auroc_before", "auroc", "fpr_before", "fpr"].compactMap { key in
                verdict.figures["\(name).\(key)"].map { "\(key) \(RegressionGuard.format($0))" }
            }
            logger.info("regression guard, \(name): \(figures.joined(separator: ", "))")
        }
        return verdict
    }

    func save(_ increment: Increment) throws {
        try AtomicFile.write(try JSONEncoder().encode(increment), to: incrementFile)
    }

    /// Removes the work folder and the increment's record (the record first: a folder without
    /// one is never resumed).
    func discardWork() throws {
        try? FileManager.default.removeItem(at: incrementFile)
        if FileManager.default.fileExists(atPath: workFolder.url.path) { try FileManager.default.removeItem(at: workFolder.url) }
    }

    /// The status last written, from disk at first: each new one keeps its last increment's figures.
    lazy var lastStatus = TrainingStatus.read(stateDirectory: settings.stateDirectory)

    func writeStatus(_ status: TrainingStatus) {
        var status = status
        status.lastProduct = lastStatus.lastProduct
        status.lastOutcome = lastStatus.lastOutcome
        status.lastSeconds = lastStatus.lastSeconds
        status.lastVersion = lastStatus.lastVersion
        lastStatus = status
        do {
            try status.write(stateDirectory: settings.stateDirectory)
        } catch {
            logger.warning("cannot write the training status: \(error)")
        }
        onStatus?(status)
    }

    func finishStatus(_ product: String, outcome: String, seconds: Double, version: String?) {
        var status = TrainingStatus(phase: .idle)
        lastStatus.lastProduct = product
        lastStatus.lastOutcome = outcome
        lastStatus.lastSeconds = seconds.rounded()
        lastStatus.lastVersion = version
        status.pid = getpid()
        writeStatus(status)
    }

    func meta(_ id: JournalMessageID, _ product: String, model: String?, reason: String? = nil) -> Logger.Metadata {
        var metadata = id.metadata
        metadata[JournalField.product] = .string(product)
        if let model { metadata[JournalField.model] = .string(model) }
        if let reason { metadata[JournalField.reason] = .string(reason) }
        return metadata
    }
}
