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
    @Option(help: "Stop after this many seconds of captured audio (default: at Ctrl-C).") var duration: Double?
    @Option(help: "Analysis window in seconds.") var window = 3.0
    @Option(help: "Seconds of audio between two refreshes.") var refresh = 0.25
    @Flag(help: "Read at real-time pace (for plugin devices such as 'file' or 'null', which do not pace).") var pace = false

    func check() throws {
        if let duration { guard duration > 0, duration.isFinite else { throw ValidationError("--duration must be positive") } }
        guard window >= 0.5, window.isFinite else { throw ValidationError("--window must be at least 0.5 s") }
        guard refresh >= 0.01, refresh <= window else { throw ValidationError("--refresh must be between 0.01 s and --window") }
    }
}

/// A capture thread on the chosen device, drained on the calling thread until --duration or Ctrl-C.
final class LiveSession {
    private let stream: CaptureStream
    private let sampleRate: Int
    private let limit: Int?
    private let interrupted = InterruptFlag()

    var droppedSamples: Int { stream.droppedSamples }
    var deviceOverruns: Int { stream.deviceOverruns }

    init(options: LiveOptions, sampleRate: Int) throws {
        var text: String?
        if let path = options.alsaConfig {
            guard let t = try? String(contentsOfFile: path, encoding: .utf8) else { throw ReportedFailure("\(path): cannot read the ALSA configuration") }
            text = t
        }
        let configuration = text
        let device = options.device
        stream = try CaptureStream(ringCapacity: 4 * sampleRate, pacedByClock: options.pace) { () throws(CaptureError) in
            try ALSACapture(device: device, configuration: configuration, sampleRate: sampleRate)
        }
        if let rate = stream.format?.sampleRate, rate != sampleRate {
            stream.stop()
            throw ReportedFailure("capture device '\(device)' runs at \(rate) Hz, the model needs \(sampleRate) Hz; use a converting device such as 'plughw:…' or 'default'")
        }
        self.sampleRate = sampleRate
        limit = options.duration.map { Int(($0 * Double(sampleRate)).rounded()) }
    }

    /// Feeds captured audio to `consume` until the duration is reached or SIGINT; then `finish`.
    func run<Result>(_ consume: (UnsafeBufferPointer<Float>) -> Void, finish: () -> Result) throws -> Result {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let flag = interrupted
        source.setEventHandler { flag.raise() }
        source.resume()
        defer { source.cancel(); signal(SIGINT, SIG_DFL) }
        var chunk = [Float](repeating: 0, count: max(160, sampleRate / 20))
        var consumed = 0
        while !interrupted.isRaised {
            let want = limit.map { min(chunk.count, $0 - consumed) } ?? chunk.count
            if want <= 0 { break }
            let n = chunk.withUnsafeMutableBufferPointer { stream.ring.read(into: UnsafeMutableBufferPointer(rebasing: $0[0..<want])) }
            if n == 0 {
                if let failure = stream.failure { stream.stop(); throw ReportedFailure(failure) }
                usleep(2_000)
                continue
            }
            chunk.withUnsafeBufferPointer { consume(UnsafeBufferPointer(rebasing: $0[0..<n])) }
            consumed += n
        }
        stream.stop()
        return finish()
    }
}

/// Set from the SIGINT handler, read by the draining loop.
final class InterruptFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func raise() { value.store(true, ordering: .releasing) }
    var isRaised: Bool { value.load(ordering: .acquiring) }
}
