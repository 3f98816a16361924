/// A folder of images or masks that cannot be used, with the path and the reason, so that an
/// operator reading one log line knows which file or folder to fix.
public struct DataSetError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case missing
        case notAFolder
        case unreadableFolder(String)
        case noImages
        case missingMask(expected: String)
        case unreadableMask(String)
        case maskSizeMismatch(mask: Size, image: Size)
    }

    public struct Size: Sendable, Equatable, CustomStringConvertible {
        public let width: Int, height: Int
        public init(width: Int, height: Int) { (self.width, self.height) = (width, height) }
        public var description: String { "\(width)x\(height)" }
    }

    /// The folder or file at fault.
    public let path: String
    public let reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        let why = switch reason {
        case .missing: "does not exist"
        case .notAFolder: "is not a folder"
        case .unreadableFolder(let detail): "cannot be listed (\(detail))"
        case .noImages: "holds no images (.png, .jpg or .jpeg)"
        case .missingMask(let expected): "has no mask: expected \(expected)"
        case .unreadableMask(let detail): "is not a readable mask (\(detail))"
        case .maskSizeMismatch(let mask, let image): "is \(mask), its image is \(image)"
        }
        return "\(path): \(why)"
    }
}
