import CSndFile
import SVFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What `AudioFile.info` reports about a file, without decoding it.
public struct AudioFileInfo: Sendable, Equatable {
    /// Frames (samples per channel) libsndfile reports.
    public let frames: Int
    public let sampleRate: Int
    public let channels: Int
    /// Container and encoding as libsndfile names them, e.g. "WAV (Microsoft), Signed 16 bit PCM".
    public let formatName: String

    public init(frames: Int, sampleRate: Int, channels: Int, formatName: String) {
        self.frames = frames
        self.sampleRate = sampleRate
        self.channels = channels
        self.formatName = formatName
    }

    /// Length in seconds (0 for an unknown rate).
    public var duration: Double { sampleRate > 0 ? Double(frames) / Double(sampleRate) : 0 }
}

/// Formats `AudioFile.write` produces.
public enum AudioFileFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case wav8, wav16, wav24, wav32, wavFloat, flac16, flac24, oggVorbis

    var sndfileFormat: Int32 {
        switch self {
        case .wav8: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_U8)
        case .wav16: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        case .wav24: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_24)
        case .wav32: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_32)
        case .wavFloat: return Int32(SF_FORMAT_WAV | SF_FORMAT_FLOAT)
        case .flac16: return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
        case .flac24: return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_24)
        case .oggVorbis: return Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS)
        }
    }

    /// Integer encodings clip out-of-range floats instead of wrapping.
    var isInteger: Bool { self != .wavFloat && self != .oggVorbis }

    /// The usual file extension (without the dot).
    public var fileExtension: String {
        switch self {
        case .wav8, .wav16, .wav24, .wav32, .wavFloat: return "wav"
        case .flac16, .flac24: return "flac"
        case .oggVorbis: return "ogg"
        }
    }

    public var description: String { rawValue }
}

/// Reading and writing audio files through libsndfile.
public enum AudioFile {
    /// Sample rates the engine accepts from files and buffers.
    public static let supportedSampleRates: ClosedRange<Int> = 1_000...768_000
    /// Largest channel count accepted (libsndfile's own limit).
    public static let maxChannels = 1024
    /// The longest audio decoded from one file or captured in one live session, unless
    /// `SPKV_MAX_AUDIO_SECONDS` says otherwise: a compressed file of a few megabytes can hold hours of
    /// audio (silence costs almost nothing), which would be decoded whole before any other check.
    public static let defaultMaximumSeconds = 1800.0
    /// The environment variable that sets `maximumSeconds`.
    public static let maximumSecondsVariable = "SPKV_MAX_AUDIO_SECONDS"
    /// The values the variable may take (a second up to a day of audio).
    public static let maximumSecondsRange: ClosedRange<Double> = 1...86_400
    /// Memory is bounded too, whatever the rate and channel count: the limit in seconds holds up to
    /// this many interleaved samples per second (48 kHz stereo); wider files get proportionally fewer
    /// seconds (30 min of 48 kHz stereo, 11 min of 44.1 kHz 5.1, ≈ 660 MiB of Float either way).
    public static let samplesPerSecondBudget = 96_000

    /// The limit in force: `SPKV_MAX_AUDIO_SECONDS` when set, else `defaultMaximumSeconds`; `source` names
    /// what is being read, for the error when the variable holds no valid number.
    public static func maximumSeconds(for source: String) throws(AudioError) -> Double {
        guard let raw = getenv(maximumSecondsVariable) else { return defaultMaximumSeconds }
        let text = String(cString: raw)
        guard let value = Double(text), maximumSecondsRange.contains(value) else {
            throw .invalidLengthLimit(path: source, value: text)
        }
        return value
    }

    /// Quality used for `.oggVorbis` (libsndfile's 0...1 VBR scale).
    public static let vorbisQuality = 0.7

    // MARK: - Reading

    /// Header information of `path`.
    public static func info(path: String) throws(AudioError) -> AudioFileInfo {
        let handle = try open(path)
        let info = makeInfo(handle)
        try handle.close()
        return info
    }

