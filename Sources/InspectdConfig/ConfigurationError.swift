/// Anything wrong with a configuration file: syntax, types, ranges, missing or unknown keys.
///
/// The message is for the operator who edits the file, so it always says where (file, line, and for
/// syntax errors the column) and what would have been accepted, e.g.
/// `/etc/inspectd/inspectd.conf.d/10-line2.toml:14: camera[1].poll_interval: expected a duration like "5s" or "2m", got "fast"`.
/// `camera[N]` counts the `[[camera]]` tables of the file named, from 0.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    /// 1-based; nil when the error is about the file as a whole (missing, unreadable).
    public let line: Int?
    /// 1-based, counted in Unicode scalars; only syntax errors have one.
    public let column: Int?
    /// Dotted path of the key, e.g. `products.bottle.threshold`; empty when no key is involved.
    public let key: String
    /// What would have been accepted, phrased to follow "expected".
    public let expected: String
    /// What was there instead, phrased to follow "got"; nil when there is nothing useful to show.
    public let found: String?

    public init(file: String, line: Int?, column: Int? = nil, key: String, expected: String, found: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.expected = expected
        self.found = found
    }

    public var description: String {
        var text = file
        if let line {
            text += ":\(line)"
            if let column { text += ":\(column)" }
        }
        text += ": "
        if !key.isEmpty { text += key + ": " }
        text += "expected " + expected
        if let found { text += ", got " + found }
        return text
    }
}
