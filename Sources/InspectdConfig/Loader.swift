import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Configuration {
    /// Reads `mainFile`, then every `*.toml` in `dropInDirectory` (default: `inspectd.conf.d` beside
    /// the main file) in lexical order, and validates the result. A missing main file is an error, a
    /// missing drop-in directory is not. Throws `ConfigurationError`.
    public static func load(mainFile: String, dropInDirectory: String? = nil) throws -> Configuration {
        var documents = [(file: mainFile, table: try TOML.parse(readFile(mainFile), file: mainFile))]
        for file in try dropInFiles(in: dropInDirectory ?? defaultDropInDirectory(for: mainFile)) {
            documents.append((file, try TOML.parse(readFile(file), file: file)))
        }
        return try decode(documents)
    }

    /// Applies parsed documents in order and validates the result; `load` without the file system.
    static func decode(_ documents: [(file: String, table: TOMLTable)]) throws -> Configuration {
        var builder = Builder()
        for document in documents {
            try builder.apply(document.table, file: document.file)
        }
        return try builder.finish()
    }

    static func defaultDropInDirectory(for mainFile: String) -> String {
        guard let slash = mainFile.lastIndex(of: "/") else { return "inspectd.conf.d" }
        return mainFile[...slash] + "inspectd.conf.d"
    }

    /// The drop-ins: regular `*.toml` files, hidden ones (editor droppings) left out, sorted by
    /// their bytes so the order does not depend on the locale.
    static func dropInFiles(in directory: String) throws -> [String] {
        guard let stream = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw ConfigurationError(file: directory, line: nil, key: "",
                                     expected: "a readable drop-in directory", found: String(cString: strerror(errno)))
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasSuffix(".toml"), !name.hasPrefix(".") else { continue }
            var isDirectory: ObjCBool = false
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            // A dangling link still counts, so that reading it reports the problem.
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { continue }
            names.append(path)
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        func failure() -> ConfigurationError {
            ConfigurationError(file: path, line: nil, key: "", expected: "a readable configuration file",
                               found: String(cString: strerror(errno)))
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure() }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure()
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }
}

/// A camera as decoded, with where it came from for errors found once all files are in.
private struct CameraEntry {
    let camera: Camera
    let file: String
    /// `camera[N]` in that file.
    let path: String
    let nameLine: Int
    let folderLine: Int
    let archiveLine: Int?
}

/// Accumulates the files in order; a later value replaces an earlier one key by key.
private struct Builder {
    var daemon = DaemonSettings()
    /// Folders set explicitly; the others follow `state_dir`, wherever that ends up.
    var productsDirectory: String?
    var quarantineDirectory: String?
    var modelDirectory: String?
    var metricsFile: String?
    var retention = RetentionSettings()
    var training = TrainingWindowSettings()
    var products: [String: ProductSettings] = [:]
    var cameras: [CameraEntry] = []
    var files: [String] = []

    static let sections = "one of the sections [daemon], [retention], [training], [[camera]] or [products.NAME]"

    mutating func apply(_ root: TOMLTable, file: String) throws {
        files.append(file)
        let reader = Reader(file: file)
        for key in root.keys {
            let value = root[key]!
            switch key {
            case "daemon": try applyDaemon(reader.table(value, key: key, header: "[daemon]"), reader)
            case "retention": try applyRetention(reader.table(value, key: key, header: "[retention]"), reader)
            case "training": try applyTraining(reader.table(value, key: key, header: "[training]"), reader)
            case "products": try applyProducts(reader.table(value, key: key, header: "[products.NAME]"), reader)
            case "camera": try applyCameras(value, reader)
            default: throw reader.unknownKey(value, key: key, expected: Self.sections)
            }
        }
    }

