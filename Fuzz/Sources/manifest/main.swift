import Foundation
import FuzzDriver
@testable import InspectdDetector
import InspectdModel
import InspectdTensor

/// A model folder's `manifest.json` is read whenever a model is loaded, swapped in or listed.
/// Whatever the loader accepts must also get through what loading and scoring then do with it
/// without a trap: the network's size checks, the noise schedule and DDIM walk at the manifest's
/// noise level (run here on a one-element latent, the U-Net replaced by the identity), and the
/// map's smoothing.
func fuzzManifest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    guard let manifest = try? ModelFolder.manifest(decoding: bytes, path: ModelFolder.manifestName) else { return 0 }
    manifest.network.validate()
    let schedule = NoiseSchedule(config: manifest.network)
    let scoring = manifest.scoring
    let latent = Tensor(shape: [1, 1, 1, 1], data: [0.5])
    let z = schedule.noised(latent, noise: latent, timesteps: [scoring.noiseLevel])
    _ = schedule.ddim(from: z, start: scoring.noiseLevel, steps: scoring.ddimSteps, prediction: manifest.network.prediction) { z, _ in z }
    _ = AnomalyMap(width: 1, height: 1, values: [0]).smoothed(sigma: scoring.smoothingSigma)
    return 0
}

exit(inspectd_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzManifest))
