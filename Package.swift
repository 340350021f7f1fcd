// swift-tools-version:6.1
import PackageDescription

// Release builds are tuned for the building machine's CPU (AVX-512/FMA on Zen 4): without it Swift
// SIMD code compiles to SSE2 and `addProduct` to calls to fmaf. Set SPKV_PORTABLE=1 for a binary
// that runs on any x86-64 (the C kernels dispatch at run time either way).
let portable = Context.environment["SPKV_PORTABLE"] == "1"
let tuning: [SwiftSetting] = portable
    ? [] : [.unsafeFlags(["-target-cpu", "native"], .when(platforms: [.linux], configuration: .release))]
let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)] + tuning
// The audio path's modules are optimised in debug builds too: unoptimised generic code (SIMD, FFT
// loops) allocates on the heap, and the test suite measures that the audio path does not.
let audioPathSettings: [SwiftSetting] = swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "spkv",
    products: [
        .library(name: "SpeakerVerification", targets: ["SpeakerVerification"]),
        // Live capture from ALSA devices for `LiveSession.run(source:)`; links libasound.
        .library(name: "SVALSA", targets: ["SVALSA"]),
        // The C API as a shared library (named libspkv.so and given its header by tools/c-api/install.sh).
        .library(name: "SpkvCAPI", type: .dynamic, targets: ["SpkvCAPI"]),
        .executable(name: "spkv", targets: ["spkv"]),
        .executable(name: "spkv-bench", targets: ["spkv-bench"]),
        .executable(name: "spkv-live-bench", targets: ["spkv-live-bench"]),
        .executable(name: "spkv-train", targets: ["spkv-train"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // MARK: - System libraries (pkg-config names: alsa, sndfile, openblas, zlib)
        .systemLibrary(name: "CALSA", path: "Sources/CALSA",
                       pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CSndFile", path: "Sources/CSndFile",
                       pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS",
                       pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Inflate for the zip archives of game packages (training tools only; the engine does not link it).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib",
                       pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: - Inference core. The graph, as declared below (SVFiles, used by most, left out):
        //   SVKernels <- SVFeatures, SVScoring;  SVFeatures + SVScoring <- SVModels;  SVAudio <- SVStreaming <- SVALSA;
        //   SVAudio + SVFeatures + SVModels + SVScoring + SVStreaming <- SpeakerVerification <- SpkvCAPI, spkv;
        //   SVALSA <- spkv, spkv-live-bench (the only ALSA users)
        // int8 convolution kernels (AVX-512 VNNI + portable), optimised in every configuration.
        .target(name: "CInt8Kernels", path: "Sources/CInt8Kernels", cSettings: [.unsafeFlags(["-O2"])]),
        // fp32 indirect-GEMM convolution kernel (AVX-512; OpenBLAS elsewhere), optimised in every configuration.
        .target(name: "CF32Kernels", path: "Sources/CF32Kernels", cSettings: [.unsafeFlags(["-O2"])]),
        // Atomic file writes (temporary file, fsync, rename): every output goes through it.
        .target(name: "SVFiles", path: "Sources/SVFiles", swiftSettings: swiftSettings),
        .target(name: "SVKernels", dependencies: ["COpenBLAS", "CInt8Kernels", "CF32Kernels"], exclude: ["README.md"], swiftSettings: audioPathSettings),
        .target(name: "SVAudio", dependencies: ["CSndFile", "SVFiles"], exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "SVFeatures", dependencies: ["SVKernels", "SVFiles"], exclude: ["README.md"], swiftSettings: audioPathSettings),
        .target(name: "SVModels", dependencies: ["SVKernels", "SVFeatures", "SVFiles", "SVScoring"], exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "SVScoring", dependencies: ["SVKernels", "SVFiles"], exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "SVStreaming", dependencies: ["SVAudio"], exclude: ["README.md"], swiftSettings: audioPathSettings),
        // ALSA capture on its own, so that a file-only user of the library (or of libspkv) does not link libasound.
        .target(name: "SVALSA", dependencies: ["CALSA", "SVStreaming"], exclude: ["README.md"], swiftSettings: audioPathSettings),
        .target(name: "SpeakerVerification",
                dependencies: ["SVFiles", "SVKernels", "SVAudio", "SVFeatures", "SVModels", "SVScoring", "SVStreaming"],
                exclude: ["README.md"],
                swiftSettings: audioPathSettings),
        // The C API (spkv.h in CSpkv/include) over the library: libspkv.so, installed by tools/c-api/install.sh.
        .target(name: "CSpkv", path: "Sources/CSpkv"),
        .target(name: "SpkvCAPI", dependencies: ["CSpkv", "SpeakerVerification"], exclude: ["README.md", "exports.map"],
                swiftSettings: swiftSettings,
                linkerSettings: [.unsafeFlags(["-Xlinker", "-soname=libspkv.so",
                                               "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/SpkvCAPI/exports.map"])]),
        .executableTarget(name: "spkv",
                          dependencies: ["SpeakerVerification", "SVALSA", "SVStreaming", "SVKernels", "SVFiles",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: swiftSettings),

        // MARK: - Training tool (tools/; nothing under Sources imports it)
        .target(name: "SVAutograd", dependencies: ["SVKernels", "SVModels"], path: "tools/SVAutograd", exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "SVCorpus", dependencies: ["CZlib", "SVAudio", "SVKernels", "SVFiles", "SVModels"], path: "tools/SVCorpus", exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "SVTraining", dependencies: ["SVAutograd", "SVCorpus", "SVFiles", "SpeakerVerification"],
                path: "tools/SVTraining", exclude: ["README.md"], swiftSettings: swiftSettings),
        .executableTarget(name: "spkv-train",
                          dependencies: ["SVAutograd", "SVCorpus", "SVFiles", "SVTraining", "SpeakerVerification",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/spkv-train", swiftSettings: swiftSettings),

        // MARK: - Benchmarks (printed, never asserted)
        .executableTarget(name: "spkv-bench", dependencies: ["SpeakerVerification", "SVKernels",
                                                               .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "benchmarks/spkv-bench", swiftSettings: swiftSettings),
        .executableTarget(name: "spkv-live-bench", dependencies: ["SpeakerVerification", "SVALSA", "SVStreaming", "SVKernels", "_SVAllocationProbe", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "benchmarks/spkv-live-bench", swiftSettings: swiftSettings),

        // MARK: - Tests
        // Counts heap allocations per thread by interposing malloc & co.: linked only into the test
        // bundle and the live benchmark, never into the library or the CLI.
        .target(name: "_SVAllocationProbe", path: "Sources/_SVAllocationProbe"),
        .target(name: "_SVTestSupport", dependencies: [], path: "Sources/_SVTestSupport",
                resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(name: "SVFilesTests", dependencies: ["SVFiles"], swiftSettings: swiftSettings),
        .testTarget(name: "SVKernelsTests", dependencies: ["SVKernels", "_SVTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "SVAudioTests", dependencies: ["SVAudio", "SVKernels", "_SVTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "SVFeaturesTests", dependencies: ["SVFeatures", "SVAudio", "_SVTestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SVModelsTests", dependencies: ["SVModels", "SVAudio", "SVFeatures", "_SVTestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SVScoringTests", dependencies: ["SVScoring", "SVKernels", "_SVTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "SVStreamingTests", dependencies: ["SVStreaming", "SVALSA", "SVKernels", "_SVTestSupport", "_SVAllocationProbe"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SpeakerVerificationTests", dependencies: ["SpeakerVerification", "SVKernels", "_SVTestSupport", "_SVAllocationProbe"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SVAutogradTests", dependencies: ["SVAutograd", "SVKernels", "SVModels", "_SVTestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SVCorpusTests", dependencies: ["CZlib", "SVCorpus", "SVAudio", "SVKernels", "SVModels", "_SVTestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SVTrainingTests", dependencies: ["SVTraining", "SVAutograd", "SVKernels", "SpeakerVerification",
                                                            "_SVTestSupport"], swiftSettings: swiftSettings),
        // Also builds and runs C programs against libspkv.so (C/, the SpkvCAPI product) and the Python package.
        .testTarget(name: "SVCLITests", dependencies: ["SVTraining", "SpeakerVerification", "_SVTestSupport"], exclude: ["C"],
                    swiftSettings: swiftSettings),
    ]
)
