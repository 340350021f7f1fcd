// spkv-bench: wall-clock benchmark of the embedding pipeline and of GEMM at the encoder's shapes.
// Printed, never asserted (STYLE.md §B7). See benchmarks/README.md for how to run it and for
// measured tables.
//
//     swift build -c release --scratch-path .build-bench --product spkv-bench
//     .build-bench/release/spkv-bench [--channels 512,1024,1024:1536] [--seconds 3,5,10]
//                                     [--repeats 20] [--warmup 3] [--load-repeats 5]
//                                     [--threads 1] [--model PATH] [--no-gemm] [--json]
//
// Per model (seeded random weights written to a real temporary model file, or --model PATH):
//   load      SpeakerModel.load(path:): read + CRC + tensor-table check + build front end and encoder
//   features  audio → normalised log-mel (Embedder.lastTimings)
//   encoder   log-mel → embedding (Embedder.lastTimings)
//   total     features + encoder (the load is a one-off and is reported on its own)
// for each audio length, then GEMM GFLOP/s at every distinct sgemm shape the encoder issues for 5 s.

import ArgumentParser
import Foundation
import SVKernels
import SpeakerVerification

// MARK: - Options

struct ModelSpec: Codable, CustomStringConvertible {
    var channels: Int
    var mfa: Int
    var description: String { "C=\(channels) MFA=\(mfa)" }

    /// "C" (MFA 3·C, SpeechBrain's convention) or "C:MFA".
    init?(_ text: Substring) {
        let parts = text.split(separator: ":")
        guard let c = Int(parts[0]), c > 0, c % 8 == 0, parts.count <= 2 else { return nil }
        channels = c
        if parts.count == 2 { guard let m = Int(parts[1]), m > 0 else { return nil }; mfa = m } else { mfa = 3 * c }
    }

    var config: ECAPAConfig {
        ECAPAConfig(inputSize: 80, channels: [channels, channels, channels, channels, mfa], embeddingSize: 192)
    }
}

struct Options {
    var models: [ModelSpec] = ["512", "1024", "1024:1536"].map { ModelSpec(Substring($0))! }
    var seconds: [Double] = [3, 5, 10]
    var repeats = 20
    var warmup = 3
    var loadRepeats = 5
    var threads = 1
    var modelPath: String? = nil
    var gemm = true
    /// Also time the int8 convolutions at the encoder's shapes.
    var int8 = false
    var json = false
    /// Only time GEMM at these (M, N, K) shapes.
    var gemmShapes: [(m: Int, n: Int, k: Int)] = []
}

/// The command line (ArgumentParser, like `spkv`): lists are comma-separated and checked in `validate`.
struct Arguments: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spkv-bench",
        abstract: "Wall-clock benchmark of the embedding pipeline (load, features, encoder) and of GEMM at the encoder's shapes.",
        discussion: "Printed, never asserted. `spkv-bench --gemm-shapes MxNxK,...` times only GEMM (C[M×N] += A[M×K]·B[K×N], row-major).")

    @Option(help: "Models to build with seeded random weights: C (MFA = 3·C) or C:MFA, comma-separated.")
    var channels = "512,1024,1024:1536"
    @Option(help: "Time this model file instead (no random models are built).") var model: String?
    @Option(help: "Audio lengths in seconds (≥ 0.5), comma-separated.") var seconds = "3,5,10"
    @Option(help: "Timed runs per length.") var repeats = 20
    @Option(help: "Untimed runs before them.") var warmup = 3
    @Option(name: .customLong("load-repeats"), help: "Timed model loads.") var loadRepeats = 5
    @Option(help: "OpenBLAS threads.") var threads = 1
    @Flag(name: .customLong("no-gemm"), help: "Skip the GEMM-at-model-shapes section.") var noGEMM = false
    @Flag(help: "Also time the int8 convolutions (quantise + pack + int8 GEMM) at the encoder's shapes.") var int8 = false
    @Flag(help: "Print one JSON object instead of tables.") var json = false
    @Option(name: .customLong("gemm-shapes"), help: "Only time GEMM at these MxNxK shapes, comma-separated.") var gemmShapes: String?

    func validate() throws {
        _ = try options()
    }

    /// The resolved options; a malformed list or a value out of range is a usage error.
    func options() throws -> Options {
        var o = Options()
        let specs = channels.split(separator: ",").map { ModelSpec($0) }
        guard !specs.isEmpty, specs.allSatisfy({ $0 != nil }) else { throw ValidationError("--channels: C or C:MFA, C a multiple of 8") }
        o.models = specs.map { $0! }
        let lengths = seconds.split(separator: ",").map { Double($0) }
        guard !lengths.isEmpty, lengths.allSatisfy({ ($0 ?? 0) >= 0.5 && ($0 ?? 0) <= 3600 }) else { throw ValidationError("--seconds: lengths from 0.5 to 3600") }
        o.seconds = lengths.map { $0! }
        for (value, name, range) in [(repeats, "--repeats", 1...100_000), (warmup, "--warmup", 0...100_000),
                                     (loadRepeats, "--load-repeats", 1...100_000), (threads, "--threads", 1...256)] {
            guard range.contains(value) else { throw ValidationError("\(name) must be from \(range.lowerBound) to \(range.upperBound)") }
        }
        o.repeats = repeats; o.warmup = warmup; o.loadRepeats = loadRepeats; o.threads = threads
        o.modelPath = model; o.gemm = !noGEMM; o.int8 = int8; o.json = json
        for item in gemmShapes?.split(separator: ",") ?? [] {
            let d = item.split(separator: "x").map { Int($0) }
            guard d.count == 3, d.allSatisfy({ ($0 ?? 0) > 0 && ($0 ?? 0) <= 1 << 20 }) else { throw ValidationError("--gemm-shapes: MxNxK, comma-separated") }
            o.gemmShapes.append((d[0]!, d[1]!, d[2]!))
        }
        return o
    }
}

