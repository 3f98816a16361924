import Foundation
import InspectdImage
import InspectdModel
import InspectdTensor

/// A trained model ready to score frames: backbone, latent statistics, CDAD network, manifest.
///
/// Scoring is deterministic: the noise that the diffusion path starts from is the model's own
/// (`ScoringNoise`, from the manifest's seed), the same for every frame, so it depends neither on
/// the frame's pixels nor on the rest of its batch, and the same frame always gets the same score.
public final class Detector: @unchecked Sendable {
    // Sendable by contract: after init nothing is mutated, and each call allocates its own tensors.
    public let manifest: ModelManifest
    let network: CDADNetwork
    let statistics: LatentStatistics
    let extractor: LatentExtractor
    /// Per product, the normal residual levels its maps are standardised by.
    public let residuals: [String: NormalResiduals]
    /// The noise of the manifest's seed, drawn once: every scoring call reuses it.
    let noise: ScoringNoise
    /// The int8 layers scoring runs on; nil scores in Float32.
    public let quantised: QuantisedLayers?
    /// Why a detector asked for int8 scores in Float32 (the model has no int8 layers), or nil.
    public let precisionWarning: String?

    public var precision: Precision { quantised == nil ? .fp32 : .int8 }

    public init(manifest: ModelManifest, network: CDADNetwork, statistics: LatentStatistics, extractor: LatentExtractor,
                residuals: [String: NormalResiduals] = [:], quantised: QuantisedLayers? = nil, precisionWarning: String? = nil) {
        self.manifest = manifest
        self.network = network
        self.statistics = statistics
        self.extractor = extractor
        self.residuals = residuals
        self.quantised = quantised
        self.precisionWarning = precisionWarning
        noise = ScoringNoise(seed: manifest.scoring.noiseSeedInUse,
                             shape: [manifest.network.latentChannels, extractor.latentSide, extractor.latentSide])
    }

    /// The model in `folder`, scoring in `precision`: int8 on the model's int8 layers, or Float32
    /// with `precisionWarning` set when it has none.
    public convenience init(folder: ModelFolder, backbone: EfficientNetLite0, precision: Precision = .fp32) throws {
        let model = try folder.load(bases: false)
        var quantised: QuantisedLayers?
        var warning: String?
        if precision == .int8 {
            if let layers = try folder.loadInt8(model.manifest, network: model.network) {
                quantised = try QuantisedLayers(network: model.network, layers: layers)
            } else {
                warning = "\(folder.url.path) has no int8 layers, so it scores in fp32 ('inspectd quantize --model \(folder.url.path)' makes them)"
            }
        }
        self.init(manifest: model.manifest, network: model.network, statistics: model.statistics,
                  extractor: LatentExtractor(backbone: backbone, resolution: model.manifest.resolution),
                  residuals: model.residuals, quantised: quantised, precisionWarning: warning)
    }

    /// The same model scoring in Float32, sharing the network, statistics and levels: what int8
    /// is measured against.
    public var scoringInFloat32: Detector {
        quantised == nil ? self : Detector(manifest: manifest, network: network, statistics: statistics, extractor: extractor,
                                           residuals: residuals)
    }

    /// Maps and scores of one frame, at the model resolution.
    public struct Analysis: Sendable {
        /// Smoothed map per source that was asked for.
        public var maps: [ScoringSettings.MapSource: AnomalyMap]
        /// The raw image score per source, from its map: the mean of the product's top fraction of
        /// it (`ScoringSettings.imageScoreTopFraction(for:)`).
        public var scores: [ScoringSettings.MapSource: Float]
    }

    /// The scoring wants standardised residuals and the model has no levels for the product.
    public struct MissingResiduals: Error, CustomStringConvertible, Sendable {
        public let product: String?
        public var description: String {
            guard let product else { return "standardised scoring needs a product, and none was named" }
            return "the model has no normal residual levels for '\(product)' (a product it was not trained on?); "
                + "'inspectd calibrate' fits them"
        }
    }

    /// Scores `frames` of `product` together (a batch shares the backbone and network passes).
    /// `sources` defaults to the manifest's configured map source. Throws `MissingResiduals` when
    /// the settings standardise residuals and the model has no levels for `product`.
    public func analyse(_ frames: [Image], product: String?, sources: [ScoringSettings.MapSource]? = nil,
                        settings: ScoringSettings? = nil) throws -> [Analysis] {
        try analyse(frames, products: Array(repeating: product, count: frames.count), sources: sources, settings: settings)
    }

    /// Analyses many images of one product, `batchSize` at a time (what fits a pass's memory).
    func analyse(_ images: [Image], product: String, batchSize: Int) throws -> [Analysis] {
        try stride(from: 0, to: images.count, by: batchSize).flatMap { start in
            try analyse(Array(images[start..<min(start + batchSize, images.count)]), product: product)
        }
    }

