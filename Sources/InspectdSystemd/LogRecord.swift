import Logging

/// What both of inspectd's log handlers need from a swift-log event, merged once.
struct LogRecord {
    let event: LogEvent
    /// Handler metadata, then the provider's, then the call's own (later wins), then the error.
    let metadata: Logger.Metadata

    init(event: LogEvent, handlerMetadata: Logger.Metadata, provider: Logger.MetadataProvider?) {
        var metadata = handlerMetadata
        if let provided = provider?.get() {
            metadata.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata {
            metadata.merge(explicit) { _, explicit in explicit }
        }
        // swift-log's own convention (SLG-0003), so errors read the same whichever handler runs.
        if let error = event.error {
            metadata["error.message"] = "\(error)"
            metadata["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        self.event = event
        self.metadata = metadata
    }
}

extension Logger.Level {
    /// The syslog priority journald and `journalctl -p` use; swift-log's trace has no syslog
    /// counterpart below debug.
    public var syslogPriority: Int {
        switch self {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
