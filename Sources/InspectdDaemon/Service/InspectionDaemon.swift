import Dispatch
import Foundation
import InspectdConfig
import InspectdFiles
import InspectdProducts
import InspectdSystemd
import InspectdWatch
import Logging
import ServiceLifecycle
import UnixSignals

/// `inspectd run`: watches the cameras, scores every new frame once, spools verdicts and
/// pictures, alerts through the journal, talks to systemd, and reloads on SIGHUP.
///
/// Tasks: the watcher (inotify, scans) feeds a bounded queue; one scoring loop drains it on a
/// thread of its own (scoring is seconds of CPU, not to be run on the cooperative pool); a
/// ticker refreshes STATUS=, the metrics file and the watchdog; a retention loop prunes the
/// spool; a signal loop reloads. SIGTERM (through the ServiceGroup) stops the watcher, lets
/// the frames in flight (one batch) finish, and returns; frames still queued were not recorded and are found
/// again at the next start.
public actor InspectionDaemon: Service {
    public typealias ScorerLoader = @Sendable (Configuration) throws -> FrameScorer?

    let configFile: String
    let dropInDirectory: String?
    let loadScorer: ScorerLoader
    let notifier: ServiceNotifier
    let logger: Logger
    public let metrics = DaemonMetrics()

    var configuration: Configuration
    var scorer: FrameScorer?
    var watcher: FrameWatcher?
    var watcherTask: Task<Void, Never>?
    var queue: FrameQueue
    var spool: Spool
    let index: FrameIndex
    /// Released when `run()` returns, so a stopped daemon's successor in the same process can start.
    var stateLock: StateLock?
    let scoringQueue = DispatchQueue(label: "inspectd.scoring")
    /// When the batch being scored started; nil while the loop waits for work.
    var busySince: ContinuousClock.Instant?
    var reportedNoModel = false
    /// The model on disk when it was last loaded (or failed to load), and whether a load is running.
    var loadedIdentity: ModelIdentity?
    var loadingModel = false
    var scanningProducts = false
    let startTrainer: TrainerStarter
    /// The trainer started in the window, while it runs (and until its exit is seen).
    var trainerChild: TrainerChild?
    /// Failed trainer runs in a row, and when the next may start: a trainer that keeps failing
    /// (a broken model store, a full disk) is retried less and less often, not every tick.
    var trainerFailures = 0
    var nextTrainerStart = Date.distantPast
    var trainerRestartDelay: TimeInterval = 60

    /// Reads the configuration and the frame index; nothing runs until `run()`.
    public init(configFile: String, dropInDirectory: String? = nil, notifier: ServiceNotifier = ServiceNotifier(),
                logger: Logger, startTrainer: @escaping TrainerStarter = TrainerProcess.starter,
                loadScorer: @escaping ScorerLoader) throws {
        self.configFile = configFile
        self.startTrainer = startTrainer
        self.dropInDirectory = dropInDirectory
        self.notifier = notifier
        self.logger = logger
        self.loadScorer = loadScorer
        let configuration = try Configuration.load(mainFile: configFile, dropInDirectory: dropInDirectory)
        self.configuration = configuration
        spool = try Self.createFolders(configuration)
        stateLock = try StateLock(stateDirectory: configuration.daemon.stateDirectory)
        index = try FrameIndex(file: URL(fileURLWithPath: configuration.daemon.stateDirectory).appendingPathComponent("frames.index"))
        queue = FrameQueue(capacity: configuration.daemon.queueCapacity)
    }

    public func run() async throws {
        loadModel()
        startWatcher()
        await waitForInitialScan()
        notify { try $0.ready(status: statusLine()) }
        logger.info("inspectd ready: \(configuration.cameras.count) camera(s), configuration from \(configuration.files.joined(separator: ", "))",
                    metadata: ["MESSAGE_ID": "\(JournalMessageID.daemonStarted.id)"])

        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.scoringLoop() }
                group.addTask { await self.tickLoop() }
                group.addTask { await self.retentionLoop() }
                group.addTask { await self.signalLoop() }
                await self.scoringEnded.wait()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            Task { await self.beginShutdown() }
        }
        writeMetrics()
        stateLock = nil
        logger.info("inspectd stopped after \(metrics.totalFrames) frame(s)", metadata: ["MESSAGE_ID": "\(JournalMessageID.daemonStopping.id)"])
    }

    // MARK: - Scoring

    let scoringEnded = Gate()

    /// Scores what is waiting whenever it is free: the next frame, with every frame queued behind
    /// it up to `batch_max`, in one batch. It never waits for a batch to fill, so a lone frame is
    /// scored as soon as it arrives, and a burst is scored in batches that cost less per frame.
    func scoringLoop() async {
        // After a stop began only the batch in flight finishes: frames still queued have no entry
        // in the index, so the next start's scan finds them, well inside systemd's stop timeout.
        while let first = await queue.next(), !shuttingDown {
            let arrivals = [first] + queue.takeWaiting(upTo: configuration.daemon.batchMax - 1)
            let processor = FrameProcessor(
                configuration: configuration, scorer: scorer, spool: spool,
                quarantine: Quarantine(root: URL(fileURLWithPath: configuration.daemon.quarantineDirectory)),
                index: index, metrics: metrics, logger: logger)
            busySince = .now
            let outcomes = await withCheckedContinuation { continuation in
                scoringQueue.async { continuation.resume(returning: processor.process(arrivals)) }
            }
            busySince = nil
            let unwritable = zip(arrivals, outcomes).compactMap { arrival, outcome -> (FrameArrival, String)? in
                if case .spoolUnwritable(let reason) = outcome { (arrival, reason) } else { nil }
            }
            if let reason = unwritable.first?.1 { await pauseUntilSpoolWritable(holding: unwritable.map(\.0), reason: reason) }
            let retries = zip(arrivals, outcomes).filter { $0.1 == .retry }.map(\.0)
            if !retries.isEmpty {
                let queue = queue, settle = processor.settle
                Task {
                    try? await Task.sleep(for: settle)
                    for arrival in retries { await queue.push(arrival) }
                }
            }
            if outcomes.contains(.waitingForModel) && !reportedNoModel {
                reportedNoModel = true
                logger.warning("no model in \(configuration.daemon.modelDirectory) yet: frames wait in their folders until one is trained")
            }
        }
        scoringEnded.open()
    }

    /// Set while inspection is paused because verdicts cannot be written into the spool.
    var spoolBlocked = false

    /// A full disk (or a spool gone read-only) must not turn frames into lost verdicts: the loop
    /// takes no more frames, says so once, and tries the spool every few seconds; once a file of a
    /// verdict's size can be written, the frames whose verdicts failed are offered again. Frames
    /// arriving meanwhile wait in their folders (and the watcher's queue); none is recorded as done.
    func pauseUntilSpoolWritable(holding frames: [FrameArrival], reason: String) async {
        spoolBlocked = true
        metrics.setSpoolWritable(false)
        let root = spool.root.path
        logger.critical("inspection paused: the spool \(root) cannot be written (\(reason)); frames stay in their folders until it can",
                        metadata: ["MESSAGE_ID": "\(JournalMessageID.spoolBlocked.id)", JournalField.reason: "\(reason)"])
        notify { try $0.status(statusLine()) }
        writeMetrics()
        let started = ContinuousClock.now
        while !shuttingDown {
            try? await Task.sleep(for: spoolRetryInterval)
            if shuttingDown { break }
            // The folders are made again too: someone may have removed them.
            if let fresh = try? Spool(root: spool.root), fresh.accepts(bytes: 1 << 20) { break }
        }
        spoolBlocked = false
        metrics.setSpoolWritable(true)
        // Stopping meanwhile: the held frames are not in the index, so the next start finds them.
        guard !shuttingDown else { return }
        logger.notice("inspection resumed: the spool \(root) can be written again after \(Int((ContinuousClock.now - started).inSeconds)) s; \(frames.count) held frame(s) and \(queue.depth) queued go on",
                      metadata: ["MESSAGE_ID": "\(JournalMessageID.spoolResumed.id)"])
        // Pushed from another task: this loop is the queue's only consumer, and a full queue
        // would otherwise wait for it.
        let queue = queue
        Task { for frame in frames { await queue.push(frame) } }
    }

    var spoolRetryInterval: Duration = .seconds(2)

    var shuttingDown = false

    func beginShutdown() {
        shuttingDown = true
        notify { try $0.stopping() }
        logger.info("stopping: finishing the batch being scored; frames still queued are scored at the next start (\(queue.depth) now)")
        watcherTask?.cancel()
        queue.finish()
        trainerChild?.stop()
    }

    // MARK: - Watching

    func startWatcher() {
        let cameras = configuration.cameras.map { camera in
            WatchedCamera(name: camera.name, folder: URL(fileURLWithPath: camera.folder).standardizedFileURL,
                          recursive: camera.recursive, extensions: Set(camera.extensions), pollInterval: camera.pollInterval,
                          settle: camera.settle)
        }
        let logger = logger, metrics = metrics
        let watcher = FrameWatcher(cameras: cameras, queue: queue) { [weak self] event in
            switch event {
            case .started(let folders):
                logger.info("watching \(folders) folder(s); start-up scan done")
                self?.initialScan.open()
            case .rescan(let reason):
                metrics.recordRescan()
                logger.notice("rescanning every camera folder: \(reason)", metadata: ["MESSAGE_ID": "\(JournalMessageID.rescan.id)"])
            case .watchFailed(let folder, let reason):
                logger.error("cannot watch \(folder): \(reason)")
            case .folderMissing(let folder):
                logger.warning("camera folder \(folder) does not exist (a typo, or a share not mounted?): nothing from it is inspected until it appears")
            case .folderAppeared(let folder):
                logger.notice("camera folder \(folder) exists now and is watched")
            case .linkIgnored(let path):
                logger.notice("ignored \(path): it is a symbolic link, and only regular files are taken as frames (a link could point anywhere)")
            case .folderRemoved(let folder):
                logger.warning("camera folder \(folder) was removed or moved away: nothing from it is inspected until it is back")
            default:
                logger.debug("watcher: \(event)")
            }
        }
        self.watcher = watcher
        watcherTask = Task {
            do { try await watcher.run() } catch { logger.error("the watcher stopped: \(error)") }
        }
    }

    /// Opened when the watcher has its watches and has scanned the folders: READY=1 waits for
    /// it, so the frames already there are queued by then.
    let initialScan = Gate()

    func waitForInitialScan() async {
        if configuration.cameras.isEmpty { return }
        await initialScan.wait()
    }

    // MARK: - Model

    /// Loads the model now, on the daemon's own time: at start and on SIGHUP.
    func loadModel() {
        let identity = ModelIdentity(modelDirectory: configuration.daemon.modelDirectory)
        install(Result { try loadScorer(configuration) }, identity: identity)
    }

    /// At every tick: when the model on disk changed (a new version activated in the store, a
    /// model trained in place, a first model), it is loaded beside the one in use, off the
    /// daemon's executor, and swapped in when ready. Frames keep being scored by the old model
    /// meanwhile, and a batch is scored by the model it started with, so the switch falls
    /// between two batches and no frame sees a half-loaded model.
    func checkModelOnDisk() {
        guard !loadingModel, !shuttingDown else { return }
        let identity = ModelIdentity(modelDirectory: configuration.daemon.modelDirectory)
        guard identity != loadedIdentity, identity != nil || scorer == nil else { return }
        loadingModel = true
        let configuration = configuration, loadScorer = loadScorer
        Task.detached(priority: .utility) {
            let result = Result { try loadScorer(configuration) }
            await self.finishLoading(result, identity: identity)
        }
    }

    func finishLoading(_ result: Result<FrameScorer?, any Error>, identity: ModelIdentity?) {
        loadingModel = false
        install(result, identity: identity)
    }

    /// Puts a loaded model in use when it is another one than the model in use; a failure is said
    /// once per state of the disk (the old model, if any, goes on scoring).
    func install(_ result: Result<FrameScorer?, any Error>, identity: ModelIdentity?) {
        loadedIdentity = identity
        do {
            guard let loaded = try result.get(), loaded.version != scorer?.version else { return }
            let replacing = scorer.map { " (replacing \($0.version))" } ?? ""
            let event = scorer == nil ? JournalMessageID.modelLoaded : .modelSwapped
            logger.notice("model \(loaded.version) loaded from \(configuration.daemon.modelDirectory)\(replacing): products \(loaded.products.joined(separator: ", ")), scoring in \(loaded.precision.rawValue)",
                          metadata: ["MESSAGE_ID": "\(event.id)", JournalField.model: "\(loaded.version)"])
            for warning in loaded.warnings {
                logger.warning("model \(loaded.version): \(warning)", metadata: [JournalField.model: "\(loaded.version)"])
            }
            reportedNoModel = false
            scorer = loaded
            warnAboutUnknownProducts()
            metrics.setModel(loaded.version, precision: loaded.precision.rawValue)
            watcher?.rescan()
        } catch {
            logger.error("cannot load the model in \(configuration.daemon.modelDirectory): \(error)")
        }
    }

    /// Cameras set to a product the model does not know, said once per model and configuration:
    /// their frames get ERROR verdicts until the product is learnt.
    func warnAboutUnknownProducts() {
        guard let scorer else { return }
        for (camera, product) in configuration.camerasWithUnknownProduct(known: Set(scorer.products)) {
            let known = scorer.products.joined(separator: ", ")
            logger.warning("camera \(camera.name) is set to product \(product), which model \(scorer.version) does not know (it knows \(known)): its frames get ERROR verdicts until \(product) is learnt",
                           metadata: [JournalField.camera: "\(camera.name)", JournalField.product: "\(product)"])
        }
    }

    // MARK: - Product intake

    /// At every tick: new-product folders that are ready are checked off the daemon's executor
    /// (decoding their images takes a while), and each outcome goes to the journal.
    func scanProducts() {
        guard !scanningProducts, !shuttingDown else { return }
        scanningProducts = true
        let intake = ProductIntake(configuration: configuration)
        let known = Set(scorer?.products ?? [])
        Task.detached(priority: .utility) {
            let result = Result { try intake.scan(known: known) }
            await self.reportIntake(result)
        }
    }

    func reportIntake(_ result: Result<(outcomes: [ProductIntake.Outcome], failures: [ProductFailure]), any Error>) {
        scanningProducts = false
        do {
            let (outcomes, failures) = try result.get()
            for outcome in outcomes {
                switch outcome {
                case .queued(let record):
                    logger.notice("product \(record.name) (\(record.displayName)) queued for training: \(record.images) images, labelled by \(record.labelledBy)",
                                  metadata: ["MESSAGE_ID": "\(JournalMessageID.productQueued.id)", JournalField.product: "\(record.name)"])
                case .rejected(let name, let reasons):
                    logger.warning("product folder \(name) rejected: \(reasons.joined(separator: "; "))",
                                   metadata: ["MESSAGE_ID": "\(JournalMessageID.productRejected.id)", JournalField.product: "\(name)",
                                              JournalField.reason: "\(reasons.joined(separator: "; "))"])
                }
            }
            for failure in failures { logger.error("product intake: \(failure)") }
        } catch {
            logger.error("cannot read the products folder \(configuration.daemon.productsDirectory): \(error)")
        }
    }

    // MARK: - Periodic work

    func tickLoop() async {
        let watchdog = notifier.watchdogInterval
        let interval = min(configuration.daemon.statusInterval, watchdog.map { $0 / 2 } ?? .seconds(3600))
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            metrics.setQueue(depth: queue.depth, capacity: queue.capacity)
            // After STOPPING=1 the manager only waits for the exit; nothing more is said.
            if shuttingDown { continue }
            notify { try $0.status(statusLine()) }
            writeMetrics()
            // Progress, not liveness: a scoring loop stuck on one batch for the whole watchdog
            // period stops the pings, and systemd restarts the daemon.
            if let watchdog, busySince.map({ ContinuousClock.now - $0 < watchdog }) ?? true { notify { try $0.watchdog() } }
            checkModelOnDisk()
            scanProducts()
            manageTraining()
        }
    }

    // MARK: - Training window

    /// At every tick: the trainer's progress and the queue into the metrics and, with
    /// `launch = "daemon"`, the trainer started when the window is open and products wait. It stops
    /// itself at the window's end; one lock keeps it and a timer's run from training together.
    func manageTraining() {
        let state = configuration.daemon.stateDirectory
        let status = TrainingStatus.read(stateDirectory: state)
        let waiting = (try? ProductQueue(stateDirectory: state).products().filter { $0.state == .queued || $0.state == .training }.count) ?? 0
        metrics.setTraining(status, waiting: waiting)
        trainingLine = status.phase == .idle ? nil : TrainingStatus.describe(status)

        if let child = trainerChild, let exit = child.exitStatus {
            trainerChild = nil
            if exit == 0 {
                // It ended with products still waiting only when it could not take them (the
                // window closed, or a timer's run holds the lock): no point in asking again at once.
                trainerFailures = 0
                nextTrainerStart = Date().addingTimeInterval(trainerRestartDelay)
            } else {
                trainerFailures += 1
                let delay = min(3600, 60 * pow(2, Double(trainerFailures - 1)))
                nextTrainerStart = Date().addingTimeInterval(delay)
                logger.error("the trainer (inspectd train-pending) exited with status \(exit); retrying in \(Int(delay)) s")
            }
        }
        guard configuration.training.launch == .daemon, !shuttingDown, trainerChild == nil, waiting > 0,
              Date() >= nextTrainerStart, configuration.training.window.contains(Date(), calendar: .current) else { return }
        do {
            trainerChild = try startTrainer(configFile)
            logger.info("training window open and \(waiting) product(s) waiting: started the trainer at idle priority")
        } catch {
            trainerFailures += 1
            nextTrainerStart = Date().addingTimeInterval(60)
            logger.error("cannot start the trainer: \(error)")
        }
    }

    func setTrainerRestartDelay(_ seconds: TimeInterval) { trainerRestartDelay = seconds }

    /// What the trainer is doing, for STATUS=; nil when it is idle.
    var trainingLine: String?

    func retentionLoop() async {
        while !Task.isCancelled {
            let daemon = configuration.daemon, settings = configuration.retention
            let spool = URL(fileURLWithPath: daemon.spoolDirectory)
            let retention = Retention(
                maxBytes: settings.maxBytes, maxAge: settings.maxAge.map(\.inSeconds),
                folders: [spool.appendingPathComponent("new"), spool.appendingPathComponent("cur"), URL(fileURLWithPath: daemon.quarantineDirectory)],
                staging: [spool.appendingPathComponent("tmp")])
            let report = await withCheckedContinuation { continuation in
                DispatchQueue.global(qos: .utility).async { continuation.resume(returning: retention.prune()) }
            }
            metrics.recordRetention(report)
            if report.removedFiles > 0 {
                logger.info("retention removed \(report.removedFiles) file(s), \(report.removedBytes) bytes; \(report.keptBytes) bytes kept")
            }
            try? await Task.sleep(for: settings.interval)
        }
    }

    func signalLoop() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            reload()
        }
    }

    /// SIGHUP: read the configuration again; a bad one is reported and the running one kept.
    func reload() {
        notify { try $0.reloading() }
        do {
            let fresh = try Configuration.load(mainFile: configFile, dropInDirectory: dropInDirectory)
            spool = try Self.createFolders(fresh)
            let camerasChanged = fresh.cameras != configuration.cameras
            configuration = fresh
            if camerasChanged {
                watcherTask?.cancel()
                startWatcher()
            }
            loadModel()
            warnAboutUnknownProducts()
            logger.notice("configuration reloaded from \(fresh.files.joined(separator: ", "))",
                          metadata: ["MESSAGE_ID": "\(JournalMessageID.configurationReloaded.id)"])
        } catch {
            logger.error("configuration not reloaded, the running one stays: \(error)")
        }
        notify { try $0.ready(status: statusLine()) }
    }

    /// systemd must not be able to stop the daemon by being unreachable: a failed notification
    /// is logged and the work goes on.
    func notify(_ send: (ServiceNotifier) throws -> Void) {
        do { try send(notifier) } catch { logger.warning("cannot notify systemd: \(error)") }
    }

    func statusLine() -> String {
        let model = scorer.map { "model \($0.version)" } ?? "no model yet"
        return (spoolBlocked ? "PAUSED, the spool cannot be written; " : "") + String(format: "%.2f frames/s, backlog %d, %d frames, ", metrics.framesPerSecond, queue.depth, metrics.totalFrames) + model
            + (trainingLine.map { "; \($0)" } ?? "")
    }

    func writeMetrics() {
        do {
            try metrics.write(to: URL(fileURLWithPath: configuration.daemon.metricsFile))
        } catch {
            logger.warning("cannot write metrics: \(error)")
        }
    }

    /// Creates every folder the configuration names; returns the spool in them.
    static func createFolders(_ configuration: Configuration) throws -> Spool {
        let d = configuration.daemon
        for folder in [d.stateDirectory, d.spoolDirectory, d.quarantineDirectory, d.productsDirectory,
                       URL(fileURLWithPath: d.metricsFile).deletingLastPathComponent().path] {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: folder,
                    NSLocalizedDescriptionKey: "cannot create \(folder): \(error.localizedDescription)"])
            }
        }
        return try Spool(root: URL(fileURLWithPath: d.spoolDirectory))
    }
}
