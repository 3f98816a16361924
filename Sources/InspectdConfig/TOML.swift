/// A parsed TOML value with the position it was written at, so that a setting that is well-formed
/// TOML but wrong for inspectd can still be reported at its line.
struct TOMLValue: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        case string(String)
        case integer(Int)
        case float(Double)
        case boolean(Bool)
        case array([TOMLValue])
        case table(TOMLTable)
    }

    let kind: Kind
    let line: Int
    let column: Int

    /// The value as an error message shows it after "got": scalars as TOML would write them,
    /// containers by kind (their content would be noise in a one-line message).
    var summary: String {
        switch kind {
        case .string(let text): return TOML.quoted(text)
        case .integer(let number): return String(number)
        case .float(let number):
            if number.isNaN { return "nan" }
            if number.isInfinite { return number < 0 ? "-inf" : "inf" }
            return String(number)
        case .boolean(let flag): return flag ? "true" : "false"
        case .array: return "an array"
        case .table: return "a table"
        }
    }

    /// "a string", "an integer", …, for messages about what a key already holds.
    var kindName: String {
        switch kind {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "an inline table"
        }
    }
}

/// Keys in the order they were written, which is the order errors are found and reported in.
struct TOMLTable: Equatable, Sendable {
    private(set) var keys: [String] = []
    private var entries: [String: TOMLValue] = [:]

    subscript(key: String) -> TOMLValue? { entries[key] }

    fileprivate mutating func append(_ key: String, _ value: TOMLValue) {
        keys.append(key)
        entries[key] = value
    }
}

/// TOML 1.0 as far as a configuration file needs it; date-times are refused by name.
enum TOML {
    /// Parses `bytes`, which must be UTF-8; `file` only names the source in errors.
    static func parse(_ bytes: [UInt8], file: String) throws -> TOMLTable {
        try checkUTF8(bytes, file: file)
        var parser = Parser(bytes: bytes, file: file)
        return try parser.document()
    }

    static func parse(_ text: String, file: String) throws -> TOMLTable {
        var parser = Parser(bytes: Array(text.utf8), file: file)
        return try parser.document()
    }

    /// `text` as a TOML basic string, so that odd characters in a message stay visible.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// `path.key`, quoting the key when it is not a bare key, as a dotted path in messages.
    static func join(_ path: String, _ key: String) -> String {
        let bare = !key.isEmpty && key.utf8.allSatisfy(isBareKeyByte)
        let part = bare ? key : quoted(key)
        return path.isEmpty ? part : path + "." + part
    }

    private static func checkUTF8(_ bytes: [UInt8], file: String) throws {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var line = 1
        var column = 1
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .emptyInput:
                return
            case .error:
                throw ConfigurationError(file: file, line: line, column: column, key: "",
                                         expected: "UTF-8 text", found: "bytes that are not UTF-8")
            }
        }
    }
}

private func isBareKeyByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
         UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
        return true
    default:
        return false
    }
}

/// Characters an unquoted value (number, boolean, inf/nan, or a date we refuse) is made of.
private func isTokenByte(_ byte: UInt8) -> Bool {
    isBareKeyByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
}

