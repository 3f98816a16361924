import Foundation

/// Reads the whole file with POSIX calls so the error carries errno's text.
func readFile(_ path: String) throws -> [UInt8] {
    func failure() -> ImageError {
        ImageError(file: path, reason: .unreadable(String(cString: strerror(errno))))
    }
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    if descriptor < 0 { throw failure() }
    defer { close(descriptor) }
    var info = stat()
    if fstat(descriptor, &info) != 0 { throw failure() }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        throw ImageError(file: path, reason: .unreadable("is a directory"))
    }

    // One spare byte lets the read that finds end-of-file land in the buffer.
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
    var filled = 0
    while true {
        if filled == bytes.count {
            // The file has grown since fstat (a frame still being written).
            bytes.append(contentsOf: repeatElement(0, count: bytes.count))
        }
        let got = bytes.withUnsafeMutableBytes { buffer in
            read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
        }
        if got < 0 {
            if errno == EINTR { continue }
            throw failure()
        }
        if got == 0 { break }
        filled += got
    }
    bytes.removeSubrange(filled...)
    return bytes
}
