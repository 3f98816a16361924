import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler for a terminal or a plain log file: one line per record,
/// `2026-05-20T14:03:07.412+0200 warning inspectd: NG frame INSPECT_SCORE=0.87 INSPECT_VERDICT=NG`.
///
/// Each record is one line (newlines in the message are escaped) written with a single write(2),
/// so records from concurrent threads do not interleave and `grep` sees whole records.
public struct StderrLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let fileDescriptor: Int32

    /// `fileDescriptor` exists for tests; the daemon writes to stderr.
    public init(
        label: String,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider,
        fileDescriptor: Int32 = STDERR_FILENO
    ) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
        self.fileDescriptor = fileDescriptor
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let record = LogRecord(event: event, handlerMetadata: metadata, provider: metadataProvider)
        Self.write(Self.line(for: record, label: label) + "\n", to: fileDescriptor)
    }

    /// The record without its line end: time, level, label, message, then metadata sorted by key.
    static func line(for record: LogRecord, label: String) -> String {
        var line = "\(timestamp()) \(record.event.level) \(label): "
        for character in record.event.message.description {
            switch character {
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            default: line.append(character)
            }
        }
        for (key, value) in record.metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(quoted("\(value)"))"
        }
        return line
    }

    /// A metadata value as written after `key=`: bare when that is unambiguous, otherwise in double
    /// quotes with backslash escapes, so a value with spaces cannot pass for further pairs.
    static func quoted(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar.value != 0x7F && scalar != "\"" && scalar != "\\" && scalar != "="
        }
        if plain { return value }
        var text = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }

    /// Local time with milliseconds and the UTC offset, so lines from machines in different zones
    /// compare without guessing.
    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var local = tm()
        var seconds = now.tv_sec
        localtime_r(&seconds, &local)
        func format(_ pattern: String) -> String {
            var buffer = [CChar](repeating: 0, count: 32)
            let count = strftime(&buffer, buffer.count, pattern, &local)
            return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let fraction = String(Int(now.tv_nsec / 1_000_000) + 1000).dropFirst()
        return "\(format("%Y-%m-%dT%H:%M:%S")).\(fraction)\(format("%z"))"
    }

    /// Writes the whole text, resuming after partial writes and signals. Errors are dropped: there
    /// is nowhere left to report that stderr itself failed.
    static func write(_ text: String, to fileDescriptor: Int32) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var done = 0
            while done < buffer.count {
                let written = Glibc.write(fileDescriptor, buffer.baseAddress! + done, buffer.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                done += written
            }
        }
    }
}
