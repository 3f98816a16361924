import Foundation

/// Runs a program to completion and returns its exit status and output: stdout, followed by
/// stderr interleaved when `includingErrors` (for tools whose warnings go there), else stderr dropped.
///
/// Starts the program from the calling thread, so it shares that thread's mount namespace, which
/// the journald test relies on.
func runCommand(_ executable: String, _ arguments: [String], includingErrors: Bool) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = includingErrors ? output : FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
