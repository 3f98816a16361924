import Foundation
@testable import InspectdConfig
import Testing

/// Reading the main file and its drop-ins from disk.
@Suite struct LoaderTests {
    func camera(_ name: String, _ folder: String, product: String = "p") -> String {
        "[[camera]]\nname = \"\(name)\"\nfolder = \"\(folder)\"\nproduct = \"\(product)\"\n"
    }

    @Test func dropInsOverrideKeysAndReplaceOrAddCameras() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let main = try directory.write("inspectd.toml", """
        [daemon]
        threads = 2
        log_level = "warning"
        [retention]
        max_age = "7d"
        [products.bottle]
        threshold = 0.4
        \(camera("a", "/srv/a"))
        \(camera("b", "/srv/b"))
        """)
        try directory.write("inspectd.conf.d/20-second.toml", """
        [daemon]
        threads = 8
        [products.cap]
        threshold = 0.7
        \(camera("a", "/srv/a2", product: "cap"))
        \(camera("c", "/srv/c"))
        """)
        try directory.write("inspectd.conf.d/10-first.toml", "[daemon]\nthreads = 4\nstate_dir = \"/data\"\n[products.bottle]\nthreshold = 0.3\n")

        let configuration = try Configuration.load(mainFile: main)
        #expect(configuration.files == [main, directory.path + "/inspectd.conf.d/10-first.toml",
                                        directory.path + "/inspectd.conf.d/20-second.toml"])
        #expect(configuration.daemon.threads == 8)
        #expect(configuration.daemon.logLevel == "warning")
        #expect(configuration.daemon.stateDirectory == "/data")
        #expect(configuration.daemon.modelDirectory == "/data/models/current")
        #expect(configuration.retention.maxAge == .seconds(7 * 86400))
        #expect(configuration.products == ["bottle": ProductSettings(threshold: 0.3), "cap": ProductSettings(threshold: 0.7)])
        // "a" is replaced where it stood; "c" is new and comes last.
        #expect(configuration.cameras == [
            Camera(name: "a", folder: "/srv/a2", product: .fixed("cap")),
            Camera(name: "b", folder: "/srv/b", product: .fixed("p")),
            Camera(name: "c", folder: "/srv/c", product: .fixed("p")),
        ])
    }

    /// Byte order of the names, not numeric: "10-" sorts before "2-".
    @Test func dropInsApplyInLexicalOrder() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let main = try directory.write("main.toml", "[daemon]\nthreads = 1\n")
        let dropIns = directory.path + "/d"
        for (name, threads) in [("2-b.toml", 2), ("10-a.toml", 10), ("B.toml", 66), ("a.toml", 97), ("20-c.toml", 20)] {
            try directory.write("d/" + name, "[daemon]\nthreads = \(threads)\n")
        }
        let configuration = try Configuration.load(mainFile: main, dropInDirectory: dropIns)
        #expect(configuration.files.map { ($0 as NSString).lastPathComponent }
            == ["main.toml", "10-a.toml", "2-b.toml", "20-c.toml", "B.toml", "a.toml"])
        #expect(configuration.daemon.threads == 97)
    }

    /// Only *.toml files count: not other names, not hidden files, not folders.
    @Test func otherEntriesAreIgnored() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let main = try directory.write("inspectd.toml", "")
        try directory.write("inspectd.conf.d/README", "not toml at all [")
        try directory.write("inspectd.conf.d/10-x.toml.bak", "threads = [")
        try directory.write("inspectd.conf.d/.10-x.toml", "threads = [")
        try directory.write("inspectd.conf.d/sub.toml/inner.toml", "threads = [")
        try directory.write("inspectd.conf.d/50-real.toml", "[daemon]\nthreads = 3\n")
        let configuration = try Configuration.load(mainFile: main)
        #expect(configuration.files == [main, directory.path + "/inspectd.conf.d/50-real.toml"])
        #expect(configuration.daemon.threads == 3)
    }

    @Test func missingDropInDirectoryIsFine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let main = try directory.write("inspectd.toml", "[daemon]\nthreads = 5\n")
        #expect(try Configuration.load(mainFile: main).files == [main])
        #expect(try Configuration.load(mainFile: main, dropInDirectory: directory.path + "/nowhere").daemon.threads == 5)
    }

    @Test func missingMainFileIsNamed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let main = directory.path + "/absent.toml"
        #expect(throws: ConfigurationError(file: main, line: nil, key: "", expected: "a readable configuration file",
                                           found: "No such file or directory")) {
            try Configuration.load(mainFile: main)
        }
        let error = #expect(throws: ConfigurationError.self) { try Configuration.load(mainFile: directory.path) }
        #expect(error?.description == "\(directory.path): expected a readable configuration file, got Is a directory")
    }

    @Test func dropInDirectoryThatIsAFileIsNamed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let main = try directory.write("inspectd.toml", "")
        let file = try directory.write("inspectd.conf.d", "")
        let error = #expect(throws: ConfigurationError.self) { try Configuration.load(mainFile: main) }
        #expect(error?.description == "\(file): expected a readable drop-in directory, got Not a directory")
    }

    @Test func errorsInADropInNameTheDropIn() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let main = try directory.write("inspectd.toml", "")
        let dropIn = try directory.write("inspectd.conf.d/10-bad.toml", "[daemon]\nthreads = -3\n")
        var error = #expect(throws: ConfigurationError.self) { try Configuration.load(mainFile: main) }
        #expect(error?.description == "\(dropIn):2: daemon.threads: expected an integer from 0 to 1024 (0 = all cores), got -3")

        try directory.write("inspectd.conf.d/10-bad.toml", "[daemon]\nbatch_max = 100\n")
        error = #expect(throws: ConfigurationError.self) { try Configuration.load(mainFile: main) }
        #expect(error?.description == "\(dropIn):2: daemon.batch_max: expected an integer from 1 to 64 (1 = one frame at a time), got 100")

        try directory.write("inspectd.conf.d/10-bad.toml", "[daemon\n")
        error = #expect(throws: ConfigurationError.self) { try Configuration.load(mainFile: main) }
        #expect(error?.description == "\(dropIn):1:8: expected \"]\" to close the table header, got the end of the line")

        try directory.write("inspectd.conf.d/10-bad.toml", Data([0x61, 0x20, 0x3D, 0x20, 0x22, 0xFF, 0x22]))
        error = #expect(throws: ConfigurationError.self) { try Configuration.load(mainFile: main) }
        #expect(error?.description == "\(dropIn):1:6: expected UTF-8 text, got bytes that are not UTF-8")
    }

    /// A camera from one file and one from another may not share a folder; the later one is blamed.
    @Test func crossFileConflictsNameTheLaterFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let main = try directory.write("inspectd.toml", camera("a", "/srv/a"))
        let dropIn = try directory.write("inspectd.conf.d/10-more.toml", "# more\n" + camera("b", "/srv/a"))
        let error = #expect(throws: ConfigurationError.self) { try Configuration.load(mainFile: main) }
        #expect(error?.description
            == "\(dropIn):4: camera[0].folder: expected a folder no other camera watches, got \"/srv/a\", also watched by camera \"a\" (\(main):3)")
    }

    /// Relative folders are relative to the working directory, so they collide with absolute ones there.
    @Test func relativeAndAbsoluteFoldersAreCompared() {
        let here = FileManager.default.currentDirectoryPath
        #expect(decodeError(camera("a", "frames/a") + camera("b", here + "/frames/a"))
            == "main.toml:7: camera[1].folder: expected a folder no other camera watches, got \"\(here)/frames/a\", also watched by camera \"a\" (main.toml:3)")
    }

    @Test func defaultDropInDirectory() {
        #expect(Configuration.defaultDropInDirectory(for: "/etc/inspectd/inspectd.toml") == "/etc/inspectd/inspectd.conf.d")
        #expect(Configuration.defaultDropInDirectory(for: "etc/inspectd/local.toml") == "etc/inspectd/inspectd.conf.d")
        #expect(Configuration.defaultDropInDirectory(for: "inspectd.toml") == "inspectd.conf.d")
    }
}

