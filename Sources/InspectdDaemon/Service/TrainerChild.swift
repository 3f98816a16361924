import Foundation

/// The trainer the daemon starts in its training window (`launch = "daemon"`): a separate process,
/// so that training can crash, be killed or run out of memory without taking scoring with it, and
/// so that it runs at idle priority while the daemon keeps its own.
public protocol TrainerChild: AnyObject, Sendable {
    /// Nil while it runs; its exit status once it has ended.
    var exitStatus: Int32? { get }
    /// Asks it to stop (SIGTERM): it saves its state at the next step and exits.
    func stop()
}

/// Starts a trainer for the configuration in `configFile`.
public typealias TrainerStarter = @Sendable (_ configFile: String) throws -> TrainerChild

/// `inspectd train-pending --idle` run from this very executable.
public final class TrainerProcess: TrainerChild, @unchecked Sendable {
    // Process is a class without Sendable; it is only read (isRunning, terminationStatus) and
    // signalled here, which it allows from any thread.
    private let process: Process

    public init(configFile: String, executable: String = "/proc/self/exe") throws {
        process = Process()
        // /proc/self/exe: the binary this daemon runs, whatever PATH says or where it was moved.
        process.executableURL = URL(fileURLWithPath: URL(fileURLWithPath: executable).resolvingSymlinksInPath().path)
        process.arguments = ["train-pending", "--config", configFile, "--idle"]
        try process.run()
    }

    public var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    }

    public static let starter: TrainerStarter = { try TrainerProcess(configFile: $0) }
}
