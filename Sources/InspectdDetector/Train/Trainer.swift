import Foundation
import InspectdContinual
import InspectdFiles
import InspectdImage
import InspectdModel
import InspectdTensor

/// Trains the one shared model on normal images of one or more products, calibrates each
/// product on its held-out images, and writes the model folder.
///
/// A run can be interrupted and resumed: every `checkpointInterval` steps the network and the
/// optimiser state go to `training-state.safetensors` in the model folder, and a new run with the
/// same products picks up from there. Each step draws its randomness from (seed, step), so a
/// resumed run takes the same steps as an uninterrupted one.
public final class Trainer {
    public struct ProductSource: Sendable {
        public let name: String
        public let folder: String
        public init(name: String, folder: String) {
            self.name = name
            self.folder = folder
        }
    }

    /// One finished optimisation step.
    public struct StepReport: Sendable {
        public let step: Int
        public let totalSteps: Int
        public let loss: Float
        public let diffusionLoss: Float
        public let amnLoss: Float
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// How a run on an existing model treats what the model already knows.
    public struct IncrementOptions: Sendable {
        /// Keep the old products' layer outputs (gradient projection), or fine-tune freely (a baseline).
        public var projection: Bool
        /// Allows training a product the model already knows (more normal images of it).
        public var update: Bool
        /// How the bases are computed; an existing model keeps the method it was made with.
        public var basisMethod: BasisMethod
        public var energy: EnergySchedule
        /// Training images per product whose scoring pass feeds its bases. 32: on mvtec_bottle the
        /// bases from 16, 32 and 64 images held 97.26, 97.29 and 97.34 % of 64 unseen images'
        /// layer-input energy (docs/RESULTS.md), and capture time grows with the count.
        public var sampleImages: Int
        /// Earlier products' images mixed into the batches, unprojected (the replay baseline): half
        /// of each batch on average comes from them.
        public var replay: [ProductSource]
        /// Refit the levels and thresholds of the products the model already knows, from their
        /// folders, once the new weights are trained (their images are read and scored, not trained
        /// on). Without it their old levels judge the new network's reconstructions.
        public var refitKnownProducts: Bool
        /// Make the new weights' int8 layers at the end (`Quantiser`), as the daemon's int8 scoring needs.
        public var quantise: Bool

        public init(projection: Bool = true, update: Bool = false, basisMethod: BasisMethod = .covariance,
                    energy: EnergySchedule = .standard, sampleImages: Int = 32, replay: [ProductSource] = [],
                    refitKnownProducts: Bool = true, quantise: Bool = true) {
            self.projection = projection
            self.update = update
            self.basisMethod = basisMethod
            self.energy = energy
            self.sampleImages = sampleImages
            self.replay = replay
            self.refitKnownProducts = refitKnownProducts
            self.quantise = quantise
        }
    }

    /// The fewest normal images a product is trained on: below this none are held out, and its
    /// threshold would come from the images it was trained on.
    public static let minimumImages = ProductImages.minimumImagesForHoldout
    /// Below this many a product trains, with a warning: 20 is the product intake's default too.
    public static let comfortableImages = 20

    static let stateName = "training-state.safetensors"

    let folder: ModelFolder
    let backbone: EfficientNetLite0
    let backboneRecord: BackboneRecord
    /// Where notes and warnings go (stderr in the CLI).
    let log: (String) -> Void
    /// Called after every optimisation step (the CLI draws a progress line from it).
    public var onStep: ((StepReport) -> Void)?
    /// Asked after every step; when it says yes, the run saves its state and throws `Interrupted`
    /// (a service being stopped). Running again with the same products resumes from there.
    public var shouldStop: (() -> Bool)?

    public struct Interrupted: Error, CustomStringConvertible {
        public let step: Int
        public let state: String
        public var description: String { "training interrupted at step \(step); its state is in \(state), run again to resume" }
    }
    /// Wall time of each optimisation step of the last run, for benchmarks.
    public private(set) var stepSeconds: [Double] = []

    /// The backbone's checkpoint, copied into the model folder (`backbone.pth`) so that the model
    /// scores without the package it came from; nil leaves the folder without it.
    let backboneFile: String?

    public init(folder: ModelFolder, backbone: EfficientNetLite0, backboneRecord: BackboneRecord, backboneFile: String? = nil,
                log: @escaping (String) -> Void) {
        self.folder = folder
        self.backboneFile = backboneFile
        self.backbone = backbone
        self.backboneRecord = backboneRecord
        self.log = log
    }

