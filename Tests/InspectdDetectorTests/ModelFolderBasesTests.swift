import Foundation
import InspectdContinual
import InspectdFiles
import InspectdModel
import InspectdTensor
import Testing
@testable import InspectdDetector

/// The protected subspaces on disk: they round-trip with the model, and a damaged or mismatched
/// basis file is refused with the file and the tensor named.
@Suite struct ModelFolderBasesTests {
    let helper = ModelFolderTests()

    /// A random orthonormal basis of rank k in dimension d (Gram-Schmidt in Float64).
    func basis(d: Int, k: Int, seed: UInt64) -> LayerBasis {
        var rng = SeededGenerator(seed: seed)
        var columns: [[Double]] = []
        while columns.count < k {
            var v = (0..<d).map { _ in Double(rng.nextNormal()) }
            for _ in 0..<2 {
                for c in columns {
                    let dot = zip(v, c).reduce(0) { $0 + $1.0 * $1.1 }
                    for i in 0..<d { v[i] -= dot * c[i] }
                }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            columns.append(v.map { $0 / norm })
        }
        var vectors = [Float](repeating: 0, count: d * k)
        for i in 0..<d { for j in 0..<k { vectors[i * k + j] = Float(columns[j][i]) } }
        return LayerBasis(dimension: d, rank: k, vectors: vectors)
    }

    /// A saved model with bases on two of its layers.
    func savedModel() throws -> (ModelFolder, ProtectedSubspaces) {
        let folder = helper.temporaryFolder()
        var (manifest, network, stats) = helper.sample()
        let dimensions = ProtectedParameters.projectedDimensions(network.namedParameters)
        let q = "amn.layers.0.attn.q.weight", conv = "unet.conv_in.weight"
        let subspaces = ProtectedSubspaces(bases: [q: basis(d: dimensions[q]!, k: 7, seed: 1),
                                                   conv: basis(d: dimensions[conv]!, k: 30, seed: 2)])
        var record = ContinualRecord(method: .covariance, schedule: .standard, sampleImages: 64)
        record.products = ["bottle"]
        manifest.continual = record
        try folder.save(manifest: manifest, network: network, statistics: stats, residuals: ["bottle": helper.levels(0.5)],
                        subspaces: subspaces)
        return (folder, subspaces)
    }

    @Test func basesRoundTripWithTheModel() throws {
        let (folder, subspaces) = try savedModel()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let loaded = try folder.load()
        #expect(loaded.subspaces == subspaces)
        let record = try #require(loaded.manifest.continual)
        #expect(record.products == ["bottle"])
        #expect(record.layers["unet.conv_in.weight"] == .init(dimension: 152 * 9, rank: 30))
        #expect(record.layers["amn.layers.0.attn.q.weight"] == .init(dimension: 64, rank: 7))
        // Every protected layer is listed, those without a basis at rank 0.
        #expect(record.layers["unet.conv_out.weight"] == .init(dimension: 32 * 9, rank: 0))
        #expect(record.layers.count == ProtectedParameters.projectedDimensions(loaded.network.namedParameters).count)
        let json = try String(contentsOf: folder.manifestURL, encoding: .utf8)
        #expect(json.contains("\"bases_sha256\"") && json.contains("\"energy_base\" : 0.97"))
    }

    @Test func aDamagedBasisFileIsRefused() throws {
        let (folder, _) = try savedModel()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        var bytes = try Data(contentsOf: folder.basesURL)
        bytes[bytes.count - 5] ^= 0x40
        try bytes.write(to: folder.basesURL)
        #expect { try folder.load() } throws: { "\($0)".contains(folder.basesURL.path) && "\($0)".contains("SHA-256") }
        // Scoring does not read the bases: a damaged file stops the next increment, not the line.
        #expect(try folder.load(bases: false).subspaces == nil)
        try FileManager.default.removeItem(at: folder.basesURL)
        #expect { try folder.load() } throws: { "\($0)".contains(folder.basesURL.path) }
    }

    /// A file that matches its recorded digest but not the network: each tensor is checked by name.
    @Test func aMismatchedBasisIsRefusedWithTheTensorNamed() throws {
        let (folder, subspaces) = try savedModel()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let q = "amn.layers.0.attn.q.weight"
        func rewrite(_ tensors: [String: Tensor], layers: [String: ContinualRecord.Layer]? = nil) throws {
            let bytes = try Safetensors.encode(tensors)
            try Data(bytes).write(to: folder.basesURL)
            var manifest = try folder.readManifest()
            manifest.continual!.basesSHA256 = InspectdFiles.SHA256.hex(bytes)
            if let layers { manifest.continual!.layers = layers }
            try folder.writeManifest(manifest)
        }
        // Wrong shape for the rank the manifest records.
        var tensors = subspaces.tensors()
        tensors["basis." + q] = Tensor(shape: [64, 6], data: Array(subspaces.bases[q]!.vectors.prefix(64 * 6)))
        try rewrite(tensors)
        #expect { try folder.load() } throws: { "\($0)".contains("basis.\(q)") && "\($0)".contains("[64, 7]") }
        // Columns that are not orthonormal.
        tensors = subspaces.tensors()
        tensors["basis." + q] = Tensor(shape: [64, 7], data: subspaces.bases[q]!.vectors.map { $0 * 1.5 })
        try rewrite(tensors)
        #expect { try folder.load() } throws: { "\($0)".contains("basis.\(q)") && "\($0)".contains("orthonormal") }
        // A basis for a layer the network does not have.
        tensors = subspaces.tensors()
        tensors["basis.amn.layers.9.attn.q.weight"] = tensors["basis." + q]
        try rewrite(tensors)
        #expect { try folder.load() } throws: { "\($0)".contains("basis.amn.layers.9.attn.q.weight") }
        // A basis the manifest lists but the file lacks.
        tensors = subspaces.tensors()
        tensors["basis." + q] = nil
        try rewrite(tensors)
        #expect { try folder.load() } throws: { "\($0)".contains("basis.\(q)") && "\($0)".contains("missing") }
    }
}