private func isControl(_ byte: UInt8) -> Bool {
    (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F
}

private extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

/// Tables while the document is read. They are classes because a header or a dotted key reaches
/// into a table several levels down and adds to it; `origin` enforces TOML's rule that a table is
/// defined once, whether by a header, by dotted keys, or inline.
private final class TableBuilder {
    enum Origin {
        /// Created only as the parent of a header, e.g. `a` by `[a.b]`: `[a]` may still define it.
        case implicit
        case header
        case dotted
    }

    enum Entry {
        case value(TOMLValue)
        case table(TableBuilder)
        case tableArray(TableArrayBuilder)
    }

    var origin: Origin
    /// Tables and arrays around it: the root is at 0, `b` of `[a.b]` at 2. Bounded, because
    /// building the document and releasing it recurse once per level.
    let depth: Int
    var line: Int
    var column: Int
    var keys: [String] = []
    var entries: [String: Entry] = [:]

    init(origin: Origin, depth: Int, line: Int, column: Int) {
        self.origin = origin
        self.depth = depth
        self.line = line
        self.column = column
    }

    func set(_ key: String, _ entry: Entry) {
        if entries[key] == nil { keys.append(key) }
        entries[key] = entry
    }

    func build() -> TOMLTable {
        var table = TOMLTable()
        for key in keys {
            switch entries[key]! {
            case .value(let value):
                table.append(key, value)
            case .table(let child):
                table.append(key, child.value())
            case .tableArray(let array):
                table.append(key, TOMLValue(kind: .array(array.elements.map { $0.value() }),
                                            line: array.line, column: array.column))
            }
        }
        return table
    }

    func value() -> TOMLValue {
        TOMLValue(kind: .table(build()), line: line, column: column)
    }
}

private final class TableArrayBuilder {
    var elements: [TableBuilder]
    let line: Int
    let column: Int

    init(first: TableBuilder) {
        elements = [first]
        line = first.line
        column = first.column
    }
}

private struct KeyPart {
    let name: String
    let line: Int
    let column: Int
}

private struct Parser {
    /// Deeper nesting of tables, arrays and inline tables, and keys of more dotted parts, are
    /// refused rather than risking the stack (and time quadratic in the parts of a key).
    static let maximumDepth = 64

    let bytes: [UInt8]
    let file: String
    var index = 0
    var line = 1
    var column = 1
    let root = TableBuilder(origin: .header, depth: 0, line: 1, column: 1)
    var current: TableBuilder
    /// Dotted path of `current`, with `[i]` for elements of arrays of tables.
    var currentPath = ""

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
        current = root
    }

    // MARK: Reading bytes

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    func peek(_ offset: Int) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    func peekIs(_ character: Unicode.Scalar) -> Bool { peek == UInt8(ascii: character) }

    /// Columns count Unicode scalars: continuation bytes of a multi-byte character do not advance it.
    mutating func advance() {
        let byte = bytes[index]
        index += 1
        if byte == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if byte & 0xC0 != 0x80 {
            column += 1
        }
    }

    mutating func skipSpaces() {
        while peekIs(" ") || peekIs("\t") { advance() }
    }

    /// True at LF or CRLF; a lone CR is not a line end in TOML.
    var atNewline: Bool { peekIs("\n") || (peekIs("\r") && peek(1) == UInt8(ascii: "\n")) }

    mutating func skipNewline() {
        if peekIs("\r") { advance() }
        advance()
    }

    /// Spaces, newlines and comments, as allowed between the elements of an array.
    mutating func skipBlank() throws {
        while true {
            skipSpaces()
            if peekIs("#") {
                try comment()
            } else if atNewline {
                skipNewline()
            } else {
                return
            }
        }
    }

    mutating func comment() throws {
        advance()
        while let byte = peek, !atNewline {
            if isControl(byte) { throw syntaxError("a comment without control characters") }
            advance()
        }
    }

    // MARK: Errors

    /// What stands at the current position, phrased to follow "got".
    var here: String {
        guard let byte = peek else { return "the end of the file" }
        if atNewline { return "the end of the line" }
        if byte == UInt8(ascii: "\r") { return "a carriage return without a line feed" }
        let length = byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4
        let text = String(decoding: bytes[index..<min(index + length, bytes.count)], as: UTF8.self)
        return TOML.quoted(text)
    }

    func syntaxError(_ expected: String, key: String = "") -> ConfigurationError {
        ConfigurationError(file: file, line: line, column: column, key: key, expected: expected, found: here)
    }

    func error(at line: Int, _ column: Int, key: String = "", expected: String, found: String) -> ConfigurationError {
        ConfigurationError(file: file, line: line, column: column, key: key, expected: expected, found: found)
    }

    func redefinition(of key: String, _ existing: TableBuilder.Entry, at line: Int, _ column: Int) -> ConfigurationError {
        let what: String
        let firstLine: Int
        switch existing {
        case .value(let value): (what, firstLine) = (value.kindName, value.line)
        case .table(let table): (what, firstLine) = ("a table", table.line)
        case .tableArray(let array): (what, firstLine) = ("an array of tables", array.line)
        }
        return error(at: line, column, key: key, expected: "each key and table to be defined once",
                     found: "a redefinition (line \(firstLine) already defines it as \(what))")
    }

    // MARK: Document structure

    mutating func document() throws -> TOMLTable {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        while true {
            skipSpaces()
            guard let byte = peek else { break }
            if byte == UInt8(ascii: "[") {
                try header()
            } else if byte != UInt8(ascii: "#") && !atNewline {
                try keyValue(into: current, path: currentPath)
            }
            try endOfLine()
        }
        return root.build()
    }

    mutating func endOfLine() throws {
        skipSpaces()
        if peekIs("#") { try comment() }
        guard peek != nil else { return }
        guard atNewline else { throw syntaxError("the end of the line") }
        skipNewline()
    }

    mutating func keyValue(into table: TableBuilder, path: String) throws {
        let parts = try key()
        let fullPath = parts.reduce(path) { TOML.join($0, $1.name) }
        guard peekIs("=") else { throw syntaxError("\"=\" after the key", key: fullPath) }
        advance()
        skipSpaces()
        let value = try value(path: fullPath, depth: table.depth + parts.count - 1)
        try insert(value, at: parts, into: table, path: path)
    }

    /// Adds a key/value to `table`; the dotted parts of the key may create tables, or extend
    /// tables created by dotted keys, but never reopen a table defined another way.
    func insert(_ value: TOMLValue, at parts: [KeyPart], into table: TableBuilder, path: String) throws {
        var table = table
        var path = path
        for part in parts.dropLast() {
            path = TOML.join(path, part.name)
            switch table.entries[part.name] {
            case nil:
                let child = try nested(in: table, origin: .dotted, line: part.line, column: part.column, path: path)
                table.set(part.name, .table(child))
                table = child
            case .table(let child)? where child.origin == .dotted:
                table = child
            case let existing?:
                throw redefinition(of: path, existing, at: part.line, part.column)
            }
        }
        let last = parts[parts.count - 1]
        path = TOML.join(path, last.name)
        if let existing = table.entries[last.name] {
            throw redefinition(of: path, existing, at: last.line, last.column)
        }
        table.set(last.name, .value(value))
    }

    /// A new table inside `parent`, unless that nests tables too deep.
    func nested(in parent: TableBuilder, origin: TableBuilder.Origin, line: Int, column: Int, path: String) throws -> TableBuilder {
        guard parent.depth < Self.maximumDepth else {
            throw error(at: line, column, key: path, expected: "tables nested at most \(Self.maximumDepth) deep",
                        found: "a table \(parent.depth + 1) deep")
        }
        return TableBuilder(origin: origin, depth: parent.depth + 1, line: line, column: column)
    }

    /// `[a.b]` or `[[a.b]]`: makes the table named the one later key/values go into.
    mutating func header() throws {
        let line = self.line
        let column = self.column
        advance()
        let isArray = peekIs("[")
        if isArray { advance() }
        skipSpaces()
        let parts = try key()
        let closing = isArray ? "\"]]\"" : "\"]\""
        guard peekIs("]") else { throw syntaxError("\(closing) to close the table header") }
        advance()
        if isArray {
            guard peekIs("]") else { throw syntaxError("\(closing) to close the table header") }
            advance()
        }

        var table = root
        var path = ""
        for part in parts.dropLast() {
            path = TOML.join(path, part.name)
            switch table.entries[part.name] {
            case nil:
                let child = try nested(in: table, origin: .implicit, line: line, column: column, path: path)
                table.set(part.name, .table(child))
                table = child
            case .table(let child)?:
                table = child
            case .tableArray(let array)?:
                // `[[a]]` then `[a.b]`: the header belongs to the latest element of `a`.
                path += "[\(array.elements.count - 1)]"
                table = array.elements[array.elements.count - 1]
            case let existing?:
                throw redefinition(of: path, existing, at: part.line, part.column)
            }
        }

        let last = parts[parts.count - 1]
        path = TOML.join(path, last.name)
        let existing = table.entries[last.name]
        switch (existing, isArray) {
        case (nil, false):
            current = try nested(in: table, origin: .header, line: line, column: column, path: path)
            table.set(last.name, .table(current))
        case (nil, true):
            current = try nested(in: table, origin: .header, line: line, column: column, path: path)
            table.set(last.name, .tableArray(TableArrayBuilder(first: current)))
            path += "[0]"
        case (.tableArray(let array)?, true):
            current = try nested(in: table, origin: .header, line: line, column: column, path: path)
            array.elements.append(current)
            path += "[\(array.elements.count - 1)]"
        case (.table(let child)?, false) where child.origin == .implicit:
            child.origin = .header
            child.line = line
            child.column = column
            current = child
        case (let existing?, _):
            throw redefinition(of: path, existing, at: line, column)
        }
        currentPath = path
    }

    mutating func key() throws -> [KeyPart] {
        var parts: [KeyPart] = []
        while true {
            let line = self.line
            let column = self.column
            let name: String
            if peekIs("\"") {
                guard !(peek(1) == UInt8(ascii: "\"") && peek(2) == UInt8(ascii: "\"")) else {
                    throw syntaxError("a key (a multi-line string cannot be one)")
                }
                name = try basicString()
            } else if peekIs("'") {
                guard !(peek(1) == UInt8(ascii: "'") && peek(2) == UInt8(ascii: "'")) else {
                    throw syntaxError("a key (a multi-line string cannot be one)")
                }
                name = try literalString()
            } else if let byte = peek, isBareKeyByte(byte) {
                let start = index
                while let byte = peek, isBareKeyByte(byte) { advance() }
                name = String(decoding: bytes[start..<index], as: UTF8.self)
            } else {
                throw syntaxError("a key (letters, digits, \"_\" and \"-\", or a quoted string)")
            }
            parts.append(KeyPart(name: name, line: line, column: column))
            skipSpaces()
            guard peekIs(".") else { return parts }
            guard parts.count < Self.maximumDepth else {
                throw syntaxError("a key of at most \(Self.maximumDepth) dotted parts", key: parts.reduce("") { TOML.join($0, $1.name) })
            }
            advance()
            skipSpaces()
        }
    }

    // MARK: Values

    mutating func value(path: String, depth: Int) throws -> TOMLValue {
        let line = self.line
        let column = self.column
        let kind: TOMLValue.Kind
        if peekIs("\"") {
            let multiLine = peek(1) == UInt8(ascii: "\"") && peek(2) == UInt8(ascii: "\"")
            kind = .string(try multiLine ? multiLineString(quote: "\"") : basicString())
        } else if peekIs("'") {
            let multiLine = peek(1) == UInt8(ascii: "'") && peek(2) == UInt8(ascii: "'")
            kind = .string(try multiLine ? multiLineString(quote: "'") : literalString())
        } else if peekIs("[") {
            kind = .array(try array(path: path, depth: depth + 1))
        } else if peekIs("{") {
            kind = .table(try inlineTable(path: path, depth: depth + 1))
        } else if let byte = peek, isTokenByte(byte) {
            kind = try scalar(path: path)
        } else {
            throw syntaxError("a value: a quoted string, a number, true or false, an array or an inline table", key: path)
        }
        return TOMLValue(kind: kind, line: line, column: column)
    }

    mutating func array(path: String, depth: Int) throws -> [TOMLValue] {
        let line = self.line
        let column = self.column
        guard depth <= Self.maximumDepth else {
            throw syntaxError("arrays and inline tables nested at most \(Self.maximumDepth) deep", key: path)
        }
        advance()
        var elements: [TOMLValue] = []
        while true {
            try skipBlank()
            guard peek != nil else {
                throw syntaxError("\"]\" to close the array opened at line \(line), column \(column)", key: path)
            }
            if peekIs("]") { break }
            elements.append(try value(path: path + "[\(elements.count)]", depth: depth))
            try skipBlank()
            if peekIs(",") {
                advance()
            } else if peek != nil && !peekIs("]") {
                throw syntaxError("\",\" or \"]\" after an array element", key: path)
            }
        }
        advance()
        return elements
    }

    mutating func inlineTable(path: String, depth: Int) throws -> TOMLTable {
        guard depth <= Self.maximumDepth else {
            throw syntaxError("arrays and inline tables nested at most \(Self.maximumDepth) deep", key: path)
        }
        let table = TableBuilder(origin: .header, depth: depth, line: line, column: column)
        advance()
        skipSpaces()
        if peekIs("}") {
            advance()
            return table.build()
        }
        while true {
            let parts = try key()
            let fullPath = parts.reduce(path) { TOML.join($0, $1.name) }
            guard peekIs("=") else { throw syntaxError("\"=\" after the key", key: fullPath) }
            advance()
            skipSpaces()
            let value = try value(path: fullPath, depth: depth + parts.count - 1)
            try insert(value, at: parts, into: table, path: path)
            skipSpaces()
            if peekIs("}") {
                advance()
                return table.build()
            }
            guard peekIs(",") else {
                throw syntaxError("\",\" or \"}\" (an inline table stays on one line)", key: path)
            }
            advance()
            skipSpaces()
            if peekIs("}") {
                throw syntaxError("another key after \",\" (an inline table takes no trailing comma)", key: path)
            }
        }
    }

    mutating func basicString() throws -> String {
        advance()
        var out: [UInt8] = []
        while true {
            guard let byte = peek else { throw syntaxError("a closing '\"'") }
            if byte == UInt8(ascii: "\"") {
                advance()
                return String(decoding: out, as: UTF8.self)
            } else if byte == UInt8(ascii: "\\") {
                try escape(into: &out)
            } else if atNewline || byte == UInt8(ascii: "\r") {
                throw syntaxError("a closing '\"' before the end of the line (\"\"\" starts a multi-line string)")
            } else if isControl(byte) {
                throw syntaxError("a string without control characters (write them as escapes such as \\u0007)")
            } else {
                out.append(byte)
                advance()
            }
        }
    }

    mutating func literalString() throws -> String {
        advance()
        let start = index
        while true {
            guard let byte = peek else { throw syntaxError("a closing \"'\"") }
            if byte == UInt8(ascii: "'") {
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                advance()
                return text
            } else if atNewline || byte == UInt8(ascii: "\r") {
                throw syntaxError("a closing \"'\" before the end of the line (''' starts a multi-line string)")
            } else if isControl(byte) {
                throw syntaxError("a literal string without control characters")
            }
            advance()
        }
    }

    /// `"""…"""` or `'''…'''`. A newline right after the opening quotes is dropped, CRLF is read as
    /// LF, and up to two quotes may stand right before the closing three. Only the basic form has
    /// escapes, including the line-ending backslash that swallows the newline and following blanks.
    mutating func multiLineString(quote: Unicode.Scalar) throws -> String {
        let basic = quote == "\""
        let quoteByte = UInt8(ascii: quote)
        let delimiter = String(repeating: String(quote), count: 3)
        advance()
        advance()
        advance()
        if atNewline { skipNewline() }
        var out: [UInt8] = []
        while true {
            guard let byte = peek else { throw syntaxError("\(delimiter) to close the multi-line string") }
            if byte == quoteByte {
                let line = self.line
                let column = self.column
                var run = 0
                while peek == quoteByte {
                    run += 1
                    advance()
                }
                if run >= 3 {
                    guard run <= 5 else {
                        throw error(at: line, column, expected: "at most two quotes right before the closing \(delimiter)",
                                    found: "\(run) quotes in a row")
                    }
                    out += Array(repeating: quoteByte, count: run - 3)
                    return String(decoding: out, as: UTF8.self)
                }
                out += Array(repeating: quoteByte, count: run)
            } else if basic && byte == UInt8(ascii: "\\") {
                if isLineEndingBackslash() {
                    advance()
                    while peekIs(" ") || peekIs("\t") || atNewline {
                        if atNewline { skipNewline() } else { advance() }
                    }
                } else {
                    try escape(into: &out)
                }
            } else if atNewline {
                skipNewline()
                out.append(UInt8(ascii: "\n"))
            } else if isControl(byte) {
                throw syntaxError(basic
                    ? "a string without control characters (write them as escapes such as \\u0007)"
                    : "a literal string without control characters")
            } else {
                out.append(byte)
                advance()
            }
        }
    }

    /// At a backslash followed only by blanks up to the end of the line.
    func isLineEndingBackslash() -> Bool {
        var offset = 1
        while peek(offset) == UInt8(ascii: " ") || peek(offset) == UInt8(ascii: "\t") { offset += 1 }
        return peek(offset) == UInt8(ascii: "\n")
            || (peek(offset) == UInt8(ascii: "\r") && peek(offset + 1) == UInt8(ascii: "\n"))
    }

    mutating func escape(into out: inout [UInt8]) throws {
        let line = self.line
        let column = self.column
        advance()
        let escapes: [UInt8: UInt8] = [
            UInt8(ascii: "b"): 0x08, UInt8(ascii: "t"): 0x09, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "f"): 0x0C,
            UInt8(ascii: "r"): 0x0D, UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C,
        ]
        if let byte = peek, let replacement = escapes[byte] {
            out.append(replacement)
            advance()
            return
        }
        guard peekIs("u") || peekIs("U") else {
            throw error(at: line, column,
                        expected: "an escape: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX or \\UXXXXXXXX",
                        found: peek == nil || atNewline ? "\\ at the end of the line" : "\\" + here.dropFirst().dropLast())
        }
        let digits = peekIs("u") ? 4 : 8
        advance()
        var code: UInt32 = 0
        for _ in 0..<digits {
            guard let byte = peek, let digit = hexDigit(byte) else {
                throw syntaxError("\(digits) hexadecimal digits after \\\(digits == 4 ? "u" : "U")")
            }
            code = code << 4 | digit
            advance()
        }
        guard let scalar = Unicode.Scalar(code) else {
            throw error(at: line, column, expected: "a Unicode scalar value (not a surrogate, at most 10FFFF)",
                        found: "U+" + String(code, radix: 16, uppercase: true))
        }
        out += Array(String(Character(scalar)).utf8)
    }

    func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// Booleans, numbers, inf and nan: everything written without quotes or brackets.
    mutating func scalar(path: String) throws -> TOMLValue.Kind {
        let line = self.line
        let column = self.column
        let start = index
        while let byte = peek, isTokenByte(byte) { advance() }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        switch token {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if Self.looksLikeDateTime(token) {
            throw error(at: line, column, key: path,
                        expected: "a string, number, boolean, array or inline table (dates and times are not supported)",
                        found: token)
        }
        guard let first = token.utf8.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-")
            || first == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else {
            throw error(at: line, column, key: path,
                        expected: "a value: a quoted string, a number, true or false, an array or an inline table",
                        found: token)
        }
        switch Self.number(token) {
        case .value(let kind):
            return kind
        case .malformed:
            throw error(at: line, column, key: path,
                        expected: "a number such as 42, -7, 1_000, 0xFF, 0o17, 0b101, 3.5 or 1e-3 (no leading zeros, \"_\" only between digits)",
                        found: token)
        case .integerOverflow:
            throw error(at: line, column, key: path,
                        expected: "an integer from \(Int.min) to \(Int.max)", found: token)
        case .floatOverflow:
            throw error(at: line, column, key: path,
                        expected: "a float within ±\(Double.greatestFiniteMagnitude)", found: token)
        }
    }

    /// `1979-05-27…` or `07:32…`: TOML date-times, which inspectd's settings have no use for.
    static func looksLikeDateTime(_ token: String) -> Bool {
        let bytes = Array(token.utf8)
        func digits(_ range: Range<Int>) -> Bool {
            range.upperBound <= bytes.count && bytes[range].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        }
        return (digits(0..<4) && bytes.count > 4 && bytes[4] == UInt8(ascii: "-"))
            || (digits(0..<2) && bytes.count > 2 && bytes[2] == UInt8(ascii: ":"))
    }

    enum NumberReading {
        case value(TOMLValue.Kind)
        case malformed
        case integerOverflow
        case floatOverflow
    }

    static func number(_ token: String) -> NumberReading {
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where token.hasPrefix(prefix) {
            let digits = token.dropFirst(2)
            guard hasValidDigits(digits, radix: radix) else { return .malformed }
            guard let number = Int(digits.filter { $0 != "_" }, radix: radix) else { return .integerOverflow }
            return .value(.integer(number))
        }
        let unsigned = token.hasPrefix("+") || token.hasPrefix("-") ? token.dropFirst() : Substring(token)
        let exponentStart = unsigned.firstIndex { $0 == "e" || $0 == "E" }
        let mantissa = unsigned[..<(exponentStart ?? unsigned.endIndex)]
        let dot = mantissa.firstIndex(of: ".")
        let integerPart = mantissa[..<(dot ?? mantissa.endIndex)]
        guard hasValidDigits(integerPart, radix: 10), integerPart == "0" || !integerPart.hasPrefix("0") else {
            return .malformed
        }
        let cleaned = token.filter { $0 != "_" }
        guard dot != nil || exponentStart != nil else {
            guard let number = Int(cleaned) else { return .integerOverflow }
            return .value(.integer(number))
        }
        if let dot, !hasValidDigits(mantissa[mantissa.index(after: dot)...], radix: 10) { return .malformed }
        if let exponentStart {
            var exponent = unsigned[unsigned.index(after: exponentStart)...]
            if exponent.hasPrefix("+") || exponent.hasPrefix("-") { exponent = exponent.dropFirst() }
            guard hasValidDigits(exponent, radix: 10) else { return .malformed }
        }
        guard let number = Double(cleaned) else { return .malformed }
        guard number.isFinite else { return .floatOverflow }
        return .value(.float(number))
    }

    /// Digits of `radix`, with single underscores allowed only between two digits.
    static func hasValidDigits(_ text: Substring, radix: Int) -> Bool {
        guard let first = text.first, let last = text.last, first != "_", last != "_" else { return false }
        var previousWasUnderscore = false
        for character in text {
            if character == "_" {
                if previousWasUnderscore { return false }
                previousWasUnderscore = true
            } else {
                guard let digit = character.hexDigitValue, digit < radix else { return false }
                previousWasUnderscore = false
            }
        }
        return true
    }
}
