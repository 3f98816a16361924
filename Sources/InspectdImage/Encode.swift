import CInspectdCodecs

/// Runs a C encoder that hands back a malloc'd buffer and copies it out.
func encodeWithCodec(
    format: ImageFormat,
    _ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<icodec_status>) -> Int32
) throws -> [UInt8] {
    var output: UnsafeMutablePointer<UInt8>?
    var count = 0
    var status = icodec_status()
    guard encode(&output, &count, &status) != 0, let output else {
        throw ImageError(status: status, format: format, file: nil)
    }
    defer { icodec_free(output) }
    return Array(UnsafeBufferPointer(start: output, count: count))
}
