import Foundation
import Testing
import _SVTestSupport

// MARK: - Locating the built `spkv`

/// The `spkv` executable (or, with `named:`, another product such as `spkv-train`) built next to
/// this test bundle.
///
/// SwiftPM puts every product of one build (the test bundle, the `_SVTestSupport` resource bundle
/// and the `spkv` executable) in the same products folder, `<scratch>/<triple>/<debug|release>`,
/// whatever `--scratch-path` or `-c` was. We look beside the resource bundle first (its location is
/// known exactly through `Bundle.module`), then beside the running test executable. `SPKV_BINARY`
/// overrides both (e.g. to test an installed binary).
enum SPKVBinary {
    static let path: String? = locate()
    static let trainPath: String? = locate(named: "spkv-train", override: "SPKV_TRAIN_BINARY")

    static func candidates(named name: String = "spkv") -> [URL] {
        var folders: [URL] = []
        // …/spkv__SVTestSupport.resources/Fixtures -> …/<products>
        folders.append(Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent())
        // Linux: the test bundle is itself the executable (…/<products>/spkvPackageTests.xctest).
        // macOS: …/<products>/spkvPackageTests.xctest/Contents/MacOS/spkvPackageTests.
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        folders.append(executable.deletingLastPathComponent())
        folders.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            folders.append(bundle.bundleURL.deletingLastPathComponent())
        }
        return folders.map { $0.appendingPathComponent(name) }
    }

    private static func locate(named name: String = "spkv", override: String = "SPKV_BINARY") -> String? {
        if let path = ProcessInfo.processInfo.environment[override], !path.isEmpty { return path }
        return candidates(named: name).map(\.path).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The path, or a test failure that says where it looked.
    static func require(named name: String = "spkv") throws -> String {
        try #require(name == "spkv" ? path : trainPath,
                     "no built \(name) next to the tests (looked at \(candidates(named: name).map(\.path))); `swift build --product \(name)` with the same --scratch-path and -c")
    }
}

// MARK: - Running it

/// What one run of `spkv` printed and returned.
struct CLIResult: CustomStringConvertible {
    let arguments: [String]
    var program = "spkv"
    let status: Int32
    let stdout: String
    let stderr: String
    var stdoutLines: [Substring] { stdout.split(separator: "\n", omittingEmptySubsequences: true) }
    var description: String { "\(program) \(arguments.joined(separator: " ")) -> exit \(status)\nstdout: \(stdout.prefix(2000))\nstderr: \(stderr.prefix(2000))" }
}

/// Runs the built `spkv` with `arguments` (and `environment` added to this process's).
func spkv(_ arguments: [String], binary name: String = "spkv", environment: [String: String] = [:]) throws -> CLIResult {
    try runProcess(try SPKVBinary.require(named: name), arguments, environment: environment)
}

/// Runs `executable` with `arguments` (and `environment` added to this process's, `workingDirectory` when
/// given); stdout and stderr go to files (no pipe can fill up and block the child), then are read back whole.
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                workingDirectory: String? = nil) throws -> CLIResult {
    let scratch = try TemporaryDirectory()
    defer { scratch.remove() }
    let outPath = scratch.path("stdout"), errPath = scratch.path("stderr")
    for path in [outPath, errPath] {
        try #require(FileManager.default.createFile(atPath: path, contents: nil), "cannot create \(path)")
    }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return CLIResult(arguments: arguments, program: (executable as NSString).lastPathComponent, status: process.terminationStatus,
                     stdout: try String(decoding: Data(contentsOf: URL(fileURLWithPath: outPath)), as: UTF8.self),
                     stderr: try String(decoding: Data(contentsOf: URL(fileURLWithPath: errPath)), as: UTF8.self))
}

func spkv(_ arguments: String...) throws -> CLIResult { try spkv(arguments) }

/// Runs the built `spkv-train` with `arguments`.
func spkvTrain(_ arguments: String...) throws -> CLIResult { try spkv(arguments, binary: "spkv-train") }

// MARK: - Fixtures

enum CLIFixtures {
    static let speechbrainCheckpoint = Fixtures.path("ecapa/speechbrain_c64.safetensors")
    static let speechbrainGolden = Fixtures.path("ecapa/speechbrain_c64_golden.safetensors")
    static let clips = ["speech_a_3s", "speech_b_8s", "speech_c_15s"]
    static func speech(_ clip: String) -> String { Fixtures.path("speech/\(clip).wav") }
    static var speechFiles: [String] { clips.map(speech) }
}