    mutating func applyDaemon(_ table: TOMLTable, _ reader: Reader) throws {
        let keys = ["state_dir", "spool_dir", "products_dir", "quarantine_dir", "model_dir", "metrics_file",
                    "threads", "precision", "int8_confirm_band", "queue_capacity", "batch_max", "heatmaps", "status_interval", "log_level"]
        for name in table.keys {
            let value = table[name]!
            let key = TOML.join("daemon", name)
            switch name {
            case "state_dir": daemon.stateDirectory = try reader.path(value, key: key)
            case "spool_dir": daemon.spoolDirectory = try reader.path(value, key: key)
            case "products_dir": productsDirectory = try reader.path(value, key: key)
            case "quarantine_dir": quarantineDirectory = try reader.path(value, key: key)
            case "model_dir": modelDirectory = try reader.path(value, key: key)
            case "metrics_file": metricsFile = try reader.path(value, key: key)
            case "threads": daemon.threads = try reader.integer(value, key: key, in: 0...1024, meaning: "(0 = all cores)")
            case "precision":
                daemon.precision = Precision(rawValue: try reader.choice(value, key: key, Precision.allCases.map(\.rawValue)))!
            case "int8_confirm_band":
                let expected = "a share of the threshold from 0 to 0.5 (0 turns fp32 confirmation off)"
                let band = try reader.number(value, key: key, expected: expected)
                guard (0...0.5).contains(band) else { throw reader.failure(value, key: key, expected: expected) }
                daemon.int8ConfirmBand = band
            case "queue_capacity": daemon.queueCapacity = try reader.integer(value, key: key, in: 1...100_000)
            case "batch_max": daemon.batchMax = try reader.integer(value, key: key, in: 1...64, meaning: "(1 = one frame at a time)")
            case "heatmaps": daemon.heatmaps = try reader.boolean(value, key: key)
            case "status_interval": daemon.statusInterval = try reader.duration(value, key: key, zeroAllowed: false)!
            case "log_level": daemon.logLevel = try reader.choice(value, key: key, DaemonSettings.logLevels)
            default: throw reader.unknownKey(value, key: key, expected: Reader.oneOf(keys))
            }
        }
    }

    mutating func applyRetention(_ table: TOMLTable, _ reader: Reader) throws {
        for name in table.keys {
            let value = table[name]!
            let key = TOML.join("retention", name)
            switch name {
            case "max_bytes": retention.maxBytes = try reader.size(value, key: key)
            case "max_age": retention.maxAge = try reader.duration(value, key: key, zeroAllowed: true)
            case "interval": retention.interval = try reader.duration(value, key: key, zeroAllowed: false)!
            default: throw reader.unknownKey(value, key: key, expected: Reader.oneOf(["max_bytes", "max_age", "interval"]))
            }
        }
    }

    mutating func applyTraining(_ table: TOMLTable, _ reader: Reader) throws {
        for name in table.keys {
            let value = table[name]!
            let key = TOML.join("training", name)
            switch name {
            case "window":
                let expected = "a daily window like \"22:00-06:00\" (may cross midnight, start and end differ), \"always\" or \"never\""
                let text = try reader.string(value, key: key, expected: expected)
                guard let window = DailyWindow(parsing: text) else { throw reader.failure(value, key: key, expected: expected) }
                training.window = window
            case "profile": training.profile = try reader.choice(value, key: key, TrainingWindowSettings.profiles)
            case "minimum_images": training.minimumImages = try reader.integer(value, key: key, in: 1...1_000_000)
            case "launch":
                training.launch = .init(rawValue: try reader.choice(value, key: key, TrainingWindowSettings.TrainingLaunch.allCases.map(\.rawValue)))!
            case "activation":
                training.activation = .init(rawValue: try reader.choice(value, key: key, TrainingWindowSettings.Activation.allCases.map(\.rawValue)))!
            case "keep_versions": training.keepVersions = try reader.integer(value, key: key, in: 1...10_000)
            case "guard_max_fpr_rise": training.guardMaxFPRRise = try reader.fraction(value, key: key)
            case "guard_max_auroc_drop": training.guardMaxAUROCDrop = try reader.fraction(value, key: key)
            case "guard_new_product_auroc": training.guardNewProductAUROC = try reader.fraction(value, key: key)
            default:
                throw reader.unknownKey(value, key: key, expected: Reader.oneOf([
                    "window", "profile", "minimum_images", "launch", "activation", "keep_versions",
                    "guard_max_fpr_rise", "guard_max_auroc_drop", "guard_new_product_auroc"]))
            }
        }
    }

