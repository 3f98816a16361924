import Foundation
import InspectdModel
import InspectdTensor
import Testing
@testable import InspectdDetector

/// The int8 layers on disk: they round-trip, a damaged file is refused naming it, new weights drop
/// them, and only the AMN's linear layers and the U-Net's convolutions are chosen.
@Suite struct ModelFolderInt8Tests {
    let helper = ModelFolderTests()

    func layers(_ network: CDADNetwork) -> [String: Int8Layer] {
        let parameters = network.parameterDictionary
        var layers: [String: Int8Layer] = [:]
        for (i, name) in ["amn.layers.0.attn.q.weight", "unet.conv_in.weight", "unet.down.1.downsample.weight"].enumerated() {
            layers[name] = Int8Layer(weights: Int8Weights(quantising: parameters[name]!),
                                     input: Int8Scale(minimum: -Float(i + 1), maximum: 2.5))
        }
        return layers
    }

    @Test func int8LayersRoundTripAndAreRecorded() throws {
        let folder = helper.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let (manifest, network, stats) = helper.sample()
        let saved = try folder.save(manifest: manifest, network: network, statistics: stats, residuals: ["bottle": helper.levels(0.5)])
        let written = layers(network)
        let quantised = try folder.saveInt8(written, record: QuantisationRecord(calibrationImages: 12, products: ["bottle"]), manifest: saved)
        let loaded = try folder.load(bases: false)
        #expect(loaded.manifest == quantised)
        let record = try #require(loaded.manifest.quantisation)
        #expect(record.layers == written.keys.sorted() && record.calibrationImages == 12)
        #expect(try folder.loadInt8(loaded.manifest, network: loaded.network) == written)
        // One byte per weight, and a few floats per layer.
        let bytes = try #require(try FileManager.default.attributesOfItem(atPath: folder.int8URL.path)[.size] as? Int)
        let weights = written.values.reduce(0) { $0 + $1.weights.values.count }
        #expect(bytes < weights + 4096)

        // A recalibration writes the same weights: the int8 layers still describe them.
        let recalibrated = try folder.save(manifest: loaded.manifest, network: network, statistics: stats,
                                           residuals: ["bottle": helper.levels(0.7)], sameWeights: true)
        #expect(recalibrated.quantisation == record)
        #expect(try folder.loadInt8(recalibrated, network: network) == written)
        // Writing new weights drops the int8 layers that described the old ones.
        let retrained = try folder.save(manifest: loaded.manifest, network: network, statistics: stats, residuals: ["bottle": helper.levels(0.5)])
        #expect(retrained.quantisation == nil)
        #expect(try folder.loadInt8(retrained, network: network) == nil)
    }

    @Test func aDamagedInt8FileIsRefusedByName() throws {
        let folder = helper.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let (manifest, network, stats) = helper.sample()
        let saved = try folder.save(manifest: manifest, network: network, statistics: stats, residuals: ["bottle": helper.levels(0.5)])
        let quantised = try folder.saveInt8(layers(network), record: QuantisationRecord(calibrationImages: 3, products: ["bottle"]), manifest: saved)
        var bytes = try Data(contentsOf: folder.int8URL)
        bytes[bytes.count - 5] ^= 0x40
        try bytes.write(to: folder.int8URL)
        let error = #expect(throws: ModelFolder.Failure.self) { try folder.loadInt8(quantised, network: network) }
        #expect(error?.path == folder.int8URL.path)
        #expect(error?.reason.contains("SHA-256") == true)
    }

    @Test func theQuantisedLayersAreTheAMNsLinearsAndTheUNetsConvolutions() {
        let network = CDADNetwork(config: .quick, seed: 1)
        let chosen = network.namedParameters.filter { Quantiser.quantises($0.name, shape: $0.tensor.shape) }.map(\.name)
        #expect(chosen.contains("amn.layers.1.ffn.fc2.weight") && chosen.contains("amn.proj.weight"))
        #expect(chosen.contains("unet.conv_in.weight") && chosen.contains("unet.up.1.res.0.skip.weight"))
        #expect(!chosen.contains { $0.hasPrefix("unet.time.") || $0.contains("time_proj") || !$0.hasSuffix(".weight") })
        let linears = network.namedParameters.filter { $0.name.hasPrefix("amn.") && $0.tensor.rank == 2 }
        let convolutions = network.namedParameters.filter { $0.name.hasPrefix("unet.") && $0.tensor.rank == 4 }
        #expect(chosen.count == linears.count + convolutions.count)
    }
}