    /// All samples of `path`, interleaved, as Float (integer PCM scaled to [-1, 1)), after checking the
    /// rate, the channel count, the length (at most `maximumSeconds`, by default the limit in force,
    /// and at most `samplesPerSecondBudget` × that many samples: refused from the header when it
    /// declares more, else as soon as decoding passes it), truncation, emptiness and non-finite values.
    public static func readInterleaved(path: String, maximumSeconds: Double? = nil) throws(AudioError) -> (samples: [Float], info: AudioFileInfo) {
        let limitSeconds: Double
        if let maximumSeconds {
            guard maximumSecondsRange.contains(maximumSeconds) else { throw .invalidLengthLimit(path: path, value: "\(maximumSeconds)") }
            limitSeconds = maximumSeconds
        } else {
            limitSeconds = try Self.maximumSeconds(for: path)
        }
        let handle = try open(path)
        let header = makeInfo(handle)
        guard (1...maxChannels).contains(header.channels) else {
            throw .invalidChannelCount(path: path, channels: header.channels)
        }
        guard supportedSampleRates.contains(header.sampleRate) else {
            throw .unsupportedSampleRate(path: path, sampleRate: header.sampleRate)
        }
        // MPEG (MP3) frame counts are estimates from the bit rate, not a header promise: no truncation check.
        let estimated = handle.info.format & Int32(SF_FORMAT_TYPEMASK) == Int32(SF_FORMAT_MPEG)
        let known = handle.info.frames != sf_count_t.max && !estimated
        var declared = known ? header.frames : nil
        if handle.info.format & Int32(SF_FORMAT_TYPEMASK) == Int32(SF_FORMAT_WAV),
           let riff = RIFFHeader.read(path: path)?.declaredFrames {
            declared = max(declared ?? 0, riff)
        }
        if declared == 0 { throw .emptyAudio(path: path) }
        let rate = Double(header.sampleRate), channels = header.channels
        // Both factors are range-checked: at most 86,400 s × 768 kHz, far inside Int.
        let maximumFrames = min(Int((limitSeconds * rate).rounded(.down)),
                                Int((limitSeconds * Double(samplesPerSecondBudget)).rounded(.down)) / channels)
        if let declared, declared > maximumFrames {
            throw .tooLong(path: path, seconds: Double(declared) / rate, limitSeconds: limitSeconds)
        }

        var samples: [Float] = []
        // The header may lie (fuzzed or cut files): reserve at most 16 Mi samples up front.
        samples.reserveCapacity(min((declared ?? 0) * channels, 1 << 24))
        let chunkFrames = 16_384
        var chunk = [Float](repeating: 0, count: chunkFrames * channels)
        var total = 0
        while true {
            let got = try chunk.withUnsafeMutableBufferPointer { buf throws(AudioError) in
                try sndfileCheck("sf_readf_float", path: path, handle: handle.pointer,
                                 { sf_readf_float(handle.pointer, buf.baseAddress, sf_count_t(chunkFrames)) },
                                 succeeded: { $0 >= 0 })
            }
            if got == 0 { break }
            total += Int(got)
            // Headers of MP3 (and of cut or crafted files) do not bound the length: stop decoding here.
            if total > maximumFrames { throw .tooLong(path: path, seconds: Double(total) / rate, limitSeconds: limitSeconds) }
            samples.append(contentsOf: chunk[0..<(Int(got) * channels)])
        }
        if let declared, total < declared {
            throw .truncated(path: path, declaredFrames: declared, readFrames: total)
        }
        // A short read ends the loop; a decoder error behind it is reported, not swallowed.
        _ = try sndfileCheck("sf_readf_float", path: path, handle: handle.pointer,
                             { sf_error(handle.pointer) }, succeeded: { $0 == 0 })
        try handle.close()
        let info = AudioFileInfo(frames: total, sampleRate: header.sampleRate, channels: channels,
                                 formatName: header.formatName)
        try AudioClip.validate(samples: samples, sampleRate: info.sampleRate, channels: channels, source: path)
        return (samples, info)
    }

