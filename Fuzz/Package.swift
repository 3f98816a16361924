// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses over inspectd's parsers of untrusted bytes, one executable each, built and run
// by scripts/fuzz with -sanitize=fuzzer,address. Kept out of the main package so that its build and
// tests never see the sanitizers.

let harnesses = ["image", "config", "product-label", "safetensors", "torch-pickle", "manifest", "records"]

let package = Package(
    name: "inspectd-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "inspectd", path: "..")],
    targets: [.target(name: "FuzzDriver")] + harnesses.map { name in
        .executableTarget(name: "fuzz-\(name)",
                          dependencies: ["FuzzDriver", .product(name: "InspectdParsers", package: "inspectd")],
                          path: "Sources/\(name)")
    }
)
