import ArgumentParser
import Foundation
import SVTraining

/// `spkv-train bench`: training-step throughput on random features (no data loading).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training steps (forward, backward, Adam) on random features; prints median, p99 and audio-s/s.",
        discussion: """
        Takes the same config keys as train (--config, --set); the corpus is not read. Compare with \
        tools/reference/training_throughput.py, which times the same step in PyTorch.
        """)

    @Option(name: .long, help: "JSON config file.") var config: String?
    @Option(name: .customLong("set"), help: "Override a config key: key=value (repeatable; model.KEY for the model).")
    var overrides: [String] = []
    @Option(name: .long, help: "Thread counts to measure, comma separated.") var threads: String = "1,2"
    @Option(name: .long, help: "Timed steps per thread count.") var steps: Int = 10
    @Option(name: .long, help: "Untimed steps first.") var warmup: Int = 2
    @Flag(name: .long, help: "One JSON object per line instead of the table.") var json = false

    func run() throws {
        let parsed = threads.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0.map { (1...256).contains($0) } ?? false }) else {
            throw ValidationError("--threads: counts from 1 to 256, comma-separated, e.g. 1,2; got \(threads)")
        }
        let threadCounts = parsed.map { $0! }
        try checkRange(steps, 1...100_000, "--steps")
        try checkRange(warmup, 0...100_000, "--warmup")
        var text: String?
        if let config {
            guard let t = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw TrainingError.configFile(path: config, reason: "cannot read the file")
            }
            text = t
        }
        if !json { print("method         C  batch  crop  threads  median ms    p99 ms  audio-s/s  peak RSS MB") }
        for t in threadCounts {
            let c = try TrainingConfig.resolve(fileText: text, filePath: config ?? "config", overrides: overrides + ["threads=\(t)"])
            let r = TrainingStepBenchmark.run(config: c, warmup: warmup, steps: steps)
            if json {
                let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
                print(String(decoding: try enc.encode(r), as: UTF8.self))
            } else {
                print(r.method.padding(toLength: 13, withPad: " ", startingAt: 0) + String(format: " %4d  %5d  %4.1f  %7d  %9.1f  %8.1f  %9.1f  %11.0f", r.channels,
                             r.batchSize, r.cropSeconds, r.threads, r.step.median, r.step.p99, r.audioSecondsPerSecond,
                             Double(r.peakResidentBytes ?? 0) / 1048576))
            }
        }
    }
}