    /// Learns `products` (together) and returns the manifest written. `steps` overrides the profile.
    ///
    /// On an existing model the products are an increment: by default every protected layer's
    /// change is projected off the inputs it saw on the products already learnt, and biases and
    /// norms stay as they are, so those products score as before; afterwards the new products'
    /// representations join the bases.
    @discardableResult
    public func train(products: [ProductSource], profile: TrainingProfile, steps: Int? = nil,
                      options: IncrementOptions = IncrementOptions()) throws -> ModelManifest {
        guard !products.isEmpty else { throw Failure(description: "no products to train on") }
        let started = Date()
        // A training's temporaries (gigabytes at batch 8) stay with malloc for reuse while it
        // runs; a daemon that goes back to scoring needs a fraction of that.
        defer { Engine.releaseFreedMemory() }

        // The model: existing weights and statistics, or new ones from the profile.
        let existing = folder.exists ? try folder.load() : nil
        if let existing, existing.manifest.backbone.sha256 != backboneRecord.sha256 {
            throw Failure(description: "\(folder.manifestURL.path): the model was trained on backbone \(existing.manifest.backbone.sha256.prefix(12)), "
                          + "this machine has \(backboneRecord.sha256.prefix(12)); its latent would not match")
        }
        if let existing {
            for product in products {
                let known = existing.manifest.products[product.name] != nil
                if known && !options.update {
                    throw Failure(description: "\(folder.url.path): the model already knows '\(product.name)'; training it again "
                                  + "is refused unless asked for with --update (more normal images of it)")
                }
                if !known && options.update {
                    throw Failure(description: "\(folder.url.path): --update trains a product the model knows, and it has no "
                                  + "'\(product.name)' (it has \(existing.manifest.products.keys.sorted().joined(separator: ", ")))")
                }
            }
        }
        var manifest = existing?.manifest
            ?? ModelManifest(network: profile.network, resolution: profile.resolution, scoring: profile.scoring, backbone: backboneRecord)
        let network = existing?.network ?? CDADNetwork(config: profile.network, seed: profile.training.seed)
        for p in network.namedParameters { p.tensor.requiresGrad = true }
        let extractor = LatentExtractor(backbone: backbone, resolution: manifest.resolution)
        var settings = profile.training
        if let steps { settings.steps = steps }

        // Data: model-size images per product, clean latents cached once.
        let sets = try products.map { try ProductImages(product: $0.name, folder: $0.folder, holdoutFraction: settings.holdoutFraction) }
        for set in sets {
            guard set.all.count >= Self.minimumImages else {
                throw Failure(description: "\(set.folder): '\(set.product)' has \(set.all.count) image\(set.all.count == 1 ? "" : "s"); "
                              + "at least \(Self.minimumImages) are needed, so that some can be held out to set its threshold")
            }
            if set.all.count < Self.comfortableImages {
                log("warning: \(set.product): \(set.all.count) images; with \(Self.comfortableImages) or more its threshold comes from "
                    + "more held-out images (\(set.holdout.count) now) and is less likely to flag good frames")
            }
        }
        let images = sets.map { set in decodeModelImages(set.training, product: set.product, extractor: extractor, log: log) }
        for (set, loaded) in zip(sets, images) where loaded.isEmpty {
            throw Failure(description: "\(set.folder): none of the \(set.training.count) training images of '\(set.product)' could be decoded")
        }
        log("training on " + zip(sets, images).map { "\($0.product) (\($1.count) images, \($0.holdout.count) held out)" }.joined(separator: ", "))
        var rawLatents: [[Tensor]] = images.map(extractor.separateLatents)
        let statistics = existing?.statistics ?? {
            // Fixed by the first training and never refitted: later products share the latent space.
            var accumulator = LatentStatistics.Accumulator(channels: LatentExtractor.channels)
            for latent in rawLatents.joined() { accumulator.add(latent) }
            return accumulator.statistics
        }()
        let clean = rawLatents.map { $0.map(statistics.apply) }
        rawLatents = []

        let (subspaces, projector) = try protection(options: options, existing: existing, manifest: &manifest, network: network,
                                                    extractor: extractor, statistics: statistics)
        let replay = try replayPool(options.replay, extractor: extractor, statistics: statistics)
        let pool = images + replay.images, poolLatents = clean + replay.latents

        // Resume where an interrupted run with the same products stopped.
        let optimiser = AdamW(network.namedParameters, learningRate: settings.learningRate, weightDecay: settings.weightDecay)
        let runKey = sets.map(\.product).sorted().joined(separator: ",")
        let firstStep = try resumeIfPossible(network: network, optimiser: optimiser, runKey: runKey, totalSteps: settings.steps)
        if firstStep > 0 { log("resuming at step \(firstStep) of \(settings.steps)") }

        let perturbation = PatchPerturbation()
        let clip = GradientNormClip(maxNorm: 1)
        var step = firstStep
        stepSeconds = []
        while step < settings.steps {
            let stepStart = DispatchTime.now().uptimeNanoseconds
            var rng = SeededGenerator(seed: settings.seed &* 0x9E37_79B9 &+ UInt64(step))
            var cleanBatch: [Tensor] = [], perturbedBatch: [Tensor?] = [], toPerturb: [Image] = []
            for _ in 0..<settings.batchSize {
                let p = replay.images.isEmpty || rng.next() % 2 == 0
                    ? Int(rng.next() % UInt64(sets.count))
                    : sets.count + Int(rng.next() % UInt64(replay.images.count))
                let i = Int(rng.next() % UInt64(pool[p].count))
                cleanBatch.append(poolLatents[p][i])
                let result = perturbation.apply(to: pool[p][i], donors: pool[p], using: &rng)
                if result.isPerturbed {
                    toPerturb.append(result.image)
                    perturbedBatch.append(nil)
                } else {
                    perturbedBatch.append(poolLatents[p][i])
                }
            }
            var fresh: [Tensor] = []
            if !toPerturb.isEmpty {
                let latents = statistics.apply(to: extractor.latents(of: toPerturb))
                fresh = (0..<latents.shape[0]).map { slice(latents, axis: 0, range: $0..<($0 + 1)) }
            }
            let perturbed = perturbedBatch.map { $0 ?? fresh.removeFirst() }
            let cleanTensor = concat(cleanBatch, axis: 0)
            let timesteps = (0..<settings.batchSize).map { _ in Int(rng.next() % UInt64(network.config.timesteps)) }
            // One generator per sample, seeded from the step's, so the threads can share the work
            // and the noise stays the same whatever their number.
            let seeds = (0..<settings.batchSize).map { _ in rng.next() }
            let perSample = cleanTensor.count / settings.batchSize
            let noise = Tensor(shape: cleanTensor.shape) { out in
                Engine.parallelFor(settings.batchSize) { sample in
                    var generator = SeededGenerator(seed: seeds[sample])
                    for j in sample * perSample..<(sample + 1) * perSample { out[j] = generator.nextNormal() }
                }
            }

            optimiser.learningRate = Self.learningRate(step: step, of: settings.steps, peak: settings.learningRate)
            optimiser.zeroGrad()
            let losses = network.trainingLosses(clean: cleanTensor, perturbed: concat(perturbed, axis: 0),
                                                timesteps: timesteps, noise: noise)
            losses.total.backward()
            optimiser.step(hooks: projector.map { [$0, clip] } ?? [clip], projection: projector)
            step += 1
            stepSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e9)

            onStep?(StepReport(step: step, totalSteps: settings.steps, loss: losses.total.item,
                               diffusionLoss: losses.diffusion.item, amnLoss: losses.amn.item))
            if step < settings.steps, shouldStop?() == true {
                try saveState(network: network, optimiser: optimiser, step: step, runKey: runKey, totalSteps: settings.steps)
                throw Interrupted(step: step, state: stateURL.path)
            }
            if step % settings.checkpointInterval == 0 && step < settings.steps {
                try saveState(network: network, optimiser: optimiser, step: step, runKey: runKey, totalSteps: settings.steps)
            }
        }
        for p in network.namedParameters { p.tensor.requiresGrad = false; p.tensor.grad = nil }