// MARK: - Process and machine state

enum ProcessState {
    /// Resets the kernel's peak-RSS mark (VmHWM) of this process (Linux ≥ 4.0: clear_refs 5).
    static func resetPeakResident() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        do { try h.write(contentsOf: Data("5".utf8)) } catch { return false }
        return true
    }

    static func residentBytes() -> Int? { statusField("VmRSS:") }

    private static func statusField(_ key: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(key) {
            return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
        }
        return nil
    }

    /// The 1, 5 and 15 min load averages.
    static func loadAverage() -> [Double] {
        guard let s = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
        return s.split(separator: " ").prefix(3).compactMap { Double($0) }
    }

    static func cpuModel() -> String {
        guard let s = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in s.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        }
        return "unknown"
    }
}

// MARK: - Results

struct StageRow: Codable {
    let seconds: Double
    let frames: Int
    let features: SampleStatistics
    let encoder: SampleStatistics
    let total: SampleStatistics
    let realTimeFactor: Double
    let encoderGFLOPS: Double
    /// Peak RSS from just before a fresh load of the model through the timed runs at this length.
    let peakResidentBytes: Int?
    /// RSS just before that load (runtime, OpenBLAS, and anything the process held before).
    let residentBeforeLoad: Int?
}

struct GEMMRow: Codable {
    let layer: String
    let m: Int, n: Int, k: Int
    /// Calls per forward pass of 5 s of audio.
    let callsPerForward: Int
    let milliseconds: SampleStatistics
    let gflops: Double
    var millisecondsPerForward: Double { milliseconds.median * Double(callsPerForward) }
}

struct ModelReport: Codable {
    let name: String
    let path: String
    let config: ECAPAConfig
    let parameters: Int
    let fileBytes: Int
    let load: SampleStatistics
    let loadSamples: [Double]
    let stages: [StageRow]
    let gemm: [GEMMRow]
}

struct Report: Codable {
    let date: String
    let cpu: String
    let cores: Int
    let blasCore: String
    let blasThreads: Int
    let repeats: Int
    let warmup: Int
    let loadAverageBefore: [Double]
    let loadAverageAfter: [Double]
    var models: [ModelReport]
}

// MARK: - Measurements

func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
}

/// Writes a model with seeded random weights and SpeechBrain's front end to `path`.
func writeRandomModel(_ spec: ModelSpec, path: String) throws {
    let config = spec.config
    let values = config.randomTensors(seed: 20_261_125)
    var tensors: [String: (shape: [Int], values: [Float])] = [:]
    for (name, shape) in config.tensorTable { tensors[name] = (shape, values[name]!) }
    let file = try SpeakerModel.makeFile(config: config, features: .speechbrain, encoderTensors: tensors,
                                         producer: "spkv-bench (random weights, seed 20261125)",
                                         training: ["method": "random"])
    try file.write(path: path)
}

