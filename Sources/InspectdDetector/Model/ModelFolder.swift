import Foundation
import InspectdFiles
import InspectdModel
import InspectdTensor

/// A model on disk: `manifest.json` and `weights.safetensors` (the network's parameters under their
/// PyTorch-style names, plus `latent.mean` and `latent.std`). The weights are written first and the
/// manifest last, each atomically, so a crash leaves the previous model or the new one, never a mix
/// that loads.
public struct ModelFolder: Sendable {
    public static let manifestName = "manifest.json"
    public static let weightsName = "weights.safetensors"

    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var manifestURL: URL { url.appendingPathComponent(Self.manifestName) }
    public var weightsURL: URL { url.appendingPathComponent(Self.weightsName) }
    public var exists: Bool { FileManager.default.fileExists(atPath: manifestURL.path) }

    /// What loading a model found wrong; names the file and says what was expected.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    public func readManifest() throws -> ModelManifest {
        let data: Data
        do {
            data = try Data(contentsOf: manifestURL)
        } catch {
            throw Failure(path: manifestURL.path, reason: "cannot read the model manifest (\(error.localizedDescription)); "
                          + "is \(url.path) a model folder made by 'inspectd train'?")
        }
        // Check the format before decoding the rest: a newer layout may not decode at all.
        struct Version: Decodable { let format_version: Int? }
        guard let version = try? JSONDecoder().decode(Version.self, from: data) else {
            throw Failure(path: manifestURL.path, reason: "not valid JSON")
        }
        guard let format = version.format_version else {
            throw Failure(path: manifestURL.path, reason: "no format_version: not an inspectd model manifest")
        }
        guard format == ModelManifest.currentFormat else {
            throw Failure(path: manifestURL.path, reason: "model format \(format), this inspectd reads format \(ModelManifest.currentFormat)"
                          + (format > ModelManifest.currentFormat ? " (the model is newer than the program)" : ""))
        }
        do {
            return try JSONDecoder().decode(ModelManifest.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw Failure(path: manifestURL.path, reason: "missing key '\(Self.path(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(type, context) {
            throw Failure(path: manifestURL.path, reason: "'\(Self.path(context.codingPath))' should be \(type)")
        } catch let DecodingError.dataCorrupted(context) {
            throw Failure(path: manifestURL.path, reason: "'\(Self.path(context.codingPath))': \(context.debugDescription)")
        } catch {
            throw Failure(path: manifestURL.path, reason: "\(error)")
        }
    }

    /// The manifest, the network with its weights, and the latent statistics.
    public func load() throws -> (manifest: ModelManifest, network: CDADNetwork, statistics: LatentStatistics) {
        let manifest = try readManifest()
        let (tensors, _) = try Safetensors.read(from: weightsURL)
        let network = CDADNetwork(config: manifest.network, seed: 0)
        let problems = network.load(tensors)
        guard problems.isEmpty else {
            throw Failure(path: weightsURL.path, reason: "weights do not fit the manifest's network: "
                          + problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? " (and \(problems.count - 5) more)" : ""))
        }
        guard let statistics = LatentStatistics(tensors: tensors),
              statistics.mean.count == manifest.network.latentChannels else {
            throw Failure(path: weightsURL.path, reason: "missing or mis-sized '\(LatentStatistics.meanTensorName)' / "
                          + "'\(LatentStatistics.standardDeviationTensorName)' (\(manifest.network.latentChannels) channels expected)")
        }
        for p in network.namedParameters { p.tensor.requiresGrad = false }
        return (manifest, network, statistics)
    }

    public func save(manifest: ModelManifest, network: CDADNetwork, statistics: LatentStatistics) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        var tensors = network.parameterDictionary
        for (name, tensor) in statistics.tensors { tensors[name] = tensor }
        try Safetensors.write(tensors, metadata: ["format": "inspectd-cdad", "format_version": "\(ModelManifest.currentFormat)"],
                              to: weightsURL)
        try writeManifest(manifest)
    }

    public func writeManifest(_ manifest: ModelManifest) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(manifest) + Data("\n".utf8), to: manifestURL)
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}