    mutating func applyProducts(_ table: TOMLTable, _ reader: Reader) throws {
        for product in table.keys {
            let value = table[product]!
            let path = TOML.join("products", product)
            try reader.checkName(product, value: value, key: path, of: "a product name")
            let settings = try reader.table(value, key: path, header: "[\(path)]")
            var result = products[product] ?? ProductSettings()
            for name in settings.keys {
                let value = settings[name]!
                let key = TOML.join(path, name)
                switch name {
                case "threshold":
                    let expected = "a number in (0, 1], where 0.5 is the calibrated threshold"
                    let threshold = try reader.number(value, key: key, expected: expected)
                    guard threshold > 0 && threshold <= 1 else { throw reader.failure(value, key: key, expected: expected) }
                    result.threshold = threshold
                default: throw reader.unknownKey(value, key: key, expected: Reader.oneOf(["threshold"]))
                }
            }
            products[product] = result
        }
    }

    /// Cameras of one file: names unique within it, each replacing an earlier file's camera of the
    /// same name in place, or appended.
    mutating func applyCameras(_ value: TOMLValue, _ reader: Reader) throws {
        let expected = "[[camera]] tables, one per camera"
        guard case .array(let elements) = value.kind else { throw reader.failure(value, key: "camera", expected: expected) }
        var namesInFile: [String: Int] = [:]
        for (index, element) in elements.enumerated() {
            let path = "camera[\(index)]"
            guard case .table(let table) = element.kind else { throw reader.failure(element, key: path, expected: expected) }
            let entry = try camera(table, at: element, path: path, reader)
            if let line = namesInFile[entry.camera.name] {
                throw ConfigurationError(file: reader.file, line: entry.nameLine, key: path + ".name",
                                         expected: "a name no other camera in this file has",
                                         found: "\(TOML.quoted(entry.camera.name)), also used at line \(line)")
            }
            namesInFile[entry.camera.name] = entry.nameLine
            if let earlier = cameras.firstIndex(where: { $0.camera.name == entry.camera.name }) {
                cameras[earlier] = entry
            } else {
                cameras.append(entry)
            }
        }
    }