/// Times every stage at each audio length. Before each length the peak-RSS mark is reset and the
/// model is loaded afresh, so the RSS column covers load + embedding at that length (plus whatever
/// the process held before: `residentBeforeLoad`). `loadRepeats` more loads follow for the load time.
func measureStages(path: String, options: Options) throws -> (loads: [Double], rows: [StageRow], model: SpeakerModel) {
    var loads: [Double] = []
    var model: SpeakerModel! = nil
    var rows: [StageRow] = []
    for seconds in options.seconds {
        model = nil
        let canReset = ProcessState.resetPeakResident()
        let before = ProcessState.residentBytes()
        try loads.append(milliseconds { model = try SpeakerModel.load(path: path) })
        let r = try PipelineBenchmark.run(model: model, seconds: seconds, threads: options.threads,
                                          repeats: options.repeats, warmup: options.warmup)
        let frames = model.features.frameCount(samples: Int(seconds * Double(model.features.sampleRate)))
        rows.append(StageRow(seconds: seconds, frames: frames, features: r.featuresMilliseconds,
                             encoder: r.encoderMilliseconds, total: r.totalMilliseconds,
                             realTimeFactor: r.realTimeFactor, encoderGFLOPS: r.encoderGFLOPS,
                             peakResidentBytes: canReset ? r.peakResidentBytes : nil, residentBeforeLoad: before))
    }
    for _ in 0..<options.loadRepeats {
        model = nil
        try loads.append(milliseconds { model = try SpeakerModel.load(path: path) })
    }
    return (loads, rows, model)
}

