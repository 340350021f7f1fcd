import CALSA
import Glibc
import Synchronization
import SVStreaming

/// alsa-lib's own diagnostic lines ("ALSA lib pcm.c:2666 (snd_pcm_open_noupdate) Unknown PCM …"), routed
/// here instead of stderr: the most recent ones are kept and attached to capture errors.
public enum ALSALog {
    private static let recent = Mutex<[String]>([])
    static let capacity = 16

    /// Installs the route (idempotent).
    static func install() { spkv_alsa_route_errors(alsaLogCallback) }

    static func record(_ message: String) {
        recent.withLock { lines in
            lines.append(message)
            if lines.count > capacity { lines.removeFirst(lines.count - capacity) }
        }
    }

    /// The messages alsa-lib sent since the last `drain`, oldest first; clears them.
    public static func drain() -> [String] { recent.withLock { lines in defer { lines.removeAll() }; return lines } }
}

private func alsaLogCallback(_ message: UnsafePointer<CChar>?) {
    guard let message else { return }
    ALSALog.record(String(cString: message))
}

extension CaptureError {
    /// alsa-lib's error text for `code`, plus what alsa-lib itself reported since the last error.
    static func alsa(_ code: Int32) -> String {
        let said = ALSALog.drain()
        return String(cString: snd_strerror(code)) + (said.isEmpty ? "" : " (alsa-lib: \(said.joined(separator: "; ")))")
    }
}

extension ALSACapture: CaptureDevice {}

/// The sample format a device was opened with (converted to mono Float in `read`).
public enum CaptureSampleFormat: String, Sendable {
    case s16 = "S16_LE", s32 = "S32_LE", float32 = "FLOAT_LE"

    var alsa: snd_pcm_format_t {
        switch self {
        case .s16: return SND_PCM_FORMAT_S16_LE
        case .s32: return SND_PCM_FORMAT_S32_LE
        case .float32: return SND_PCM_FORMAT_FLOAT_LE
        }
    }
    var bytes: Int { self == .s16 ? 2 : 4 }
}

/// Blocking capture from a named ALSA PCM (`default`, `hw:1,0`, `plughw:…`, or a PCM defined in a
/// configuration text, e.g. a `file` plugin in tests), one period per `read`, as mono Float in [−1, 1).
///
/// The device is asked for S16_LE, then FLOAT_LE, then S32_LE, at `sampleRate` (or the nearest rate it
/// offers: see `format.sampleRate`; resampling is the caller's job), with as few channels as it allows
/// (mixed down to mono). Overruns (−EPIPE) are recovered with `snd_pcm_prepare` and counted; a
/// suspended device (−ESTRPIPE) is resumed; a vanished one is `CaptureError.deviceGone`. alsa-lib's own
/// stderr messages go to `ALSALog` and are attached to the error that names the device.
/// Not thread-safe: create and use it on the capture thread.
public final class ALSACapture {
    public let device: String
    public let sampleFormat: CaptureSampleFormat
    public let sampleRate: Int
    public let channels: Int
    public let periodFrames: Int
    public let bufferFrames: Int
    /// Overruns recovered so far (audio was lost each time).
    public private(set) var overruns = 0
    /// Suspends resumed so far.
    public private(set) var resumes = 0

    private var pcm: OpaquePointer?
    private var raw: UnsafeMutableRawPointer

    /// - Parameters:
    ///   - configuration: ALSA configuration text defining `device` (used instead of the system's
    ///     configuration files: tests define a `file` plugin this way).
    ///   - periodFrames, bufferFrames: requested sizes; the device may choose near values.
    public init(device: String = "default", configuration: String? = nil, sampleRate: Int = 16_000,
                periodFrames: Int = 160, bufferFrames: Int = 1_600) throws(CaptureError) {
        self.device = device
        ALSALog.install()
        _ = ALSALog.drain()
        var handle: OpaquePointer?
        var rc: Int32
        if let configuration {
            var config: OpaquePointer?
            rc = snd_config_top(&config)
            guard rc >= 0, let config else { throw .open(device: device, reason: CaptureError.alsa(rc)) }
            defer { snd_config_delete(config) }
            var input: OpaquePointer?
            rc = configuration.withCString { snd_input_buffer_open(&input, $0, strlen($0)) }
            guard rc >= 0, let input else { throw .open(device: device, reason: CaptureError.alsa(rc)) }
            rc = snd_config_load(config, input)
            snd_input_close(input)
            guard rc >= 0 else { throw .open(device: device, reason: "invalid ALSA configuration: \(CaptureError.alsa(rc))") }
            rc = snd_pcm_open_lconf(&handle, device, SND_PCM_STREAM_CAPTURE, 0, config)
        } else {
            rc = snd_pcm_open(&handle, device, SND_PCM_STREAM_CAPTURE, 0)
        }
        guard rc >= 0, let handle else { throw .open(device: device, reason: CaptureError.alsa(rc)) }
        pcm = handle

        var params: OpaquePointer?
        snd_pcm_hw_params_malloc(&params)
        defer { snd_pcm_hw_params_free(params) }
        func check(_ code: Int32, _ step: String) throws(CaptureError) {
            guard code >= 0 else { snd_pcm_close(handle); throw .configure(device: device, step: step, reason: CaptureError.alsa(code)) }
        }
        try check(snd_pcm_hw_params_any(handle, params), "(any configuration)")
        try check(snd_pcm_hw_params_set_access(handle, params, SND_PCM_ACCESS_RW_INTERLEAVED), "access RW_INTERLEAVED")
        var chosen: CaptureSampleFormat?
        for f in [CaptureSampleFormat.s16, .float32, .s32] where snd_pcm_hw_params_test_format(handle, params, f.alsa) == 0 {
            chosen = f
            break
        }
        guard let chosen else {
            snd_pcm_close(handle)
            throw .configure(device: device, step: "sample format", reason: "it offers none of S16_LE, FLOAT_LE, S32_LE")
        }
        try check(snd_pcm_hw_params_set_format(handle, params, chosen.alsa), "format \(chosen.rawValue)")
        var channelCount: UInt32 = 0
        try check(snd_pcm_hw_params_set_channels_first(handle, params, &channelCount), "channels")
        var rate = UInt32(sampleRate), dir: Int32 = 0
        try check(snd_pcm_hw_params_set_rate_near(handle, params, &rate, &dir), "rate \(sampleRate) Hz")
        var period = snd_pcm_uframes_t(periodFrames)
        try check(snd_pcm_hw_params_set_period_size_near(handle, params, &period, &dir), "period \(periodFrames) frames")
        var buffer = snd_pcm_uframes_t(max(bufferFrames, 2 * Int(period)))
        try check(snd_pcm_hw_params_set_buffer_size_near(handle, params, &buffer), "buffer \(bufferFrames) frames")
        try check(snd_pcm_hw_params(handle, params), "(applying the hardware parameters)")
        try check(snd_pcm_prepare(handle), "(prepare)")
        sampleFormat = chosen
        self.sampleRate = Int(rate)
        channels = Int(channelCount)
        self.periodFrames = Int(period)
        self.bufferFrames = Int(buffer)
        raw = .allocate(byteCount: Int(period) * Int(channelCount) * chosen.bytes, alignment: 16)
    }