    func camera(_ table: TOMLTable, at header: TOMLValue, path: String, _ reader: Reader) throws -> CameraEntry {
        var name: (String, line: Int)?
        var folder: (String, line: Int)?
        var product: (ProductRule, key: String)?
        var recursive = true
        var pollInterval: Duration?
        var settle: Duration?
        var after: (word: String, line: Int) = ("leave", header.line)
        var archive: (String, line: Int)?
        var extensions = Camera.defaultExtensions
        let keys = ["name", "folder", "product", "product_from", "recursive", "poll_interval", "settle", "after", "archive_dir", "extensions"]
        for keyName in table.keys {
            let value = table[keyName]!
            let key = TOML.join(path, keyName)
            switch keyName {
            case "name":
                let text = try reader.string(value, key: key, expected: Reader.nameRule("a camera name"))
                try reader.checkName(text, value: value, key: key, of: "a camera name")
                name = (text, value.line)
            case "folder":
                folder = (try reader.path(value, key: key), value.line)
            case "product", "product_from":
                if let product {
                    throw reader.failure(value, key: key, expected: "either product or product_from, not both",
                                         found: "both (\(product.key) is set too)")
                }
                if keyName == "product" {
                    let text = try reader.string(value, key: key, expected: Reader.nameRule("a product name"))
                    try reader.checkName(text, value: value, key: key, of: "a product name")
                    product = (.fixed(text), keyName)
                } else {
                    _ = try reader.choice(value, key: key, ["subfolder"])
                    product = (.subfolder, keyName)
                }
            case "recursive":
                recursive = try reader.boolean(value, key: key)
            case "poll_interval":
                pollInterval = try reader.duration(value, key: key, zeroAllowed: false)
            case "settle":
                settle = try reader.duration(value, key: key, zeroAllowed: false)
            case "after":
                after = (try reader.choice(value, key: key, ["leave", "archive", "delete"]), value.line)
            case "archive_dir":
                archive = (try reader.path(value, key: key), value.line)
            case "extensions":
                extensions = try reader.extensions(value, key: key)
            default:
                throw reader.unknownKey(value, key: key, expected: Reader.oneOf(keys))
            }
        }

        func missing(_ key: String, _ expected: String) -> ConfigurationError {
            ConfigurationError(file: reader.file, line: header.line, key: TOML.join(path, key),
                               expected: expected + " (this key is required)", found: "nothing")
        }
        guard let name else { throw missing("name", Reader.nameRule("a camera name")) }
        guard let folder else { throw missing("folder", "the folder the camera writes its frames into") }
        guard let product else {
            throw missing("product", "product = \"NAME\", or product_from = \"subfolder\" when each subfolder holds one product")
        }
        let afterScoring: AfterScoring
        switch (after.word, archive) {
        case ("archive", let archive?):
            afterScoring = .archive(directory: archive.0)
        case ("archive", nil):
            throw ConfigurationError(file: reader.file, line: after.line, key: TOML.join(path, "archive_dir"),
                                     expected: "the folder to archive frames into, required with after = \"archive\"",
                                     found: "nothing")
        case (let word, let archive?):
            throw ConfigurationError(file: reader.file, line: archive.line, key: TOML.join(path, "archive_dir"),
                                     expected: "archive_dir only with after = \"archive\"", found: "after = \"\(word)\"")
        case (let word, nil):
            afterScoring = word == "delete" ? .delete : .leave
        }
        return CameraEntry(
            camera: Camera(name: name.0, folder: folder.0, product: product.0, recursive: recursive,
                           pollInterval: pollInterval, settle: settle, after: afterScoring, extensions: extensions),
            file: reader.file, path: path, nameLine: name.line, folderLine: folder.line, archiveLine: archive?.line)
    }

    /// Checks that need every file: where frames are watched against where inspectd writes.
    func finish() throws -> Configuration {
        let state = daemon.stateDirectory
        var daemon = self.daemon
        daemon.productsDirectory = productsDirectory ?? state + "/products"
        daemon.quarantineDirectory = quarantineDirectory ?? state + "/quarantine"
        daemon.modelDirectory = modelDirectory ?? state + "/models/current"
        daemon.metricsFile = metricsFile ?? state + "/metrics/inspectd.prom"

        let outputs = [
            ("state_dir", daemon.stateDirectory), ("spool_dir", daemon.spoolDirectory),
            ("products_dir", daemon.productsDirectory), ("quarantine_dir", daemon.quarantineDirectory),
            ("model_dir", daemon.modelDirectory),
        ]
        let base = FileManager.default.currentDirectoryPath
        let watched = cameras.map { Path(of: $0.camera.folder, base: base) }
        for (index, entry) in cameras.enumerated() {
            let folder = watched[index]
            func failure(_ key: String, _ line: Int, _ expected: String, _ found: String) -> ConfigurationError {
                ConfigurationError(file: entry.file, line: line, key: TOML.join(entry.path, key),
                                   expected: expected, found: found)
            }
            for (earlierIndex, earlier) in cameras[..<index].enumerated() {
                let other = watched[earlierIndex]
                let described = "camera \(TOML.quoted(earlier.camera.name)) (\(earlier.file):\(earlier.folderLine))"
                if folder == other {
                    throw failure("folder", entry.folderLine, "a folder no other camera watches",
                                  "\(TOML.quoted(entry.camera.folder)), also watched by \(described)")
                }
                if (earlier.camera.recursive && folder.isInside(other)) || (entry.camera.recursive && other.isInside(folder)) {
                    let overlap = "\(TOML.quoted(entry.camera.folder)), which overlaps \(TOML.quoted(earlier.camera.folder))"
                    throw failure("folder", entry.folderLine, "a folder no other camera watches, with its subfolders",
                                  "\(overlap) of \(described)")
                }
            }
            // Output written where a camera watches would be scored as frames, over and over.
            for (key, directory) in outputs where Path(of: directory, base: base).isAtOrBelow(folder) {
                throw failure("folder", entry.folderLine, "a folder that does not hold inspectd's own \(key)",
                              "\(TOML.quoted(entry.camera.folder)), which holds daemon.\(key) \(TOML.quoted(directory))")
            }
            for (key, directory) in [("spool_dir", daemon.spoolDirectory), ("quarantine_dir", daemon.quarantineDirectory)]
            where folder.isInside(Path(of: directory, base: base)) {
                throw failure("folder", entry.folderLine, "a folder outside inspectd's \(key)",
                              "\(TOML.quoted(entry.camera.folder)), inside daemon.\(key) \(TOML.quoted(directory))")
            }
            if case .archive(let archive) = entry.camera.after {
                let archivePath = Path(of: archive, base: base)
                for (otherIndex, other) in cameras.enumerated() where archivePath.isAtOrBelow(watched[otherIndex]) {
                    let whose = otherIndex == index
                        ? "this camera's folder" : "the folder of camera \(TOML.quoted(other.camera.name))"
                    throw failure("archive_dir", entry.archiveLine!, "an archive folder outside every watched folder",
                                  "\(TOML.quoted(archive)), inside \(whose) \(TOML.quoted(other.camera.folder))")
                }
            }
        }
        return Configuration(daemon: daemon, retention: retention, training: training, cameras: cameras.map(\.camera),
                             products: products, files: files)
    }
}