/// Runs `spkv-bench --model PATH --seconds S … --json` in a fresh process, so that its peak RSS is
/// that of one load + one audio length and nothing else (model generation, other lengths).
func measureInChild(path: String, seconds: Double, options: Options) throws -> ModelReport {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    child.arguments = ["--model", path, "--seconds", "\(seconds)", "--repeats", "\(options.repeats)",
                       "--warmup", "\(options.warmup)", "--load-repeats", "\(options.loadRepeats)",
                       "--threads", "\(options.threads)", "--no-gemm", "--json"]
    let pipe = Pipe()
    child.standardOutput = pipe
    try child.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    child.waitUntilExit()
    guard child.terminationStatus == 0 else { throw BenchError("child run for \(path) at \(seconds) s failed") }
    let report = try JSONDecoder().decode(Report.self, from: data)
    guard let model = report.models.first else { throw BenchError("child run for \(path) returned no model") }
    return model
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The distinct sgemm calls `ECAPAEncoder` issues for `frames` frames (C = M×N, A = M×K, B = K×N).
/// Matrix–vector products (n = 1: SE, global context, embedding) are listed too; they are tiny.
func encoderGEMMShapes(_ c: ECAPAConfig, frames t: Int) -> [(layer: String, m: Int, n: Int, k: Int, calls: Int)] {
    let ch = c.blockChannels, w = ch / c.res2netScale, cm = c.mfaChannels, a = c.attentionChannels
    var shapes: [(String, Int, Int, Int, Int)] = [
        ("first conv k\(c.kernelSizes[0]) (im2col)", ch, t, c.inputSize * c.kernelSizes[0], 1),
        ("1×1 conv C×C (tdnn1, tdnn2)", ch, t, ch, 6),
        ("Res2Net k\(c.kernelSizes[1]) C/\(c.res2netScale)×\(c.kernelSizes[1])C/\(c.res2netScale)", w, t, w * c.kernelSizes[1], 3 * (c.res2netScale - 1)),
        ("MFA 1×1", cm, t, 3 * ch, 1),
        ("attention 1×1 (x part)", a, t, cm, 1),
        ("attention out 1×1", cm, t, a, 1),
        ("SE reduce (n=1)", c.seChannels, 1, ch, 3),
        ("SE expand (n=1)", ch, 1, c.seChannels, 3),
        ("embedding (n=1)", c.embeddingSize, 1, 2 * cm, 1),
    ]
    if c.globalContext { shapes.insert(("attention context (n=1)", a, 1, 2 * cm, 1), at: 6) }
    return shapes
}

/// GEMM alone at one shape (beta 1 as in the encoder, where the bias is pre-filled): median over
/// batches of back-to-back calls, each batch at least ~2 ms. One element of B changes per call.
func measureGEMM(m: Int, n: Int, k: Int, samples: Int = 15) -> SampleStatistics {
    var rng = SplitMix64(seed: UInt64(m * 1_000_003 + n * 1009 + k))
    let a = AlignedBuffer(count: m * k), b = AlignedBuffer(count: k * n), c = AlignedBuffer(count: m * n)
    for i in 0..<a.count { a.pointer[i] = rng.nextFloat() - 0.5 }
    for i in 0..<b.count { b.pointer[i] = rng.nextFloat() - 0.5 }
    var tick = 0
    func call() {
        b.pointer[tick % b.count] += 1e-7
        tick += 1
        gemm(.none, .none, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n, beta: 1, c: c.pointer, ldc: n)
    }
    for _ in 0..<3 { call() }
    let once = milliseconds { call() }
    let inner = max(1, min(10_000, Int(2.0 / max(once, 1e-4))))
    var times: [Double] = []
    for _ in 0..<samples {
        times.append(milliseconds { for _ in 0..<inner { call() } } / Double(inner))
    }
    // Keep the result observable.
    if c.pointer[0].isNaN { print("") }
    return SampleStatistics(times)
}

func measureGEMMShapes(_ config: ECAPAConfig, frames: Int) -> [GEMMRow] {
    encoderGEMMShapes(config, frames: frames).map { s in
        let stats = measureGEMM(m: s.m, n: s.n, k: s.k)
        let flops = 2.0 * Double(s.m * s.n * s.k)
        return GEMMRow(layer: s.layer, m: s.m, n: s.n, k: s.k, callsPerForward: s.calls, milliseconds: stats,
                       gflops: flops / (stats.median / 1000) / 1e9)
    }
}

/// The int8 convolution (input quantise + pack, then the int8 GEMM) at the encoder's int8 shapes for
/// `frames` frames, with the packing alone timed too: (layer, in, out, kernel, calls, pack ms, total ms).
func measureInt8Convolutions(_ c: ECAPAConfig, frames t: Int) -> [(layer: String, m: Int, k: Int, calls: Int, pack: Double, total: Double)] {
    let ch = c.blockChannels, w = ch / c.res2netScale
    let convs: [(String, Int, Int, Int, Int, Int)] = [   // name, in, out, kernel, dilation, calls
        ("first conv k\(c.kernelSizes[0])", c.inputSize, ch, c.kernelSizes[0], 1, 1),
        ("1×1 conv C×C (tdnn1, tdnn2)", ch, ch, 1, 1, 6),
        ("Res2Net k\(c.kernelSizes[1])", w, w, c.kernelSizes[1], 2, 3 * (c.res2netScale - 1)),
        ("MFA 1×1", 3 * ch, c.mfaChannels, 1, 1, 1),
    ]
    return convs.map { name, cin, cout, kernel, dilation, calls in
        var rng = SplitMix64(seed: UInt64(cin * 7 + cout))
        let weights = AlignedBuffer(count: cout * cin * kernel), x = AlignedBuffer(count: cin * t), y = AlignedBuffer(count: cout * t)
        let bias = AlignedBuffer(count: cout)
        for i in 0..<weights.count { weights.pointer[i] = rng.nextFloat() - 0.5 }
        for i in 0..<x.count { x.pointer[i] = rng.nextFloat() * 4 - 2 }
        let q = Int8ConvWeights(outChannels: cout, inChannels: cin, kernel: kernel, dilation: dilation,
                                floatWeights: weights.pointer, inputScale: 2 / 127)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: q.packedBytes(frames: t), alignment: 64)
        defer { packed.deallocate() }
        var tick = 0
        func median(_ body: () -> Void) -> Double {
            for _ in 0..<3 { body() }
            var times: [Double] = []
            for _ in 0..<15 { times.append(milliseconds { for _ in 0..<5 { body() } } / 5) }
            return SampleStatistics(times).median
        }
        let total = median {
            x.pointer[tick % x.count] += 1e-3; tick += 1
            q.forward(x.pointer, frames: t, padding: .reflect, bias: bias.pointer, into: y.pointer, packed: packed)
        }
        let pack = median {
            x.pointer[tick % x.count] += 1e-3; tick += 1
            q.packOnly(x.pointer, frames: t, padding: .reflect, packed: packed)
        }
        if y.pointer[0].isNaN { print("") }
        return (name, cout, cin * kernel, calls, pack, total)
    }
}

