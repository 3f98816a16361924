import CSystemd
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes each record to journald over its native protocol, so metadata
/// arrives as separate, indexed fields (`journalctl INSPECT_VERDICT=NG`) instead of text in MESSAGE.
///
/// Fields: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE, CODE_LINE, CODE_FUNC, and one field per
/// metadata entry named by ``fieldName(forMetadataKey:)``. When journald refuses a record the
/// record goes to stderr instead, marked with the reason, rather than being lost. (A missing
/// journald is not such a refusal: libsystemd then drops records silently, which is why
/// ``InspectdLogging`` chooses this handler only where journald is.)
public struct JournalLogHandler: LogHandler {
    /// SYSLOG_IDENTIFIER: what `journalctl -t` selects and what precedes the message in the
    /// short output format.
    public let identifier: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    /// Where records go when journald cannot take them; tests replace stderr with a pipe.
    var fallbackDescriptor = STDERR_FILENO

    /// Fields this handler fills itself; metadata under the same name is renamed
    /// (``fieldName(forMetadataKey:)``) so a stray "message" key cannot forge or split the message.
    static let ownFields: Set<String> = ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC"]

    /// journald ignores fields whose names are longer.
    static let maximumFieldNameLength = 64

    public init(
        identifier: String,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.identifier = identifier
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let record = LogRecord(event: event, handlerMetadata: metadata, provider: metadataProvider)
        let result = Self.send(fields(of: record))
        if result < 0 {
            var line = StderrLogHandler.line(for: record, label: identifier)
            line += " journal.error=\(StderrLogHandler.quoted(String(cString: strerror(-result))))\n"
            StderrLogHandler.write(line, to: fallbackDescriptor)
        }
    }

    /// The journal field that carries a metadata entry.
    ///
    /// journald accepts only names of A-Z, 0-9 and '_' that do not start with a digit or '_' (those
    /// are its trusted fields) and are at most 64 characters; any other name is dropped silently. So
    /// letters are upper-cased, other characters become '_', and a name that would still be refused
    /// or collide with a field this handler sets gets the prefix `META_`.
    /// "inspect_verdict" and "INSPECT_VERDICT" both give INSPECT_VERDICT; "MESSAGE_ID" stays.
    public static func fieldName(forMetadataKey key: String) -> String {
        var name = String(String.UnicodeScalarView(key.unicodeScalars.map { scalar in
            switch scalar {
            case "a"..."z": Unicode.Scalar(scalar.value - 32)!
            case "A"..."Z", "0"..."9", "_": scalar
            default: "_"
            }
        }))
        if name.isEmpty || name.first == "_" || name.first!.isNumber || ownFields.contains(name) {
            name = "META_" + name
        }
        return String(name.prefix(maximumFieldNameLength))
    }

    func fields(of record: LogRecord) -> [(name: String, value: String)] {
        let event = record.event
        let fields: [(name: String, value: String)] = [
            ("MESSAGE", event.message.description),
            ("PRIORITY", String(event.level.syslogPriority)),
            ("SYSLOG_IDENTIFIER", identifier),
            ("CODE_FILE", event.file),
            ("CODE_LINE", String(event.line)),
            ("CODE_FUNC", event.function),
        ]
        let metadataFields = record.metadata.map { (name: Self.fieldName(forMetadataKey: $0.key), value: "\($0.value)") }
        return fields + metadataFields.sorted { ($0.name, $0.value) < ($1.name, $1.value) }
    }

    /// Hands the fields to `sd_journal_sendv`, which copes with newlines and binary data in values
    /// and with records too large for one datagram. Returns its result: negative errno on failure.
    static func send(_ fields: [(name: String, value: String)]) -> Int32 {
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = bytes.count
            bytes.append(contentsOf: field.name.utf8)
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: field.value.utf8)
            ranges.append(start..<bytes.count)
        }
        return bytes.withUnsafeMutableBufferPointer { buffer in
            let vectors = ranges.map { range in
                iovec(iov_base: UnsafeMutableRawPointer(buffer.baseAddress! + range.lowerBound), iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }
}
