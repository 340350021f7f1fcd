// spkv-live-bench: live verification latency, replaying a recording at real-time pace through the
// library's `LiveSession`, exactly as `spkv verify --live` runs it (alsa-lib `file` plugin device → capture
// thread → ring → LiveSession: resampling when --capture-rate differs from the model's rate → LiveVerifier
// on its worker). Printed, never asserted.
//
//     swift build -c release --product spkv-live-bench
//     .build/release/spkv-live-bench [--channels 512] [--model PATH] [--audio WAV] [--seconds 20]
//                                    [--window 3] [--refresh 0.25] [--threads 1] [--capture-rate HZ]
//
// Reports per refresh: compute time (embedding + scoring of the window), end-to-end delay (from the
// moment the window's last sample was due from the device to the decision), real-time factor of the
// compute, process CPU use, peak RSS, refreshes the worker skipped, and heap allocations per thread
// after the first 3 s (capture thread: per period, alsa-lib's plugin code included; audio side:
// draining + resampling + streaming features + VAD + hand-over; scoring worker: per refresh).
// A random-weight model of the given width is used unless --model.

import ArgumentParser
import Foundation
import Synchronization
import _SVAllocationProbe
import SVKernels
import SVALSA
import SVStreaming
import SpeakerVerification

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spkv-live-bench",
        abstract: "Live verification latency: a recording replayed at real-time pace through LiveSession, as spkv verify --live runs it.")
    @Option(help: "ECAPA-TDNN width of the random-weight model (without --model).") var channels = 512
    @Option(help: "Model file (default: random weights at --channels).") var model: String?
    @Option(help: "Recording to replay, looped (default: speech-like noise bursts).") var audio: String?
    @Option(help: "Seconds of audio to replay.") var seconds = 20.0
    @Option(help: "Analysis window in seconds.") var window = 3.0
    @Option(help: "Seconds between two refreshes.") var refresh = 0.25
    @Option(help: "OpenBLAS threads.") var threads = 1
    @Option(name: .customLong("capture-rate"), help: "Rate of the replayed device (Hz); the session resamples it to the model's.")
    var captureRate: Int?

    func validate() throws {
        guard (8...4096).contains(channels), channels % 8 == 0 else { throw ValidationError("--channels must be a multiple of 8 from 8 to 4096") }
        guard (4...3600).contains(seconds) else { throw ValidationError("--seconds must be from 4 to 3600") }
        guard (0.5...60).contains(window) else { throw ValidationError("--window must be from 0.5 to 60 s") }
        guard refresh >= 0.01, refresh <= window else { throw ValidationError("--refresh must be from 0.01 s to --window") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be from 1 to 64") }
        if let captureRate, !(8_000...192_000).contains(captureRate) { throw ValidationError("--capture-rate must be from 8000 to 192000 Hz") }
    }
}
let options = Options.parseOrExit()
let (channels, seconds, window, refresh, threads) = (options.channels, options.seconds, options.window, options.refresh, options.threads)
let modelPath = options.model, audioPath = options.audio
BLAS.setThreads(threads)
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spkv-live-bench-\(getpid())")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }

// Model: given, or seeded random weights at C = channels (MFA 3·C, 80 mels).
let model: SpeakerModel
if let modelPath { model = try SpeakerModel.load(path: modelPath) } else {
    let config = ECAPAConfig(inputSize: 80, channels: [channels, channels, channels, channels, 3 * channels], embeddingSize: 192)
    let values = config.randomTensors(seed: 20_261_125)
    var tensors: [String: (shape: [Int], values: [Float])] = [:]
    for (name, shape) in config.tensorTable { tensors[name] = (shape, values[name]!) }
    let file = try SpeakerModel.makeFile(config: config, features: .speechbrain, encoderTensors: tensors, producer: "spkv-live-bench")
    model = try SpeakerModel(file: file)
}
let rate = model.features.sampleRate

// Audio: the given recording or speech-like noise bursts, looped to `seconds`, as raw S16_LE for the file plugin.
var audio: [Float]
if let audioPath { audio = try AudioFile.readMono(path: audioPath, sampleRate: rate).samples } else {
    var rng = SplitMix64(seed: 7)
    audio = (0..<(rate * 4)).map { i in (rng.nextFloat() - 0.5) * (((i / 4000) % 3 == 2) ? 0.01 : 0.5) }
}
let total = Int(seconds * Double(rate))
let captureRate = options.captureRate ?? rate
// The device replays `seconds` at its own rate (plus a little, so the session's limit, not the file, ends it).
var looped = (0..<(total + rate / 2)).map { audio[$0 % audio.count] }
if captureRate != rate {
    var r = Resampler(inputRate: rate, outputRate: captureRate)
    var out: [Float] = []
    looped.withUnsafeBufferPointer { r.push($0, appendingTo: &out) }
    r.finish(appendingTo: &out)
    looped = out
}
let raw = looped.map { Int16(max(-32768, min(32767, ($0 * 32768).rounded()))) }
let rawPath = dir.appendingPathComponent("in.s16le").path
try raw.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: rawPath))
let configuration = "pcm.bench { type file slave.pcm { type null } file \"/dev/null\" infile \"\(rawPath)\" format \"raw\" }"

