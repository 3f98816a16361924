@testable import InspectdConfig
import Testing

/// Well-formed documents and the values they read as.
@Suite struct TOMLParserTests {
    @Test func commentsBlankLinesAndLineEndings() throws {
        let text = "\u{FEFF}# a comment\r\n\r\n  a = 1 # trailing, with \"quotes\" and ünïcode\r\n\t\nb = 2"
        #expect(try parse(text) == .table(["a": .integer(1), "b": .integer(2)]))
        #expect(try parse("") == .table([:]))
        #expect(try parse("# only a comment") == .table([:]))
    }

    @Test func keys() throws {
        let text = """
        bare_key-1 = 1
        "quoted key" = 2
        'literal "key"' = 3
        "a.b" = 4
        "" = 5
        site . "google.com" . port = 6
        1234 = 7
        "\\u00e9" = 8
        """
        #expect(try parse(text) == .table([
            "bare_key-1": .integer(1), "quoted key": .integer(2), "literal \"key\"": .integer(3), "a.b": .integer(4),
            "": .integer(5), "site": .table(["google.com": .table(["port": .integer(6)])]), "1234": .integer(7),
            "é": .integer(8),
        ]))
    }

    @Test func keysKeepTheirOrder() throws {
        let table = try TOML.parse("z = 1\na = 2\n[m]\n[b]", file: "t.toml")
        #expect(table.keys == ["z", "a", "m", "b"])
    }

    @Test func tablesAndImplicitParents() throws {
        let text = """
        top = true
        [a.b.c]
        x = 1
        [a]          # defining the implicit parent afterwards is allowed
        y = 2
        [a.b.d]
        z = 3
        [fruit]
        apple.color = "red"
        [fruit.apple.texture]   # a sub-table of one made by dotted keys
        smooth = true
        [ spaced . "key" ]
        """
        #expect(try parse(text) == .table([
            "top": .boolean(true),
            "a": .table(["b": .table(["c": .table(["x": .integer(1)]), "d": .table(["z": .integer(3)])]), "y": .integer(2)]),
            "fruit": .table(["apple": .table(["color": .string("red"), "texture": .table(["smooth": .boolean(true)])])]),
            "spaced": .table(["key": .table([:])]),
        ]))
    }

    @Test func arraysOfTables() throws {
        let text = """
        [[camera]]
        name = "a"
        [camera.sub]
        k = 1
        [[camera.shots]]
        n = 1
        [[camera.shots]]
        n = 2
        [[camera]]
        name = "b"
        [[ camera ]]
        """
        #expect(try parse(text) == .table([
            "camera": .array([
                .table(["name": .string("a"), "sub": .table(["k": .integer(1)]),
                        "shots": .array([.table(["n": .integer(1)]), .table(["n": .integer(2)])])]),
                .table(["name": .string("b")]),
                .table([:]),
            ]),
        ]))
    }

    @Test func basicStrings() throws {
        let text = #"""
        a = "tab\there, quote \" backslash \\ \b\f\n\r"
        b = "\u00E9\U0001F600"
        c = ""
        d = "# not a comment"
        """#
        #expect(try parse(text) == .table([
            "a": .string("tab\there, quote \" backslash \\ \u{8}\u{C}\n\r"),
            "b": .string("é😀"), "c": .string(""), "d": .string("# not a comment"),
        ]))
    }

    @Test func literalStrings() throws {
        let text = #"""
        path = 'C:\Users\nodejs\templates'
        regex = '<\i\c*\s*>'
        quoted = 'Tom "Dubs" Preston-Werner'
        empty = ''
        """#
        #expect(try parse(text) == .table([
            "path": .string(#"C:\Users\nodejs\templates"#), "regex": .string(#"<\i\c*\s*>"#),
            "quoted": .string("Tom \"Dubs\" Preston-Werner"), "empty": .string(""),
        ]))
    }

    @Test func multiLineBasicStrings() throws {
        let text = "a = \"\"\"\nRoses\r\nViolets\"\"\"\n"
            + "b = \"\"\"The quick \\\n\n    brown \\   \n  fox\"\"\"\n"
            + "c = \"\"\"\"quoted\" and two at the end\"\"\"\"\"\n"
            + "d = \"\"\"escapes \\t \\u0041 and a lone \\\\\"\"\"\n"
            + "e = \"\"\"\"\"\"\n"
        #expect(try parse(text) == .table([
            "a": .string("Roses\nViolets"),
            "b": .string("The quick brown fox"),
            "c": .string("\"quoted\" and two at the end\"\""),
            "d": .string("escapes \t A and a lone \\"),
            "e": .string(""),
        ]))
    }

    @Test func multiLineLiteralStrings() throws {
        let text = "a = '''\nThe first newline is\ntrimmed in raw strings. \\n stays'''\n"
            + "b = ''''That's' it'''''\n"
        #expect(try parse(text) == .table([
            "a": .string("The first newline is\ntrimmed in raw strings. \\n stays"),
            "b": .string("'That's' it''"),
        ]))
    }

    @Test func integers() throws {
        let text = """
        a = +99
        b = 42
        c = 0
        d = -17
        e = 1_000
        f = 5_349_221
        g = 0xDEAD_beef
        h = 0o755
        i = 0b1101_0110
        j = -9223372036854775808
        k = 9_223_372_036_854_775_807
        l = -0
        m = 0x7FFFFFFFFFFFFFFF
        """
        #expect(try parse(text) == .table([
            "a": .integer(99), "b": .integer(42), "c": .integer(0), "d": .integer(-17), "e": .integer(1000),
            "f": .integer(5_349_221), "g": .integer(0xDEAD_BEEF), "h": .integer(0o755), "i": .integer(0b1101_0110),
            "j": .integer(Int.min), "k": .integer(Int.max), "l": .integer(0), "m": .integer(Int.max),
        ]))
    }

    @Test func floats() throws {
        let text = """
        a = +1.0
        b = 3.1415
        c = -0.01
        d = 5e+22
        e = 1e06
        f = -2E-2
        g = 6.626e-34
        h = 224_617.445_991_228
        i = 0.5
        j = 0e0
        k = inf
        l = +inf
        m = -inf
        """
        #expect(try parse(text) == .table([
            "a": .float(1), "b": .float(3.1415), "c": .float(-0.01), "d": .float(5e22), "e": .float(1e6),
            "f": .float(-2e-2), "g": .float(6.626e-34), "h": .float(224_617.445_991_228), "i": .float(0.5), "j": .float(0),
            "k": .float(.infinity), "l": .float(.infinity), "m": .float(-.infinity),
        ]))
        let nans = try TOML.parse("a = nan\nb = +nan\nc = -nan", file: "t.toml")
        for key in ["a", "b", "c"] {
            guard case .float(let number) = nans[key]?.kind else { Issue.record("\(key) is not a float"); continue }
            #expect(number.isNaN)
        }
    }

    @Test func booleans() throws {
        #expect(try parse("t = true\nf = false") == .table(["t": .boolean(true), "f": .boolean(false)]))
    }

    @Test func arrays() throws {
        let text = """
        empty = []
        numbers = [ 1, 2, 3 ]
        nested = [ [ 1, 2 ], ["a", 'b'], [] ]
        mixed = [ 0.1, "x", true, { k = 1 } ]
        spread = [
          "png",   # comments between elements
          # and on lines of their own

          "jpg",   # with a trailing comma
        ]
        trailing = [1,]
        """
        #expect(try parse(text) == .table([
            "empty": .array([]),
            "numbers": .array([.integer(1), .integer(2), .integer(3)]),
            "nested": .array([.array([.integer(1), .integer(2)]), .array([.string("a"), .string("b")]), .array([])]),
            "mixed": .array([.float(0.1), .string("x"), .boolean(true), .table(["k": .integer(1)])]),
            "spread": .array([.string("png"), .string("jpg")]),
            "trailing": .array([.integer(1)]),
        ]))
    }

    @Test func inlineTables() throws {
        let text = """
        name = { first = "Tom", last = "Preston-Werner" }
        point = {x=1,y=2}
        animal = { type.name = "pug", type.age = 3 }
        nested = { inner = { deep = [1, { k = "v" }] } }
        empty = {}
        """
        #expect(try parse(text) == .table([
            "name": .table(["first": .string("Tom"), "last": .string("Preston-Werner")]),
            "point": .table(["x": .integer(1), "y": .integer(2)]),
            "animal": .table(["type": .table(["name": .string("pug"), "age": .integer(3)])]),
            "nested": .table(["inner": .table(["deep": .array([.integer(1), .table(["k": .string("v")])])])]),
            "empty": .table([:]),
        ]))
    }

    /// Lines and columns are 1-based; columns count characters, not bytes.
    @Test func valuesRememberWhereTheyStand() throws {
        let table = try TOML.parse("# comment\n\"ünï\" = 5\n\n[section]\n  key = [\n    \"x\",\n  ]\n[[list]]\n", file: "t.toml")
        let value = table["ünï"]!
        #expect(value.line == 2 && value.column == 9)
        guard case .table(let section) = table["section"]?.kind else { Issue.record("no section"); return }
        #expect(table["section"]!.line == 4 && table["section"]!.column == 1)
        let array = section["key"]!
        #expect(array.line == 5 && array.column == 9)
        guard case .array(let elements) = array.kind else { Issue.record("not an array"); return }
        #expect(elements[0].line == 6 && elements[0].column == 5)
        guard case .array(let list) = table["list"]?.kind else { Issue.record("no list"); return }
        #expect(list[0].line == 8)
    }

    /// A table created as the parent of a header takes the position of its own header once it has one.
    @Test func implicitTableTakesTheLineOfItsHeader() throws {
        let table = try TOML.parse("[a.b]\n\n[a]\n", file: "t.toml")
        #expect(table["a"]?.line == 3)
    }

    @Test func quotingForMessages() {
        #expect(TOML.quoted("plain") == "\"plain\"")
        #expect(TOML.quoted("a\"b\\c\nd\te\u{7}") == #""a\"b\\c\nd\te\u0007""#)
        #expect(TOML.join("", "a") == "a")
        #expect(TOML.join("products", "a b") == "products.\"a b\"")
        #expect(TOML.join("camera[0]", "") == "camera[0].\"\"")
    }
}
