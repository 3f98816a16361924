import Foundation

/// Everything inspectd is told by its configuration files, validated.
///
/// Read from a main file (installed as /etc/inspectd/inspectd.toml) and the drop-ins
/// `inspectd.conf.d/*.toml` beside it, applied in lexical order: a drop-in overrides the keys it
/// sets; its cameras are added, replacing an earlier camera of the same name.
public struct Configuration: Sendable, Equatable {
    public var daemon: DaemonSettings
    public var retention: RetentionSettings
    public var training: TrainingWindowSettings
    public var cameras: [Camera]
    /// Per-product overrides, by product name; a product not listed uses `ProductSettings()`.
    public var products: [String: ProductSettings]
    /// The files read, in the order they were applied.
    public var files: [String]

    public init(daemon: DaemonSettings = DaemonSettings(), retention: RetentionSettings = RetentionSettings(),
                training: TrainingWindowSettings = TrainingWindowSettings(), cameras: [Camera] = [],
                products: [String: ProductSettings] = [:], files: [String] = []) {
        self.daemon = daemon
        self.retention = retention
        self.training = training
        self.cameras = cameras
        self.products = products
        self.files = files
    }

    /// The settings that apply to `product`: its override, or the defaults.
    public func settings(forProduct product: String) -> ProductSettings {
        products[product] ?? ProductSettings()
    }
}

public struct DaemonSettings: Sendable, Equatable {
    /// `state_dir`: frame index, model, metrics.
    public var stateDirectory: String
    /// `spool_dir`: verdicts and their PNGs, maildir-style (`tmp/`, `new/`).
    public var spoolDirectory: String
    /// `products_dir`: operators drop folders of normal images of new products here.
    public var productsDirectory: String
    /// `quarantine_dir`: frames that could not be read.
    public var quarantineDirectory: String
    /// `model_dir`.
    public var modelDirectory: String
    /// `metrics_file`: Prometheus textfile-collector output.
    public var metricsFile: String
    /// `threads`: 0 means all cores.
    public var threads: Int
    /// `precision`.
    public var precision: Precision
    /// `int8_confirm_band`: with int8, a frame whose raw score lies within this share of its
    /// threshold is scored again in fp32, which decides it (0 turns it off). The default is the
    /// detector's `Inspector.defaultConfirmationBand` (a daemon test checks that they agree).
    public var int8ConfirmBand: Double
    /// `queue_capacity`: frames waiting to be scored before new ones are held back.
    public var queueCapacity: Int
    /// `batch_max`: the most frames scored in one call, taken from those already waiting when
    /// scoring is free (it never waits for more); 1 scores one frame at a time.
    public var batchMax: Int
    /// `heatmaps`: write heatmap, overlay and mask PNGs beside each verdict.
    public var heatmaps: Bool
    /// `status_interval`: how often the systemd STATUS= line and the metrics are refreshed.
    public var statusInterval: Duration
    /// `log_level`: one of `DaemonSettings.logLevels`.
    public var logLevel: String

    /// Severity names, least severe first (those of swift-log).
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// The defaults, with every other folder derived from `stateDirectory`.
    public init(stateDirectory: String = "/var/lib/inspectd") {
        self.stateDirectory = stateDirectory
        spoolDirectory = "/var/spool/inspectd"
        productsDirectory = stateDirectory + "/products"
        quarantineDirectory = stateDirectory + "/quarantine"
        modelDirectory = stateDirectory + "/models/current"
        metricsFile = stateDirectory + "/metrics/inspectd.prom"
        threads = 0
        precision = .int8
        int8ConfirmBand = 0.05
        queueCapacity = 256
        batchMax = 8
        heatmaps = true
        statusInterval = .seconds(5)
        logLevel = "info"
    }
}

public enum Precision: String, Sendable, CaseIterable {
    case fp32
    case int8
}

