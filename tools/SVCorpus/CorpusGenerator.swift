import Foundation
import SVAudio
import Synchronization

/// What corpus.json records about a corpus folder.
public struct CorpusDescription: Codable, Equatable, Sendable {
    public var format = "spkv-corpus"
    public var version = 1
    /// "synth" or "import".
    public var kind: String
    public var options: CorpusOptions?
    public var textSource: String?
    public var tools: [String: String]
    public var importRoot: String?
    public var complete: Bool
    public var utterances: Int
    public var audioSeconds: Double

    /// Same recipe, ignoring progress and provenance.
    func sameRecipe(_ other: CorpusDescription) -> Bool {
        kind == other.kind && options == other.options && textSource == other.textSource && importRoot == other.importRoot
    }
}

/// Output folder handling shared by synth and import: empty, resumable or replaced with `force`.
public enum CorpusOutput {
    /// The files and folders the corpus tool owns inside an output folder (what --force removes).
    public static let ownedEntries = ["wav", "meta.tsv", "train.txt", "dev", "corpus.json", ".parts", ".work"]

    /// Prepares `dir`; returns true when an unfinished corpus with the same recipe is resumed.
    public static func prepare(_ dir: String, description: CorpusDescription, force: Bool) throws(CorpusError) -> Bool {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else { throw .unwritableOutput(path: dir, reason: "it exists and is not a folder") }
            let entries = ((try? fm.contentsOfDirectory(atPath: dir)) ?? [])
            if !entries.isEmpty {
                let existing = (fm.contents(atPath: "\(dir)/corpus.json"))
                    .flatMap { try? JSONDecoder().decode(CorpusDescription.self, from: $0) }
                if let existing, existing.sameRecipe(description) {
                    return true
                }
                guard force else {
                    throw .outputNotEmpty(path: dir, reason: existing == nil
                        ? "it holds \(entries.count) entries and no corpus.json"
                        : "it holds a corpus made with different options")
                }
                for entry in ownedEntries where fm.fileExists(atPath: "\(dir)/\(entry)") {
                    do { try fm.removeItem(atPath: "\(dir)/\(entry)") } catch {
                        throw .unwritableOutput(path: "\(dir)/\(entry)", reason: "cannot remove it: \(error.localizedDescription)")
                    }
                }
            }
        } else {
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw .unwritableOutput(path: dir, reason: error.localizedDescription)
            }
        }
        guard fm.isWritableFile(atPath: dir) else { throw .unwritableOutput(path: dir, reason: "no write permission") }
        return false
    }

    /// Writes meta.tsv, train.txt, dev/utterances.txt and the dev trial lists.
    public static func writeManifests(_ dir: String, utterances: [CorpusUtterance], nonTargetsPerUtterance: Int,
                                      seed: UInt64) throws(CorpusError) {
        try CorpusManifest.writeAtomically(CorpusManifest.tsv(utterances), to: "\(dir)/meta.tsv")
        try CorpusManifest.writeAtomically(CorpusManifest.list(utterances, split: .train), to: "\(dir)/train.txt")
        let dev = utterances.filter { $0.split == .dev }
        guard !dev.isEmpty else { return }
        do { try FileManager.default.createDirectory(atPath: "\(dir)/dev", withIntermediateDirectories: true) } catch {
            throw .unwritableOutput(path: "\(dir)/dev", reason: error.localizedDescription)
        }
        try CorpusManifest.writeAtomically(CorpusManifest.list(utterances, split: .dev), to: "\(dir)/dev/utterances.txt")
        let all = TrialListBuilder.build(dev, crossRecordingOnly: false, nonTargetsPerUtterance: nonTargetsPerUtterance, seed: seed)
        let cross = TrialListBuilder.build(dev, crossRecordingOnly: true, nonTargetsPerUtterance: nonTargetsPerUtterance, seed: seed)
        try CorpusManifest.writeAtomically(TrialListBuilder.text(all), to: "\(dir)/dev/trials.txt")
        try CorpusManifest.writeAtomically(TrialListBuilder.text(cross), to: "\(dir)/dev/trials-cross-channel.txt")
    }

    /// Finishes an import with only training utterances: meta.tsv, train.txt, and corpus.json marked complete
    /// with the utterance count and hours (written last: a corpus.json that says complete means the rest is there).
    static func finishImport(_ dir: String, rows: [CorpusUtterance], description: CorpusDescription) throws(CorpusError) {
        try CorpusManifest.writeAtomically(CorpusManifest.tsv(rows), to: "\(dir)/meta.tsv")
        try CorpusManifest.writeAtomically(CorpusManifest.list(rows, split: .train), to: "\(dir)/train.txt")
        var done = description
        done.complete = true
        done.utterances = rows.count
        done.audioSeconds = (rows.reduce(0) { $0 + $1.duration } * 10).rounded() / 10
        try writeDescription(done, dir: dir)
    }

    /// Removes what an interrupted run left: the workers' `.work` folder and the atomic writes' temporary files.
    static func removeStaleTemporaries(_ dir: String) {
        let fm = FileManager.default
        try? fm.removeItem(atPath: "\(dir)/.work")
        guard let walker = fm.enumerator(atPath: "\(dir)/wav") else { return }
        while let item = walker.nextObject() as? String {
            let name = (item as NSString).lastPathComponent
            if name.hasPrefix("."), name.contains(".tmp-") { try? fm.removeItem(atPath: "\(dir)/wav/\(item)") }
        }
    }

    static func writeDescription(_ d: CorpusDescription, dir: String) throws(CorpusError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = (try? encoder.encode(d)) ?? Data()
        try CorpusManifest.writeAtomically(String(decoding: data, as: UTF8.self) + "\n", to: "\(dir)/corpus.json")
    }
}

