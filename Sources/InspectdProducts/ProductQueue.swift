import Foundation
import InspectdConfig
import InspectdFiles

/// Where a product stands on its way into the model, as `inspectd products` shows it.
public enum ProductState: String, Codable, Sendable, CaseIterable {
    /// Accepted from its folder, waiting for a training window.
    case queued
    /// Its increment is being trained.
    case training
    /// In the model since `version`.
    case learnt
    /// The regression guard refused its increment (`figures` say why); the model did not change.
    case refused
}

/// A product accepted from an operator's folder, as the queue keeps it:
/// `<queue>/<name>/record.json` beside the copied `images/` and `product.toml`.
public struct QueuedProduct: Codable, Sendable, Equatable {
    public var name: String
    public var state: ProductState
    public var displayName: String
    public var labelledBy: String
    public var note: String
    public var cameras: [String]
    /// More normal images of a product the model knows.
    public var update: Bool
    public var images: Int
    /// Where the operator dropped it.
    public var source: String
    public var queued: String
    /// The model version it was learnt in, once learnt.
    public var version: String?
    /// The guard's figures when refused, or the checks' when learnt.
    public var figures: [String: Double]
    /// Why it was refused, for people.
    public var reason: String?
}

/// The products accepted and not yet learnt (and those learnt or refused, for the record), one
/// folder each under the queue's root. The operator's folder can go once a product is queued:
/// its images are copied here.
public struct ProductQueue: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    /// The daemon's queue: `<state_dir>/product-queue`.
    public init(stateDirectory: String) {
        self.init(root: URL(fileURLWithPath: stateDirectory).appendingPathComponent("product-queue"))
    }

    public func folder(of name: String) -> URL { root.appendingPathComponent(name) }
    public func imagesFolder(of name: String) -> URL { folder(of: name).appendingPathComponent("images") }
    func recordURL(of name: String) -> URL { folder(of: name).appendingPathComponent("record.json") }

    /// Every product the queue knows, by name.
    public func products() throws -> [QueuedProduct] {
        guard FileManager.default.fileExists(atPath: root.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: root.path).sorted().filter { !$0.hasPrefix(".") }.compactMap { name in
            guard let data = try? Data(contentsOf: recordURL(of: name)) else { return nil }
            do {
                return try JSONDecoder().decode(QueuedProduct.self, from: data)
            } catch {
                throw ProductFailure(path: recordURL(of: name).path, reason: "unreadable product record: \(error)")
            }
        }
    }

    public func product(_ name: String) throws -> QueuedProduct? { try products().first { $0.name == name } }

    /// Queues a refused product again (after its cause was fixed, or to try with other
    /// settings); its images are still in the queue. Returns the record as queued now.
    @discardableResult
    public func retry(_ name: String, now: Date = Date()) throws -> QueuedProduct {
        guard var record = try product(name) else {
            throw ProductFailure(path: folder(of: name).path, reason: "no product '\(name)' in the queue")
        }
        guard record.state == .refused else {
            throw ProductFailure(path: recordURL(of: name).path, reason: "'\(name)' is \(record.state.rawValue), not refused; only a refused product is queued again")
        }
        record.state = .queued
        record.reason = nil
        record.figures = [:]
        record.queued = Timestamp.iso8601(now)
        try save(record)
        return record
    }

    /// Writes `record` (atomically; the record is what makes a product queued).
    public func save(_ record: QueuedProduct) throws {
        try FileManager.default.createDirectory(at: folder(of: record.name), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(record), to: recordURL(of: record.name))
    }
}

/// A product folder or queue entry that could not be handled, naming the path and the reason.
public struct ProductFailure: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}