public struct RetentionSettings: Sendable, Equatable {
    /// `max_bytes`: the spool and the quarantine together; nil (written "0") for no limit.
    public var maxBytes: Int64?
    /// `max_age`: nil (written "0") to keep files however old.
    public var maxAge: Duration?
    /// `interval`: how often the limits are enforced.
    public var interval: Duration

    public init(maxBytes: Int64? = 10 << 30, maxAge: Duration? = .seconds(30 * 86400), interval: Duration = .seconds(600)) {
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self.interval = interval
    }
}

public struct TrainingWindowSettings: Sendable, Equatable {
    /// `window`: when training may run, since it competes with scoring for the CPU.
    public var window: DailyWindow
    /// `profile`: one of `TrainingWindowSettings.profiles`.
    public var profile: String
    /// `minimum_images`: decodable images a new product's folder needs to be queued.
    public var minimumImages: Int
    /// `launch`: who starts `inspectd train-pending` when the window opens.
    public var launch: TrainingLaunch
    /// `activation`: what happens to a version the regression guard passed.
    public var activation: Activation
    /// `keep_versions`: versions kept in the model store (the active one is never removed).
    public var keepVersions: Int
    /// `guard_max_fpr_rise`: how much an older product's false-positive rate on its held-out
    /// normals may rise in an increment.
    public var guardMaxFPRRise: Double
    /// `guard_max_auroc_drop`: how much an older product's AUROC of held-out normals against
    /// patch-perturbed copies may drop in an increment.
    public var guardMaxAUROCDrop: Double
    /// `guard_new_product_auroc`: the AUROC the new product's own check must reach.
    public var guardNewProductAUROC: Double

    public static let profiles = ["quick", "standard"]

    public enum TrainingLaunch: String, Sendable, CaseIterable {
        /// systemd's inspectd-train.timer starts the trainer.
        case timer
        /// The daemon starts the trainer as an idle-priority child while the window is open.
        case daemon
    }

    public enum Activation: String, Sendable, CaseIterable {
        /// A version the guard passed becomes the active one at once.
        case auto
        /// It waits for `inspectd model activate VERSION`.
        case manual
    }

    public init(window: DailyWindow = .between(start: 22 * 60, end: 6 * 60), profile: String = "standard", minimumImages: Int = 20,
                launch: TrainingLaunch = .timer, activation: Activation = .auto, keepVersions: Int = 5,
                guardMaxFPRRise: Double = 0.1, guardMaxAUROCDrop: Double = 0.03, guardNewProductAUROC: Double = 0.8) {
        self.window = window
        self.profile = profile
        self.minimumImages = minimumImages
        self.launch = launch
        self.activation = activation
        self.keepVersions = keepVersions
        self.guardMaxFPRRise = guardMaxFPRRise
        self.guardMaxAUROCDrop = guardMaxAUROCDrop
        self.guardNewProductAUROC = guardNewProductAUROC
    }
}

public struct Camera: Sendable, Equatable {
    /// Letters, digits, `_`, `.` and `-`; unique among the cameras.
    public var name: String
    /// Absolute, or relative to the daemon's working directory.
    public var folder: String
    public var product: ProductRule
    /// Whether frames in subfolders are seen too.
    public var recursive: Bool
    /// nil: inotify. Set for network shares, where inotify sees nothing.
    public var pollInterval: Duration?
    /// nil: a frame is taken when its writer closes it. Set for writers that close a frame and
    /// open it again to write more: a frame is taken once it stayed unchanged this long.
    public var settle: Duration?
    public var after: AfterScoring
    /// Lower-case, without the dot; file names are compared case-insensitively.
    public var extensions: [String]

    public static let defaultExtensions = ["png", "jpg", "jpeg"]