/// Makes a synthetic corpus: the recipe's draws, the synthesisers and sox, in parallel over recordings.
public struct CorpusGenerator: Sendable {
    public let recipe: CorpusRecipe
    public let text: TextSource
    public let tools: ExternalTools
    public let output: String
    public let jobs: Int
    public static let sampleRate = 16_000
    public static let minSeconds = 2.0
    public static let maxSeconds = 8.0

    public init(options: CorpusOptions, text: TextSource, tools: ExternalTools, output: String, jobs: Int) {
        self.recipe = CorpusRecipe(options: options, languages: text.espeakLanguages)
        self.text = text; self.tools = tools; self.output = output; self.jobs = max(1, jobs)
    }

    /// Summary of a run.
    public struct Report: Sendable {
        public var utterances: Int
        public var generated: Int
        public var audioSeconds: Double
        public var wallSeconds: Double
        public var realTimeFactor: Double { wallSeconds > 0 ? audioSeconds / wallSeconds : 0 }
    }

    /// Generates (or finishes) the corpus. `progress` gets (finished utterances, total).
    public func run(force: Bool, progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws(CorpusError) -> Report {
        let start = Date()
        try recipe.options.validate()
        let recordings = recipe.allRecordings
        try tools.checkCodecs(recordings.map(\.channel.codec))
        var description = CorpusDescription(kind: "synth", options: recipe.options, textSource: text.provenance,
                                            tools: [:], importRoot: nil, complete: false, utterances: 0, audioSeconds: 0)
        _ = try CorpusOutput.prepare(output, description: description, force: force)
        description.tools = Dictionary(uniqueKeysWithValues: tools.paths.keys.sorted().map { ($0, tools.version($0)) })
        try CorpusOutput.writeDescription(description, dir: output)
        CorpusOutput.removeStaleTemporaries(output)

        let total = recordings.count * recipe.options.utterances
        let next = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let generated = Atomic<Int>(0)
        let failure = Mutex<CorpusError?>(nil)
        let results = Mutex<[Int: [CorpusUtterance]]>([:])
        let niceness = Self.currentNiceness()
        DispatchQueue.concurrentPerform(iterations: jobs) { worker in
            Self.adoptNiceness(niceness)
            let work = "\(output)/.work/w\(worker)"
            do {
                let context = try WorkerContext(folder: work, tools: tools)
                while failure.withLock({ $0 == nil }) {
                    let k = next.add(1, ordering: .relaxed).oldValue
                    guard k < recordings.count else { break }
                    let (rows, made) = try makeRecording(recordings[k], context: context)
                    results.withLock { $0[k] = rows }
                    generated.add(made, ordering: .relaxed)
                    progress(finished.add(rows.count, ordering: .relaxed).newValue, total)
                }
            } catch let error as CorpusError {
                failure.withLock { if $0 == nil { $0 = error } }
            } catch {
                failure.withLock { if $0 == nil { $0 = .audio(path: work, message: "\(error)") } }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        let rows = results.withLock { r in (0..<recordings.count).flatMap { r[$0] ?? [] } }
        try CorpusOutput.writeManifests(output, utterances: rows, nonTargetsPerUtterance: recipe.options.nonTargetsPerUtterance,
                                        seed: recipe.options.seed)
        let seconds = rows.reduce(0) { $0 + $1.duration }
        description.complete = true
        description.utterances = rows.count
        description.audioSeconds = (seconds * 10).rounded() / 10
        try CorpusOutput.writeDescription(description, dir: output)
        try? FileManager.default.removeItem(atPath: "\(output)/.work")
        return Report(utterances: rows.count, generated: generated.load(ordering: .relaxed), audioSeconds: seconds,
                      wallSeconds: Date().timeIntervalSince(start))
    }

    /// The calling thread's nice value (on Linux, niceness is per thread).
    static func currentNiceness() -> Int32 {
        #if os(Linux)
        errno = 0
        let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        return errno == 0 ? value : 0
        #else
        return 0
        #endif
    }

    /// Gives the current thread the caller's niceness. libdispatch runs pool threads at nice 0 or −4
    /// (its QoS mapping), so without this `nice -n 10 spkv-train corpus synth` runs one worker, and the
    /// synthesisers it starts, at normal or raised priority. Lowering a thread's priority needs no privilege.
    static func adoptNiceness(_ niceness: Int32) {
        #if os(Linux)
        // Linux applies PRIO_PROCESS with who = 0 to the calling thread only (setpriority(2), BUGS).
        errno = 0
        let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        if errno == 0, current < niceness { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
        #endif
    }

    /// Removes half-written files an interrupted run may have left (AudioFile.write's `.name.tmp-XXXXXX`).
    // MARK: - One recording

    /// Makes the missing utterances of `recording`; returns all its manifest rows and how many were made.
    func makeRecording(_ recording: RecordingPlan, context: WorkerContext) throws(CorpusError) -> ([CorpusUtterance], Int) {
        let fm = FileManager.default
        let folder = "\(output)/wav/\(recording.speaker.id)/\(recording.id)"
        let parts = "\(output)/.parts/\(recording.speaker.id)/\(recording.id)"
        do {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: parts, withIntermediateDirectories: true)
        } catch { throw .unwritableOutput(path: folder, reason: error.localizedDescription) }
        var rows: [CorpusUtterance] = []
        var made = 0
        var rir: [Float]? = nil
        var bed: [Float]? = nil
        for u in 0..<recipe.options.utterances {
            let relative = CorpusRecipe.utterancePath(recording, u)
            let wavPath = "\(output)/wav/\(relative)"
            let partPath = "\(parts)/" + String(format: "%05d", u + 1) + ".json"
            if fm.fileExists(atPath: wavPath), let data = fm.contents(atPath: partPath),
               let row = try? JSONDecoder().decode(CorpusUtterance.self, from: data) {
                rows.append(row)
                continue
            }
            if rir == nil, let room = recording.channel.room {
                var r = recipe.random("rir", recording, 0)
                rir = RoomImpulseResponse.generate(room, seed: r.next())
            }
            if bed == nil, recording.channel.noise == .babble {
                bed = try babbleBed(recording, context: context)
            }
            let row = try makeUtterance(recording, u, context: context, rir: rir, bed: bed)
            try CorpusManifest.writeAtomically(CorpusManifest.json(row), to: partPath)
            rows.append(row)
            made += 1
        }
        return (rows, made)
    }

    /// Clean speech of `voice` saying `text`, 16 kHz, silence trimmed.
    func synthesize(_ voice: SpeakerVoice, jitter: SessionJitter, text: String,
                    context: WorkerContext) throws(CorpusError) -> [Float] {
        let raw = "\(context.folder)/raw.wav"
        var effects: [String] = []
        switch voice.engine {
        case .espeakNG:
            guard let v = voice.espeak else { throw .invalidRecipe("espeak-ng speaker without voice parameters") }
            try CorpusManifest.writeAtomically(v.variantFile(name: "cur", pitchFactor: jitter.pitchFactor),
                                               to: context.variantPath)
            let wpm = Int((Double(v.wordsPerMinute) * jitter.rate).rounded())
            try tools.run("espeak-ng", ["--path=\(context.folder)", "-v", "\(v.language)+cur", "-s", "\(wpm)",
                                        "-b", "1", "-w", raw, "--stdin"], input: text)
        case .flite:
            guard let v = voice.flite else { throw .invalidRecipe("flite speaker without voice parameters") }
            try tools.run("flite", v.arguments(text: text, output: raw, rateFactor: jitter.rate, pitchFactor: jitter.pitchFactor))
        case .festival:
            guard let v = voice.festival else { throw .invalidRecipe("festival speaker without voice parameters") }
            try? FileManager.default.removeItem(atPath: raw)
            let arguments = v.arguments(output: raw)
            let output = try tools.run("text2wave", arguments, input: text)
            // text2wave exits 0 after a Scheme error (unknown voice, bad input): check what it wrote.
            let size = (try? FileManager.default.attributesOfItem(atPath: raw)[.size] as? Int) ?? 0
            if output.contains("SIOD ERROR") || size <= 44 {
                throw .programFailed(name: "text2wave", arguments: arguments, status: 0,
                                     output: output.isEmpty ? "no audio written" : output)
            }
            effects = v.soxEffects(jitter: jitter)
        case .piper:
            guard let v = voice.piper else { throw .invalidRecipe("piper speaker without voice parameters") }
            guard let model = tools.piperModel else { throw .missingVoices(engine: "piper", voices: ["joe"], aptPackages: [PiperVoice.voicePackage]) }
            try tools.run("piper-python", v.arguments(model: model, text: text, output: raw, rateFactor: jitter.rate), input: text)
            effects = v.soxEffects(jitter: jitter)
        }
        // sox resamples to 16 kHz (espeak-ng writes 22.05 kHz) and hands over raw float samples.
        let resampled = "\(context.folder)/raw16.f32"
        // festival sometimes leaves 0 as the data size in the WAV header: read to the end of the file.
        let lengthOption = voice.engine == .festival ? ["--ignore-length"] : []
        try tools.run("sox", ["-R", "-D", "-V1"] + lengthOption + [raw, "-t", "raw", "-e", "floating-point", "-b", "32",
                              "-r", "\(Self.sampleRate)", "-c", "1", resampled] + effects)
        if voice.engine == .festival, ((try? FileManager.default.attributesOfItem(atPath: resampled)[.size] as? Int) ?? 0) == 0 {
            throw .programFailed(name: "text2wave", arguments: voice.festival?.arguments(output: raw) ?? [], status: 0,
                                 output: "wrote a WAV file without samples")
        }
        let samples = try Self.readFloats(resampled)
        return SignalOps.trimSilence(samples, sampleRate: Self.sampleRate)
    }

    /// Babble of 3–6 training speakers (no session jitter), 10 s, unit RMS, looped per utterance.
    func babbleBed(_ recording: RecordingPlan, context: WorkerContext) throws(CorpusError) -> [Float] {
        let length = 10 * Self.sampleRate
        var bed = [Float](repeating: 0, count: length)
        for (k, index) in (recording.channel.babbleSpeakers ?? []).enumerated() {
            let speaker = recipe.train[index]
            var r = recipe.random("babble", recording, k)
            var words = text.text(language: speaker.voice.language, minWords: 25, &r)
            var speech: [Float] = []
            // festival fails on some inputs (CORPUS.md §2.5): redraw the text from the next attempt's stream.
            for attempt in 1...Self.synthesisAttempts {
                do throws(CorpusError) {
                    speech = try synthesize(speaker.voice, jitter: .none, text: words, context: context)
                    break
                } catch let error where Self.isRedrawable(error, speaker.voice) && attempt < Self.synthesisAttempts {
                    r = recipe.random("babble", recording, k, attempt)
                    words = text.text(language: speaker.voice.language, minWords: 25, &r)
                }
            }
            let voice = NoiseGenerator.normalizedRMS(speech)
            guard !voice.isEmpty else { continue }
            let offset = r.int(0...(length - 1))
            for i in 0..<min(voice.count, length) { bed[(offset + i) % length] += voice[i] }
        }
        return NoiseGenerator.normalizedRMS(bed)
    }

    /// One utterance: text → speech (2–8 s) → room → noise → sox EQ/codec → hum → gain/clip → WAV.
    func makeUtterance(_ recording: RecordingPlan, _ u: Int, context: WorkerContext, rir: [Float]?,
                       bed: [Float]?) throws(CorpusError) -> CorpusUtterance {
        let fs = Self.sampleRate
        let voice = recording.speaker.voice
        var speech: [Float] = []
        var words = ""
        let attempts = Self.synthesisAttempts
        for attempt in 0..<attempts {
            var r = recipe.random("text", recording, u, attempt)
            // The segment length is drawn U(2, 8) s; longer speech is cut there (as VoxCeleb segments are).
            let target = r.uniform(Self.minSeconds, Self.maxSeconds)
            let wps = Double(voice.espeak?.wordsPerMinute ?? 165) / 60
            words = text.text(language: voice.language, minWords: max(5, Int(target * wps * 0.9) + attempt * 4), &r)
            do throws(CorpusError) {
                speech = try synthesize(voice, jitter: recording.jitter, text: words, context: context)
            } catch let error where Self.isRedrawable(error, voice) && attempt < attempts - 1 {
                // festival's ked_diphone segfaults on some inputs (CORPUS.md §2.5): the next attempt redraws the text.
                continue
            }
            let cut = max(Int(target * Double(fs)), Int(Self.minSeconds * Double(fs)))
            if speech.count > cut { speech = SignalOps.fadeOut(Array(speech[0..<cut]), samples: fs / 50) }
            if speech.count >= Int(Self.minSeconds * Double(fs)) { break }
            if attempt == attempts - 1 {
                throw .utteranceTooShort(utterance: CorpusRecipe.utterancePath(recording, u),
                                         seconds: Double(speech.count) / Double(fs), attempts: attempts)
            }
        }
        let chain = recording.channel
        let count = speech.count
        var x = SignalOps.normalizePeak(speech, dBFS: -6)
        if let rir { x = SignalOps.convolveTruncated(x, rir) }
        var r = recipe.random("utterance-channel", recording, u)
        var snr: Double? = nil
        if chain.noise != .none {
            let utteranceSNR = chain.utteranceSNR(&r)
            var noise: [Float]
            if chain.noise == .babble, let bed, !bed.isEmpty {
                let offset = r.int(0...(bed.count - 1))
                noise = (0..<count).map { bed[(offset + $0) % bed.count] }
            } else {
                noise = NoiseGenerator.generate(chain.noise, count: count, sampleRate: fs, seed: r.next())
            }
            x = NoiseGenerator.mix(signal: x, noise: noise, snrDB: utteranceSNR)
            snr = utteranceSNR
        }
        x = try applySox(SignalOps.normalizePeak(x, dBFS: -3), chain: chain, context: context)
        x = SignalOps.fit(x, count: count)
        if let hum = chain.hum {
            let level = NoiseGenerator.rms(x) * pow(10, hum.levelDB / 20)
            let h = NoiseGenerator.hum(base: Double(hum.frequency), count: count, sampleRate: fs)
            for i in 0..<count { x[i] += Float(level) * h[i] }
        }
        if let drive = chain.clipDriveDB {
            x = SignalOps.softClip(x, driveDB: drive)
        } else {
            x = SignalOps.normalizePeak(x, dBFS: chain.gainDB)
        }
        let relative = CorpusRecipe.utterancePath(recording, u)
        do { try AudioFile.write(path: "\(output)/wav/\(relative)", samples: x, sampleRate: fs, format: .wav16) } catch {
            throw .audio(path: "\(output)/wav/\(relative)", message: error.description)
        }
        struct ChannelRow: Encodable { var chain: ChannelChain; var jitter: SessionJitter; var utteranceSNR: Double? }
        let id = "\(recording.speaker.id)-\(recording.id)-" + String(format: "%05d", u + 1)
        let voiceJSON = voice.json
        return CorpusUtterance(id: id, speaker: recording.speaker.id, recording: "\(recording.speaker.id)/\(recording.id)",
                               path: relative, split: recording.speaker.split,
                               duration: Double(count) / Double(fs), engine: voice.engine.rawValue, voice: voiceJSON,
                               channel: CorpusManifest.json(ChannelRow(chain: chain, jitter: recording.jitter, utteranceSNR: snr)),
                               text: words)
    }

    /// Text draws per utterance before giving up (too short, or the synthesiser failed).
    static let synthesisAttempts = 8

    /// A failure that a new text may avoid: festival crashing or erroring on an input.
    static func isRedrawable(_ error: CorpusError, _ voice: SpeakerVoice) -> Bool {
        if voice.engine == .festival, case .programFailed(let name, _, _, _) = error, name == "text2wave" { return true }
        return false
    }

    /// High-pass, low-pass, EQ and codec through sox (`-R -D`), on raw 32-bit float at 16 kHz.
    func applySox(_ x: [Float], chain: ChannelChain, context: WorkerContext) throws(CorpusError) -> [Float] {
        let input = "\(context.folder)/mix.f32", out = "\(context.folder)/out.f32"
        let raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-r", "16000", "-c", "1"]
        let data = x.withUnsafeBufferPointer { Data(buffer: $0) }
        do { try data.write(to: URL(fileURLWithPath: input)) } catch {
            throw .unwritableOutput(path: input, reason: error.localizedDescription)
        }
        if let (options, ext) = chain.codecEncode {
            let coded = "\(context.folder)/coded.\(ext)"
            try tools.run("sox", ["-R", "-D", "-V1"] + raw + [input] + options + [coded] + chain.soxEffects)
            try tools.run("sox", ["-R", "-D", "-V1", coded] + raw + [out])
        } else {
            try tools.run("sox", ["-R", "-D", "-V1"] + raw + [input] + raw + [out] + chain.soxEffects)
        }
        return try Self.readFloats(out)
    }

    /// Raw native-endian 32-bit float samples written by sox.
    static func readFloats(_ path: String) throws(CorpusError) -> [Float] {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else {
            throw .audio(path: path, message: "sox wrote no samples")
        }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}

/// A worker's scratch folder and its espeak-ng data folder: symbolic links to the system data plus
/// its own `voices/!v` holding the one variant file it rewrites per call (espeak-ng reads at most
/// 350 voices, so per-speaker variants are not accumulated).
struct WorkerContext {
    let folder: String
    var variantPath: String { "\(folder)/espeak-ng-data/voices/!v/cur" }

    static let systemData = ["/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
                             "/usr/share/espeak-ng-data", "/usr/local/share/espeak-ng-data"]

    init(folder: String, tools: ExternalTools) throws(CorpusError) {
        self.folder = folder
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: "\(folder)/espeak-ng-data/voices/!v", withIntermediateDirectories: true)
            guard tools.paths["espeak-ng"] != nil,
                  let system = Self.systemData.first(where: { fm.fileExists(atPath: "\($0)/phontab") }) else { return }
            for entry in try fm.contentsOfDirectory(atPath: system) where entry != "voices" {
                try fm.createSymbolicLink(atPath: "\(folder)/espeak-ng-data/\(entry)", withDestinationPath: "\(system)/\(entry)")
            }
            for entry in try fm.contentsOfDirectory(atPath: "\(system)/voices") where entry != "!v" {
                try fm.createSymbolicLink(atPath: "\(folder)/espeak-ng-data/voices/\(entry)",
                                          withDestinationPath: "\(system)/voices/\(entry)")
            }
        } catch {
            throw .unwritableOutput(path: folder, reason: error.localizedDescription)
        }
    }
}
