import Foundation
import InspectdContinual
import InspectdFiles
import InspectdModel
import InspectdTensor

/// A model on disk: `manifest.json` and `weights.safetensors` (the network's parameters under their
/// PyTorch-style names, plus `latent.mean` and `latent.std`, plus each product's normal residual
/// levels `residuals.<product>.amn` / `.diffusion`), and with continual learning `bases.safetensors`
/// (the protected subspaces, `basis.<weight name>` [d, k]). The bases and weights are written
/// first and the manifest last, each atomically, and the manifest holds the bases' SHA-256, so a
/// crash leaves the previous model or the new one, never a mix that loads.
public struct ModelFolder: Sendable {
    public static let manifestName = "manifest.json"
    public static let weightsName = "weights.safetensors"
    public static let basesName = "bases.safetensors"
    public static let int8Name = "int8.safetensors"

    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var manifestURL: URL { url.appendingPathComponent(Self.manifestName) }
    public var weightsURL: URL { url.appendingPathComponent(Self.weightsName) }
    public var basesURL: URL { url.appendingPathComponent(Self.basesName) }
    public var int8URL: URL { url.appendingPathComponent(Self.int8Name) }
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
        return try Self.manifest(decoding: data, path: manifestURL.path)
    }

    /// `readManifest` after the read: the manifest in `data`, checked; `path` names it in errors.
    static func manifest(decoding data: Data, path: String) throws -> ModelManifest {
        // Check the format before decoding the rest: a newer layout may not decode at all.
        struct Version: Decodable { let format_version: Int? }
        guard let version = try? JSONDecoder().decode(Version.self, from: data) else {
            throw Failure(path: path, reason: "not valid JSON")
        }
        guard let format = version.format_version else {
            throw Failure(path: path, reason: "no format_version: not an inspectd model manifest")
        }
        guard format == ModelManifest.currentFormat else {
            throw Failure(path: path, reason: "model format \(format), this inspectd reads format \(ModelManifest.currentFormat)"
                          + (format > ModelManifest.currentFormat ? " (the model is newer than the program)" : ""))
        }
        let manifest: ModelManifest
        do {
            manifest = try JSONDecoder().decode(ModelManifest.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw Failure(path: path, reason: "missing key '\(Self.path(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(type, context) {
            throw Failure(path: path, reason: "'\(Self.path(context.codingPath))' should be \(type)")
        } catch let DecodingError.dataCorrupted(context) {
            throw Failure(path: path, reason: "'\(Self.path(context.codingPath))': \(context.debugDescription)")
        } catch {
            throw Failure(path: path, reason: "\(error)")
        }
        if let problem = manifest.problem { throw Failure(path: path, reason: problem) }
        return manifest
    }

    /// Everything a model folder holds, loaded and checked.
    public struct Contents {
        public var manifest: ModelManifest
        public var network: CDADNetwork
        public var statistics: LatentStatistics
        /// Per product; every product of the manifest has its levels when its scoring standardises.
        public var residuals: [String: NormalResiduals]
        /// The protected subspaces, when the manifest has a continual record.
        public var subspaces: ProtectedSubspaces?
    }

    /// The manifest, the network with its weights, the latent statistics and the products' levels,
    /// and with `bases` the protected subspaces (training needs them, scoring does not: a damaged
    /// bases file stops the next increment, not the line).
    public func load(bases: Bool = true) throws -> Contents {
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
        var residuals: [String: NormalResiduals] = [:]
        for product in manifest.products.keys.sorted() {
            if let levels = NormalResiduals(tensors: tensors, product: product) {
                guard levels.amn.channels == manifest.network.latentChannels else {
                    throw Failure(path: weightsURL.path, reason: "'\(NormalResiduals.tensorNames(product: product).amn)' has "
                                  + "\(levels.amn.channels) channels, the latent \(manifest.network.latentChannels)")
                }
                residuals[product] = levels
            } else if manifest.scoring.standardiseResiduals {
                let names = NormalResiduals.tensorNames(product: product)
                throw Failure(path: weightsURL.path, reason: "no '\(names.amn)' / '\(names.diffusion)' [C, H, W] tensors, which "
                              + "product '\(product)' needs for standardised scoring; 'inspectd calibrate' fits them")
            }
        }
        for p in network.namedParameters { p.tensor.requiresGrad = false }
        let subspaces = bases ? try manifest.continual.map { try loadSubspaces($0, network: network) } : nil
        return Contents(manifest: manifest, network: network, statistics: statistics, residuals: residuals, subspaces: subspaces)
    }

    /// The tensors of a file the manifest lists with its SHA-256, read once and checked against it;
    /// `content` names what the file holds and `mismatch` says what a wrong digest means.
    private func verifiedTensors(_ url: URL, sha256 expected: String, content: String, mismatch: String) throws -> [String: Tensor] {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: url)
        } catch {
            throw Failure(path: url.path, reason: "cannot read the \(content) the manifest lists (\(error))")
        }
        let digest = SHA256.hex(bytes)
        guard digest == expected else {
            throw Failure(path: url.path, reason: "SHA-256 \(digest.prefix(12)) is not the \(expected.prefix(12)) the manifest records: \(mismatch)")
        }
        return try Safetensors.decode(bytes, source: url.path).tensors
    }

    /// The bases the record describes, checked against its SHA-256 and the network's layers.
    func loadSubspaces(_ record: ContinualRecord, network: CDADNetwork) throws -> ProtectedSubspaces {
        let tensors = try verifiedTensors(basesURL, sha256: record.basesSHA256, content: "protected subspaces",
                                          mismatch: "the file is damaged or belongs to another model")
        let dimensions = ProtectedParameters.projectedDimensions(network.namedParameters)
        var expected: [String: (dimension: Int, rank: Int)] = [:]
        for (name, d) in dimensions { expected[name] = (d, 0) }
        for (name, layer) in record.layers {
            guard let d = dimensions[name] else {
                throw Failure(path: manifestURL.path, reason: "continual.layers names '\(name)', which is not a protected layer of the network")
            }
            guard layer.dimension == d else {
                throw Failure(path: manifestURL.path, reason: "continual.layers.\(name).dimension is \(layer.dimension), the layer's input has \(d)")
            }
            expected[name] = (d, layer.rank)
        }
        return try ProtectedSubspaces(tensors: tensors, expected: expected, file: basesURL.path)
    }

    /// Writes the model. With `subspaces`, the bases file too, and the manifest's continual record
    /// gets their SHA-256 and ranks; without them a continual record is dropped (no file backs it).
    /// The int8 layers' record is dropped too unless `sameWeights` says the network is the one they
    /// were made from (a recalibration). Returns the manifest as written.
    @discardableResult
    public func save(manifest: ModelManifest, network: CDADNetwork, statistics: LatentStatistics,
                     residuals: [String: NormalResiduals], subspaces: ProtectedSubspaces? = nil,
                     sameWeights: Bool = false) throws -> ModelManifest {
        var manifest = manifest
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        if let subspaces, manifest.continual != nil {
            let bytes = try Safetensors.encode(subspaces.tensors(), metadata: [
                "format": "inspectd-bases", "format_version": "\(ModelManifest.currentFormat)",
                "products": manifest.continual!.products.joined(separator: ","),
            ])
            try AtomicFile.write(bytes, to: basesURL)
            manifest.continual!.basesSHA256 = SHA256.hex(bytes)
            var layers: [String: ContinualRecord.Layer] = [:]
            for (name, d) in ProtectedParameters.projectedDimensions(network.namedParameters) {
                layers[name] = .init(dimension: d, rank: subspaces.bases[name]?.rank ?? 0)
            }
            manifest.continual!.layers = layers
        } else {
            manifest.continual = nil
        }
        if !sameWeights { manifest.quantisation = nil }
        var tensors = network.parameterDictionary
        for (name, tensor) in statistics.tensors { tensors[name] = tensor }
        for (product, levels) in residuals where manifest.products[product] != nil {
            for (name, tensor) in levels.tensors(product: product) { tensors[name] = tensor }
        }
        try Safetensors.write(tensors, metadata: ["format": "inspectd-cdad", "format_version": "\(ModelManifest.currentFormat)"],
                              to: weightsURL)
        try writeManifest(manifest)
        return manifest
    }

    /// Writes the int8 layers beside the weights and records them in the manifest (returned as
    /// written): per layer `<weight>` (I8, the weight's shape), `<weight>.scale` (F32, one per
    /// output channel) and `<weight>.input` (F32 [2]: the input's scale and zero point).
    @discardableResult
    public func saveInt8(_ layers: [String: Int8Layer], record: QuantisationRecord, manifest: ModelManifest) throws -> ModelManifest {
        var tensors: [String: Tensor] = [:]
        for (name, layer) in layers {
            tensors[name] = Tensor(shape: layer.weights.shape, data: layer.weights.values.map { Float($0) })
            tensors[name + ".scale"] = Tensor(shape: [layer.weights.scales.count], data: layer.weights.scales)
            tensors[name + ".input"] = Tensor(shape: [2], data: [layer.input.scale, Float(layer.input.zeroPoint)])
        }
        let bytes = try Safetensors.encode(tensors, metadata: ["format": "inspectd-int8", "format_version": "\(ModelManifest.currentFormat)"],
                                           int8: Set(layers.keys))
        try AtomicFile.write(bytes, to: int8URL)
        var manifest = manifest
        var record = record
        record.int8SHA256 = SHA256.hex(bytes)
        record.layers = layers.keys.sorted()
        manifest.quantisation = record
        try writeManifest(manifest)
        return manifest
    }

    /// The int8 layers the manifest records, checked against its SHA-256 and the network; nil when
    /// the model has none.
    public func loadInt8(_ manifest: ModelManifest, network: CDADNetwork) throws -> [String: Int8Layer]? {
        guard let record = manifest.quantisation else { return nil }
        let tensors = try verifiedTensors(int8URL, sha256: record.int8SHA256, content: "int8 layers",
                                          mismatch: "the file is damaged or belongs to other weights ('inspectd quantize' remakes it)")
        let parameters = network.parameterDictionary
        var layers: [String: Int8Layer] = [:]
        for name in record.layers {
            guard let weight = parameters[name] else {
                throw Failure(path: manifestURL.path, reason: "quantisation.layers names '\(name)', which is not a weight of the network")
            }
            guard let values = tensors[name], values.shape == weight.shape,
                  let scales = tensors[name + ".scale"], scales.shape == [weight.shape[0]],
                  let input = tensors[name + ".input"], input.shape == [2],
                  values.data.allSatisfy({ $0 >= -127 && $0 <= 127 }), scales.data.allSatisfy({ $0 > 0 && $0.isFinite }),
                  input.data[0] > 0, input.data[0].isFinite, (-127...127).contains(input.data[1]) else {
                throw Failure(path: int8URL.path, reason: "'\(name)' is missing, mis-shaped (the weight is \(weight.shape)) or out of range, "
                              + "or its '.scale' / '.input' tensors are")
            }
            layers[name] = Int8Layer(weights: Int8Weights(shape: values.shape, values: values.data.map { Int8($0) }, scales: scales.data),
                                     input: Int8Scale(scale: input.data[0], zeroPoint: Int32(input.data[1])))
        }
        return layers
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