        // Residual levels from each product's training images, its threshold from its held-out ones.
        var residuals = existing?.residuals ?? [:]
        let detector = Detector(manifest: manifest, network: network, statistics: statistics, extractor: extractor, residuals: residuals)
        let now = Timestamp.iso8601()
        for (index, set) in sets.enumerated() {
            let heldOut = decodeModelImages(set.holdout, product: set.product, extractor: extractor, log: log)
            let fit = try Calibrator.fit(detector: detector, product: set.product, training: images[index], heldOut: heldOut)
            residuals[set.product] = fit.residuals
            manifest.products[set.product] = ProductRecord(source: set.folder, trainingImages: images[index].count,
                                                           heldOutImages: heldOut.count, calibration: fit.calibration,
                                                           added: manifest.products[set.product]?.added ?? now)
            log("\(set.product): \(fit.summary)")
        }
        // The products the model knew, refitted on the new weights: levels fitted on the old ones
        // misjudge the new reconstructions (after five increments, mvtec_bottle's image AUROC was
        // 87.5 on its old levels and 99.4 refitted; docs/RESULTS.md). A product whose folder is
        // gone keeps what it had, and the log says so.
        if options.refitKnownProducts, let existing {
            let new = Set(sets.map(\.product))
            for (name, record) in existing.manifest.products.sorted(by: { $0.key < $1.key }) where !new.contains(name) {
                do {
                    let fit = try Calibrator.refit(name, record: record, source: record.source, detector: detector,
                                                   extractor: extractor, log: log)
                    residuals[name] = fit.residuals
                    manifest.products[name]?.calibration = fit.calibration
                } catch {
                    log("warning: \(name): kept its earlier levels and threshold, as they could not be refitted: \(error)")
                }
            }
        }

