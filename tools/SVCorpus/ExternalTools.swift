import Foundation

/// Locating and running the external programs (synthesisers and sox) with `Process`.
public struct ExternalTools: Sendable {
    public let paths: [String: String]
    /// The Piper voice model (.onnx) when piper is an engine.
    public let piperModel: String?

    public init(paths: [String: String], piperModel: String? = nil) { self.paths = paths; self.piperModel = piperModel }

    /// Where Debian installs festival voices (`<root>/<language>/<voice>/`).
    public static let festivalVoiceRoot = "/usr/share/festival/voices"

    /// Finds `sox` and the programs of `engines` on PATH, and with festival its base voices for
    /// `languages` (the text languages, as for the recipe); the error names the apt package to install.
    public static func locate(engines: [SynthEngine], searchPath: String? = nil,
                              languages: [String] = EspeakVoice.englishVariants,
                              festivalVoiceRoot: String = festivalVoiceRoot) throws(CorpusError) -> ExternalTools {
        var paths: [String: String] = [:]
        let needed = [("sox", "sox")] + engines.map { ($0.program, $0.aptPackage) }
        for (name, apt) in needed {
            guard let p = find(name, searchPath: searchPath) else { throw .missingProgram(name: name, aptPackage: apt) }
            paths[name] = p
        }
        if engines.contains(.festival) {
            // text2wave is a festival script; the festival binary beside it reports the version.
            paths["festival"] = find("festival", searchPath: searchPath)
            let missing = missingFestivalVoices(FestivalVoice.bases(languages: languages), root: festivalVoiceRoot)
            if !missing.isEmpty {
                throw .missingVoices(engine: SynthEngine.festival.rawValue, voices: missing.map(\.name),
                                     aptPackages: missing.map(\.aptPackage))
            }
        }
        var piperModel: String? = nil
        if engines.contains(.piper), let piper = paths["piper"] {
            let (python, model) = try locatePiperVoice(piper: piper, searchPath: searchPath)
            paths["piper-python"] = python
            piperModel = model
        }
        return ExternalTools(paths: paths, piperModel: piperModel)
    }

