import ArgumentParser
import Foundation
import SpeakerVerification
import SVKernels

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the front end and the encoder of a model on S seconds of synthetic speech-like audio.",
        discussion: "Reports medians and p90 over the repeated runs (after warm-up), the real-time factor and GFLOP/s.")

    @OptionGroup var modelOption: ModelOption
    @Option(help: "Seconds of audio per run.") var seconds = 5.0
    @Option(help: "OpenBLAS threads.") var threads = 1
    @Option(help: "Timed runs (after 2 warm-up runs).") var repeats = 20
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        try checkRange(seconds, 0.5...600, "--seconds", unit: " s")
        try checkRange(threads, OptionRange.threads, "--threads")
        try checkRange(repeats, 1...100_000, "--repeats")
    }

    func run() throws {
        try reportingErrors {
            var clock = Stopwatch()
            let model = try SpeakerModel.load(path: modelOption.model)
            let loadMilliseconds = clock.lap()   // read, CRC, tensor-table check, front end and encoder built
            let r = try PipelineBenchmark.run(model: model, seconds: seconds, threads: threads, repeats: repeats)
            if json {
                let object: [String: Any] = [
                    "model": modelOption.model, "load_ms": loadMilliseconds, "seconds": seconds, "threads": threads, "repeats": repeats,
                    "features_ms": r.featuresMilliseconds.median, "encoder_ms": r.encoderMilliseconds.median,
                    "total_ms": r.totalMilliseconds.median, "total_p90_ms": r.totalMilliseconds.p90,
                    "encoder_p90_ms": r.encoderMilliseconds.p90, "encoder_p99_ms": r.encoderMilliseconds.p99,
                    "total_p99_ms": r.totalMilliseconds.p99, "realtime_factor": r.realTimeFactor,
                    "encoder_gflops": r.encoderGFLOPS, "peak_rss_bytes": r.peakResidentBytes ?? -1,
                    "blas_core": BLAS.coreName, "quantization": model.quantization.kind.rawValue,
                    "int8_kernel": model.encoder.isQuantized ? "\(Int8Kernel.current)" : NSNull(),
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            func row(_ name: String, _ s: SampleStatistics) -> String {
                String(format: "%-9@ median %8.3f ms   p90 %8.3f ms   p99 %8.3f ms   min %8.3f ms", name, s.median, s.p90, s.p99, s.min)
            }
            print("model \(modelOption.model): \(model.encoder.parameterCount) parameters, \(seconds) s of audio, " +
                  "\(threads) BLAS thread(s) (\(BLAS.coreName)), \(repeats) runs" +
                  (model.encoder.isQuantized ? ", int8 kernel \(Int8Kernel.current)" : "") +
                  String(format: "; loaded in %.1f ms", loadMilliseconds))
            print(row("features", r.featuresMilliseconds))
            print(row("encoder", r.encoderMilliseconds))
            print(row("total", r.totalMilliseconds))
            print(String(format: "real-time factor %.4f, encoder %.1f GFLOP/s, peak RSS %.1f MiB", r.realTimeFactor,
                         r.encoderGFLOPS, Double(r.peakResidentBytes ?? 0) / 1_048_576))
        }
    }
}