// A profile from the first 3 s, and a fixed threshold (the model may be uncalibrated).
let profile = try Enrollment.enroll(name: "bench", recordings: [("bench", Array(audio.prefix(3 * rate)))],
                                    model: model, minimumSpeechSeconds: 0)
var settings = LiveSettings()
settings.windowSeconds = window; settings.refreshSeconds = refresh; settings.threshold = 0.5; settings.minimumSpeechSeconds = 0

/// Allocations a thread made from `warm` on: the counter's value at the warm-up mark and now.
final class AllocationMeter: @unchecked Sendable {
    let atWarm = Atomic<Int>(-1), now = Atomic<Int>(0), events = Atomic<Int>(0)
    func record(warm: Bool) {
        let count = Int(spkv_thread_allocations())
        if warm && atWarm.load(ordering: .relaxed) < 0 { atWarm.store(count, ordering: .relaxed) }
        now.store(count, ordering: .relaxed)
        if atWarm.load(ordering: .relaxed) >= 0 { events.add(1, ordering: .relaxed) }
    }
    var afterWarmUp: Int { max(0, now.load(ordering: .relaxed) - max(0, atWarm.load(ordering: .relaxed))) }
    var eventsAfterWarmUp: Int { max(1, events.load(ordering: .relaxed) - 1) }
}
let warmSamples = min(total / 2, 3 * rate)
let captureMeter = AllocationMeter(), workerMeter = AllocationMeter(), audioMeter = AllocationMeter()

/// The capture stream, metering the audio side's allocations at each read (each read follows the previous push).
final class MeteredSource: LiveAudioSource {
    let inner: CaptureStream
    let meter: AllocationMeter
    let warmSamples: Int
    var delivered = 0
    init(_ inner: CaptureStream, meter: AllocationMeter, warmSamples: Int) { self.inner = inner; self.meter = meter; self.warmSamples = warmSamples }
    var sampleRate: Int { inner.sampleRate }
    func read(into buffer: UnsafeMutableBufferPointer<Float>) -> Int {
        meter.record(warm: delivered >= warmSamples)
        let n = inner.read(into: buffer)
        delivered += n
        return n
    }
    var failureDescription: String? { inner.failureDescription }
    var disconnections: Int { inner.disconnections }
    var reconnections: Int { inner.reconnections }
    func stop() { inner.stop() }
}

let cpu0 = ProcessCPU.seconds()
let stream = try CaptureStream.alsa(device: "bench", configuration: configuration, sampleRate: captureRate, pacedByClock: true, onPeriod: {
    captureMeter.record(warm: audioMeter.atWarm.load(ordering: .relaxed) >= 0)
})
guard stream.sampleRate == captureRate else { fatalError("the file plugin device opened at \(stream.sampleRate) Hz, not \(captureRate)") }
let start = DispatchTime.now().uptimeNanoseconds
nonisolated(unsafe) var compute: [Double] = [], delays: [Double] = []
compute.reserveCapacity(Int(seconds / refresh) + 8); delays.reserveCapacity(Int(seconds / refresh) + 8)
let session = try LiveSession(model: model, profile: profile, profilePath: "bench", settings: settings, inputRate: captureRate,
                              maximumSeconds: seconds, expectedSeconds: seconds) { u in
    compute.append(u.computeMilliseconds)
    let now = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    delays.append(now - u.time * 1000)
    workerMeter.record(warm: u.time * Double(rate) >= Double(warmSamples))
}
try session.run(source: MeteredSource(stream, meter: audioMeter, warmSamples: warmSamples * captureRate / rate))
// The worker's pending refresh is scored; the verdict on the whole replay (a batch embedding) is not timed here.
let verifier = session.verifier!
verifier.stopWorker()
let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
let cpu = ProcessCPU.seconds() - cpu0
let c = SampleStatistics(compute), d = SampleStatistics(delays)
print("model: \(model.encoder.architecture) (\(model.encoder.parameterCount) parameters), \(threads) BLAS thread(s), window \(window) s, refresh \(refresh) s, device \(captureRate) Hz → \(rate) Hz")
print(String(format: "replayed %.1f s in %.1f s (paced); %d refreshes scored, %d skipped; %d samples dropped, %d device overruns", seconds, wall, compute.count, verifier.skippedRefreshes, stream.droppedSamples, stream.deviceOverruns))
print(String(format: "refresh compute   median %7.2f ms  p99 %7.2f ms  max %7.2f ms  (%.1f %% of the refresh interval at p99)", c.median, c.p99, c.max, c.p99 / (refresh * 10)))
print(String(format: "end-to-end delay  median %7.2f ms  p99 %7.2f ms  (window's last sample due → decision)", d.median, d.p99))
print(String(format: "heap allocations after %.0f s: capture thread %d (%.3f per period, alsa-lib included), audio side %d, scoring worker %.1f per refresh (OpenBLAS sgemm calls allocate)",
             Double(warmSamples) / Double(rate), captureMeter.afterWarmUp, Double(captureMeter.afterWarmUp) / Double(captureMeter.eventsAfterWarmUp),
             audioMeter.afterWarmUp, Double(workerMeter.afterWarmUp) / Double(workerMeter.eventsAfterWarmUp)))
print(String(format: "real-time factor of compute %.3f; process CPU %.1f %% of one core; peak RSS %.1f MiB",
             compute.reduce(0, +) / 1000 / seconds, 100 * cpu / wall, Double(peakResidentBytes() ?? 0) / 1_048_576))