    /// The interpreter of the `piper` script (its `#!` line) and the model path of the joe voice package
    /// installed beside it.
    static func locatePiperVoice(piper: String, searchPath: String?) throws(CorpusError) -> (String, String) {
        let missing = CorpusError.missingVoices(engine: SynthEngine.piper.rawValue, voices: ["joe"],
                                                aptPackages: [PiperVoice.voicePackage])
        let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: piper))
            .map { $0.hasPrefix("/") ? $0 : (piper as NSString).deletingLastPathComponent + "/" + $0 } ?? piper
        let head = (FileManager.default.contents(atPath: resolved)?.prefix(512)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard head.hasPrefix("#!"), let line = head.split(separator: "\n").first else { throw missing }
        var words = line.dropFirst(2).split(separator: " ").map(String.init)
        if words.first?.hasSuffix("/env") == true { words.removeFirst() }
        guard let first = words.first, let python = first.hasPrefix("/") ? first : find(first, searchPath: searchPath) else {
            throw missing
        }
        let probe = ExternalTools(paths: ["python": python])
        let out: String
        do { out = try probe.run("python", ["-c", "import \(PiperVoice.voiceModule) as j; print(j.model_path())"]) } catch {
            throw missing
        }
        let model = out.trimmingCharacters(in: .whitespacesAndNewlines)
        guard model.hasSuffix(".onnx"), FileManager.default.fileExists(atPath: model) else { throw missing }
        return (python, model)
    }

    /// Encodes a tenth of a second of tone with each of `codecs` exactly as the channel chain does, and
    /// decodes it back, in a scratch folder: a sox without a format handler (mp3 lives in its own
    /// package) then fails here, naming the package, instead of after hours of synthesis.
    public func checkCodecs(_ codecs: some Sequence<Codec>) throws(CorpusError) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spkv-codec-check-\(UUID().uuidString)").path
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw .unwritableOutput(path: folder, reason: error.localizedDescription)
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for codec in Set(codecs).sorted(by: { $0.rawValue < $1.rawValue }) {
            guard let (options, ext) = ChannelChain.encode(codec, setting: nil) else { continue }
            let coded = "\(folder)/probe.\(ext)"
            do {
                try run("sox", ["-R", "-D", "-V1", "-r", "16000", "-c", "1", "-n"] + options + [coded, "synth", "0.1", "sine", "440"])
                try run("sox", ["-R", "-D", "-V1", coded, "-n"])
            } catch {
                // Only a missing format handler is blamed on the package; a full disk, say, is reported as is.
                guard case .programFailed(_, _, _, let output) = error, output.contains("FAIL formats") else { throw error }
                throw .missingCodec(codec: codec.rawValue, aptPackage: codec.soxPackage, output: output)
            }
        }
    }

    /// The base voices with no folder `<root>/*/<name>`.
    public static func missingFestivalVoices(_ bases: [FestivalVoice.Base], root: String = festivalVoiceRoot) -> [FestivalVoice.Base] {
        let fm = FileManager.default
        let languages = (try? fm.contentsOfDirectory(atPath: root)) ?? []
        return bases.filter { base in !languages.contains { fm.fileExists(atPath: "\(root)/\($0)/\(base.name)") } }
    }

    /// Whether `engine` can run here: its program on PATH and, for festival, its English base voices.
    public static func isAvailable(_ engine: SynthEngine, searchPath: String? = nil,
                                   festivalVoiceRoot: String = festivalVoiceRoot) -> Bool {
        guard find(engine.program, searchPath: searchPath) != nil else { return false }
        if engine == .piper, let piper = find("piper", searchPath: searchPath) {
            return (try? locatePiperVoice(piper: piper, searchPath: searchPath)) != nil
        }
        if engine == .festival {
            return missingFestivalVoices(FestivalVoice.bases(languages: EspeakVoice.englishVariants), root: festivalVoiceRoot).isEmpty
        }
        return true
    }

    /// The default `--engines`: espeak-ng and flite, plus festival and piper when they and their voices are installed.
    public static func defaultEngines(searchPath: String? = nil, festivalVoiceRoot: String = festivalVoiceRoot) -> [SynthEngine] {
        [.espeakNG, .flite]
            + (isAvailable(.festival, searchPath: searchPath, festivalVoiceRoot: festivalVoiceRoot) ? [.festival] : [])
            + (isAvailable(.piper, searchPath: searchPath) ? [.piper] : [])
    }

    /// The absolute path of `name` on PATH, or nil.
    public static func find(_ name: String, searchPath: String? = nil) -> String? {
        let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static let launchLock = NSLock()

    /// Runs `name` with `arguments`, feeding `input` on stdin; returns stdout+stderr. Non-zero exit throws.
    @discardableResult
    public func run(_ name: String, _ arguments: [String], input: String? = nil) throws(CorpusError) -> String {
        guard let executable = paths[name] else { throw .missingProgram(name: name, aptPackage: name) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C.UTF-8"
        process.environment = environment
        // waitUntilExit polls the run loop (tens of ms per call on the main thread); a termination
        // handler and a semaphore return as soon as the child exits.
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        // Pipes are made and the child spawned under one process-wide lock: Foundation's Process on
        // Linux can hand a child a descriptor another thread is closing at that moment (seen as
        // "Bad file descriptor" from run() after ~5,000 launches on 2 workers). Children still run in parallel.
        let output = Pipe(), stdin = Pipe()
        let launched: Result<Void, Error> = Self.launchLock.withLock {
            process.standardOutput = output
            process.standardError = output
            process.standardInput = input == nil ? FileHandle.nullDevice : stdin
            return Result { try process.run() }
        }
        if case .failure(let error) = launched {
            throw .programFailed(name: name, arguments: arguments, status: -1, output: "\(error)")
        }
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        exited.wait()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw .programFailed(name: name, arguments: arguments, status: process.terminationStatus, output: text)
        }
        return text
    }

    /// First non-empty line of `name --version` (provenance only; flite exits non-zero here).
    public func version(_ name: String) -> String {
        let out: String
        let program = name == "text2wave" && paths["festival"] != nil ? "festival" : name
        let arguments = ["--version"]
        if name == "piper", paths["piper-python"] != nil {
            return (try? run("piper-python", ["-c", "import importlib.metadata as m; print('piper-tts', m.version('piper-tts'), "
                + "'\(PiperVoice.voicePackage)', m.version('\(PiperVoice.voicePackage)'))"]))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        }
        do { out = try run(program, arguments) } catch {
            if case .programFailed(_, _, _, let text) = error { out = text } else { out = "" }
        }
        let line = out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty && !$0.hasPrefix("Carnegie") }
        return line ?? "unknown"
    }
}
