import Foundation

/// Locating and running the external programs (synthesisers and sox) with `Process`.
public struct ExternalTools: Sendable {
    public let paths: [String: String]

    public init(paths: [String: String]) { self.paths = paths }

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
        return ExternalTools(paths: paths)
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
        if engine == .festival {
            return missingFestivalVoices(FestivalVoice.bases(languages: EspeakVoice.englishVariants), root: festivalVoiceRoot).isEmpty
        }
        return true
    }

    /// The default `--engines`: espeak-ng and flite, plus festival when it and its English voices are installed.
    public static func defaultEngines(searchPath: String? = nil, festivalVoiceRoot: String = festivalVoiceRoot) -> [SynthEngine] {
        [.espeakNG, .flite] + (isAvailable(.festival, searchPath: searchPath, festivalVoiceRoot: festivalVoiceRoot) ? [.festival] : [])
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
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        // waitUntilExit polls the run loop (tens of ms per call on the main thread); a termination
        // handler and a semaphore return as soon as the child exits.
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do { try process.run() } catch {
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
        do { out = try run(program, ["--version"]) } catch {
            if case .programFailed(_, _, _, let text) = error { out = text } else { out = "" }
        }
        let line = out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty && !$0.hasPrefix("Carnegie") }
        return line ?? "unknown"
    }
}
