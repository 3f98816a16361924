import Foundation
import InspectdFiles

/// What the trainer is doing, as it last wrote it to `<state_dir>/training/status.json`: the
/// daemon reads it for its metrics and STATUS= line, `inspectd products` for the progress. The
/// trainer and the daemon share only files, so either can restart without the other.
public struct TrainingStatus: Codable, Sendable, Equatable {
    public enum Phase: String, Codable, Sendable {
        /// No increment running.
        case idle
        /// Training a product's increment.
        case training
        /// Running the regression guard on the candidate.
        case validating
    }

    public var phase: Phase
    /// The product being learnt.
    public var product: String?
    public var step: Int?
    public var steps: Int?
    /// The process writing it: a status whose writer has gone (killed half-way) is stale.
    public var pid: Int32?
    public var updated: String
    /// The last finished increment: its product, outcome ("learnt" or "refused"), duration and version.
    public var lastProduct: String?
    public var lastOutcome: String?
    public var lastSeconds: Double?
    public var lastVersion: String?

    public init(phase: Phase, product: String? = nil, step: Int? = nil, steps: Int? = nil, pid: Int32? = nil,
                updated: String = Timestamp.iso8601()) {
        self.phase = phase
        self.product = product
        self.step = step
        self.steps = steps
        self.pid = pid
        self.updated = updated
    }

    public static func url(stateDirectory: String) -> URL {
        URL(fileURLWithPath: stateDirectory).appendingPathComponent("training/status.json")
    }

    /// The status in `stateDirectory`, idle when there is none, and idle (keeping the last
    /// increment's figures) when its writer is no longer running.
    public static func read(stateDirectory: String) -> TrainingStatus {
        guard let data = try? Data(contentsOf: url(stateDirectory: stateDirectory)),
              var status = try? JSONDecoder().decode(TrainingStatus.self, from: data) else { return TrainingStatus(phase: .idle) }
        if status.phase != .idle, let pid = status.pid, kill(pid, 0) != 0 && errno == ESRCH {
            status.phase = .idle
            status.product = nil
            status.step = nil
            status.steps = nil
        }
        return status
    }

    public func write(stateDirectory: String) throws {
        let url = Self.url(stateDirectory: stateDirectory)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: url)
    }
}

extension TrainingStatus {
    /// One line for people: "training solar_poly: step 300/1000", …
    public static func describe(_ status: TrainingStatus) -> String {
        switch status.phase {
        case .idle: return "idle"
        case .training: return "training \(status.product ?? "?"): step \(status.step ?? 0)/\(status.steps ?? 0)"
        case .validating: return "checking \(status.product ?? "?") against the products learnt before"
        }
    }
}