// MARK: - Printing

func mib(_ bytes: Int?) -> String { bytes.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? "n/a" }
/// Left-justifies `s` in `width` characters (`%-N@` does not pad on Linux Foundation).
func padded(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
func pair(_ s: SampleStatistics) -> String { String(format: "%8.2f /%8.2f", s.median, s.p90) }

func printTables(_ report: Report) {
    print("spkv-bench  \(report.date)")
    print("cpu: \(report.cpu), \(report.cores) cores; OpenBLAS core \(report.blasCore), \(report.blasThreads) BLAS thread(s)")
    print("load average before: \(report.loadAverageBefore.map { String(format: "%.2f", $0) }.joined(separator: " ")), " +
          "after: \(report.loadAverageAfter.map { String(format: "%.2f", $0) }.joined(separator: " "))")
    print("\(report.repeats) timed runs per length after \(report.warmup) warm-up runs; times in ms, median / p90")
    for m in report.models {
        print("")
        print("== \(m.name): \(m.parameters) parameters, file \(mib(m.fileBytes)) MiB (\(m.path))")
        print(String(format: "load (read + CRC + check + build; file in the page cache), %d loads: median %.2f ms, p90 %.2f ms, min %.2f ms",
                     m.load.count, m.load.median, m.load.p90, m.load.min))
        print("audio  frames |   features med/p90 |    encoder med/p90 |      total med/p90 |    RTF  | enc GFLOP/s | peak RSS MiB (before load)")
        for r in m.stages {
            let rss = (r.peakResidentBytes.map { String(format: "%12.1f", Double($0) / 1_048_576) } ?? "         n/a")
                + " (\(mib(r.residentBeforeLoad)))"
            print(String(format: "%4.0f s %7d | %@ | %@ | %@ | %.4f | %11.1f | ",
                         r.seconds, r.frames, pair(r.features), pair(r.encoder), pair(r.total), r.realTimeFactor,
                         r.encoderGFLOPS) + rss)
        }
        guard !m.gemm.isEmpty else { continue }
        print("GEMM alone at the encoder's shapes for 5 s (C[M×N] += A[M×K]·B[K×N], row-major, beta 1):")
        print("layer                              |     M |    N |     K | calls | ms/call (med) | GFLOP/s | ms per forward")
        for g in m.gemm {
            print(padded(g.layer, 34) + String(format: " | %5d | %4d | %5d | %5d | %13.4f | %7.1f | %8.3f",
                         g.m, g.n, g.k, g.callsPerForward, g.milliseconds.median, g.gflops, g.millisecondsPerForward))
        }
        if options.int8 {
            let config = m.config
            print("int8 convolution alone (quantise+pack, then VNNI/portable int8 GEMM: \(Int8Kernel.current)) at the encoder's int8 shapes for 5 s:")
            print("layer                              |     M |     K | calls | pack ms | total ms/call | GOP/s | ms per forward")
            var sum8 = 0.0
            for r in measureInt8Convolutions(config, frames: 501) {
                let gops = 2.0 * Double(r.m * r.k * 501) / (r.total / 1000) / 1e9
                sum8 += r.total * Double(r.calls)
                print(padded(r.layer, 34) + String(format: " | %5d | %5d | %5d | %7.3f | %13.3f | %5.0f | %8.3f",
                                                   r.m, r.k, r.calls, r.pack, r.total, gops, r.total * Double(r.calls)))
            }
            print(String(format: "sum of int8 convolutions alone: %.2f ms per forward", sum8))
        }
        let sum = m.gemm.reduce(0) { $0 + $1.millisecondsPerForward }
        if let five = m.stages.first(where: { $0.seconds == 5 }) {
            print(String(format: "sum of GEMM alone: %.2f ms per forward = %.0f %% of the encoder's median %.2f ms at 5 s",
                         sum, 100 * sum / five.encoder.median, five.encoder.median))
        } else {
            print(String(format: "sum of GEMM alone: %.2f ms per forward", sum))
        }
    }
}

// MARK: - Main

let options: Options
do { options = try Arguments.parseOrExit().options() } catch { Arguments.exit(withError: error) }
BLAS.setThreads(options.threads)
if !options.gemmShapes.isEmpty {
    print("GEMM alone, \(BLAS.threads) BLAS thread(s) (\(BLAS.coreName)); load average \(ProcessState.loadAverage())")
    print("    M |     N |     K | ms/call med |     p90 | GFLOP/s (med)")
    for s in options.gemmShapes {
        let t = measureGEMM(m: s.m, n: s.n, k: s.k)
        print(String(format: "%5d | %5d | %5d | %11.4f | %7.4f | %7.1f", s.m, s.n, s.k, t.median, t.p90,
                     2.0 * Double(s.m * s.n * s.k) / (t.median / 1000) / 1e9))
    }
    exit(0)
}
let loadBefore = ProcessState.loadAverage()
let formatter = ISO8601DateFormatter()
var report = Report(date: formatter.string(from: Date()), cpu: ProcessState.cpuModel(),
                    cores: ProcessInfo.processInfo.activeProcessorCount, blasCore: BLAS.coreName,
                    blasThreads: BLAS.threads, repeats: options.repeats, warmup: options.warmup,
                    loadAverageBefore: loadBefore, loadAverageAfter: [], models: [])

do {
    let tempDir = FileManager.default.temporaryDirectory
        .appendingPathComponent("spkv-bench-\(ProcessInfo.processInfo.processIdentifier)")
    defer { try? FileManager.default.removeItem(at: tempDir) }
    var jobs: [(name: String, path: String)] = []
    if let path = options.modelPath {
        jobs = [(path, path)]
    } else {
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
        for spec in options.models {
            let path = tempDir.appendingPathComponent("ecapa-c\(spec.channels)-mfa\(spec.mfa).safetensors").path
            try writeRandomModel(spec, path: path)
            jobs.append((spec.description, path))
        }
    }
    for job in jobs {
        if !options.json { FileHandle.standardError.write(Data("timing \(job.name) …\n".utf8)) }
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: job.path)[.size] as? Int) ?? 0
        let config: ECAPAConfig, loads: [Double], rows: [StageRow], frames5: Int
        if options.modelPath != nil {
            // One process: lengths one after another, peak RSS reset before each.
            let m = try measureStages(path: job.path, options: options)
            guard let ecapa = m.model.ecapaConfig else {
                FileHandle.standardError.write(Data("spkv-bench: the stage breakdown is ECAPA-TDNN's; time a \(m.model.encoder.architecture) model with `spkv bench`\n".utf8))
                exit(2)
            }
            (config, loads, rows) = (ecapa, m.loads, m.rows)
            frames5 = m.model.features.frameCount(samples: 5 * m.model.features.sampleRate)
        } else {
            // A fresh process per length; GEMM is timed here.
            let children = try options.seconds.map { try measureInChild(path: job.path, seconds: $0, options: options) }
            config = children[0].config
            loads = children.flatMap(\.loadSamples)
            rows = children.flatMap(\.stages)
            frames5 = FeatureConfig.speechbrain.frameCount(samples: 5 * FeatureConfig.speechbrain.sampleRate)
        }
        let gemmRows = options.gemm ? measureGEMMShapes(config, frames: frames5) : []
        report.models.append(ModelReport(name: job.name, path: job.path, config: config,
                                         parameters: config.parameterCount, fileBytes: fileBytes,
                                         load: SampleStatistics(loads), loadSamples: loads, stages: rows, gemm: gemmRows))
    }
} catch {
    FileHandle.standardError.write(Data("spkv-bench: \(error)\n".utf8))
    exit(1)
}
report = Report(date: report.date, cpu: report.cpu, cores: report.cores, blasCore: report.blasCore,
                blasThreads: report.blasThreads, repeats: report.repeats, warmup: report.warmup,
                loadAverageBefore: loadBefore, loadAverageAfter: ProcessState.loadAverage(), models: report.models)

if options.json {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: (try? encoder.encode(report)) ?? Data(), as: UTF8.self))
} else {
    printTables(report)
}
