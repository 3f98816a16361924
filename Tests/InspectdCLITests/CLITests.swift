import Foundation
import Testing

/// The `inspectd` executable built beside the tests, run as a user runs it: arguments in, exit
/// status and messages out. Skipped when the binary is not there (a build of the tests alone).
struct CLITests {
    static let binary: URL? = {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidate = folder.appendingPathComponent("inspectd")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }()

    struct Run {
        let status: Int32
        let output: String
        let errors: String
    }

    static func run(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = binary!
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile(), errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
                   errors: String(decoding: errors, as: UTF8.self))
    }

    @Test(.enabled(if: binary != nil, "the inspectd executable is not built beside the tests"))
    func versionIsPrinted() throws {
        let run = try Self.run(["--version"])
        #expect(run.status == 0)
        #expect(run.output.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression) != nil, "\(run.output)")
    }

    /// A product name becomes a folder and a configuration table: `train` takes only what the
    /// configuration would, before it reads anything.
    @Test(.enabled(if: binary != nil, "the inspectd executable is not built beside the tests"))
    func trainRefusesANameTheConfigurationWouldNot() throws {
        let model = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: model) }
        let run = try Self.run(["train", "--model", model.path, "--product", "../../etc=/tmp"])
        #expect(run.status != 0)
        #expect(run.errors.contains("'../../etc' is not a product name"), "\(run.errors)")
        #expect(!FileManager.default.fileExists(atPath: model.path))
    }

    @Test(.enabled(if: binary != nil, "the inspectd executable is not built beside the tests"))
    func checkConfigNamesTheFileLineAndKey() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("inspectd.toml")
        try "[daemon]\nbatch_max = 0\n".write(to: file, atomically: true, encoding: .utf8)
        let bad = try Self.run(["check-config", "--config", file.path])
        #expect(bad.status == 1)
        #expect(bad.errors.contains("\(file.path):2: daemon.batch_max: expected an integer from 1 to 64"), "\(bad.errors)")
        try "[daemon]\nbatch_max = 4\n".write(to: file, atomically: true, encoding: .utf8)
        let good = try Self.run(["check-config", "--config", file.path])
        #expect(good.status == 0 && good.output.contains("OK, 0 camera(s)"), "\(good.output)\(good.errors)")

        // A camera whose folder is missing, and no model: valid, with a warning for each.
        try """
        [daemon]
        state_dir = "\(folder.path)/state"
        [[camera]]
        name = "cam1"
        folder = "\(folder.path)/no-such-folder"
        product = "widget"
        """.write(to: file, atomically: true, encoding: .utf8)
        let warned = try Self.run(["check-config", "--config", file.path])
        #expect(warned.status == 0)
        #expect(warned.errors.contains("warning: camera cam1: its folder \(folder.path)/no-such-folder does not exist"), "\(warned.errors)")
        #expect(warned.errors.contains("warning: no model in \(folder.path)/state/models/current yet"), "\(warned.errors)")
    }
}

/// `inspectd run` as a process, signalled as systemd and a terminal signal it.
struct DaemonProcessTests {
    /// Everything the process writes to stderr, as it arrives.
    final class Output: @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        func append(_ data: Data) { lock.withLock { text += String(decoding: data, as: UTF8.self) } }
        var current: String { lock.withLock { text } }

        func wait(for needle: String, timeout: TimeInterval = 30) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if current.contains(needle) { return true }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return false
        }
    }

    @Test(.enabled(if: CLITests.binary != nil, "the inspectd executable is not built beside the tests"))
    func sighupReloadsAndSigtermStopsARealDaemon() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("inspectd.toml")
        try "[daemon]\nstate_dir = \"\(folder.path)/state\"\nspool_dir = \"\(folder.path)/spool\"\n".write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = CLITests.binary!
        process.arguments = ["run", "--config", file.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let output = Output()
        errors.fileHandleForReading.readabilityHandler = { output.append($0.availableData) }
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        #expect(output.wait(for: "inspectd ready"), "\(output.current)")
        if geteuid() == 0 { #expect(output.current.contains("inspectd is running as root")) }
        kill(process.processIdentifier, SIGHUP)
        #expect(output.wait(for: "configuration reloaded"), "\(output.current)")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        #expect(output.wait(for: "inspectd stopped"), "\(output.current)")
    }
}