/// A folder as its components, made absolute against the working directory with `.` and `..`
/// resolved by name: the folders may not exist yet, so links are not followed.
private struct Path: Equatable {
    let components: [String]

    init(of path: String, base: String) {
        let full = path.hasPrefix("/") ? path : base + "/" + path
        var components: [String] = []
        for component in full.split(separator: "/") where component != "." {
            if component == ".." {
                _ = components.popLast()
            } else {
                components.append(String(component))
            }
        }
        self.components = components
    }

    /// Strictly below `other`.
    func isInside(_ other: Path) -> Bool {
        components.count > other.components.count && components.starts(with: other.components)
    }

    func isAtOrBelow(_ other: Path) -> Bool {
        components.starts(with: other.components)
    }
}

/// Typed reads of values in one file; every failure names the file, key, line and expectation.
struct Reader {
    let file: String

    static func oneOf(_ words: [String]) -> String {
        "one of " + words.joined(separator: ", ")
    }

    static func isLetterOrDigit(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    static func nameRule(_ what: String) -> String {
        "\(what) of letters, digits, \"_\", \".\" and \"-\""
    }

    func failure(_ value: TOMLValue, key: String, expected: String, found: String? = nil) -> ConfigurationError {
        ConfigurationError(file: file, line: value.line, key: key, expected: expected, found: found ?? value.summary)
    }

    func unknownKey(_ value: TOMLValue, key: String, expected: String) -> ConfigurationError {
        ConfigurationError(file: file, line: value.line, key: key, expected: expected, found: "an unknown key")
    }

    func table(_ value: TOMLValue, key: String, header: String) throws -> TOMLTable {
        guard case .table(let table) = value.kind else { throw failure(value, key: key, expected: "a table \(header)") }
        return table
    }

    func string(_ value: TOMLValue, key: String, expected: String) throws -> String {
        guard case .string(let text) = value.kind else { throw failure(value, key: key, expected: expected) }
        return text
    }

    func boolean(_ value: TOMLValue, key: String) throws -> Bool {
        guard case .boolean(let flag) = value.kind else { throw failure(value, key: key, expected: "true or false") }
        return flag
    }

    func integer(_ value: TOMLValue, key: String, in range: ClosedRange<Int>, meaning: String = "") throws -> Int {
        let expected = "an integer from \(range.lowerBound) to \(range.upperBound)" + (meaning.isEmpty ? "" : " " + meaning)
        guard case .integer(let number) = value.kind, range.contains(number) else {
            throw failure(value, key: key, expected: expected)
        }
        return number
    }

    /// A number from 0 to 1 (an AUROC, a rate, or a change of one).
    func fraction(_ value: TOMLValue, key: String) throws -> Double {
        let expected = "a number from 0 to 1"
        let number = try number(value, key: key, expected: expected)
        guard (0...1).contains(number) else { throw failure(value, key: key, expected: expected) }
        return number
    }

    /// Integers are taken as floats here: `threshold = 1` means 1.0.
    func number(_ value: TOMLValue, key: String, expected: String) throws -> Double {
        switch value.kind {
        case .float(let number): return number
        case .integer(let number): return Double(number)
        default: throw failure(value, key: key, expected: expected)
        }
    }

    func choice(_ value: TOMLValue, key: String, _ words: [String]) throws -> String {
        let expected = "one of " + words.map { TOML.quoted($0) }.joined(separator: ", ")
        guard case .string(let text) = value.kind, words.contains(text) else {
            throw failure(value, key: key, expected: expected)
        }
        return text
    }

    func path(_ value: TOMLValue, key: String) throws -> String {
        let expected = "a path, absolute or relative to the working directory"
        let text = try string(value, key: key, expected: expected)
        guard !text.isEmpty, !text.contains("\0") else { throw failure(value, key: key, expected: expected) }
        return text
    }

    /// Names become folder and file names and metric labels, so they are kept to a safe alphabet.
    func checkName(_ name: String, value: TOMLValue, key: String, of what: String) throws {
        guard Configuration.isValidName(name) else {
            throw failure(value, key: key, expected: Self.nameRule(what), found: TOML.quoted(name))
        }
    }

    /// nil for zero where zero is allowed (it switches the limit off).
    func duration(_ value: TOMLValue, key: String, zeroAllowed: Bool) throws -> Duration? {
        let expected = zeroAllowed
            ? "a duration like \"30d\" or \"12h\" (units ms, s, m, h, d; \"0\" turns it off)"
            : "a duration like \"5s\" or \"2m\" (units ms, s, m, h, d; above zero)"
        let parsed: Duration?
        switch value.kind {
        case .integer(let seconds) where seconds >= 0: parsed = .seconds(seconds)
        case .string(let text): parsed = Units.duration(text)
        default: parsed = nil
        }
        guard let parsed, zeroAllowed || parsed > .zero else { throw failure(value, key: key, expected: expected) }
        return parsed == .zero ? nil : parsed
    }

    /// nil for zero, which switches the limit off.
    func size(_ value: TOMLValue, key: String) throws -> Int64? {
        let expected = "a size like \"500MB\" or \"10GiB\" (kB, MB, GB, TB powers of 1000, KiB, MiB, GiB, TiB of 1024;"
            + " whole bytes too; \"0\" turns it off)"
        let parsed: Int64?
        switch value.kind {
        case .integer(let bytes) where bytes >= 0: parsed = Int64(bytes)
        case .string(let text): parsed = Units.size(text)
        default: parsed = nil
        }
        guard let parsed else { throw failure(value, key: key, expected: expected) }
        return parsed == 0 ? nil : parsed
    }

    func extensions(_ value: TOMLValue, key: String) throws -> [String] {
        let expected = "an array of file extensions without the dot, like [\"png\", \"jpg\"]"
        guard case .array(let elements) = value.kind, !elements.isEmpty else {
            throw failure(value, key: key, expected: expected)
        }
        var result: [String] = []
        for (index, element) in elements.enumerated() {
            let elementKey = key + "[\(index)]"
            let text = try string(element, key: elementKey, expected: "a file extension without the dot, like \"png\"")
            guard !text.isEmpty, text.unicodeScalars.allSatisfy({ Self.isLetterOrDigit($0) }) else {
                throw failure(element, key: elementKey, expected: "a file extension of letters and digits, without the dot, like \"png\"")
            }
            let lowered = text.lowercased()
            guard !result.contains(lowered) else {
                throw failure(element, key: elementKey, expected: "each extension once (they are compared ignoring case)")
            }
            result.append(lowered)
        }
        return result
    }
}