    /// Reads `path`, mixes it to mono (mean of the channels) and resamples it to `sampleRate` with the
    /// band-limited `Resampler`. This is what the engine calls.
    public static func readMono(path: String, sampleRate: Int = 16_000, maximumSeconds: Double? = nil) throws(AudioError) -> AudioClip {
        guard supportedSampleRates.contains(sampleRate) else {
            throw .unsupportedSampleRate(path: "requested output rate for \(path)", sampleRate: sampleRate)
        }
        let (interleaved, info) = try readInterleaved(path: path, maximumSeconds: maximumSeconds)
        var mono = PCM.mixdown(interleaved, channels: info.channels)
        if info.sampleRate != sampleRate {
            mono = Resampler(inputRate: info.sampleRate, outputRate: sampleRate).process(mono)
            if mono.isEmpty { throw .emptyAudio(path: path) }  // e.g. 1 frame at 48 kHz -> 0 at 16 kHz
        }
        return AudioClip(unchecked: mono, sampleRate: sampleRate)
    }

    /// Opens for reading; when libsndfile refuses a WAV header for a zero channel count or sample rate,
    /// reports that instead of libsndfile's internal error.
    private static func open(_ path: String) throws(AudioError) -> SndFileHandle {
        do {
            return try SndFileHandle.openForReading(path: path)
        } catch {
            if case .library = error, let riff = RIFFHeader.read(path: path) {
                if riff.channels == 0 { throw .invalidChannelCount(path: path, channels: 0) }
                if riff.sampleRate == 0 { throw .unsupportedSampleRate(path: path, sampleRate: 0) }
            }
            throw error
        }
    }

    private static func makeInfo(_ handle: SndFileHandle) -> AudioFileInfo {
        let format = handle.info.format
        let major = sndfileFormatName(format & Int32(SF_FORMAT_TYPEMASK))
        let sub = sndfileFormatName(format & Int32(SF_FORMAT_SUBMASK))
        let frames = handle.info.frames == sf_count_t.max ? 0 : Int(handle.info.frames)
        return AudioFileInfo(frames: frames, sampleRate: Int(handle.info.samplerate),
                             channels: Int(handle.info.channels), formatName: "\(major), \(sub)")
    }

    // MARK: - Writing

    /// Writes interleaved `samples` to `path` atomically (`AtomicFile`: a temporary file in the same
    /// folder, `fsync`, renamed over `path` only when complete). Integer formats
    /// clip out-of-range values; NaN or infinity is rejected.
    public static func write(path: String, samples: [Float], sampleRate: Int, channels: Int = 1,
                             format: AudioFileFormat) throws(AudioError) {
        try AudioClip.validate(samples: samples, sampleRate: sampleRate, channels: channels, source: path)

        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = Int32(channels)
        info.format = format.sndfileFormat
        guard sf_format_check(&info) == SF_TRUE else {
            throw .unsupportedWriteFormat(path: path, format: format, sampleRate: sampleRate, channels: channels)
        }

        try AtomicFile.write(to: path, mapError: { systemError($0.operation, path: $0.path, errno: $0.errno) }) { fd throws(AudioError) in
            // libsndfile writes through the temporary file's descriptor and leaves it open for the fsync.
            let handle = try SndFileHandle.openForWriting(fd: fd, path: path, info: info)
            if format.isInteger {
                try handle.setBoolean(Int32(SFC_SET_CLIPPING), true, name: "SFC_SET_CLIPPING")
            }
            if format == .oggVorbis {
                try handle.setDouble(Int32(SFC_SET_VBR_ENCODING_QUALITY), vorbisQuality,
                                     name: "SFC_SET_VBR_ENCODING_QUALITY")
            }
            let frames = samples.count / channels
            _ = try samples.withUnsafeBufferPointer { buf throws(AudioError) in
                try sndfileCheck("sf_writef_float", path: path, handle: handle.pointer,
                                 { sf_writef_float(handle.pointer, buf.baseAddress, sf_count_t(frames)) },
                                 succeeded: { $0 == sf_count_t(frames) })
            }
            try handle.close()
        }
    }
}
