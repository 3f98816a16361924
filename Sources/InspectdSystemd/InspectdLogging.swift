import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Chooses where inspectd's logs go and installs the matching swift-log handler.
public enum InspectdLogging {
    public enum Destination: String, Sendable {
        /// journald's native protocol: structured fields, MESSAGE_IDs, priorities.
        case journal
        /// One human-readable line per record on stderr.
        case stderr
    }

    /// `INSPECTD_LOG` holds something other than `journal` or `stderr`, or asks for a journal that
    /// is not there.
    public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
        public let value: String
        public let reason: String
        public var description: String { "INSPECTD_LOG=\(value): \(reason)" }
    }

    /// Where libsystemd sends records; it cannot be changed.
    static let journalSocket = "/run/systemd/journal/socket"

    /// The destination for this process: `INSPECTD_LOG` when set, otherwise the journal exactly when
    /// stderr is journald's stream for this service.
    ///
    /// systemd sets `JOURNAL_STREAM` to stderr's "device:inode" when it connects the service's
    /// output to the journal. Comparing with fstat(2) of stderr, rather than trusting the variable
    /// alone, matters because it is inherited: a shell started from a service would otherwise send
    /// an interactive command's logs to the journal.
    public static func destination(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        standardError: Int32 = STDERR_FILENO
    ) throws -> Destination {
        if let forced = environment["INSPECTD_LOG"], !forced.isEmpty {
            guard let destination = Destination(rawValue: forced) else {
                throw ConfigurationError(value: forced, reason: "expected 'journal' or 'stderr' (or unset, to detect the journal)")
            }
            // libsystemd drops records silently when journald's socket is missing.
            if destination == .journal, access(journalSocket, F_OK) != 0 {
                throw ConfigurationError(value: forced, reason: "no journald here (\(journalSocket) does not exist)")
            }
            return destination
        }
        guard let stream = environment["JOURNAL_STREAM"] else { return .stderr }
        let parts = stream.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return .stderr }
        var status = stat()
        guard fstat(standardError, &status) == 0 else { return .stderr }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode ? .journal : .stderr
    }

    /// A handler factory for `LoggingSystem.bootstrap` or `Logger(label:factory:)`; tests use it
    /// directly to avoid the process-wide, once-only bootstrap.
    public static func factory(
        identifier: String,
        level: Logger.Level,
        destination: Destination
    ) -> @Sendable (String) -> any LogHandler {
        switch destination {
        case .journal:
            return { _ in JournalLogHandler(identifier: identifier, logLevel: level) }
        case .stderr:
            return { label in StderrLogHandler(label: label, logLevel: level) }
        }
    }

    /// Installs the handler for this process's destination. Call once, first thing in `main`.
    ///
    /// The journal handler ignores swift-log labels: SYSLOG_IDENTIFIER is the service's `identifier`
    /// so `journalctl -t` finds every record; CODE_FILE tells the component.
    @discardableResult
    public static func bootstrap(
        identifier: String,
        level: Logger.Level,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Destination {
        let destination = try destination(environment: environment)
        LoggingSystem.bootstrap(factory(identifier: identifier, level: level, destination: destination))
        return destination
    }
}
