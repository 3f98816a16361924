import Dispatch
import InspectdImage
import InspectdTensor

extension Detector {
    /// Seconds that the parts of scoring `frames` took, each run once in the detector's precision:
    /// `latent` (resizing and the backbone), `amn` (one pass), `unet_step` (one DDIM step: the
    /// diffusion reconstruction less its AMN pass, over the steps) and `total` (the whole analysis,
    /// maps and scores included). What `inspectd bench` breaks a frame's time into.
    public func partSeconds(_ frames: [Image], product: String?, settings: ScoringSettings) throws -> [String: Double] {
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var latent = Tensor(zeros: [0])
        let latentTime = seconds { latent = standardisedLatents(frames.map(extractor.modelImage)) }
        func inPrecision(_ body: () -> Void) {
            if let quantised { quantised.running(body) } else { body() }
        }
        let amnTime = seconds { inPrecision { _ = Autograd.withoutRecording { network.amn(latent) } } }
        let reconstructionTime = seconds { inPrecision { _ = floatReconstruction(latent, settings: settings) } }
        let totalTime = try seconds { _ = try analyse(frames, product: product, settings: settings) }
        return ["latent": latentTime, "amn": amnTime, "unet_step": max(0, reconstructionTime - amnTime) / Double(max(1, settings.ddimSteps)),
                "total": totalTime]
    }
}
