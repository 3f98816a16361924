import Foundation
import InspectdFiles
import Testing

@Suite struct AtomicFileTests {
    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func replacesContentAndLeavesNoTemporaryFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("verdict.json")
        try AtomicFile.write(Array("first".utf8), to: file)
        try AtomicFile.write(Array("second".utf8), to: file)
        #expect(try String(contentsOf: file, encoding: .utf8) == "second")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["verdict.json"])
    }

    @Test func failedProducerKeepsThePreviousContent() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("model.json")
        try AtomicFile.write(Array("good".utf8), to: file)
        struct Interrupted: Error {}
        #expect(throws: Interrupted.self) {
            try AtomicFile.write(to: file) { sink in
                try Array("partial".utf8).withUnsafeBytes { try sink.write($0) }
                throw Interrupted()
            }
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == "good")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.json"])
    }

    @Test func missingDirectoryIsNamedInTheError() throws {
        let file = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/x.json")
        do {
            try AtomicFile.write(Array("x".utf8), to: file)
            Issue.record("writing into a missing directory succeeded")
        } catch let failure as AtomicFile.Failure {
            #expect(failure.description.hasPrefix(file.path))
        }
    }
}
