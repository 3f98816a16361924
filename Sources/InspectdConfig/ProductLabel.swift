import Foundation

/// What an operator writes beside a new product's normal images, `<products_dir>/<name>/product.toml`:
///
///     display_name = "Solar cell, polycrystalline"
///     cameras = ["line2-top"]
///     labelled_by = "A. Operator"
///     note = "lot 4711, all inspected by hand"
///     update = false            # true: more normal images of a product the model already knows
///
/// Read with the configuration's TOML parser, so a mistake is reported the same way: the file, the
/// line, the key, what was expected and what was found.
public struct ProductLabel: Sendable, Equatable {
    public static let fileName = "product.toml"

    public var displayName: String
    /// The cameras the product runs on (names from the configuration); empty: not said.
    public var cameras: [String]
    public var labelledBy: String
    public var note: String
    public var update: Bool

    public init(displayName: String, cameras: [String] = [], labelledBy: String, note: String = "", update: Bool = false) {
        self.displayName = displayName
        self.cameras = cameras
        self.labelledBy = labelledBy
        self.note = note
        self.update = update
    }

    /// Reads and checks the label in `file`; throws `ConfigurationError`.
    public static func load(file: String) throws -> ProductLabel {
        try decode(TOML.parse(Configuration.readFile(file), file: file), file: file)
    }

    static func decode(_ table: TOMLTable, file: String) throws -> ProductLabel {
        let reader = Reader(file: file)
        let keys = ["display_name", "cameras", "labelled_by", "note", "update"]
        var displayName: String?, labelledBy: String?
        var label = ProductLabel(displayName: "", labelledBy: "")
        for name in table.keys {
            let value = table[name]!
            switch name {
            case "display_name":
                displayName = try reader.text(value, key: name, expected: "the product's name for people, not empty")
            case "labelled_by":
                labelledBy = try reader.text(value, key: name, expected: "who labelled the images, not empty")
            case "note":
                label.note = try reader.string(value, key: name, expected: "a note, as a string")
            case "update":
                label.update = try reader.boolean(value, key: name)
            case "cameras":
                let expected = "an array of camera names, like [\"cam1\"]"
                guard case .array(let items) = value.kind else { throw reader.failure(value, key: name, expected: expected) }
                label.cameras = try items.map { item in
                    let camera = try reader.string(item, key: name, expected: expected)
                    try reader.checkName(camera, value: item, key: name, of: "a camera name")
                    return camera
                }
            default:
                throw reader.unknownKey(value, key: name, expected: Reader.oneOf(keys))
            }
        }
        func missing(_ key: String, _ expected: String) -> ConfigurationError {
            ConfigurationError(file: file, line: nil, key: key, expected: expected, found: "nothing (the key is missing)")
        }
        guard let displayName else { throw missing("display_name", "the product's name for people") }
        guard let labelledBy else { throw missing("labelled_by", "who labelled the images") }
        label.displayName = displayName
        label.labelledBy = labelledBy
        return label
    }
}

extension Reader {
    /// A string with something in it besides blanks.
    func text(_ value: TOMLValue, key: String, expected: String) throws -> String {
        let text = try string(value, key: key, expected: expected)
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw failure(value, key: key, expected: expected) }
        return text
    }
}

extension Configuration {
    /// Whether `name` may name a camera or a product: letters, digits, "_", "." and "-" (names
    /// become folder and file names and metric labels).
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".."
            && name.unicodeScalars.allSatisfy { Reader.isLetterOrDigit($0) || "_.-".unicodeScalars.contains($0) }
    }

    /// How `isValidName` is explained in errors.
    public static func nameRule(_ what: String) -> String { Reader.nameRule(what) }
}
