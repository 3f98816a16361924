import Foundation

/// What a version folder says about itself (`version.json`): written once, when the version is
/// published, and never changed after.
public struct VersionRecord: Codable, Sendable, Equatable {
    /// The folder's name under the store: "v" and a sequence number, "v0001", "v0002", …
    public var name: String
    /// When it was published (ISO 8601, UTC).
    public var created: String
    /// The products the model in it knows.
    public var products: [String]
    /// The version it was made from, if any.
    public var parent: String?
    /// How it came to be, for people: "increment: solar_poly", "imported from /srv/model", …
    public var origin: String
    /// Figures its checks gave (the regression guard's, say), by name.
    public var figures: [String: Double]

    public init(name: String, created: String, products: [String], parent: String?, origin: String, figures: [String: Double] = [:]) {
        self.name = name
        self.created = created
        self.products = products
        self.parent = parent
        self.origin = origin
        self.figures = figures
    }

    static let fileName = "version.json"

    /// The record of the version folder `folder`, or nil when it is not one (a plain model folder).
    public static func read(from folder: URL) -> VersionRecord? {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(fileName)) else { return nil }
        return try? JSONDecoder().decode(VersionRecord.self, from: data)
    }
}

/// One activation of a version: the store keeps them, newest last, so that a rollback can go back
/// to what was active before.
public struct Activation: Codable, Sendable, Equatable {
    public var version: String
    public var at: String
}
