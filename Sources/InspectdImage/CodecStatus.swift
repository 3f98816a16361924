import CInspectdCodecs

extension ImageError {
    /// Translates a failed C codec call; `status.result` must not be OK.
    init(status: icodec_status, format: ImageFormat, file: String?) {
        let message = withUnsafeBytes(of: status.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let reason: Reason = switch status.result {
        case ICODEC_TRUNCATED: .truncated(format, detail: message)
        case ICODEC_UNSUPPORTED: .unsupported(message)
        case ICODEC_OUT_OF_MEMORY: .outOfMemory(message)
        default: .corrupt(format, detail: message)
        }
        self.init(file: file, reason: reason)
    }
}
