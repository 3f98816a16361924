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

    func levels(_ value: Float) -> NormalResiduals {
        let one = NormalResiduals.Levels(channels: 152, height: 2, width: 2, values: [Float](repeating: value, count: 152 * 4))
        return NormalResiduals(amn: one, diffusion: one)
    }

    @Test func saveThenLoadGivesTheSameModel() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let (manifest, network, stats) = sample()
        try folder.save(manifest: manifest, network: network, statistics: stats, residuals: ["bottle": levels(0.5)])
        let loaded = try folder.load()
        #expect(loaded.manifest == manifest)
        #expect(loaded.statistics == stats)
        #expect(loaded.residuals == ["bottle": levels(0.5)])
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

    /// A product without its levels loads only where its scoring does not need them.
    @Test func missingResidualLevelsAreNamedWhenScoringNeedsThem() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        var (manifest, network, stats) = sample()
        #expect(manifest.scoring.standardiseResiduals)
        try folder.save(manifest: manifest, network: network, statistics: stats, residuals: [:])
        #expect { try folder.load() } throws: {
            "\($0)".contains("residuals.bottle.amn") && "\($0)".contains("'bottle'") && "\($0)".contains(folder.weightsURL.path)
        }
        manifest.scoring.standardiseResiduals = false
        try folder.save(manifest: manifest, network: network, statistics: stats, residuals: [:])
        #expect(try folder.load().residuals.isEmpty)
    }

    /// Manifests from before pooling, standardising, top-share scores and their per-product choice
    /// existed keep scoring as they were calibrated.
    @Test func scoringWithoutTheNewerKeysDecodesToTheOldScoring() throws {
        let old = #"{"source": "combined", "noise_level": 50, "ddim_steps": 3, "smoothing_sigma": 4}"#
        let settings = try JSONDecoder().decode(ScoringSettings.self, from: Data(old.utf8))
        #expect(settings.pooling == 1 && !settings.standardiseResiduals && settings.noiseLevel == 50)
        #expect(settings.imageScoreTopFraction == 0 && settings.imageScoreCandidates.isEmpty)
        let candidates = #"{"source": "amn", "noise_level": 50, "ddim_steps": 3, "smoothing_sigma": 4, "image_score_candidates": [0, 2]}"#
        #expect { try JSONDecoder().decode(ScoringSettings.self, from: Data(candidates.utf8)) } throws: {
            "\($0)".contains("image_score_candidates") && "\($0)".contains("2.0")
        }
        let share = #"{"source": "amn", "noise_level": 50, "ddim_steps": 3, "smoothing_sigma": 4, "image_score_top_fraction": 1.5}"#
        #expect { try JSONDecoder().decode(ScoringSettings.self, from: Data(share.utf8)) } throws: {
            "\($0)".contains("image_score_top_fraction") && "\($0)".contains("1.5")
        }
        let even = #"{"source": "amn", "noise_level": 50, "ddim_steps": 3, "smoothing_sigma": 4, "pooling": 2}"#
        #expect { try JSONDecoder().decode(ScoringSettings.self, from: Data(even.utf8)) } throws: { "\($0)".contains("odd") }
        let written = try JSONEncoder().encode(TrainingProfile.standard.scoring)
        #expect(try JSONDecoder().decode(ScoringSettings.self, from: written) == TrainingProfile.standard.scoring)
    }

    @Test func weightsThatDoNotFitAreNamed() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let (manifest, network, stats) = sample()
        try folder.save(manifest: manifest, network: network, statistics: stats, residuals: ["bottle": levels(1)])
        var tensors = try Safetensors.read(from: folder.weightsURL).tensors
        tensors["amn.proj.weight"] = Tensor(zeros: [3, 3])
        try Safetensors.write(tensors, to: folder.weightsURL)
        #expect { try folder.load() } throws: { "\($0)".contains("amn.proj.weight") && "\($0)".contains(folder.weightsURL.path) }
    }
}
