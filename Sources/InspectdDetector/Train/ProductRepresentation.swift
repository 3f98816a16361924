import Foundation
import InspectdContinual
import InspectdImage
import InspectdModel
import InspectdTensor

/// One product's representation in the network as it scores: what every protected layer reads
/// while a sample of the product's training images goes down the scoring path (latent, one AMN
/// pass, each DDIM step at the model's noise level), from the model's scoring noise.
public enum ProductRepresentation {
    /// Up to `count` latents spread evenly over `latents` (all of them when there are fewer).
    static func sample(_ latents: [Tensor], count: Int) -> [Tensor] {
        guard latents.count > count else { return latents }
        return (0..<count).map { latents[$0 * latents.count / count] }
    }

    /// The layers' sketches over `latents` (standardised, one [1, C, H, W] each).
    static func sketches(of latents: [Tensor], network: CDADNetwork, scoring: ScoringSettings,
                         method: BasisMethod) -> [String: RepresentationSketch] {
        sketches(count: latents.count, network: network, scoring: scoring, method: method) { concat(Array(latents[$0]), axis: 0) }
    }

    /// The layers' sketches over `count` frames read from `paths` in turn (again from the first when
    /// there are fewer), decoded a batch at a time: memory holds one batch of frames, whatever the
    /// count. What `bench-bases` measures.
    public static func sketches(streaming paths: [String], count: Int, from first: Int = 0, model: ModelFolder.Contents,
                                extractor: LatentExtractor, method: BasisMethod) throws -> [String: RepresentationSketch] {
        precondition(!paths.isEmpty, "no images to stream")
        return try sketches(count: count, network: model.network, scoring: model.manifest.scoring, method: method) { range in
            let frames = try range.map { extractor.modelImage(try Image(contentsOfFile: paths[(first + $0) % paths.count])) }
            return model.statistics.apply(to: extractor.latents(of: frames))
        }
    }

    /// Records `count` frames eight at a time; `batch(range)` gives those frames' standardised latents.
    private static func sketches(count: Int, network: CDADNetwork, scoring: ScoringSettings, method: BasisMethod,
                                 batch: (Range<Int>) throws -> Tensor) rethrows -> [String: RepresentationSketch] {
        let capture = RepresentationCapture(network: network, method: method)
        var noise: ScoringNoise?
        for start in stride(from: 0, to: count, by: 8) {
            let latents = try batch(start..<min(start + 8, count))
            let shared = noise ?? ScoringNoise(seed: scoring.noiseSeedInUse, shape: Array(latents.shape.dropFirst()))
            noise = shared
            capture.record(latents: latents, noiseLevel: scoring.noiseLevel, steps: scoring.ddimSteps,
                           noise: shared.batch(latents.shape[0]))
        }
        return capture.sketches
    }

    /// Merges `product`'s representation into `subspaces` at the schedule's threshold for the next
    /// product, and records it.
    static func merge(product: String, latents: [Tensor], network: CDADNetwork, scoring: ScoringSettings,
                      subspaces: ProtectedSubspaces, record: inout ContinualRecord,
                      log: (String) -> Void) throws -> ProtectedSubspaces {
        let started = Date()
        let sample = sample(latents, count: record.sampleImages)
        let sketches = sketches(of: sample, network: network, scoring: scoring, method: record.method)
        let captured = Date()
        let index = record.products.firstIndex(of: product) ?? record.products.count
        let threshold = record.schedule.threshold(forProductIndex: index)
        let (merged, reports) = try subspaces.merged(with: sketches, threshold: threshold)
        if !record.products.contains(product) { record.products.append(product) }
        let added = reports.values.reduce(0) { $0 + $1.addedRank }
        let used = merged.bases.values.reduce(0) { $0 + $1.rank }
        let total = merged.bases.values.reduce(0) { $0 + $1.dimension }
        log(String(format: "%@: bases from %d images (%@, energy %.3f): %d directions added, %.1f %% of the layers' input dimensions now protected "
                   + "(capture %.1f s, bases %.1f s)", product, sample.count, record.method.rawValue, threshold, added,
                   100 * Double(used) / Double(max(1, total)), captured.timeIntervalSince(started), Date().timeIntervalSince(captured)))
        return merged
    }
}