        // The new products' representations join the bases, one merge per product.
        let basisStart = Date()
        var merged = subspaces
        for (index, set) in sets.enumerated() where merged != nil {
            merged = try ProductRepresentation.merge(product: set.product, latents: clean[index], network: network,
                                                     scoring: manifest.scoring, subspaces: merged!, record: &manifest.continual!, log: log)
        }
        let basisSeconds = Date().timeIntervalSince(basisStart)

        let seconds = Date().timeIntervalSince(started)
        manifest.training.steps += settings.steps - firstStep
        manifest.training.seconds += seconds
        manifest.training.runs.append(.init(products: sets.map(\.product), steps: settings.steps, seconds: seconds,
                                            profile: profile.name, finished: now, projected: projector != nil,
                                            basisSeconds: merged == nil ? nil : basisSeconds))
        try folder.save(manifest: manifest, network: network, statistics: statistics, residuals: residuals, subspaces: merged)
        if let backboneFile { try folder.embedBackbone(from: backboneFile) }
        try? FileManager.default.removeItem(at: stateURL)
        guard options.quantise else { return manifest }
        // New weights: their int8 layers, from the new products' images and every product's held-out normals.
        return try Quantiser.quantise(folder: folder, backbone: backbone, trainingProducts: sets.map(\.product), log: log)
    }

    /// What protects the products the model knows in a projected run: their bases (made now for
    /// products that have none) and the projector over them, with the vectors frozen. Nil for the
    /// first training of a model (nothing to protect yet, its bases come after it) and for an
    /// unprojected run, which drops the model's bases.
    func protection(options: IncrementOptions, existing: ModelFolder.Contents?, manifest: inout ModelManifest, network: CDADNetwork,
                    extractor: LatentExtractor, statistics: LatentStatistics) throws -> (ProtectedSubspaces?, GradientProjector?) {
        guard options.projection else {
            if manifest.continual != nil {
                log("training without projection: the stored bases no longer describe the model and are dropped; "
                    + "the next projected increment computes them again from the products' folders")
                manifest.continual = nil
            }
            return (nil, nil)
        }
        manifest.continual = manifest.continual
            ?? ContinualRecord(method: options.basisMethod, schedule: options.energy, sampleImages: options.sampleImages)
        guard let existing else { return (ProtectedSubspaces(), nil) }
        let subspaces = try basesForUnprotectedProducts(of: existing, manifest: &manifest, subspaces: existing.subspaces ?? ProtectedSubspaces(),
                                                        extractor: extractor, statistics: statistics)
        // A bias or a norm moves every input's output alike: no subspace can protect it.
        for p in network.namedParameters where ProtectedParameters.role(of: p) == .frozen { p.tensor.requiresGrad = false }
        return (subspaces, GradientProjector(bases: subspaces.bases))
    }

    /// The replay baseline's stored images of earlier products and their latents, sampled like a
    /// product of the run but never calibrated.
    func replayPool(_ sources: [ProductSource], extractor: LatentExtractor, statistics: LatentStatistics) throws
        -> (images: [[Image]], latents: [[Tensor]]) {
        let images = try sources.map { source -> [Image] in
            let loaded = decodeModelImages(try ImageFolder.list(source.folder), product: source.name, extractor: extractor, log: log)
            guard !loaded.isEmpty else { throw Failure(description: "\(source.folder): no replay images of '\(source.name)' could be decoded") }
            return loaded
        }
        if !images.isEmpty {
            log("replaying " + zip(sources, images).map { "\($0.name) (\($1.count) images)" }.joined(separator: ", "))
        }
        return (images, images.map { extractor.separateLatents(of: $0).map(statistics.apply) })
    }

