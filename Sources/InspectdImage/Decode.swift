import CInspectdCodecs
import Foundation

/// Decoding always yields 8-bit samples:
/// - grey JPEG and PNG (any bit depth) become `.grey`;
/// - colour JPEG (YCbCr, RGB, CMYK, YCCK) and colour or palette PNG become `.rgb`;
/// - PNG with an alpha channel or a tRNS chunk becomes `.rgba` (grey + alpha included);
/// - 16-bit PNG samples are scaled to 8 bits with rounding (v * 255 / 65535).
/// Decoding is thread-safe: every call has its own codec state.
extension Image {
    /// Decodes a JPEG or PNG file, whatever its extension.
    /// Errors name `path` as given.
    public init(contentsOfFile path: String, options: DecodeOptions = DecodeOptions()) throws {
        let bytes = try readFile(path)
        self = try bytes.withUnsafeBytes { try decodeImage($0, name: path, options: options) }
    }

    /// Decodes JPEG or PNG bytes; `name` (a path, a camera id) appears in errors.
    public init(decoding bytes: [UInt8], name: String? = nil, options: DecodeOptions = DecodeOptions()) throws {
        self = try bytes.withUnsafeBytes { try decodeImage($0, name: name, options: options) }
    }

    /// Decodes JPEG or PNG bytes; `name` (a path, a camera id) appears in errors.
    public init(decoding data: Data, name: String? = nil, options: DecodeOptions = DecodeOptions()) throws {
        self = try data.withUnsafeBytes { try decodeImage($0, name: name, options: options) }
    }
}

private func decodeImage(_ bytes: UnsafeRawBufferPointer, name: String?, options: DecodeOptions) throws -> Image {
    if bytes.isEmpty { throw ImageError(file: name, reason: .empty) }
    guard let format = ImageFormat(detecting: bytes) else { throw ImageError(file: name, reason: .notAnImage) }
    let codec = switch format {
    case .jpeg: Codec(format: .jpeg, open: icodec_jpeg_open, read: icodec_jpeg_read, close: icodec_jpeg_close)
    case .png: Codec(format: .png, open: icodec_png_open, read: icodec_png_read, close: icodec_png_close)
    }
    return try codec.decode(bytes, name: name, options: options)
}

/// The open / read / close triple that both C decoders expose.
private struct Codec {
    let format: ImageFormat
    let open: (UnsafePointer<UInt8>?, Int, UInt64, UnsafeMutablePointer<icodec_header>?, UnsafeMutablePointer<icodec_status>?) -> OpaquePointer?
    let read: (OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<icodec_status>?) -> Int32
    let close: (OpaquePointer?) -> Void

    func decode(_ bytes: UnsafeRawBufferPointer, name: String?, options: DecodeOptions) throws -> Image {
        var header = icodec_header()
        var status = icodec_status()
        let data = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let limit = UInt64(max(options.maxPixels, 0))
        guard let decoder = open(data, bytes.count, limit, &header, &status) else {
            throw error(status, header: header, name: name, options: options)
        }
        defer { close(decoder) }

        guard let pixelFormat = PixelFormat(rawValue: Int(header.channels)) else {
            throw ImageError(file: name, reason: .unsupported("\(header.channels) channels"))
        }
        let width = Int(header.width), height = Int(header.height)
        var failed = false
        let pixels = [UInt8](unsafeUninitializedCapacity: width * height * pixelFormat.rawValue) { buffer, count in
            failed = read(decoder, buffer.baseAddress, &status) == 0
            count = failed ? 0 : buffer.count
        }
        if failed { throw error(status, header: header, name: name, options: options) }
        return Image(width: width, height: height, format: pixelFormat, pixels: pixels)
    }

    private func error(_ status: icodec_status, header: icodec_header, name: String?, options: DecodeOptions) -> ImageError {
        if status.result == ICODEC_TOO_LARGE {
            return ImageError(file: name, reason: .tooLarge(width: Int(header.width), height: Int(header.height),
                                                           limit: options.maxPixels))
        }
        return ImageError(status: status, format: format, file: name)
    }
}
