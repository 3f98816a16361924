import Foundation
@testable import InspectdConfig
import Testing

/// `product.toml`, the label an operator writes beside a new product's images.
@Suite struct ProductLabelTests {
    func labelError(_ text: String) -> String? {
        do {
            _ = try ProductLabel.decode(TOML.parse(text, file: "product.toml"), file: "product.toml")
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aFullLabelAndTheDefaults() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.write("solar_poly/product.toml", """
        display_name = "Solar cell, polycrystalline"
        cameras = ["line2-top", "line2_side"]
        labelled_by = "A. Operator"
        note = "lot 4711"
        update = true
        """)
        #expect(try ProductLabel.load(file: file) == ProductLabel(displayName: "Solar cell, polycrystalline", cameras: ["line2-top", "line2_side"],
                                                                  labelledBy: "A. Operator", note: "lot 4711", update: true))
        let minimal = try directory.write("b/product.toml", "display_name = \"B\"\nlabelled_by = \"me\"\n")
        #expect(try ProductLabel.load(file: minimal) == ProductLabel(displayName: "B", labelledBy: "me"))
    }

    @Test func mistakesNameTheFileLineAndKey() throws {
        #expect(labelError("labelled_by = \"me\"") == "product.toml: display_name: expected the product's name for people, got nothing (the key is missing)")
        #expect(labelError("display_name = \"x\"") == "product.toml: labelled_by: expected who labelled the images, got nothing (the key is missing)")
        #expect(labelError("display_name = \"  \"\nlabelled_by = \"me\"") == #"product.toml:1: display_name: expected the product's name for people, not empty, got "  ""#)
        #expect(labelError("display_name = \"x\"\nlabelled_by = \"me\"\nupdate = \"yes\"") == #"product.toml:3: update: expected true or false, got "yes""#)
        #expect(labelError("display_name = \"x\"\nlabelled_by = \"me\"\ncameras = \"cam1\"") == #"product.toml:3: cameras: expected an array of camera names, like ["cam1"], got "cam1""#)
        #expect(labelError("display_name = \"x\"\nlabelled_by = \"me\"\ncameras = [\"a b\"]")
                == #"product.toml:3: cameras: expected a camera name of letters, digits, "_", "." and "-", got "a b""#)
        #expect(labelError("display_name = \"x\"\nlabelled_by = \"me\"\nowner = \"me\"")
                == "product.toml:3: owner: expected one of display_name, cameras, labelled_by, note, update, got an unknown key")
        #expect(throws: ConfigurationError.self) { try ProductLabel.load(file: "/nonexistent/product.toml") }
    }

    @Test func theNameRule() {
        for good in ["bottle", "solar_poly", "cap-2", "v1.2"] { #expect(Configuration.isValidName(good), "\(good)") }
        for bad in ["", ".", "..", "a b", "a/b", "ü", "x\u{0}"] { #expect(!Configuration.isValidName(bad), "\(bad)") }
    }
}
