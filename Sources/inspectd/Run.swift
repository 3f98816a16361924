import ArgumentParser
import Foundation
import InspectdConfig
import InspectdDaemon
import InspectdSystemd
import Logging
import ServiceLifecycle

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the inspection daemon: watch the camera folders, score every new frame, spool verdicts and heatmaps.")

    @Option(help: "The main configuration file; drop-ins are read from inspectd.conf.d/ beside it.")
    var config = "/etc/inspectd/inspectd.toml"

    func run() async throws {
        let settings: Configuration
        do {
            settings = try Configuration.load(mainFile: config)
        } catch {
            throw ValidationError("\(error)")
        }
        try InspectdLogging.bootstrap(identifier: "inspectd", level: Logger.Level(rawValue: settings.daemon.logLevel) ?? .info)
        let logger = Logger(label: "inspectd")
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
        } catch {
            note("\(error)")
            throw ExitCode(1)
        }
    }
}