/// The configuration files shipped in the repository.
@Suite struct RepositoryFilesTests {
    let directory = repositoryRoot + "/etc/inspectd"

    /// The installed default file sets nothing, so it loads as the defaults, with no cameras.
    @Test func installedFileLoadsAsTheDefaults() throws {
        let configuration = try Configuration.load(mainFile: directory + "/inspectd.toml")
        #expect(configuration == Configuration(files: [directory + "/inspectd.toml"]))
    }

    /// Every commented-out setting shows the default it documents: uncommenting them all (but the
    /// alternatives that cannot stand together with the others) changes nothing but adding the examples.
    @Test func documentedDefaultsAreTheDefaults() throws {
        let text = try String(contentsOfFile: directory + "/inspectd.toml", encoding: .utf8)
        var uncommented: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let setting = line.dropFirst()
            let isSetting = line.hasPrefix("#") && (setting.hasPrefix("[") || setting.range(of: #"^[a-z0-9_]+ = "#, options: .regularExpression) != nil)
            if isSetting, !setting.hasPrefix("product_from"), !setting.hasPrefix("archive_dir") {
                uncommented.append(String(setting))
            } else {
                uncommented.append(String(line))
            }
        }
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let main = try scratch.write("inspectd.toml", uncommented.joined(separator: "\n"))
        let configuration = try Configuration.load(mainFile: main)
        #expect(configuration == Configuration(
            cameras: [Camera(name: "line1-top", folder: "/srv/cameras/line1-top", product: .fixed("bottle"), pollInterval: .seconds(5),
                                   settle: .seconds(3))],
            products: ["bottle": ProductSettings(threshold: 0.5)],
            files: [main]))
        // Make sure the rewrite did uncomment the settings, not only the example camera.
        #expect(uncommented.filter { $0.contains(" = ") && !$0.hasPrefix("#") }.count == 35)
    }

    @Test func localFileLoads() throws {
        let configuration = try Configuration.load(mainFile: directory + "/local.toml")
        let daemon = configuration.daemon
        #expect(daemon.stateDirectory == "var/state")
        #expect(daemon.spoolDirectory == "var/spool")
        #expect(daemon.productsDirectory == "var/state/products")
        #expect(daemon.quarantineDirectory == "var/state/quarantine")
        #expect(daemon.modelDirectory == "var/state/models/current")
        #expect(daemon.metricsFile == "var/state/metrics/inspectd.prom")
        #expect(daemon.threads == 0)
        #expect(configuration.training.profile == "quick")
        #expect(configuration.training.launch == .daemon && configuration.training.window == .always)
        #expect(configuration.cameras == [Camera(name: "cam1", folder: "var/cameras/cam1", product: .fixed("solar_mono"), after: .leave),
                                          Camera(name: "cam2", folder: "var/cameras/cam2", product: .fixed("solar_poly"), after: .leave)])
        #expect(configuration.files == [directory + "/local.toml"])
    }
}
