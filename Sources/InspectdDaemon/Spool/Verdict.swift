import Foundation

/// The record written to the spool for every frame; dashboards and line controllers read it, so
/// its keys are snake_case and stable.
public struct Verdict: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable { case ok = "OK", ng = "NG", error = "ERROR" }

    public struct Timings: Codable, Sendable, Equatable {
        /// From the moment the watcher saw the finished file to the verdict in the spool.
        public var totalMs: Double
        public var queueMs: Double
        public var decodeMs: Double
        /// The scoring call's time, shared by the `batchFrames` frames it scored.
        public var scoreMs: Double
        public var picturesMs: Double
        /// Frames scored in the same call as this one (1: alone); 0 when none scored it.
        public var batchFrames: Int

        enum CodingKeys: String, CodingKey {
            case totalMs = "total_ms", queueMs = "queue_ms", decodeMs = "decode_ms", scoreMs = "score_ms", picturesMs = "pictures_ms"
            case batchFrames = "batch_frames"
        }
    }

    /// The frame's path; a byte of it that is not UTF-8 is written `\xHH`.
    public var frame: String
    /// The path's exact bytes in base64, only when it is not UTF-8 (for a reader that must find
    /// the file itself).
    public var frameBase64: String?
    public var sha256: String
    public var camera: String
    public var product: String?
    public var model: String?
    /// "fp32" or "int8": what the frame was scored in (absent when no model scored it).
    public var precision: String?
    /// True when an int8 score fell within the confirmation band of the threshold and the frame
    /// was scored again in fp32: the scores and the verdict are then fp32's. Absent otherwise.
    public var confirmedInFp32: Bool?
    public var rawScore: Double?
    public var normalisedScore: Double?
    public var threshold: Double?
    public var normalisedThreshold: Double?
    public var verdict: Outcome
    public var error: String?
    /// Where an undecodable frame was moved to.
    public var quarantinedTo: String?
    /// Picture kind ("heatmap", "overlay", "mask") → file name in the same spool folder.
    public var outputs: [String: String]
    public var frameModified: String
    public var decidedAt: String
    public var timings: Timings

    enum CodingKeys: String, CodingKey {
        case frame, frameBase64 = "frame_base64", sha256, camera, product, model, precision
        case confirmedInFp32 = "confirmed_in_fp32"
        case rawScore = "raw_score", normalisedScore = "normalised_score"
        case threshold, normalisedThreshold = "normalised_threshold"
        case verdict, error
        case quarantinedTo = "quarantined_to"
        case outputs
        case frameModified = "frame_modified", decidedAt = "decided_at"
        case timings
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
