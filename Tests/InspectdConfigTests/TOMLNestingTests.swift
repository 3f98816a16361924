@testable import InspectdConfig
import Testing

/// Tables nested without bound through dotted keys and headers: a 10 kB `product.toml` of
/// `a.a.a…a = 1` overflowed the stack (building the table and releasing it recurse once per level),
/// and 100 000 parts took a minute of string building before that. Found while fuzzing the
/// configuration and the product label (Fuzz/Sources/config, product-label).
@Suite struct TOMLNestingTests {
    func dotted(_ parts: Int) -> String {
        Array(repeating: "a", count: parts).joined(separator: ".")
    }

    @Test func aKeyOfThousandsOfPartsIsRefused() {
        let path = dotted(64)
        #expect(parseError(dotted(20_000) + " = 1") == #"t.toml:1:128: \#(path): expected a key of at most 64 dotted parts, got ".""#)
        #expect(parseError("[" + dotted(20_000) + "]") == #"t.toml:1:129: \#(path): expected a key of at most 64 dotted parts, got ".""#)
        #expect(parseError("x = {" + dotted(20_000) + " = 1}") == #"t.toml:1:133: \#(path): expected a key of at most 64 dotted parts, got ".""#)
    }

    @Test func tablesNestAtMost64Deep() {
        #expect(parseError(dotted(64) + " = 1") == nil)
        #expect(parseError("[" + dotted(40) + "]\n" + dotted(25) + " = 1") == nil)
        #expect(parseError("[" + dotted(40) + "]\n" + dotted(26) + " = 1")
                == "t.toml:2:49: \(dotted(65)): expected tables nested at most 64 deep, got a table 65 deep")
        #expect(parseError("[" + dotted(64) + "]\nb = 1") == nil)
        #expect(parseError("[" + dotted(64) + "]\nb.c = 1")
                == "t.toml:2:1: \(dotted(64)).b: expected tables nested at most 64 deep, got a table 65 deep")
    }

    @Test func inlineTablesCountTheirDottedKeys() {
        let level = "{" + dotted(20) + " = "
        #expect(parseError("x = " + String(repeating: level, count: 3) + "1" + String(repeating: "}", count: 3)) == nil)
        #expect(parseError("x = " + String(repeating: level, count: 4) + "1" + String(repeating: "}", count: 4))?
                    .contains("nested at most 64 deep") == true)
    }

    @Test func aProductLabelOfDeepKeysIsAnErrorNotACrash() {
        #expect(throws: ConfigurationError.self) {
            try ProductLabel.decode(TOML.parse(dotted(20_000) + " = 1\n", file: "product.toml"), file: "product.toml")
        }
    }
}