    /// Computes the bases of every product of `existing` that the bases do not hold yet (a model
    /// made before they existed, or after an unprojected run) from the folder it was learnt from,
    /// in the order the products were added, and saves them with the model at once, so an
    /// interrupted increment does not compute them again.
    func basesForUnprotectedProducts(of existing: ModelFolder.Contents, manifest: inout ModelManifest, subspaces: ProtectedSubspaces,
                                     extractor: LatentExtractor, statistics: LatentStatistics) throws -> ProtectedSubspaces {
        let missing = existing.manifest.products.filter { !(manifest.continual!.products.contains($0.key)) }
            .sorted { ($0.value.added, $0.key) < ($1.value.added, $1.key) }
        guard !missing.isEmpty else { return subspaces }
        var next = subspaces
        for (name, record) in missing {
            log("the model has no bases for '\(name)': computing them from \(record.source), the folder it was learnt from")
            guard FileManager.default.fileExists(atPath: record.source) else {
                throw Failure(description: "\(record.source): the folder '\(name)' was learnt from is gone, so the bases that keep it "
                              + "from being forgotten cannot be computed; restore the folder, or add the products with --no-projection")
            }
            let split = try ProductImages(product: name, folder: record.source,
                                          holdoutFraction: Calibrator.heldOutFraction(record) ?? ProductImages.defaultHoldoutFraction)
            let images = decodeModelImages(split.training, product: name, extractor: extractor, log: log)
            guard !images.isEmpty else {
                throw Failure(description: "\(record.source): none of the training images of '\(name)' could be decoded for its bases")
            }
            let latents = extractor.separateLatents(of: images).map(statistics.apply)
            next = try ProductRepresentation.merge(product: name, latents: latents, network: existing.network, scoring: manifest.scoring,
                                                   subspaces: next, record: &manifest.continual!, log: log)
        }
        manifest = try folder.save(manifest: manifest, network: existing.network, statistics: existing.statistics,
                                   residuals: existing.residuals, subspaces: next)
        return next
    }

    /// Linear warm-up over the first 5% of steps, then cosine decay to a tenth of the peak.
    static func learningRate(step: Int, of total: Int, peak: Float) -> Float {
        let warmup = max(1, total / 20)
        if step < warmup { return peak * Float(step + 1) / Float(warmup) }
        let progress = Float(step - warmup) / Float(max(1, total - warmup))
        return peak * (0.1 + 0.9 * 0.5 * (1 + cos(.pi * progress)))
    }

    var stateURL: URL { folder.url.appendingPathComponent(Self.stateName) }

    func saveState(network: CDADNetwork, optimiser: AdamW, step: Int, runKey: String, totalSteps: Int) throws {
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        var tensors = network.parameterDictionary
        let state = optimiser.state()
        for (name, tensor) in state.tensors { tensors["optimizer." + name] = tensor }
        try Safetensors.write(tensors, metadata: ["step": "\(step)", "products": runKey, "total_steps": "\(totalSteps)",
                                                  "optimizer_step": "\(state.step)"], to: stateURL)
    }

    func resumeIfPossible(network: CDADNetwork, optimiser: AdamW, runKey: String, totalSteps: Int) throws -> Int {
        guard FileManager.default.fileExists(atPath: stateURL.path) else { return 0 }
        let (tensors, metadata) = try Safetensors.read(from: stateURL)
        guard metadata["products"] == runKey, let step = metadata["step"].flatMap(Int.init), step < totalSteps,
              let optimizerStep = metadata["optimizer_step"].flatMap(Int.init) else {
            log("ignoring \(stateURL.path): it belongs to another training run")
            return 0
        }
        let problems = network.load(tensors)
        guard problems.isEmpty else {
            throw Failure(description: "\(stateURL.path): does not fit the network (\(problems.prefix(3).joined(separator: "; "))); delete it to start over")
        }
        var moments: [String: Tensor] = [:]
        for (name, tensor) in tensors where name.hasPrefix("optimizer.") { moments[String(name.dropFirst(10))] = tensor }
        optimiser.restore(step: optimizerStep, tensors: moments)
        return step
    }
}
