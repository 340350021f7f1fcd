import ArgumentParser
import Foundation
import Synchronization
import SpeakerVerification
import SVStreaming

/// Options of `--live` (verify and enroll).
struct LiveOptions: ParsableArguments {
    @Flag(help: "Capture from an ALSA device instead of reading a file.") var live = false
    @Option(help: "ALSA capture device (see 'spkv devices').") var device = "default"
    @Option(name: .customLong("alsa-config"), help: "ALSA configuration file defining --device, used instead of the system configuration (e.g. a file-plugin device for tests).")
    var alsaConfig: String?
    @Option(help: "Stop after this many seconds of captured audio (default: at Ctrl-C, or at the audio length limit, SPKV_MAX_AUDIO_SECONDS, 1800 s unless set).")
    var duration: Double?
    @Option(help: "Analysis window in seconds.") var window = 3.0
    @Option(help: "Seconds of audio between two refreshes.") var refresh = 0.25
    @Flag(help: "Read at real-time pace (for plugin devices such as 'file' or 'null', which do not pace).") var pace = false
    @Option(name: .customLong("capture-rate"), help: "Ask the device for this rate (Hz) instead of the model's; the audio is resampled to the model's rate.")
    var captureRate: Int?
    @Option(help: "Seconds to keep trying to reopen a capture device that vanished (unplugged) before giving up; 0 gives up at once.")
    var reconnect = 10.0

    func check() throws {
        guard live else { return }
        // Everything heard is kept for the verdict: the session is bounded like a file's length.
        let cap = try audioLengthLimit()
        if let duration { try checkRange(duration, 0.01...cap, "--duration", unit: " s (the audio length limit, \(AudioFile.maximumSecondsVariable))") }
        try checkRange(window, 0.5...600, "--window", unit: " s")
        try checkRange(refresh, 0.01...window, "--refresh", unit: " s (at most --window)")
        try checkRange(reconnect, 0...3_600, "--reconnect", unit: " s")
        if let captureRate { try checkRange(captureRate, 4_000...384_000, "--capture-rate", unit: " Hz") }
    }
}

/// A capture thread on the chosen device, drained on the calling thread until --duration or Ctrl-C.
final class LiveSession {
    private let stream: CaptureStream
    private let sampleRate: Int
    /// Samples to capture: --duration, else the audio length limit.
    private let limit: Int
    private let stopsAtLengthLimit: Bool
    /// Converts the device's rate to the model's when they differ (streaming, same output as whole-file resampling).
    private var resampler: Resampler?
    /// The rate the device delivers.
    let deviceRate: Int
    private let interrupted = InterruptFlag()
    private let reconnectSeconds: Double

    var droppedSamples: Int { stream.droppedSamples }
    var deviceOverruns: Int { stream.deviceOverruns }
    var disconnections: Int { stream.disconnections }

    init(options: LiveOptions, sampleRate: Int) throws {
        var text: String?
        if let path = options.alsaConfig {
            guard let t = try? String(contentsOfFile: path, encoding: .utf8) else { throw ReportedFailure("\(path): cannot read the ALSA configuration") }
            text = t
        }
        let configuration = text
        let device = options.device, requested = options.captureRate ?? sampleRate
        let policy = options.reconnect > 0 ? ReconnectPolicy(timeoutSeconds: options.reconnect) : nil
        stream = try CaptureStream(ringCapacity: 4 * max(requested, sampleRate), pacedByClock: options.pace,
                                   reconnect: policy) { () throws(CaptureError) in
            try ALSACapture(device: device, configuration: configuration, sampleRate: requested)
        }
        deviceRate = stream.format?.sampleRate ?? sampleRate
        if deviceRate != sampleRate {
            var r = Resampler(inputRate: deviceRate, outputRate: sampleRate)
            r.reserveCapacity(chunkSize: deviceRate / 20)
            resampler = r
            FileHandle.standardError.write(Data("capture: '\(device)' delivers \(deviceRate) Hz, resampled to \(sampleRate) Hz\n".utf8))
        }
        self.sampleRate = sampleRate
        reconnectSeconds = options.reconnect
        let cap = try audioLengthLimit()
        limit = Int(((options.duration ?? cap) * Double(sampleRate)).rounded())
        stopsAtLengthLimit = options.duration == nil
    }

    /// Feeds captured audio to `consume` until the duration is reached or SIGINT; then `finish`.
    func run<Result>(_ consume: (UnsafeBufferPointer<Float>) -> Void, finish: () -> Result) throws -> Result {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let flag = interrupted
        source.setEventHandler { flag.raise() }
        source.resume()
        defer { source.cancel(); signal(SIGINT, SIG_DFL) }
        var chunk = [Float](repeating: 0, count: max(160, deviceRate / 20))
        var converted: [Float] = []
        converted.reserveCapacity(resampler?.maxOutputCount(forInputCount: chunk.count) ?? 0)
        var consumed = 0
        var lost = 0, back = 0
        // Hands at most what the duration still allows to `consume`.
        func deliver(_ samples: UnsafeBufferPointer<Float>) {
            let n = min(samples.count, limit - consumed)
            guard n > 0 else { return }
            consume(UnsafeBufferPointer(rebasing: samples[0..<n]))
            consumed += n
        }
        while !interrupted.isRaised {
            if consumed >= limit {
                if stopsAtLengthLimit {
                    FileHandle.standardError.write(Data("capture: stopped at the audio length limit (\(limit / sampleRate) s, \(AudioFile.maximumSecondsVariable))\n".utf8))
                }
                break
            }
            // Without resampling never read past the duration, so the last chunk ends exactly on it.
            let want = resampler == nil ? min(chunk.count, limit - consumed) : chunk.count
            let n = chunk.withUnsafeMutableBufferPointer { stream.ring.read(into: UnsafeMutableBufferPointer(rebasing: $0[0..<want])) }
            if stream.disconnections != lost || stream.reconnections != back {
                lost = stream.disconnections; back = stream.reconnections
                FileHandle.standardError.write(Data((lost > back
                    ? "capture: the device vanished; trying to reopen it for up to \(reconnectSeconds) s\n"
                    : "capture: the device is back (audio in between is lost)\n").utf8))
            }
            if n == 0 {
                if let failure = stream.failure { stream.stop(); throw ReportedFailure(failure) }
                usleep(2_000)
                continue
            }
            if resampler != nil {
                chunk.withUnsafeBufferPointer { resampler!.push(UnsafeBufferPointer(rebasing: $0[0..<n]), appendingTo: &converted) }
                converted.withUnsafeBufferPointer { deliver($0) }
                converted.removeAll(keepingCapacity: true)
            } else {
                chunk.withUnsafeBufferPointer { deliver(UnsafeBufferPointer(rebasing: $0[0..<n])) }
            }
        }
        stream.stop()
        if resampler != nil, consumed < limit {
            resampler!.finish(appendingTo: &converted)     // Ctrl-C: the samples still inside the filter
            converted.withUnsafeBufferPointer { deliver($0) }
        }
        return finish()
    }
}

/// Set from the SIGINT handler, read by the draining loop.
final class InterruptFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func raise() { value.store(true, ordering: .releasing) }
    var isRaised: Bool { value.load(ordering: .acquiring) }
}
