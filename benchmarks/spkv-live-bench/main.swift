// spkv-live-bench: live verification latency, replaying a recording at real-time pace through the
// same path as `spkv verify --live` (alsa-lib `file` plugin device → capture thread → ring →
// LiveVerifier). Printed, never asserted.
//
//     swift build -c release --product spkv-live-bench
//     .build/release/spkv-live-bench [--channels 512] [--model PATH] [--audio WAV] [--seconds 20]
//                                    [--window 3] [--refresh 0.25] [--threads 1]
//
// Reports per refresh: compute time (embedding + scoring of the window), end-to-end delay (from the
// moment the window's last sample was due from the device to the decision), real-time factor of the
// compute, process CPU use, peak RSS, refreshes the worker skipped, and heap allocations per thread
// after the first 3 s (capture thread: per period, alsa-lib's plugin code included; audio side:
// draining + streaming features + VAD + hand-over; scoring worker: per refresh).
// A random-weight model of the given width is used unless --model.

import Foundation
import Synchronization
import _SVAllocationProbe
import SVKernels
import SVStreaming
import SpeakerVerification

var channels = 512, seconds = 20.0, window = 3.0, refresh = 0.25, threads = 1
var modelPath: String?, audioPath: String?
var args = CommandLine.arguments.dropFirst()
while let flag = args.popFirst() {
    guard let value = args.popFirst() else { fatalError("\(flag) needs a value") }
    switch flag {
    case "--channels": channels = Int(value)!
    case "--model": modelPath = value
    case "--audio": audioPath = value
    case "--seconds": seconds = Double(value)!
    case "--window": window = Double(value)!
    case "--refresh": refresh = Double(value)!
    case "--threads": threads = Int(value)!
    default: fatalError("unknown option \(flag)")
    }
}
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
var raw = [Int16](repeating: 0, count: total)
for i in 0..<total { raw[i] = Int16(max(-32768, min(32767, (audio[i % audio.count] * 32768).rounded()))) }
let rawPath = dir.appendingPathComponent("in.s16le").path
try raw.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: rawPath))
let configuration = "pcm.bench { type file slave.pcm { type null } file \"/dev/null\" infile \"\(rawPath)\" format \"raw\" }"

// A profile from the first 3 s, and a fixed threshold (the model may be uncalibrated).
let profile = try Enrollment.enroll(name: "bench", recordings: [("bench", Array(raw.prefix(3 * rate).map { Float($0) / 32768 }))],
                                    model: model, minimumSpeechSeconds: 0)
var settings = LiveSettings()
settings.windowSeconds = window; settings.refreshSeconds = refresh; settings.threshold = 0.5; settings.minimumSpeechSeconds = 0
let verifier = try LiveVerifier(model: model, profile: profile, profilePath: "bench", settings: settings, expectedSeconds: seconds)

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

let cpu0 = ProcessCPU.seconds()
let stream = try CaptureStream(ringCapacity: 4 * rate, pacedByClock: true, onPeriod: {
    captureMeter.record(warm: audioMeter.atWarm.load(ordering: .relaxed) >= 0)
}) { () throws(CaptureError) in
    try ALSACapture(device: "bench", configuration: configuration, sampleRate: rate)
}
let start = DispatchTime.now().uptimeNanoseconds
nonisolated(unsafe) var compute: [Double] = [], delays: [Double] = []
compute.reserveCapacity(Int(seconds / refresh) + 8); delays.reserveCapacity(Int(seconds / refresh) + 8)
verifier.startWorker { u in
    compute.append(u.computeMilliseconds)
    let now = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    delays.append(now - u.time * 1000)
    workerMeter.record(warm: u.time * Double(rate) >= Double(warmSamples))
}
var chunk = [Float](repeating: 0, count: rate / 100)
var consumed = 0
while consumed < total {
    let n = chunk.withUnsafeMutableBufferPointer { stream.ring.read(into: UnsafeMutableBufferPointer(rebasing: $0[0..<min($0.count, total - consumed)])) }
    if n == 0 { usleep(1_000); continue }
    consumed += n
    chunk.withUnsafeBufferPointer { verifier.ingest(UnsafeBufferPointer(rebasing: $0[0..<n])) }
    audioMeter.record(warm: consumed >= warmSamples)
}
verifier.stopWorker()
let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
stream.stop()
let cpu = ProcessCPU.seconds() - cpu0
let c = SampleStatistics(compute), d = SampleStatistics(delays)
print("model: \(model.encoder.architecture) (\(model.encoder.parameterCount) parameters), \(threads) BLAS thread(s), window \(window) s, refresh \(refresh) s")
print(String(format: "replayed %.1f s in %.1f s (paced); %d refreshes scored, %d skipped; %d samples dropped, %d device overruns", seconds, wall, compute.count, verifier.skippedRefreshes, stream.droppedSamples, stream.deviceOverruns))
print(String(format: "refresh compute   median %7.2f ms  p99 %7.2f ms  max %7.2f ms  (%.1f %% of the refresh interval at p99)", c.median, c.p99, c.max, c.p99 / (refresh * 10)))
print(String(format: "end-to-end delay  median %7.2f ms  p99 %7.2f ms  (window's last sample due → decision)", d.median, d.p99))
print(String(format: "heap allocations after %.0f s: capture thread %d (%.3f per period, alsa-lib included), audio side %d, scoring worker %.1f per refresh (OpenBLAS sgemm calls allocate)",
             Double(warmSamples) / Double(rate), captureMeter.afterWarmUp, Double(captureMeter.afterWarmUp) / Double(captureMeter.eventsAfterWarmUp),
             audioMeter.afterWarmUp, Double(workerMeter.afterWarmUp) / Double(workerMeter.eventsAfterWarmUp)))
print(String(format: "real-time factor of compute %.3f; process CPU %.1f %% of one core; peak RSS %.1f MiB",
             compute.reduce(0, +) / 1000 / seconds, 100 * cpu / wall, Double(peakResidentBytes() ?? 0) / 1_048_576))