    /// Scores `frames` together, frame i as one of `products[i]`. The backbone and the network do
    /// not depend on the product, so frames of several products share their passes; each frame's
    /// map is standardised by its own product's levels and read with its own product's share.
    /// A frame's analysis is the one it gets alone, to within float rounding: the noise is the
    /// same for every frame (docs/MODEL.md §6, step 3), whatever its place in the batch.
    public func analyse(_ frames: [Image], products: [String?], sources: [ScoringSettings.MapSource]? = nil,
                        settings: ScoringSettings? = nil) throws -> [Analysis] {
        precondition(products.count == frames.count, "\(products.count) products for \(frames.count) frames")
        guard !frames.isEmpty else { return [] }
        let settings = settings ?? manifest.scoring
        let sources = sources ?? [settings.source]
        // Looked up before any pass runs, so that a frame the model cannot standardise costs nothing.
        let normals: [NormalResiduals?] = try products.map { product in
            guard settings.standardiseResiduals else { return nil }
            guard let product, let levels = residuals[product] else { throw MissingResiduals(product: product) }
            return levels
        }
        let latent = standardisedLatents(frames.map(extractor.modelImage))
        let reconstruction = reconstruct(latent, diffusion: sources.contains { $0 != .amn }, settings: settings)
        // The AMN always runs (it conditions the U-Net); its map is only worth making when a
        // source reads it, which the standard profile's diffusion-only scoring does not.
        let amnDistance = sources.contains { $0 != .diffusion }
            ? AnomalyMap.distance(latent, reconstruction.amn, pooling: settings.pooling, normals: normals.map { $0?.amn }) : nil
        let diffusionDistance = reconstruction.diffusion.map {
            AnomalyMap.distance(latent, $0, pooling: settings.pooling, normals: normals.map { $0?.diffusion })
        }

        return frames.indices.map { i in
            var maps: [ScoringSettings.MapSource: AnomalyMap] = [:]
            for source in sources {
                let coarse: AnomalyMap
                switch source {
                case .amn: coarse = AnomalyMap(amnDistance!, index: i)
                case .diffusion: coarse = AnomalyMap(diffusionDistance!, index: i)
                case .combined, .mean:
                    // Geometric mean: a location must look wrong to both reconstructions to stand
                    // out; arithmetic mean: one of them finding it wrong is enough.
                    let a = AnomalyMap(amnDistance!, index: i), d = AnomalyMap(diffusionDistance!, index: i)
                    let values = source == .combined ? zip(a.values, d.values).map { ($0 * $1).squareRoot() }
                                                     : zip(a.values, d.values).map { ($0 + $1) / 2 }
                    coarse = AnomalyMap(width: a.width, height: a.height, values: values)
                }
                maps[source] = coarse.smoothedMap(side: extractor.resolution, sigma: settings.smoothingSigma)
            }
            let topFraction = settings.imageScoreTopFraction(for: products[i].flatMap { manifest.products[$0]?.calibration })
            return Analysis(maps: maps, scores: maps.mapValues { $0.imageScore(topFraction: topFraction) })
        }
    }

    /// Squared residuals [N, C, h, w] of both reconstructions of frames already at the model
    /// resolution, pooled as `settings` says and not standardised: what `NormalResiduals` is
    /// fitted on.
    func squaredResiduals(ofModelImages modelImages: [Image], settings: ScoringSettings) -> (amn: Tensor, diffusion: Tensor) {
        let latent = standardisedLatents(modelImages)
        let reconstruction = reconstruct(latent, diffusion: true, settings: settings)
        return (AnomalyMap.squaredResiduals(latent, reconstruction.amn, pooling: settings.pooling),
                AnomalyMap.squaredResiduals(latent, reconstruction.diffusion!, pooling: settings.pooling))
    }

    /// The AMN's reconstruction, and with `diffusion` the denoiser's from the scoring noise, in the
    /// detector's precision.
    private func reconstruct(_ latent: Tensor, diffusion: Bool, settings: ScoringSettings) -> (amn: Tensor, diffusion: Tensor?) {
        guard let quantised else { return floatReconstruction(latent, diffusion: diffusion, settings: settings) }
        return quantised.running { floatReconstruction(latent, diffusion: diffusion, settings: settings) }
    }

    /// The reconstructions on the float layers (unless a caller runs it inside int8 layers).
    func floatReconstruction(_ latent: Tensor, diffusion: Bool = true, settings: ScoringSettings) -> (amn: Tensor, diffusion: Tensor?) {
        Autograd.withoutRecording {
            guard diffusion else { return (network.amn(latent).reconstruction, nil) }
            let r = network.reconstruct(latent: latent, noiseLevel: settings.noiseLevel, steps: settings.ddimSteps,
                                        noise: noise(for: settings).batch(latent.shape[0]))
            return (r.amn, r.diffusion)
        }
    }

    /// The standardised latents [N, C, h, w] of frames already at the model resolution.
    func standardisedLatents(_ modelImages: [Image]) -> Tensor {
        statistics.apply(to: extractor.latents(of: modelImages))
    }

    /// The noise scoring under `settings` starts from: the cached one unless the settings name
    /// another seed.
    func noise(for settings: ScoringSettings) -> ScoringNoise {
        settings.noiseSeedInUse == noise.seed ? noise : ScoringNoise(seed: settings.noiseSeedInUse, shape: noise.shape)
    }
}
