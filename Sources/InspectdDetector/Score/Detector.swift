import Foundation
import InspectdImage
import InspectdModel
import InspectdTensor

/// A trained model ready to score frames: backbone, latent statistics, CDAD network, manifest.
///
/// Scoring is deterministic: the noise that the diffusion path starts from is drawn from a seed
/// derived from the frame's own latent, so the same frame always gets the same score and map.
public final class Detector: @unchecked Sendable {
    // Sendable by contract: after init nothing is mutated, and each call allocates its own tensors.
    public let manifest: ModelManifest
    let network: CDADNetwork
    let statistics: LatentStatistics
    let extractor: LatentExtractor

    public init(manifest: ModelManifest, network: CDADNetwork, statistics: LatentStatistics, extractor: LatentExtractor) {
        self.manifest = manifest
        self.network = network
        self.statistics = statistics
        self.extractor = extractor
    }

    public convenience init(folder: ModelFolder, backbone: EfficientNetLite0) throws {
        let (manifest, network, statistics) = try folder.load()
        self.init(manifest: manifest, network: network, statistics: statistics,
                  extractor: LatentExtractor(backbone: backbone, resolution: manifest.resolution))
    }

    /// Maps and scores of one frame, at the model resolution.
    public struct Analysis: Sendable {
        /// Smoothed map per source that was asked for.
        public var maps: [ScoringSettings.MapSource: AnomalyMap]
        /// The map's maximum per source: the raw image score.
        public var scores: [ScoringSettings.MapSource: Float]
    }

    /// Scores `frames` together (a batch shares the backbone and network passes).
    /// `sources` defaults to the manifest's configured map source.
    public func analyse(_ frames: [Image], sources: [ScoringSettings.MapSource]? = nil,
                        settings: ScoringSettings? = nil) -> [Analysis] {
        guard !frames.isEmpty else { return [] }
        let settings = settings ?? manifest.scoring
        let sources = sources ?? [settings.source]
        let latent = standardisedLatents(frames.map(extractor.modelImage))
        let needsDiffusion = sources.contains { $0 != .amn }

        let reconstruction: (amn: Tensor, diffusion: Tensor?) = Autograd.withoutRecording {
            if needsDiffusion {
                let noise = Self.frameNoise(for: latent)
                let r = network.reconstruct(latent: latent, noiseLevel: settings.noiseLevel, steps: settings.ddimSteps, noise: noise)
                return (r.amn, r.diffusion)
            }
            return (network.amn(latent).reconstruction, nil)
        }
        let amnDistance = AnomalyMap.distance(latent, reconstruction.amn)
        let diffusionDistance = reconstruction.diffusion.map { AnomalyMap.distance(latent, $0) }

        return frames.indices.map { i in
            var maps: [ScoringSettings.MapSource: AnomalyMap] = [:]
            for source in sources {
                let coarse: AnomalyMap
                switch source {
                case .amn: coarse = AnomalyMap(amnDistance, index: i)
                case .diffusion: coarse = AnomalyMap(diffusionDistance!, index: i)
                case .combined, .mean:
                    // Geometric mean: a location must look wrong to both reconstructions to stand
                    // out; arithmetic mean: one of them finding it wrong is enough.
                    let a = AnomalyMap(amnDistance, index: i), d = AnomalyMap(diffusionDistance!, index: i)
                    let values = source == .combined ? zip(a.values, d.values).map { ($0 * $1).squareRoot() }
                                                     : zip(a.values, d.values).map { ($0 + $1) / 2 }
                    coarse = AnomalyMap(width: a.width, height: a.height, values: values)
                }
                maps[source] = coarse.smoothedMap(side: extractor.resolution, sigma: settings.smoothingSigma)
            }
            return Analysis(maps: maps, scores: maps.mapValues(\.maximum))
        }
    }

    /// The standardised latents [N, C, h, w] of frames already at the model resolution.
    func standardisedLatents(_ modelImages: [Image]) -> Tensor {
        statistics.apply(to: extractor.latents(of: modelImages))
    }

    /// Standard normal noise per frame, seeded by a hash of that frame's latent.
    static func frameNoise(for latent: Tensor) -> Tensor {
        let n = latent.shape[0], perFrame = latent.count / max(1, n)
        return Tensor(shape: latent.shape) { out in
            latent.data.withUnsafeBufferPointer { values in
                for frame in 0..<n {
                    var rng = SeededGenerator(seed: contentHash(values.baseAddress! + frame * perFrame, count: perFrame))
                    for j in 0..<perFrame { out[frame * perFrame + j] = rng.nextNormal() }
                }
            }
        }
    }

    /// FNV-1a over the bit patterns of the values: identical frames give identical seeds.
    static func contentHash(_ values: UnsafePointer<Float>, count: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<count {
            hash = (hash ^ UInt64(values[i].bitPattern)) &* 0x100_0000_01b3
        }
        return hash
    }
}
