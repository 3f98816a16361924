#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The C library's text for an errno value, for error messages that name a file and the reason.
public func systemError(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
