/// Everything that can go wrong while reading, validating or writing audio.
///
/// Every case names the file (or `"<memory>"`-style source label) it is about; `description` says what
/// failed, on what, and what to do, so a CLI can print it as is.
public enum AudioError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Nothing exists at `path`.
    case fileNotFound(path: String)
    /// The path exists but cannot be opened for reading or writing (permissions, a directory, ...).
    case cannotOpen(path: String, reason: String)
    /// libsndfile does not recognise the contents as any audio format it knows.
    case unrecognizedFormat(path: String, reason: String)
    /// The file looks like a known format but its structure is broken.
    case malformedFile(path: String, reason: String)
    /// A known container with an encoding libsndfile cannot decode.
    case unsupportedEncoding(path: String, reason: String)
    /// Fewer frames could be read than the header declares (the file was cut off).
    case truncated(path: String, declaredFrames: Int, readFrames: Int)
    /// The file (or buffer) holds no audio at all.
    case emptyAudio(path: String)
    /// A sample is NaN or infinite. `frame` is the frame index, `seconds` its time.
    case nonFiniteSample(path: String, frame: Int, channel: Int, seconds: Double)
    /// The sample rate is not in `AudioFile.supportedSampleRates`.
    case unsupportedSampleRate(path: String, sampleRate: Int)
    /// The channel count is zero, negative or above `AudioFile.maxChannels`.
    case invalidChannelCount(path: String, channels: Int)
    /// An interleaved buffer whose length is not a multiple of the channel count.
    case sampleCountMismatch(path: String, samples: Int, channels: Int)
    /// The audio is longer than the decoding limit (`AudioFile.maximumSeconds`): `seconds` is its length
    /// as far as known (from the header, or decoded so far).
    case tooLong(path: String, seconds: Double, limitSeconds: Double)
    /// `SPKV_MAX_AUDIO_SECONDS` is set to something other than a number of seconds in range.
    case invalidLengthLimit(path: String, value: String)
    /// libsndfile cannot write this format with these parameters.
    case unsupportedWriteFormat(path: String, format: AudioFileFormat, sampleRate: Int, channels: Int)
    /// Any other libsndfile failure: the C function, its error code and `sf_strerror` text.
    case library(function: String, path: String, code: Int, message: String)
    /// An operating-system call failed while writing (temporary file, fsync, rename).
    case system(function: String, path: String, errno: Int32, message: String)

    /// The file or source the error is about.
    public var path: String {
        switch self {
        case .fileNotFound(let p), .cannotOpen(let p, _), .unrecognizedFormat(let p, _),
             .malformedFile(let p, _), .unsupportedEncoding(let p, _), .truncated(let p, _, _),
             .emptyAudio(let p), .nonFiniteSample(let p, _, _, _), .unsupportedSampleRate(let p, _),
             .invalidChannelCount(let p, _), .sampleCountMismatch(let p, _, _), .tooLong(let p, _, _),
             .invalidLengthLimit(let p, _),
             .unsupportedWriteFormat(let p, _, _, _), .library(_, let p, _, _), .system(_, let p, _, _):
            return p
        }
    }

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "audio file '\(path)' does not exist; check the path (it is resolved against the current directory)."
        case .cannotOpen(let path, let reason):
            return "cannot open audio file '\(path)': \(reason); check that it is a readable regular file."
        case .unrecognizedFormat(let path, let reason):
            return "'\(path)' is not in an audio format libsndfile can read (\(reason)); "
                + "convert it to WAV, FLAC or OGG/Vorbis, e.g. `sox in.xxx -r 16000 -c 1 out.wav`."
        case .malformedFile(let path, let reason):
            return "audio file '\(path)' is malformed (\(reason)); re-export or re-record it."
        case .unsupportedEncoding(let path, let reason):
            return "audio file '\(path)' uses an encoding libsndfile cannot decode (\(reason)); "
                + "convert it to 16-bit PCM WAV or FLAC."
        case .truncated(let path, let declared, let read):
            return "audio file '\(path)' is truncated: its header declares \(declared) frames but only \(read) "
                + "could be read; the file was probably cut off during copy or recording, re-create it."
        case .emptyAudio(let path):
            return "'\(path)' contains no audio samples (zero frames); record or choose a non-empty file."
        case .nonFiniteSample(let path, let frame, let channel, let seconds):
            let time = (seconds * 1000).rounded() / 1000
            return "'\(path)' contains a non-finite sample (NaN or infinity) at frame \(frame), channel \(channel) "
                + "(t = \(time) s); the float data is corrupt, re-export it or convert it to PCM."
        case .unsupportedSampleRate(let path, let rate):
            let range = AudioFile.supportedSampleRates
            return "'\(path)' has an unsupported sample rate of \(rate) Hz; rates from \(range.lowerBound) to "
                + "\(range.upperBound) Hz are accepted, resample it (e.g. `sox in.wav -r 16000 out.wav`)."
        case .invalidChannelCount(let path, let channels):
            return "'\(path)' has \(channels) channels; between 1 and \(AudioFile.maxChannels) are accepted."
        case .sampleCountMismatch(let path, let samples, let channels):
            return "cannot use \(samples) interleaved samples for '\(path)': not a multiple of \(channels) channels; "
                + "pass whole frames."
        case .tooLong(let path, let seconds, let limit):
            return "'\(path)' is longer than the \(Self.wholeSeconds(limit)) s of audio spkv decodes from one source "
                + "(\(Self.wholeSeconds(seconds.rounded())) s or more; files of more than 48 kHz stereo get proportionally fewer "
                + "seconds); cut it (e.g. `sox in.flac out.flac trim 0 \(Self.wholeSeconds(limit))`) or raise the limit with "
                + "\(AudioFile.maximumSecondsVariable)=SECONDS."
        case .invalidLengthLimit(let path, let value):
            let range = AudioFile.maximumSecondsRange
            return "\(AudioFile.maximumSecondsVariable)='\(value)' is not a number of seconds from \(Int(range.lowerBound)) "
                + "to \(Int(range.upperBound)) (reading '\(path)'); fix or unset it (default \(Int(AudioFile.defaultMaximumSeconds)) s)."
        case .unsupportedWriteFormat(let path, let format, let rate, let channels):
            return "cannot write '\(path)' as \(format) at \(rate) Hz with \(channels) channels: libsndfile rejects "
                + "this combination; choose another format (e.g. .wav16) or sample rate."
        case .library(let function, let path, let code, let message):
            return "\(function) failed on '\(path)' (libsndfile error \(code): \(message)); "
                + "check that the file is a valid, complete audio file."
        case .system(let function, let path, let err, let message):
            return "\(function) failed for '\(path)' (errno \(err): \(message)); check the folder exists, "
                + "is writable and has free space."
        }
    }

    /// "30" for 30.0, "2.5" for 2.5 (never traps, whatever the value).
    static func wholeSeconds(_ x: Double) -> String {
        x.isFinite && x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }
}
