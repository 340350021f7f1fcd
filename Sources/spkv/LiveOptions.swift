import ArgumentParser
import Foundation
import SpeakerVerification
import SVALSA
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

    /// Seconds the session may hold: --duration, else the audio length limit.
    func maximumSeconds() throws -> Double { try duration ?? audioLengthLimit() }

    /// Opens the capture device (at --capture-rate, else the model's rate; the device may offer another).
    func openCapture(modelRate: Int) throws -> CaptureStream {
        var configuration: String?
        if let path = alsaConfig {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ReportedFailure("\(path): cannot read the ALSA configuration") }
            configuration = text
        }
        return try CaptureStream.alsa(device: device, configuration: configuration, sampleRate: captureRate ?? modelRate,
                                      pacedByClock: pace, reconnect: reconnect > 0 ? ReconnectPolicy(timeoutSeconds: reconnect) : nil)
    }

    /// Drains `capture` into `session` until --duration, the length limit or Ctrl-C, reporting what happens to
    /// the device on stderr; then finishes the session.
    func run(_ session: LiveSession, capture: CaptureStream) throws -> LiveVerdict? {
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        nonisolated(unsafe) let target = session
        interrupt.setEventHandler { target.stop() }
        interrupt.resume()
        defer { interrupt.cancel(); signal(SIGINT, SIG_DFL) }
        try session.run(source: capture) { event in
            let line: String?
            switch event {
            case .resampling(let from, let to): line = "capture: '\(device)' delivers \(from) Hz, resampled to \(to) Hz"
            case .deviceVanished: line = "capture: the device vanished; trying to reopen it for up to \(reconnect) s"
            case .deviceBack: line = "capture: the device is back (audio in between is lost)"
            case .lengthLimitReached(let seconds):
                line = duration == nil ? "capture: stopped at the audio length limit (\(Int(seconds)) s, \(AudioFile.maximumSecondsVariable))" : nil
            }
            if let line { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
        return session.finish()
    }
}
