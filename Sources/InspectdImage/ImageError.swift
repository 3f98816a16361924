import Foundation

/// Why an image could not be read, decoded, encoded or transformed.
/// `file` is the path (or the name given for in-memory data) so that a log
/// line alone says which frame was bad.
public struct ImageError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    public enum Reason: Sendable, Equatable {
        case unreadable(String)
        case empty
        case notAnImage
        case truncated(ImageFormat, detail: String)
        case corrupt(ImageFormat, detail: String)
        case tooLarge(width: Int, height: Int, limit: Int)
        case unsupported(String)
        case outOfMemory(String)
        case invalidRegion(String)
    }

    public let file: String?
    public let reason: Reason

    public init(file: String?, reason: Reason) {
        self.file = file
        self.reason = reason
    }

    public var description: String {
        file.map { "\($0): \(reason)" } ?? "\(reason)"
    }

    public var errorDescription: String? { description }
}

extension ImageError.Reason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unreadable(let why): "cannot read file (\(why))"
        case .empty: "empty file"
        case .notAnImage: "not a JPEG or PNG image"
        case .truncated(let format, let detail): "truncated \(format) data (\(detail))"
        case .corrupt(let format, let detail): "corrupt \(format) data (\(detail))"
        case .tooLarge(let width, let height, let limit):
            "image of \(width)x\(height) pixels exceeds the limit of \(limit) pixels"
        case .unsupported(let what): "unsupported: \(what)"
        case .outOfMemory(let what): "out of memory (\(what))"
        case .invalidRegion(let what): "invalid region (\(what))"
        }
    }
}
