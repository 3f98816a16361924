import Foundation
import InspectdModel
import InspectdTensor
import Testing
@testable import InspectdDetector

@Suite struct ModelFolderTests {
    func temporaryFolder() -> ModelFolder {
        ModelFolder(FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString)"))
    }

    func sample() -> (ModelManifest, CDADNetwork, LatentStatistics) {
        var manifest = ModelManifest(network: .quick, resolution: 256, scoring: TrainingProfile.quick.scoring,
                                     backbone: BackboneRecord(file: "b.pth", sha256: "abc"))
        manifest.products["bottle"] = ProductRecord(source: "/data/bottle", trainingImages: 9, heldOutImages: 1,
                                                    calibration: Calibration(heldOutNormalScores: [0.1, 0.2]),
                                                    added: "2026-01-01T00:00:00Z")
        let stats = LatentStatistics(mean: (0..<152).map { Float($0) }, standardDeviation: [Float](repeating: 2, count: 152))
        return (manifest, CDADNetwork(config: .quick, seed: 4), stats)
    }

    @Test func saveThenLoadGivesTheSameModel() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let (manifest, network, stats) = sample()
        try folder.save(manifest: manifest, network: network, statistics: stats)
        let loaded = try folder.load()
        #expect(loaded.manifest == manifest)
        #expect(loaded.statistics == stats)
        let a = network.parameterDictionary, b = loaded.network.parameterDictionary
        #expect(a.count == b.count && a.allSatisfy { $0.value.data == b[$0.key]?.data })
        let json = try String(contentsOf: folder.manifestURL, encoding: .utf8)
        #expect(json.contains("\"format_version\" : 1") && json.contains("\"amn_width\" : 64"))
    }

    @Test func newerFormatAndMissingKeysAreNamed() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        try Data(#"{"format_version": 9}"#.utf8).write(to: folder.manifestURL)
        #expect { try folder.readManifest() } throws: { "\($0)".contains("model format 9") && "\($0)".contains(folder.manifestURL.path) }
        try Data(#"{"format_version": 1, "resolution": 256}"#.utf8).write(to: folder.manifestURL)
        #expect { try folder.readManifest() } throws: { "\($0)".contains("missing key 'network'") }
    }

    @Test func weightsThatDoNotFitAreNamed() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let (manifest, network, stats) = sample()
        try folder.save(manifest: manifest, network: network, statistics: stats)
        var tensors = try Safetensors.read(from: folder.weightsURL).tensors
        tensors["amn.proj.weight"] = Tensor(zeros: [3, 3])
        try Safetensors.write(tensors, to: folder.weightsURL)
        #expect { try folder.load() } throws: { "\($0)".contains("amn.proj.weight") && "\($0)".contains(folder.weightsURL.path) }
    }
}
