@testable import InspectdConfig
import Testing

/// Every way a document can be ill-formed, each reported at file:line:column with what was expected.
@Suite struct TOMLErrorTests {
    @Test func invalidUTF8IsPlacedInTheFile() {
        #expect(throws: ConfigurationError(file: "bad.toml", line: 2, column: 6, key: "",
                                           expected: "UTF-8 text", found: "bytes that are not UTF-8")) {
            try TOML.parse(Array("a = 1\nb = \"".utf8) + [0xC3, 0x28] + Array("\"\n".utf8), file: "bad.toml")
        }
    }

    @Test func lineStructure() {
        #expect(parseError("a = 1 2") == #"t.toml:1:7: expected the end of the line, got "2""#)
        #expect(parseError("a = 1\r") == "t.toml:1:6: expected the end of the line, got a carriage return without a line feed")
        #expect(parseError("[a] b = 1") == #"t.toml:1:5: expected the end of the line, got "b""#)
        #expect(parseError("# bell \u{7} in a comment") == #"t.toml:1:8: expected a comment without control characters, got "\u0007""#)
    }

    @Test func keys() {
        #expect(parseError("= 1") == #"t.toml:1:1: expected a key (letters, digits, "_" and "-", or a quoted string), got "=""#)
        #expect(parseError("a 1") == #"t.toml:1:3: a: expected "=" after the key, got "1""#)
        #expect(parseError("a.b") == #"t.toml:1:4: a.b: expected "=" after the key, got the end of the file"#)
        #expect(parseError("a. = 1") == #"t.toml:1:4: expected a key (letters, digits, "_" and "-", or a quoted string), got "=""#)
        #expect(parseError("\"\"\"k\"\"\" = 1") == #"t.toml:1:1: expected a key (a multi-line string cannot be one), got "\"""#)
        #expect(parseError("'''k''' = 1") == #"t.toml:1:1: expected a key (a multi-line string cannot be one), got "'""#)
        #expect(parseError("ké = 1") == #"t.toml:1:2: k: expected "=" after the key, got "é""#)
    }

    @Test func duplicateKeys() {
        let redefined = "expected each key and table to be defined once, got a redefinition"
        #expect(parseError("a = 1\na = 2") == "t.toml:2:1: a: \(redefined) (line 1 already defines it as an integer)")
        #expect(parseError("a = 1\n\"a\" = 2") == "t.toml:2:1: a: \(redefined) (line 1 already defines it as an integer)")
        #expect(parseError("a = 1\na.b = 2") == "t.toml:2:1: a: \(redefined) (line 1 already defines it as an integer)")
        #expect(parseError("a.b = 1\na.b.c = 2") == "t.toml:2:3: a.b: \(redefined) (line 1 already defines it as an integer)")
        #expect(parseError("[t]\nx = \"s\"\nx = 1") == "t.toml:3:1: t.x: \(redefined) (line 2 already defines it as a string)")
        #expect(parseError("p = {x = 1}\np.y = 2") == "t.toml:2:1: p: \(redefined) (line 1 already defines it as an inline table)")
        #expect(parseError("p = {x = 1, x = 2}") == "t.toml:1:13: p.x: \(redefined) (line 1 already defines it as an integer)")
    }

    /// A table is defined once: by a header, by dotted keys, or inline.
    @Test func redefinedTables() {
        let redefined = "expected each key and table to be defined once, got a redefinition"
        #expect(parseError("[a]\n[a]") == "t.toml:2:1: a: \(redefined) (line 1 already defines it as a table)")
        #expect(parseError("[a.b]\n[a]\n[a]") == "t.toml:3:1: a: \(redefined) (line 2 already defines it as a table)")
        #expect(parseError("[a]\nb.c = 1\n[a.b]") == "t.toml:3:1: a.b: \(redefined) (line 2 already defines it as a table)")
        #expect(parseError("[a.b.c]\nz = 9\n[a]\nb.c.t = 1") == "t.toml:4:1: a.b: \(redefined) (line 1 already defines it as a table)")
        #expect(parseError("[a]\n[[a]]") == "t.toml:2:1: a: \(redefined) (line 1 already defines it as a table)")
        #expect(parseError("[[a]]\n[a]") == "t.toml:2:1: a: \(redefined) (line 1 already defines it as an array of tables)")
        #expect(parseError("a = []\n[[a]]") == "t.toml:2:1: a: \(redefined) (line 1 already defines it as an array)")
        #expect(parseError("a = 1\n[a.b]") == "t.toml:2:2: a: \(redefined) (line 1 already defines it as an integer)")
        #expect(parseError("a = {}\n[a.b]") == "t.toml:2:2: a: \(redefined) (line 1 already defines it as an inline table)")
        #expect(parseError("[[a]]\n[a.b]\n[a.b]") == "t.toml:3:1: a[0].b: \(redefined) (line 2 already defines it as a table)")
    }

    @Test func headers() {
        #expect(parseError("[a") == #"t.toml:1:3: expected "]" to close the table header, got the end of the file"#)
        #expect(parseError("[[a]\nx = 1") == #"t.toml:1:5: expected "]]" to close the table header, got the end of the line"#)
        #expect(parseError("[]") == #"t.toml:1:2: expected a key (letters, digits, "_" and "-", or a quoted string), got "]""#)
        #expect(parseError("[a b]") == #"t.toml:1:4: expected "]" to close the table header, got "b""#)
    }

    @Test func missingOrUnquotedValues() {
        let value = "expected a value: a quoted string, a number, true or false, an array or an inline table"
        #expect(parseError("a =") == "t.toml:1:4: a: \(value), got the end of the file")
        #expect(parseError("a = \n") == "t.toml:1:5: a: \(value), got the end of the line")
        #expect(parseError("a = fast") == "t.toml:1:5: a: \(value), got fast")
        #expect(parseError("a = True") == "t.toml:1:5: a: \(value), got True")
        #expect(parseError("a = ]") == #"t.toml:1:5: a: \#(value), got "]""#)
    }

    @Test func datesAndTimesAreRefused() {
        let refused = "expected a string, number, boolean, array or inline table (dates and times are not supported)"
        #expect(parseError("d = 1979-05-27") == "t.toml:1:5: d: \(refused), got 1979-05-27")
        #expect(parseError("d = 1979-05-27T07:32:00Z") == "t.toml:1:5: d: \(refused), got 1979-05-27T07:32:00Z")
        #expect(parseError("d = 1979-05-27 07:32:00") == "t.toml:1:5: d: \(refused), got 1979-05-27")
        #expect(parseError("t = 07:32:00") == "t.toml:1:5: t: \(refused), got 07:32:00")
    }

    @Test func malformedNumbers() {
        let number = #"expected a number such as 42, -7, 1_000, 0xFF, 0o17, 0b101, 3.5 or 1e-3 (no leading zeros, "_" only between digits)"#
        for token in ["012", "-01", "1__0", "1_", "_1", "0x", "0x_1", "0xG", "0o8", "0b2", "+0x1", "1.", ".5", "1.e5",
                      "1e", "1e+", "1.5.3", "1e1.5", "1_.0", "0_0", "--1", "+", "1x"] {
            let message = token.first == "_"
                ? "t.toml:1:5: n: expected a value: a quoted string, a number, true or false, an array or an inline table, got \(token)"
                : "t.toml:1:5: n: \(number), got \(token)"
            #expect(parseError("n = \(token)") == message, "\(token)")
        }
    }

    @Test func numbersOutOfRange() {
        let integer = "expected an integer from -9223372036854775808 to 9223372036854775807"
        #expect(parseError("n = 9223372036854775808") == "t.toml:1:5: n: \(integer), got 9223372036854775808")
        #expect(parseError("n = -9_223_372_036_854_775_809") == "t.toml:1:5: n: \(integer), got -9_223_372_036_854_775_809")
        #expect(parseError("n = 0x1_0000_0000_0000_0000") == "t.toml:1:5: n: \(integer), got 0x1_0000_0000_0000_0000")
        #expect(parseError("n = 1e999") == "t.toml:1:5: n: expected a float within ±1.7976931348623157e+308, got 1e999")
    }

    @Test func basicStringErrors() {
        #expect(parseError("s = \"open") == #"t.toml:1:10: expected a closing '"', got the end of the file"#)
        #expect(parseError("s = \"open\nt = 1")
            == #"t.toml:1:10: expected a closing '"' before the end of the line (""" starts a multi-line string), got the end of the line"#)
        #expect(parseError("s = \"a\u{1}b\"") == #"t.toml:1:7: expected a string without control characters (write them as escapes such as \u0007), got "\u0001""#)
        #expect(parseError("s = \"\\x41\"") == #"t.toml:1:6: expected an escape: \b \t \n \f \r \" \\ \uXXXX or \UXXXXXXXX, got \x"#)
        #expect(parseError("s = \"\\") == #"t.toml:1:6: expected an escape: \b \t \n \f \r \" \\ \uXXXX or \UXXXXXXXX, got \ at the end of the line"#)
        #expect(parseError("s = \"\\u12\"") == #"t.toml:1:10: expected 4 hexadecimal digits after \u, got "\"""#)
        #expect(parseError("s = \"\\U0001F60\"") == #"t.toml:1:15: expected 8 hexadecimal digits after \U, got "\"""#)
        #expect(parseError("s = \"\\uD800\"") == #"t.toml:1:6: expected a Unicode scalar value (not a surrogate, at most 10FFFF), got U+D800"#)
        #expect(parseError("s = \"\\U00110000\"") == #"t.toml:1:6: expected a Unicode scalar value (not a surrogate, at most 10FFFF), got U+110000"#)
    }

    @Test func literalStringErrors() {
        #expect(parseError("s = 'open") == #"t.toml:1:10: expected a closing "'", got the end of the file"#)
        #expect(parseError("s = 'open\n") == #"t.toml:1:10: expected a closing "'" before the end of the line (''' starts a multi-line string), got the end of the line"#)
        #expect(parseError("s = 'a\u{7F}'") == #"t.toml:1:7: expected a literal string without control characters, got "\u007F""#)
    }

    @Test func multiLineStringErrors() {
        #expect(parseError("s = \"\"\"\nnever closed\n") == #"t.toml:3:1: expected """ to close the multi-line string, got the end of the file"#)
        #expect(parseError("s = '''never closed") == #"t.toml:1:20: expected ''' to close the multi-line string, got the end of the file"#)
        #expect(parseError("s = \"\"\"x\"\"\"\"\"\"") == #"t.toml:1:9: expected at most two quotes right before the closing """, got 6 quotes in a row"#)
        #expect(parseError("s = '''x''''''") == #"t.toml:1:9: expected at most two quotes right before the closing ''', got 6 quotes in a row"#)
        #expect(parseError("s = \"\"\"a\u{0}\"\"\"") == #"t.toml:1:9: expected a string without control characters (write them as escapes such as \u0007), got "\u0000""#)
        #expect(parseError("s = '''a\u{1B}'''") == #"t.toml:1:9: expected a literal string without control characters, got "\u001B""#)
        #expect(parseError("s = \"\"\"a\\q\"\"\"") == #"t.toml:1:9: expected an escape: \b \t \n \f \r \" \\ \uXXXX or \UXXXXXXXX, got \q"#)
    }

    @Test func arrayErrors() {
        #expect(parseError("a = [1, 2") == #"t.toml:1:10: a: expected "]" to close the array opened at line 1, column 5, got the end of the file"#)
        #expect(parseError("a = [1 2]") == #"t.toml:1:8: a: expected "," or "]" after an array element, got "2""#)
        #expect(parseError("a = [,]") == #"t.toml:1:6: a[0]: expected a value: a quoted string, a number, true or false, an array or an inline table, got ",""#)
        #expect(parseError("a = [1,,]") == #"t.toml:1:8: a[1]: expected a value: a quoted string, a number, true or false, an array or an inline table, got ",""#)
    }

    @Test func inlineTableErrors() {
        #expect(parseError("t = {a = 1,}") == #"t.toml:1:12: t: expected another key after "," (an inline table takes no trailing comma), got "}""#)
        #expect(parseError("t = {a = 1\n}") == #"t.toml:1:11: t: expected "," or "}" (an inline table stays on one line), got the end of the line"#)
        #expect(parseError("t = {a 1}") == #"t.toml:1:8: t.a: expected "=" after the key, got "1""#)
        #expect(parseError("t = {a = }") == #"t.toml:1:10: t.a: expected a value: a quoted string, a number, true or false, an array or an inline table, got "}""#)
        #expect(parseError("t = {a.b = 1, a = 2}") == "t.toml:1:15: t.a: expected each key and table to be defined once, got a redefinition (line 1 already defines it as a table)")
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(parseError("a = \(deep)") == #"t.toml:1:69: a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: expected arrays and inline tables nested at most 64 deep, got "[""#)
        let allowed = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(parseError("a = \(allowed)") == nil)
        let tables = String(repeating: "{b=", count: 65) + "1" + String(repeating: "}", count: 65)
        let path = "a" + String(repeating: ".b", count: 64)
        #expect(parseError("a = \(tables)") == "t.toml:1:\(4 + 3 * 64 + 1): \(path): expected arrays and inline tables nested at most 64 deep, got \"{\"")
    }
}
