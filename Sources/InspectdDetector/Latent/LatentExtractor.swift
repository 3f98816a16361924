import InspectdImage
import InspectdModel
import InspectdTensor

/// Turns frames into the detector's latent: the frozen EfficientNet-Lite0's stride-8 features
/// (40 channels) beside its stride-16 features (112 channels) bilinearly upsampled to the
/// stride-8 grid, [N, 152, R/8, R/8] for model resolution R (32x32 at the default 256).
///
/// Every frame is converted to RGB (grey is replicated) and resized to R x R whatever its size or
/// aspect: a non-square frame is stretched, not cropped or padded, as the reference does, so the
/// whole frame is inspected and a map resized back to the frame lines up with it.
public struct LatentExtractor: Sendable {
    public static let defaultResolution = 256
    public static let stride8Channels = 40
    public static let stride16Channels = 112
    public static let channels = stride8Channels + stride16Channels

    public let backbone: EfficientNetLite0
    /// Side of the square model input, in pixels.
    public let resolution: Int

    public init(backbone: EfficientNetLite0, resolution: Int = defaultResolution) {
        precondition(resolution >= 16, "model resolution \(resolution) is below the backbone's stride of 16")
        self.backbone = backbone
        self.resolution = resolution
    }

    /// Side of the latent grid: the stride-8 stage's output, ceil(resolution / 8).
    public var latentSide: Int { (resolution + 7) / 8 }

    /// The frame as the model sees it, as an 8-bit RGB image: what training perturbs and what a
    /// heatmap in model coordinates lies over. `latents(of:)` of the result equals `latents(of:)`
    /// of the frame up to the rounding of the resized samples to 8 bits.
    public func modelImage(_ frame: Image) -> Image {
        frame.converted(to: .rgb).resized(width: resolution, height: resolution)
    }

    /// The normalised backbone input [N, 3, R, R]. Frames are converted side by side on the
    /// engine's threads: decoding-size frames (900x900) take milliseconds each to resample.
    public func input(of images: [Image]) -> Tensor {
        precondition(!images.isEmpty, "no images to extract latents from")
        let side = resolution, frameCount = 3 * side * side
        return Tensor(shape: [images.count, 3, side, side]) { buffer in
            let base = buffer.baseAddress!
            Engine.parallelFor(images.count) { index in
                let floats = images[index].planarFloats(width: side, height: side, normalisation: .efficientNetLite)
                floats.withUnsafeBufferPointer { (base + index * frameCount).update(from: $0.baseAddress!, count: frameCount) }
            }
        }
    }

    /// Latents [N, 152, R/8, R/8] of a batch of frames of any sizes and formats.
    public func latents(of images: [Image]) -> Tensor {
        latents(ofInput: input(of: images))
    }

    /// One latent [1, C, h, w] per image, computed eight images at a time (a batch shares the
    /// backbone's passes) and kept apart, for training data that is sampled image by image.
    public func separateLatents(of images: [Image]) -> [Tensor] {
        stride(from: 0, to: images.count, by: 8).flatMap { start in
            let batch = latents(of: Array(images[start..<min(start + 8, images.count)]))
            return (0..<batch.shape[0]).map { slice(batch, axis: 0, range: $0..<($0 + 1)) }
        }
    }

    /// Latents of an already normalised input [N, 3, R, R] (see `input(of:)`).
    public func latents(ofInput input: Tensor) -> Tensor {
        precondition(input.rank == 4 && input.shape[1] == 3 && input.shape[2] == resolution && input.shape[3] == resolution,
                     "latent input must be [N, 3, \(resolution), \(resolution)], got \(input.shape)")
        return Autograd.withoutRecording {
            let features = backbone.features(input)
            let side = features.stride8.shape[2]
            let coarse = resizeBilinear(features.stride16, height: side, width: features.stride8.shape[3])
            return concat([features.stride8, coarse], axis: 1)
        }
    }
}
