// swift-tools-version:6.0
import PackageDescription

// Layers, each depending only on the ones above it:
//   native shims (C*) -> InspectdTensor -> InspectdModel -> (detector, daemon) -> inspectd CLI
// InspectdImage sits beside the tensor engine: it knows pixels, not tensors.

let package = Package(
    name: "inspectd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "inspectd", targets: ["inspectd"]),
        // The parsers of untrusted bytes, for the fuzz harnesses in Fuzz/ (a package can use only
        // another package's products, not its targets).
        .library(name: "InspectdParsers", targets: ["InspectdImage", "InspectdConfig", "InspectdTensor", "InspectdDetector",
                                                    "InspectdProducts", "InspectdModelStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.12.0"),
    ],
    targets: [
        // System libraries, found through pkg-config.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", pkgConfig: "lapacke", providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),

        // Crash-safe file writing, shared by checkpoints, model folders and the spool.
        .target(name: "InspectdFiles"),
        // Versioned model folders: publishing, the atomically swapped `current` link, activation
        // history, rollback, retention, the store's lock. Folders and files only, no model.
        .target(name: "InspectdModelStore", dependencies: ["InspectdFiles"]),
        // Kernels that want AVX-512/AVX2 (softmax rows, SiLU and GELU cloned per instruction set and
        // picked at load time; the direct 3x3 convolution, checked at run time), the int8 products
        // with their four instruction-set paths (AVX-512 VNNI, AVX-VNNI, AVX2, portable C) and their
        // quantisers, and glibc's malloc settings.
        .target(name: "CInspectdKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),
        .target(name: "InspectdTensor", dependencies: ["COpenBLAS", "CLAPACKE", "CInspectdKernels", "InspectdFiles"]),
        .target(name: "InspectdModel", dependencies: ["InspectdTensor"]),
        // Continual learning: layer-input capture, streaming bases (covariance, iSVD), the energy
        // rule and orthonormal merge, and the projector that keeps old products' layer outputs.
        .target(name: "InspectdContinual", dependencies: ["InspectdModel", "InspectdTensor", "CLAPACKE", "COpenBLAS"]),

        // C only where C is required: libjpeg and libpng report errors by longjmp.
        .target(name: "CInspectdCodecs", dependencies: ["CJPEG", "CPNG"]),
        .target(name: "InspectdImage", dependencies: ["CInspectdCodecs"]),

        // Train, score, calibrate; reads images and weights from disk for the model.
        .target(name: "InspectdDetector", dependencies: ["InspectdModel", "InspectdContinual", "InspectdImage", "InspectdFiles", "InspectdMetrics"]),

        // Anomaly-detection metrics: numbers in, numbers out.
        .target(name: "InspectdMetrics"),

        // systemd integration for the daemon: sd_notify, journald logging, message ids.
        .target(name: "InspectdSystemd", dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]),
        // Camera folders -> frame queue (inotify or polling), and the durable record of processed frames.
        .target(name: "InspectdWatch", dependencies: ["InspectdFiles"]),
        // The daemon's TOML configuration: parser, model, validation. Foundation only.
        .target(name: "InspectdConfig"),
        // Product intake: operators' new-product folders checked, queued (images copied) or
        // rejected with every reason, and the queue's records.
        .target(name: "InspectdProducts", dependencies: ["InspectdConfig", "InspectdImage", "InspectdFiles"]),
        // Off-hours learning: `train-pending` takes the queued products one increment at a time,
        // runs the regression guard and publishes versions to the store.
        .target(name: "InspectdTrainer", dependencies: [
            "InspectdDetector", "InspectdModelStore", "InspectdProducts", "InspectdConfig", "InspectdSystemd", "InspectdFiles",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The service: configuration, watching, scoring loop, spool, journal, systemd, metrics.
        // It asks the detector for verdicts and pictures and never sees a tensor.
        .target(name: "InspectdDaemon", dependencies: [
            "InspectdConfig", "InspectdWatch", "InspectdSystemd", "InspectdDetector", "InspectdImage", "InspectdFiles", "InspectdProducts",
            "InspectdModelStore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),

        .executableTarget(
            name: "inspectd",
            dependencies: [
                "InspectdTensor", "InspectdModel", "InspectdDetector", "InspectdDaemon", "InspectdConfig", "InspectdSystemd", "InspectdWatch",
                "InspectdModelStore", "InspectdProducts", "InspectdFiles", "InspectdTrainer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Shared test helpers: seeded test data and the finite-difference gradient check.
        .target(name: "InspectdTesting", dependencies: ["InspectdTensor", "InspectdImage", "InspectdWatch", "InspectdFiles"]),

        .testTarget(name: "InspectdFilesTests", dependencies: ["InspectdFiles"]),
        .testTarget(name: "InspectdModelStoreTests", dependencies: ["InspectdModelStore"]),
        // Runs the built `inspectd` executable itself (arguments, exit status, messages).
        .testTarget(name: "InspectdCLITests", dependencies: ["InspectdTesting", "InspectdDetector"]),
        .testTarget(name: "InspectdTrainerTests", dependencies: [
            "InspectdTrainer", "InspectdDetector", "InspectdModelStore", "InspectdProducts", "InspectdConfig", "InspectdTesting",
            "InspectdDaemon", "InspectdImage",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "InspectdTensorTests", dependencies: ["InspectdTensor", "CInspectdKernels", "InspectdTesting"]),
        .testTarget(name: "InspectdImageTests", dependencies: ["InspectdImage", "InspectdTesting"]),
        .testTarget(name: "InspectdModelTests", dependencies: ["InspectdModel", "InspectdImage", "InspectdDetector", "InspectdTesting"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "InspectdContinualTests", dependencies: ["InspectdContinual", "InspectdModel", "InspectdTensor", "InspectdTesting"]),
        .testTarget(name: "InspectdDetectorTests", dependencies: ["InspectdDetector", "InspectdContinual", "InspectdFiles", "InspectdTesting"]),
        .testTarget(name: "InspectdMetricsTests", dependencies: ["InspectdMetrics"]),
        .testTarget(name: "InspectdSystemdTests", dependencies: ["InspectdSystemd", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "InspectdWatchTests", dependencies: ["InspectdWatch", "InspectdFiles", "InspectdTesting"]),
        .testTarget(name: "InspectdConfigTests", dependencies: ["InspectdConfig"]),
        .testTarget(name: "InspectdProductsTests", dependencies: ["InspectdProducts", "InspectdConfig", "InspectdImage"]),
        .testTarget(name: "InspectdDaemonTests", dependencies: [
            "InspectdDaemon", "InspectdConfig", "InspectdDetector", "InspectdFiles", "InspectdSystemd", "InspectdWatch", "InspectdImage", "InspectdProducts",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
    ]
)
