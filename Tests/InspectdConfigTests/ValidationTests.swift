@testable import InspectdConfig
import Testing

/// Settings that are valid TOML but wrong for inspectd: each message names the file, the line,
/// the dotted key and what would have been accepted.
@Suite struct ValidationTests {
    static let camera = "[[camera]]\nname = \"c\"\nfolder = \"/srv/c\"\nproduct = \"p\"\n"

    @Test func everySettingRead() throws {
        let configuration = try decode("""
        [daemon]
        state_dir = "/data/state"
        spool_dir = "/data/spool"
        products_dir = "/data/products"
        quarantine_dir = "/data/quarantine"
        model_dir = "/data/model"
        metrics_file = "/data/metrics.prom"
        threads = 4
        precision = "fp32"
        int8_confirm_band = 0.1
        queue_capacity = 1000
        batch_max = 16
        heatmaps = false
        status_interval = 30
        log_level = "debug"

        [retention]
        max_bytes = 1048576
        max_age = "12h"
        interval = "250ms"

        [training]
        window = "01:30-05:00"
        profile = "quick"
        minimum_images = 50

        [products.bottle]
        threshold = 0.35
        [products.cap]
        threshold = 1

        [[camera]]
        name = "top.1"
        folder = "/srv/top"
        product_from = "subfolder"
        recursive = false
        poll_interval = "5s"
        after = "archive"
        archive_dir = "/srv/archive/top"
        extensions = ["PNG", "Tif"]

        [[camera]]
        name = "side_2"
        folder = "/srv/side"
        product = "bottle"
        settle = "1500ms"
        after = "delete"
        """)
        var daemon = DaemonSettings(stateDirectory: "/data/state")
        daemon.spoolDirectory = "/data/spool"
        daemon.productsDirectory = "/data/products"
        daemon.quarantineDirectory = "/data/quarantine"
        daemon.modelDirectory = "/data/model"
        daemon.metricsFile = "/data/metrics.prom"
        daemon.threads = 4
        daemon.precision = .fp32
        daemon.int8ConfirmBand = 0.1
        daemon.queueCapacity = 1000
        daemon.batchMax = 16
        daemon.heatmaps = false
        daemon.statusInterval = .seconds(30)
        daemon.logLevel = "debug"
        #expect(configuration == Configuration(
            daemon: daemon,
            retention: RetentionSettings(maxBytes: 1_048_576, maxAge: .seconds(43200), interval: .milliseconds(250)),
            training: TrainingWindowSettings(window: .between(start: 90, end: 300), profile: "quick", minimumImages: 50),
            cameras: [
                Camera(name: "top.1", folder: "/srv/top", product: .subfolder, recursive: false, pollInterval: .seconds(5),
                       after: .archive(directory: "/srv/archive/top"), extensions: ["png", "tif"]),
                Camera(name: "side_2", folder: "/srv/side", product: .fixed("bottle"), settle: .milliseconds(1500), after: .delete),
            ],
            products: ["bottle": ProductSettings(threshold: 0.35), "cap": ProductSettings(threshold: 1)],
            files: ["main.toml"]))
        #expect(configuration.settings(forProduct: "bottle").threshold == 0.35)
        #expect(configuration.settings(forProduct: "unlisted") == ProductSettings(threshold: 0.5))
    }

    @Test func defaults() throws {
        let configuration = try decode("")
        #expect(configuration == Configuration(files: ["main.toml"]))
        let daemon = configuration.daemon
        #expect(daemon.stateDirectory == "/var/lib/inspectd")
        #expect(daemon.spoolDirectory == "/var/spool/inspectd")
        #expect(daemon.productsDirectory == "/var/lib/inspectd/products")
        #expect(daemon.quarantineDirectory == "/var/lib/inspectd/quarantine")
        #expect(daemon.modelDirectory == "/var/lib/inspectd/models/current")
        #expect(daemon.metricsFile == "/var/lib/inspectd/metrics/inspectd.prom")
        #expect(daemon.int8ConfirmBand == 0.05)
        #expect(daemon.threads == 0 && daemon.precision == .int8 && daemon.queueCapacity == 256 && daemon.batchMax == 8 && daemon.heatmaps)
        #expect(daemon.statusInterval == .seconds(5) && daemon.logLevel == "info")
        #expect(configuration.retention == RetentionSettings(maxBytes: 10 * 1024 * 1024 * 1024, maxAge: .seconds(30 * 86400),
                                                             interval: .seconds(600)))
        #expect(configuration.training == TrainingWindowSettings(window: .between(start: 1320, end: 360), profile: "standard"))
        #expect(configuration.cameras.isEmpty && configuration.products.isEmpty)
    }

    @Test func derivedFoldersFollowStateDir() throws {
        let daemon = try decode("[daemon]\nstate_dir = \"var/state\"\nmodel_dir = \"/models\"").daemon
        #expect(daemon.productsDirectory == "var/state/products")
        #expect(daemon.quarantineDirectory == "var/state/quarantine")
        #expect(daemon.modelDirectory == "/models")
        #expect(daemon.metricsFile == "var/state/metrics/inspectd.prom")
    }

    @Test func zeroTurnsRetentionLimitsOff() throws {
        let retention = try decode("[retention]\nmax_bytes = \"0\"\nmax_age = 0").retention
        #expect(retention.maxBytes == nil && retention.maxAge == nil)
        #expect(try decode("[retention]\nmax_bytes = 0\nmax_age = \"0s\"").retention.maxAge == nil)
    }

    @Test func sections() {
        let sections = "expected one of the sections [daemon], [retention], [training], [[camera]] or [products.NAME], got an unknown key"
        #expect(decodeError("\n[deamon]\nthreads = 2") == "main.toml:2: deamon: \(sections)")
        #expect(decodeError("threads = 2") == "main.toml:1: threads: \(sections)")
        #expect(decodeError("daemon = 5") == "main.toml:1: daemon: expected a table [daemon], got 5")
        #expect(decodeError("retention = []") == "main.toml:1: retention: expected a table [retention], got an array")
        #expect(decodeError("training = \"x\"") == #"main.toml:1: training: expected a table [training], got "x""#)
        #expect(decodeError("products = 1") == "main.toml:1: products: expected a table [products.NAME], got 1")
    }

    @Test func unknownKeys() {
        #expect(decodeError("[daemon]\nthread = 2")
            == "main.toml:2: daemon.thread: expected one of state_dir, spool_dir, products_dir, quarantine_dir, model_dir, metrics_file, threads, precision, int8_confirm_band, queue_capacity, batch_max, heatmaps, status_interval, log_level, got an unknown key")
        #expect(decodeError("[retention]\nmax_size = 1") == "main.toml:2: retention.max_size: expected one of max_bytes, max_age, interval, got an unknown key")
        #expect(decodeError("[training]\nsteps = 1") == "main.toml:2: training.steps: expected one of window, profile, minimum_images, launch, activation, keep_versions, guard_max_fpr_rise, guard_max_auroc_drop, guard_new_product_auroc, got an unknown key")
        #expect(decodeError("[training]\nminimum_images = 0") == "main.toml:2: training.minimum_images: expected an integer from 1 to 1000000, got 0")
        #expect(decodeError("[products.bottle]\nthreshhold = 0.3") == "main.toml:2: products.bottle.threshhold: expected one of threshold, got an unknown key")
        #expect(decodeError(Self.camera + "[[camera]]\nfolder = \"/x\"\nprodcut = \"p\"")
            == "main.toml:7: camera[1].prodcut: expected one of name, folder, product, product_from, recursive, poll_interval, settle, after, archive_dir, extensions, got an unknown key")
    }

    @Test func daemonValues() {
        let path = "expected a path, absolute or relative to the working directory"
        #expect(decodeError("[daemon]\nstate_dir = \"\"") == #"main.toml:2: daemon.state_dir: \#(path), got """#)
        #expect(decodeError("[daemon]\nspool_dir = 5") == "main.toml:2: daemon.spool_dir: \(path), got 5")
        #expect(decodeError("[daemon]\nproducts_dir = \"a\\u0000b\"") == #"main.toml:2: daemon.products_dir: \#(path), got "a\u0000b""#)
        #expect(decodeError("[daemon]\nquarantine_dir = []") == "main.toml:2: daemon.quarantine_dir: \(path), got an array")
        #expect(decodeError("[daemon]\nmodel_dir = true") == "main.toml:2: daemon.model_dir: \(path), got true")
        #expect(decodeError("[daemon]\nmetrics_file = {}") == "main.toml:2: daemon.metrics_file: \(path), got a table")
        let threads = "expected an integer from 0 to 1024 (0 = all cores)"
        #expect(decodeError("[daemon]\nthreads = -1") == "main.toml:2: daemon.threads: \(threads), got -1")
        #expect(decodeError("[daemon]\nthreads = 2000") == "main.toml:2: daemon.threads: \(threads), got 2000")
        #expect(decodeError("[daemon]\nthreads = \"4\"") == #"main.toml:2: daemon.threads: \#(threads), got "4""#)
        #expect(decodeError("[daemon]\nthreads = 4.0") == "main.toml:2: daemon.threads: \(threads), got 4.0")
        #expect(decodeError("[daemon]\nprecision = \"fp16\"") == #"main.toml:2: daemon.precision: expected one of "fp32", "int8", got "fp16""#)
        let band = "expected a share of the threshold from 0 to 0.5 (0 turns fp32 confirmation off)"
        #expect(decodeError("[daemon]\nint8_confirm_band = 0.6") == "main.toml:2: daemon.int8_confirm_band: \(band), got 0.6")
        #expect(decodeError("[daemon]\nint8_confirm_band = -1") == "main.toml:2: daemon.int8_confirm_band: \(band), got -1")
        #expect(decodeError("[daemon]\nint8_confirm_band = \"5%\"") == #"main.toml:2: daemon.int8_confirm_band: \#(band), got "5%""#)
        let capacity = "expected an integer from 1 to 100000"
        #expect(decodeError("[daemon]\nqueue_capacity = 0") == "main.toml:2: daemon.queue_capacity: \(capacity), got 0")
        #expect(decodeError("[daemon]\nqueue_capacity = 100_001") == "main.toml:2: daemon.queue_capacity: \(capacity), got 100001")
        let batch = "expected an integer from 1 to 64 (1 = one frame at a time)"
        #expect(decodeError("[daemon]\nbatch_max = 0") == "main.toml:2: daemon.batch_max: \(batch), got 0")
        #expect(decodeError("[daemon]\nbatch_max = 65") == "main.toml:2: daemon.batch_max: \(batch), got 65")
        #expect(decodeError("[daemon]\nbatch_max = \"8\"") == #"main.toml:2: daemon.batch_max: \#(batch), got "8""#)
        #expect(decodeError("[daemon]\nheatmaps = \"yes\"") == #"main.toml:2: daemon.heatmaps: expected true or false, got "yes""#)
        let interval = #"expected a duration like "5s" or "2m" (units ms, s, m, h, d; above zero)"#
        #expect(decodeError("[daemon]\nstatus_interval = \"0\"") == #"main.toml:2: daemon.status_interval: \#(interval), got "0""#)
        #expect(decodeError("[daemon]\nstatus_interval = 0") == "main.toml:2: daemon.status_interval: \(interval), got 0")
        #expect(decodeError("[daemon]\nstatus_interval = -5") == "main.toml:2: daemon.status_interval: \(interval), got -5")
        #expect(decodeError("[daemon]\nstatus_interval = \"fast\"") == #"main.toml:2: daemon.status_interval: \#(interval), got "fast""#)
        #expect(decodeError("[daemon]\nstatus_interval = 1.5") == "main.toml:2: daemon.status_interval: \(interval), got 1.5")
        #expect(decodeError("[daemon]\nlog_level = \"verbose\"")
            == #"main.toml:2: daemon.log_level: expected one of "trace", "debug", "info", "notice", "warning", "error", "critical", got "verbose""#)
    }

    @Test func retentionValues() {
        let size = #"expected a size like "500MB" or "10GiB" (kB, MB, GB, TB powers of 1000, KiB, MiB, GiB, TiB of 1024; whole bytes too; "0" turns it off)"#
        #expect(decodeError("[retention]\nmax_bytes = \"10 GiB\"") == #"main.toml:2: retention.max_bytes: \#(size), got "10 GiB""#)
        #expect(decodeError("[retention]\nmax_bytes = -1") == "main.toml:2: retention.max_bytes: \(size), got -1")
        #expect(decodeError("[retention]\nmax_bytes = 1.5") == "main.toml:2: retention.max_bytes: \(size), got 1.5")
        let age = #"expected a duration like "30d" or "12h" (units ms, s, m, h, d; "0" turns it off)"#
        #expect(decodeError("[retention]\nmax_age = \"1 month\"") == #"main.toml:2: retention.max_age: \#(age), got "1 month""#)
        #expect(decodeError("[retention]\ninterval = \"0m\"")
            == #"main.toml:2: retention.interval: expected a duration like "5s" or "2m" (units ms, s, m, h, d; above zero), got "0m""#)
    }

    @Test func trainingValues() {
        let window = #"expected a daily window like "22:00-06:00" (may cross midnight, start and end differ), "always" or "never""#
        #expect(decodeError("[training]\nwindow = \"22:00\"") == #"main.toml:2: training.window: \#(window), got "22:00""#)
        #expect(decodeError("[training]\nwindow = \"22:00-22:00\"") == #"main.toml:2: training.window: \#(window), got "22:00-22:00""#)
        #expect(decodeError("[training]\nwindow = \"25:00-06:00\"") == #"main.toml:2: training.window: \#(window), got "25:00-06:00""#)
        #expect(decodeError("[training]\nwindow = 22") == "main.toml:2: training.window: \(window), got 22")
        #expect(decodeError("[training]\nprofile = \"slow\"") == #"main.toml:2: training.profile: expected one of "quick", "standard", got "slow""#)
        #expect(decodeError("[training]\nlaunch = \"cron\"") == #"main.toml:2: training.launch: expected one of "timer", "daemon", got "cron""#)
        #expect(decodeError("[training]\nactivation = true") == #"main.toml:2: training.activation: expected one of "auto", "manual", got true"#)
        #expect(decodeError("[training]\nkeep_versions = 0") == "main.toml:2: training.keep_versions: expected an integer from 1 to 10000, got 0")
        #expect(decodeError("[training]\nguard_max_auroc_drop = 1.5") == "main.toml:2: training.guard_max_auroc_drop: expected a number from 0 to 1, got 1.5")
        #expect(decodeError("[training]\nguard_new_product_auroc = \"high\"") == #"main.toml:2: training.guard_new_product_auroc: expected a number from 0 to 1, got "high""#)
    }

    @Test func productValues() {
        #expect(decodeError("[products.\"a b\"]\nthreshold = 0.3")
            == #"main.toml:1: products."a b": expected a product name of letters, digits, "_", "." and "-", got "a b""#)
        #expect(decodeError("[products.\"..\"]") == #"main.toml:1: products."..": expected a product name of letters, digits, "_", "." and "-", got "..""#)
        #expect(decodeError("[products]\nbottle = 0.3") == "main.toml:2: products.bottle: expected a table [products.bottle], got 0.3")
        let threshold = "expected a number in (0, 1], where 0.5 is the calibrated threshold"
        #expect(decodeError("[products.bottle]\nthreshold = 0") == "main.toml:2: products.bottle.threshold: \(threshold), got 0")
        #expect(decodeError("[products.bottle]\nthreshold = 1.5") == "main.toml:2: products.bottle.threshold: \(threshold), got 1.5")
        #expect(decodeError("[products.bottle]\nthreshold = -0.1") == "main.toml:2: products.bottle.threshold: \(threshold), got -0.1")
        #expect(decodeError("[products.bottle]\nthreshold = nan") == "main.toml:2: products.bottle.threshold: \(threshold), got nan")
        #expect(decodeError("[products.bottle]\nthreshold = \"0.3\"") == #"main.toml:2: products.bottle.threshold: \#(threshold), got "0.3""#)
    }

    @Test func cameraShape() {
        let tables = "expected [[camera]] tables, one per camera"
        #expect(decodeError("[camera]\nname = \"c\"") == "main.toml:1: camera: \(tables), got a table")
        #expect(decodeError("camera = \"c\"") == #"main.toml:1: camera: \#(tables), got "c""#)
        #expect(decodeError("camera = [1]") == "main.toml:1: camera[0]: \(tables), got 1")
        // An array of inline tables is the same data as [[camera]] tables.
        #expect(decodeError("camera = [{ name = \"c\", folder = \"/c\", product = \"p\" }]") == nil)
    }

    @Test func requiredCameraKeys() {
        #expect(decodeError("\n[[camera]]\nfolder = \"/c\"\nproduct = \"p\"")
            == #"main.toml:2: camera[0].name: expected a camera name of letters, digits, "_", "." and "-" (this key is required), got nothing"#)
        #expect(decodeError("[[camera]]\nname = \"c\"\nproduct = \"p\"")
            == "main.toml:1: camera[0].folder: expected the folder the camera writes its frames into (this key is required), got nothing")
        #expect(decodeError(Self.camera + "[[camera]]\nname = \"d\"\nfolder = \"/d\"")
            == #"main.toml:5: camera[1].product: expected product = "NAME", or product_from = "subfolder" when each subfolder holds one product (this key is required), got nothing"#)
    }

    @Test func cameraValues() {
        func camera(_ extra: String, name: String = "c") -> String {
            "[[camera]]\nname = \"\(name)\"\nfolder = \"/srv/c\"\n" + extra
        }
        let name = #"expected a camera name of letters, digits, "_", "." and "-""#
        #expect(decodeError(camera("product = \"p\"", name: "line 1")) == #"main.toml:2: camera[0].name: \#(name), got "line 1""#)
        #expect(decodeError(camera("product = \"p\"", name: "")) == #"main.toml:2: camera[0].name: \#(name), got """#)
        #expect(decodeError("[[camera]]\nname = 1") == "main.toml:2: camera[0].name: \(name), got 1")
        #expect(decodeError(camera("product = \"p/q\"")) == #"main.toml:4: camera[0].product: expected a product name of letters, digits, "_", "." and "-", got "p/q""#)
        #expect(decodeError(camera("product = \"p\"\nproduct_from = \"subfolder\""))
            == #"main.toml:5: camera[0].product_from: expected either product or product_from, not both, got both (product is set too)"#)
        #expect(decodeError(camera("product_from = \"subfolder\"\nproduct = \"p\""))
            == #"main.toml:5: camera[0].product: expected either product or product_from, not both, got both (product_from is set too)"#)
        #expect(decodeError(camera("product_from = \"folder\"")) == #"main.toml:4: camera[0].product_from: expected one of "subfolder", got "folder""#)
        let valid = "product = \"p\"\n"
        #expect(decodeError(camera(valid + "recursive = \"no\"")) == #"main.toml:5: camera[0].recursive: expected true or false, got "no""#)
        #expect(decodeError(camera(valid + "settle = \"0s\""))
            == #"main.toml:5: camera[0].settle: expected a duration like "5s" or "2m" (units ms, s, m, h, d; above zero), got "0s""#)
        #expect(decodeError(camera(valid + "poll_interval = \"0s\""))
            == #"main.toml:5: camera[0].poll_interval: expected a duration like "5s" or "2m" (units ms, s, m, h, d; above zero), got "0s""#)
        #expect(decodeError(camera(valid + "after = \"move\"")) == #"main.toml:5: camera[0].after: expected one of "leave", "archive", "delete", got "move""#)
        #expect(decodeError(camera(valid + "after = \"archive\""))
            == #"main.toml:5: camera[0].archive_dir: expected the folder to archive frames into, required with after = "archive", got nothing"#)
        #expect(decodeError(camera(valid + "archive_dir = \"/a\""))
            == #"main.toml:5: camera[0].archive_dir: expected archive_dir only with after = "archive", got after = "leave""#)
        #expect(decodeError(camera(valid + "after = \"delete\"\narchive_dir = \"/a\""))
            == #"main.toml:6: camera[0].archive_dir: expected archive_dir only with after = "archive", got after = "delete""#)
        #expect(decodeError(camera(valid + "archive_dir = \"\"\nafter = \"archive\""))
            == #"main.toml:5: camera[0].archive_dir: expected a path, absolute or relative to the working directory, got """#)
    }

    @Test func cameraExtensions() {
        func error(_ extensions: String) -> String? {
            decodeError("[[camera]]\nname = \"c\"\nfolder = \"/c\"\nproduct = \"p\"\nextensions = \(extensions)")
        }
        let array = #"expected an array of file extensions without the dot, like ["png", "jpg"]"#
        #expect(error("[]") == "main.toml:5: camera[0].extensions: \(array), got an array")
        #expect(error("\"png\"") == #"main.toml:5: camera[0].extensions: \#(array), got "png""#)
        #expect(error("[\"png\", 5]") == #"main.toml:5: camera[0].extensions[1]: expected a file extension without the dot, like "png", got 5"#)
        let letters = #"expected a file extension of letters and digits, without the dot, like "png""#
        #expect(error("[\".png\"]") == #"main.toml:5: camera[0].extensions[0]: \#(letters), got ".png""#)
        #expect(error("[\"\"]") == #"main.toml:5: camera[0].extensions[0]: \#(letters), got """#)
        #expect(error("[\"jp g\"]") == #"main.toml:5: camera[0].extensions[0]: \#(letters), got "jp g""#)
        #expect(error("[\n  \"png\",\n  \"PNG\",\n]")
            == #"main.toml:7: camera[0].extensions[1]: expected each extension once (they are compared ignoring case), got "PNG""#)
    }

    @Test func cameraNamesAreUniqueWithinAFile() {
        #expect(decodeError(Self.camera + "[[camera]]\nname = \"c\"\nfolder = \"/srv/d\"\nproduct = \"p\"")
            == #"main.toml:6: camera[1].name: expected a name no other camera in this file has, got "c", also used at line 2"#)
    }

    @Test func foldersAreWatchedByOneCamera() {
        func cameras(_ first: String, _ second: String, recursive: Bool = true) -> String {
            "[[camera]]\nname = \"a\"\nfolder = \"\(first)\"\nproduct = \"p\"\nrecursive = \(recursive)\n"
                + "[[camera]]\nname = \"b\"\nfolder = \"\(second)\"\nproduct = \"p\"\n"
        }
        #expect(decodeError(cameras("/srv/a", "/srv/a"))
            == #"main.toml:8: camera[1].folder: expected a folder no other camera watches, got "/srv/a", also watched by camera "a" (main.toml:3)"#)
        #expect(decodeError(cameras("/srv/a", "/srv//x/../a/./"))
            == #"main.toml:8: camera[1].folder: expected a folder no other camera watches, got "/srv//x/../a/./", also watched by camera "a" (main.toml:3)"#)
        #expect(decodeError(cameras("/srv/a", "/srv/a/sub"))
            == #"main.toml:8: camera[1].folder: expected a folder no other camera watches, with its subfolders, got "/srv/a/sub", which overlaps "/srv/a" of camera "a" (main.toml:3)"#)
        #expect(decodeError(cameras("/srv/a/sub", "/srv/a"))
            == #"main.toml:8: camera[1].folder: expected a folder no other camera watches, with its subfolders, got "/srv/a", which overlaps "/srv/a/sub" of camera "a" (main.toml:3)"#)
        // A camera that does not look into subfolders shares nothing with one in a subfolder.
        #expect(decodeError(cameras("/srv/a", "/srv/a/sub", recursive: false)) == nil)
        #expect(decodeError(cameras("/srv/a", "/srv/ab")) == nil)
    }

    /// Frames are moved into the archive; if a camera watched it they would come round again.
    @Test func archiveOutsideWatchedFolders() {
        let archive = "[[camera]]\nname = \"a\"\nfolder = \"/srv/a\"\nproduct = \"p\"\nafter = \"archive\"\narchive_dir = \"%@\"\n"
        #expect(decodeError(archive.replacingOccurrences(of: "%@", with: "/srv/a/done"))
            == #"main.toml:6: camera[0].archive_dir: expected an archive folder outside every watched folder, got "/srv/a/done", inside this camera's folder "/srv/a""#)
        #expect(decodeError(archive.replacingOccurrences(of: "%@", with: "/srv/a"))
            == #"main.toml:6: camera[0].archive_dir: expected an archive folder outside every watched folder, got "/srv/a", inside this camera's folder "/srv/a""#)
        #expect(decodeError(archive.replacingOccurrences(of: "%@", with: "/srv/b/done") + "[[camera]]\nname = \"b\"\nfolder = \"/srv/b\"\nproduct = \"p\"")
            == #"main.toml:6: camera[0].archive_dir: expected an archive folder outside every watched folder, got "/srv/b/done", inside the folder of camera "b" "/srv/b""#)
        #expect(decodeError(archive.replacingOccurrences(of: "%@", with: "/srv/archive")) == nil)
    }

    /// What inspectd writes must not land where a camera watches, nor a camera watch its output.
    @Test func camerasStayClearOfInspectdsFolders() {
        let camera = "[[camera]]\nname = \"a\"\nfolder = \"%@\"\nproduct = \"p\"\n"
        func error(_ folder: String, daemon: String) -> String? {
            decodeError("[daemon]\n" + daemon + "\n" + camera.replacingOccurrences(of: "%@", with: folder))
        }
        #expect(error("/srv", daemon: "spool_dir = \"/srv/spool\"")
            == #"main.toml:5: camera[0].folder: expected a folder that does not hold inspectd's own spool_dir, got "/srv", which holds daemon.spool_dir "/srv/spool""#)
        #expect(error("/var/lib/inspectd", daemon: "")
            == #"main.toml:5: camera[0].folder: expected a folder that does not hold inspectd's own state_dir, got "/var/lib/inspectd", which holds daemon.state_dir "/var/lib/inspectd""#)
        #expect(error("/srv/in", daemon: "products_dir = \"/srv/in/new-products\"")
            == #"main.toml:5: camera[0].folder: expected a folder that does not hold inspectd's own products_dir, got "/srv/in", which holds daemon.products_dir "/srv/in/new-products""#)
        #expect(error("/var/spool/inspectd/new", daemon: "")
            == #"main.toml:5: camera[0].folder: expected a folder outside inspectd's spool_dir, got "/var/spool/inspectd/new", inside daemon.spool_dir "/var/spool/inspectd""#)
        #expect(error("/q/frames", daemon: "quarantine_dir = \"/q\"")
            == #"main.toml:5: camera[0].folder: expected a folder outside inspectd's quarantine_dir, got "/q/frames", inside daemon.quarantine_dir "/q""#)
        // Beside the state folder is fine, and so is a camera folder under the state folder.
        #expect(error("/var/lib/cameras", daemon: "") == nil)
        #expect(error("/var/lib/inspectd/cameras/a", daemon: "") == nil)
    }

    /// The example from the design: a drop-in's second camera with a bad poll interval.
    @Test func messageOfTheDesignExample() {
        let dropIn = String(repeating: "# line2 cameras\n", count: 3) + """
        [[camera]]
        name = "line2-top"
        folder = "/srv/line2/top"
        product = "bottle"

        [[camera]]
        name = "line2-side"
        folder = "/srv/line2/side"
        product = "bottle"
        recursive = true
        poll_interval = "fast"
        """
        #expect(decodeError("", [("/etc/inspectd/inspectd.conf.d/10-line2.toml", dropIn)])
            == #"/etc/inspectd/inspectd.conf.d/10-line2.toml:14: camera[1].poll_interval: expected a duration like "5s" or "2m" (units ms, s, m, h, d; above zero), got "fast""#)
    }
}
