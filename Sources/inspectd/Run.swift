import ArgumentParser
import Foundation
import InspectdConfig
import InspectdDaemon
import InspectdDetector
import InspectdSystemd
import Logging
import ServiceLifecycle

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the inspection daemon: watch the camera folders, score every new frame, spool verdicts and heatmaps.")

    @Option(help: "The main configuration file; drop-ins are read from inspectd.conf.d/ beside it.")
    var config = "/etc/inspectd/inspectd.toml"

    func run() async throws {
        let settings = try loadConfiguration(config)
        try InspectdLogging.bootstrap(identifier: "inspectd", level: Logger.Level(rawValue: settings.daemon.logLevel) ?? .info)
        let logger = Logger(label: "inspectd")
        if geteuid() == 0 {
            logger.warning("inspectd is running as root: it needs no privileges, and a frame or a product folder could make it read or write where only root may; run it as an unprivileged user (the systemd unit runs it as 'inspectd')")
        }
        let daemon = try InspectionDaemon(configFile: config, logger: logger, loadScorer: InspectionDaemon.modelLoader())
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: daemon)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration (main file and drop-ins); name the file, key and expected value of any error.")

    @Option(help: "The main configuration file; drop-ins are read from inspectd.conf.d/ beside it.")
    var config = "/etc/inspectd/inspectd.toml"

    func run() throws {
        do {
            let settings = try Configuration.load(mainFile: config)
            print("\(settings.files.joined(separator: ", ")): OK, \(settings.cameras.count) camera(s)")
            for camera in settings.cameras {
                let product: String
                switch camera.product {
                case .fixed(let name): product = name
                case .subfolder: product = "named by subfolder"
                }
                print("  \(camera.name): \(camera.folder) (\(product)\(camera.pollInterval.map { ", polled every \($0)" } ?? ""))")
            }
            // Not errors: a share may be mounted and a product learnt after the check. Said, so
            // that a line does not run uninspected without anyone knowing.
            for camera in settings.camerasWithoutFolder {
                note("warning: camera \(camera.name): its folder \(camera.folder) does not exist; nothing is inspected until it appears")
            }
            let model = ModelFolder(URL(fileURLWithPath: settings.daemon.modelDirectory).resolvingSymlinksInPath())
            if let known = try? model.readManifest().products.keys {
                for (camera, product) in settings.camerasWithUnknownProduct(known: Set(known)) {
                    note("warning: camera \(camera.name): product \(product) is not known by the model in \(settings.daemon.modelDirectory) "
                         + "(it knows \(known.sorted().joined(separator: ", "))); its frames get ERROR verdicts until it is learnt")
                }
            } else {
                note("warning: no model in \(settings.daemon.modelDirectory) yet: frames wait in their folders until one is trained")
            }
        } catch {
            note("\(error)")
            throw ExitCode(1)
        }
    }
}

/// The configuration in `file` and its drop-ins; an error (file, line, key, what was expected)
/// becomes the command's usage error.
func loadConfiguration(_ file: String) throws -> Configuration {
    do { return try Configuration.load(mainFile: file) } catch { throw ValidationError("\(error)") }
}