/// A temporary folder holding `m.safetensors`, imported from the SpeechBrain C=64 fixture with
/// `spkv import` (each test gets its own, so tests stay independent when run in parallel).
struct ImportedModel {
    let folder: TemporaryDirectory
    let importResult: CLIResult
    var path: String { folder.path("m.safetensors") }

    init() throws {
        folder = try TemporaryDirectory()
        importResult = try spkv("import", "--from", "speechbrain", CLIFixtures.speechbrainCheckpoint,
                                "-o", folder.path("m.safetensors"))
        try #require(importResult.status == 0, "\(importResult)")
    }

    func remove() { folder.remove() }
}

// MARK: - Assertions

/// The shape of every failure the CLI reports: exit 1, nothing that looks like a crash, and a
/// one-message stderr that starts with `spkv:` and names `file`.
func expectCleanFailure(_ r: CLIResult, naming file: String, containing words: [String] = [],
                        sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == 1, "\(r)", sourceLocation: sourceLocation)
    #expect(r.stderr.hasPrefix("spkv: "), "\(r)", sourceLocation: sourceLocation)
    #expect(r.stderr.contains(file), "stderr does not name \(file): \(r)", sourceLocation: sourceLocation)
    for word in words {
        #expect(r.stderr.localizedCaseInsensitiveContains(word), "stderr lacks '\(word)': \(r)", sourceLocation: sourceLocation)
    }
    for crash in ["Fatal error", "Stack dump", "Backtrace", "Illegal instruction", "Segmentation fault", "Error Domain="] {
        #expect(!r.stderr.contains(crash), "looks like a crash: \(r)", sourceLocation: sourceLocation)
    }
}

// MARK: - Output parsers

/// `PATH v1 … vD` lines of `spkv embed`, split into the path and the parsed values.
func parseEmbeddingLine(_ line: Substring) -> (path: String, values: [Float?]) {
    let fields = line.split(separator: " ", omittingEmptySubsequences: false)
    return (String(fields.first ?? ""), fields.dropFirst().map { Float(String($0)) })
}

/// A NumPy `.npy` file (format 1.0 or 2.0), parsed by hand: header dictionary and float32 data.
struct NPYFile {
    let descr: String
    let fortranOrder: Bool
    let shape: [Int]
    let values: [Float]

    struct FormatError: Error, CustomStringConvertible { let description: String }

    init(path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw FormatError(description: "\(path): no \\x93NUMPY magic")
        }
        let major = bytes[6]
        let lengthBytes = major == 1 ? 2 : 4
        guard major == 1 || major == 2 || major == 3 else { throw FormatError(description: "version \(major)") }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        let dataStart = 8 + lengthBytes + headerLength
        guard dataStart <= bytes.count else { throw FormatError(description: "header past the end") }
        guard dataStart % 64 == 0 else { throw FormatError(description: "data offset \(dataStart) not aligned") }
        let header = String(decoding: bytes[(8 + lengthBytes)..<dataStart], as: UTF8.self)
        guard header.hasSuffix("\n") else { throw FormatError(description: "header does not end in a newline: \(header)") }

        func field(_ key: String) throws -> String {
            guard let r = header.range(of: "'\(key)':") else { throw FormatError(description: "no '\(key)' in \(header)") }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        let descrField = try field("descr")
        guard descrField.hasPrefix("'"), let close = descrField.dropFirst().firstIndex(of: "'") else {
            throw FormatError(description: "descr in \(header)")
        }
        descr = String(descrField[descrField.index(after: descrField.startIndex)..<close])
        fortranOrder = try field("fortran_order").hasPrefix("True")
        let shapeField = try field("shape")
        guard shapeField.hasPrefix("("), let end = shapeField.firstIndex(of: ")") else {
            throw FormatError(description: "shape in \(header)")
        }
        shape = shapeField[shapeField.index(after: shapeField.startIndex)..<end]
            .split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let body = bytes[dataStart...]
        guard descr == "<f4" else { values = []; return }
        guard body.count == 4 * shape.reduce(1, *) else {
            throw FormatError(description: "\(body.count) data bytes for shape \(shape)")
        }
        values = stride(from: body.startIndex, to: body.endIndex, by: 4).map { i in
            Float(bitPattern: UInt32(body[i]) | UInt32(body[i + 1]) << 8 | UInt32(body[i + 2]) << 16 | UInt32(body[i + 3]) << 24)
        }
    }
}
