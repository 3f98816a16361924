import Foundation
import Testing
@testable import InspectdDetector

@Suite struct BackboneLocatorTests {
    func makeTemporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("backbone-locator-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func explicitPathWinsAndIsNotReplaced() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("weights.pth").path
        _ = FileManager.default.createFile(atPath: file, contents: Data([1]))
        #expect(BackboneLocator.find(environment: ["INSPECTD_BACKBONE": file]) == file)
        #expect(BackboneLocator.find(environment: ["INSPECTD_BACKBONE": dir.path + "/missing.pth"]) == nil)
    }

    @Test func findsAPackageUnderPyenv() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let site = dir.appendingPathComponent("pyenv/versions/3.12.1/lib/python3.12/site-packages")
        let file = site.appendingPathComponent(BackboneLocator.packageRelativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: file.path, contents: Data([1]))
        let pattern = BackboneLocator.searchPatterns(environment: ["HOME": dir.path, "PYENV_ROOT": dir.path + "/pyenv"]).last!
        #expect(BackboneLocator.expand(pattern) == [file.path])
        let found = BackboneLocator.find(environment: ["HOME": dir.path, "PYENV_ROOT": dir.path + "/pyenv"])
        #expect(found?.hasSuffix(BackboneLocator.packageRelativePath) == true)
    }
}
