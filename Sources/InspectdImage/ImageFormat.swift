/// The encodings this module reads, recognised by their leading bytes: file
/// names from cameras and uploads cannot be trusted to say what they hold.
public enum ImageFormat: String, Sendable, CustomStringConvertible {
    case jpeg = "JPEG"
    case png = "PNG"

    public var description: String { rawValue }

    private static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// nil when the bytes start like neither format.
    public init?<Bytes: Collection<UInt8>>(detecting bytes: Bytes) {
        if bytes.starts(with: Self.pngSignature) {
            self = .png
        } else if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            // SOI followed by the first marker's prefix.
            self = .jpeg
        } else {
            return nil
        }
    }
}