    deinit {
        if let pcm { snd_pcm_close(pcm) }
        raw.deallocate()
    }

    /// Reads one period (`periodFrames` frames: never more than the buffer, which the `file` plugin
    /// requires) and writes it to `output` as mono Float. Returns the frames read (fewer only when
    /// the device ended). Allocation-free.
    public func read(into output: UnsafeMutablePointer<Float>) throws(CaptureError) -> Int {
        guard let pcm else { throw .deviceGone(device: device, reason: "it was closed") }
        while true {
            let n = snd_pcm_readi(pcm, raw, snd_pcm_uframes_t(periodFrames))
            if n >= 0 {
                convert(frames: Int(n), into: output)
                return Int(n)
            }
            let code = Int32(n)
            switch -code {
            case EPIPE:
                overruns += 1
                guard snd_pcm_prepare(pcm) >= 0 else { throw .deviceGone(device: device, reason: "it did not recover from an overrun") }
            case ESTRPIPE:
                var r: Int32
                repeat { r = snd_pcm_resume(pcm); if r == -EAGAIN { usleep(10_000) } } while r == -EAGAIN
                if r < 0, snd_pcm_prepare(pcm) < 0 { throw .deviceGone(device: device, reason: "it did not resume after a suspend") }
                resumes += 1
            case EAGAIN, EINTR:
                continue
            case ENODEV, EBADFD, EIO, ENXIO:
                throw .deviceGone(device: device, reason: CaptureError.alsa(code))
            default:
                throw .read(device: device, reason: CaptureError.alsa(code))
            }
        }
    }

    /// Interleaved device samples → mono Float (channel mean).
    private func convert(frames: Int, into output: UnsafeMutablePointer<Float>) {
        switch sampleFormat {
        case .s16:
            let s = raw.assumingMemoryBound(to: Int16.self)
            mixDown(frames: frames, into: output) { Float(s[$0]) / 32_768 }
        case .s32:
            let s = raw.assumingMemoryBound(to: Int32.self)
            mixDown(frames: frames, into: output) { Float(s[$0]) / 2_147_483_648 }
        case .float32:
            let s = raw.assumingMemoryBound(to: Float.self)
            mixDown(frames: frames, into: output) { s[$0] }
        }
    }

    @inline(__always)
    private func mixDown(frames: Int, into output: UnsafeMutablePointer<Float>, _ sample: (Int) -> Float) {
        let c = channels, inv = 1 / Float(c)
        for f in 0..<frames {
            var acc: Float = 0
            for k in 0..<c { acc += sample(f * c + k) }
            output[f] = c == 1 ? acc : acc * inv
        }
    }

    /// PCM names alsa-lib knows that can capture (`snd_device_name_hint`), with their descriptions.
    public static func captureDevices() -> [(name: String, description: String)] {
        ALSALog.install()
        var hints: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        guard snd_device_name_hint(-1, "pcm", &hints) >= 0, let hints else { return [] }
        defer { snd_device_name_free_hint(hints) }
        var out: [(String, String)] = []
        var i = 0
        while let hint = hints[i] {
            i += 1
            func field(_ key: String) -> String? {
                guard let p = snd_device_name_get_hint(hint, key) else { return nil }
                defer { free(p) }
                return String(cString: p)
            }
            guard let name = field("NAME") else { continue }
            if let io = field("IOID"), io == "Output" { continue }   // nil means both directions
            out.append((name, (field("DESC") ?? "").split(separator: "\n").joined(separator: " — ")))
        }
        return out
    }
}