    public init(name: String, folder: String, product: ProductRule, recursive: Bool = true,
                pollInterval: Duration? = nil, settle: Duration? = nil, after: AfterScoring = .leave,
                extensions: [String] = Camera.defaultExtensions) {
        self.settle = settle
        self.name = name
        self.folder = folder
        self.product = product
        self.recursive = recursive
        self.pollInterval = pollInterval
        self.after = after
        self.extensions = extensions
    }
}

/// Which product a camera's frames are of.
public enum ProductRule: Sendable, Equatable {
    /// `product = "NAME"`.
    case fixed(String)
    /// `product_from = "subfolder"`: the first path component under the camera folder names the product.
    case subfolder
}

/// What happens to a frame once its verdict is written.
public enum AfterScoring: Sendable, Equatable {
    case leave
    /// Moved into `directory` (`archive_dir`).
    case archive(directory: String)
    case delete
}

public struct ProductSettings: Sendable, Equatable {
    /// On the normalised score, where the calibrated threshold maps to 0.5; in (0, 1], lower is
    /// more sensitive.
    public var threshold: Double

    public init(threshold: Double = 0.5) {
        self.threshold = threshold
    }
}

/// A time-of-day window that repeats every day, in the calendar's time zone; `between` may cross
/// midnight (`22:00-06:00`).
public enum DailyWindow: Sendable, Equatable, CustomStringConvertible {
    case always
    case never
    /// Minutes after midnight; `start` is inside the window, `end` is not. `start` is in 0..<1440,
    /// `end` in 0...1440 (1440 is midnight at the end of the day), and they differ.
    case between(start: Int, end: Int)

    /// `"always"`, `"never"` or `"HH:MM-HH:MM"`; nil for anything else.
    public init?(parsing text: String) {
        switch text {
        case "always": self = .always
        case "never": self = .never
        default:
            let ends = text.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count == 2, let start = Self.minutes(ends[0]), let end = Self.minutes(ends[1]),
                  start < 1440, start != end % 1440
            else { return nil }
            self = .between(start: start, end: end)
        }
    }

    /// `H:MM` or `HH:MM`, up to `24:00`.
    private static func minutes(_ text: Substring) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...2).contains(parts[0].count), parts[1].count == 2,
              parts.allSatisfy({ $0.allSatisfy { ("0"..."9").contains($0) } }),
              let hours = Int(parts[0]), let minutes = Int(parts[1]), minutes < 60
        else { return nil }
        let total = hours * 60 + minutes
        return total <= 1440 ? total : nil
    }

    public func contains(_ date: Date, calendar: Calendar) -> Bool {
        switch self {
        case .always:
            return true
        case .never:
            return false
        case .between(let start, let end):
            let time = calendar.dateComponents([.hour, .minute], from: date)
            let minute = time.hour! * 60 + time.minute!
            return start < end ? (start <= minute && minute < end) : (minute >= start || minute < end)
        }
    }

    public var description: String {
        switch self {
        case .always: return "always"
        case .never: return "never"
        case .between(let start, let end):
            func clock(_ minutes: Int) -> String {
                String(format: "%02d:%02d", minutes / 60, minutes % 60)
            }
            return clock(start) + "-" + clock(end)
        }
    }
}

extension Configuration {
    /// Cameras whose folder does not exist now (a typo, a share not mounted): nothing from them
    /// is inspected until it appears. Relative folders are taken from the working directory.
    public var camerasWithoutFolder: [Camera] {
        cameras.filter { camera in
            var isFolder: ObjCBool = false
            return !FileManager.default.fileExists(atPath: camera.folder, isDirectory: &isFolder) || !isFolder.boolValue
        }
    }

    /// Cameras configured for one product that `known` (the model's products) lacks: every frame
    /// of theirs would get an ERROR verdict until the product is learnt.
    public func camerasWithUnknownProduct(known: Set<String>) -> [(camera: Camera, product: String)] {
        cameras.compactMap { camera in
            guard case .fixed(let product) = camera.product, !known.contains(product) else { return nil }
            return (camera, product)
        }
    }
}
