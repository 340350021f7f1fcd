import ArgumentParser
import Foundation
import SVCorpus

/// `spkv-train corpus synth|import`.
struct CorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Make a synthetic VoxCeleb-like corpus, or import a speaker/recording/utterance tree.",
        subcommands: [Synth.self, Import.self, ImportGame.self, ImportPackage.self, GameTrials.self, Trials.self, Merge.self, Perturb.self])

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate speakers → recordings (one channel each) → utterances with espeak-ng, flite, festival, piper and sox.",
            discussion: """
            Writes DIR/wav/<spk>/<rec>/<utt>.wav (16 kHz mono 16-bit), DIR/meta.tsv, DIR/train.txt, \
            DIR/dev/utterances.txt, DIR/dev/trials.txt (all target pairs) and DIR/dev/trials-cross-channel.txt \
            (targets from different recordings only), and DIR/corpus.json. Same options and seed give \
            byte-identical files. Rerunning an interrupted run with the same options skips finished utterances.
            """)

        @Option(name: .long, help: "Output folder.") var out: String
        @Option(name: .long, help: "Training speakers.") var speakers: Int = 8
        @Option(name: .customLong("dev-speakers"), help: "Held-out dev speakers (0, or at least 2).") var devSpeakers: Int = 4
        @Option(name: .long, help: "Recordings (channels) per speaker.") var recordings: Int = 4
        @Option(name: .long, help: "Utterances per recording.") var utterances: Int = 4
        @Option(name: .long, help: "Corpus seed.") var seed: UInt64 = 1
        @Option(name: .long, help: "Parallel workers.") var jobs: Int = 2
        @Option(name: .long, help: ArgumentHelp("Engines, comma separated: espeak-ng, flite, festival, piper.",
                                                 discussion: "Default: espeak-ng,flite, plus festival and piper when they and their voices are installed.",
                                                 valueName: "list")) var engines: String?
        @Option(name: .customLong("non-targets"), help: "Non-target trials drawn per dev utterance.") var nonTargets: Int = 8
        @Option(name: .customLong("mild-fraction"), help: "Share of mild recordings: no codec, SNR 20–30 dB.") var mildFraction: Double = 0
        @Flag(name: .long, help: "Replace a different corpus already in --out.") var force = false
        @Flag(name: .long, help: "No progress line.") var quiet = false

        func parsedEngines() throws -> [SynthEngine] {
            guard let engines else { return ExternalTools.defaultEngines() }
            return try engines.split(separator: ",").map {
                guard let e = SynthEngine(rawValue: $0.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("unknown engine '\($0)'; valid: \(SynthEngine.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return e
            }
        }

        func validate() throws {
            guard jobs >= 1, jobs <= 64 else { throw ValidationError("--jobs must be 1...64 (got \(jobs))") }
            try checkRange(nonTargets, 1...1_000, "--non-targets")
            try checkRange(mildFraction, 0...1, "--mild-fraction")
            try checkRange(speakers, 1...100_000, "--speakers")
            try checkRange(devSpeakers, 0...100_000, "--dev-speakers")
            let options = CorpusOptions(speakers: speakers, devSpeakers: devSpeakers, recordings: recordings,
                                        utterances: utterances, seed: seed, engines: try parsedEngines(),
                                        nonTargetsPerUtterance: nonTargets, mildFraction: mildFraction > 0 ? mildFraction : nil)
            do { try options.validate() } catch { throw ValidationError(error.description) }
        }

        func run() throws {
            let options = CorpusOptions(speakers: speakers, devSpeakers: devSpeakers, recordings: recordings,
                                        utterances: utterances, seed: seed, engines: try parsedEngines(),
                                        nonTargetsPerUtterance: nonTargets, mildFraction: mildFraction > 0 ? mildFraction : nil)
            let text = TextSource.load()
            let tools = try ExternalTools.locate(engines: options.engines, languages: text.espeakLanguages)
            let generator = CorpusGenerator(options: options, text: text, tools: tools, output: out, jobs: jobs)
            let quiet = self.quiet
            let start = Date()
            let report = try generator.run(force: force) { done, total in
                guard !quiet else { return }
                let elapsed = Date().timeIntervalSince(start)
                let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
                FileHandle.standardError.write(Data(String(format: "\rcorpus: %d/%d utterances, %.0f s elapsed, ETA %.0f s ",
                                                            done, total, elapsed, eta).utf8))
            }
            if !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
            print(String(format: "%d utterances (%d generated now), %.1f min of audio in %.1f s: %.1fx real time, text from %@",
                         report.utterances, report.generated, report.audioSeconds / 60, report.wallSeconds,
                         report.realTimeFactor, text.provenance.prefix(60).description))
            print("wrote \(out)/meta.tsv, train.txt" + (devSpeakers > 0 ? ", dev/trials.txt, dev/trials-cross-channel.txt" : ""))
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a VoxCeleb-style tree (speaker/recording/utt.wav) into the corpus manifest format.",
            discussion: "DIR/wav becomes a symbolic link to the tree; meta.tsv, train.txt and the dev trial lists are written as for synth.")

        @Option(name: .long, help: "Root of the speaker/recording/utterance.wav tree.") var root: String
        @Option(name: .long, help: "Output folder.") var out: String
        @Option(name: .customLong("dev-speakers"), help: "Speakers held out as the dev set.") var devSpeakers: Int = 0
        @Option(name: .long, help: "Seed for the dev split and non-target trials.") var seed: UInt64 = 1
        @Option(name: .customLong("non-targets"), help: "Non-target trials drawn per dev utterance.") var nonTargets: Int = 8
        @Flag(name: .long, help: "Replace a different corpus already in --out.") var force = false

        func validate() throws {
            try checkRange(devSpeakers, 0...100_000, "--dev-speakers")
            try checkRange(nonTargets, 1...1_000, "--non-targets")
        }

        func run() throws {
            let rows = try CorpusImport.run(root: root, output: out, devSpeakers: devSpeakers, seed: seed, force: force,
                                            nonTargetsPerUtterance: nonTargets)
            let speakers = Set(rows.map(\.speaker)).count
            let dev = Set(rows.filter { $0.split == .dev }.map(\.speaker)).count
            print("imported \(rows.count) utterances of \(speakers) speakers (\(dev) dev) into \(out)")
        }
    }

    struct ImportGame: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-game",
            abstract: "Extract the speech of Debian's beneath-a-steel-sky and flight-of-the-amazon-queen packages as an unlabeled corpus.",
            discussion: """
                ROOT is / for installed packages, or a folder where both .deb files were unpacked with `dpkg -x` \
                (the data lies under usr/share/scummvm/). Every speech clip is decoded (Steel Sky: RNC ProPack \
                with both CRCs checked, 8-bit PCM; Amazon Queen: MP3), resampled from 11025 Hz to 16 kHz, and \
                written as 16-bit WAV; clips shorter than --min-seconds are dropped. meta.tsv has one recording per \
                clip and speaker '-' (unlabeled); its voice column keeps the clip kind and, where the container \
                says so, a speaker hint (Joe). Prints clips, hours and sample rates per package.
                """)

        @Option(name: .long, help: "Root of the installed or dpkg -x extracted packages.") var root: String = "/"
        @Option(name: .long, help: "Output folder.") var out: String
        @Option(name: .customLong("min-seconds"), help: "Drop clips shorter than this.") var minSeconds: Double = 1
        @Option(name: .customLong("max-clips"), help: "Read at most this many clips per package (a quick look).") var maxClips: Int?
        @Flag(name: .long, help: "Replace a different corpus already in --out.") var force = false

        func validate() throws {
            try checkRange(minSeconds, 0...60, "--min-seconds")
            if let maxClips { try checkRange(maxClips, 1...1_000_000, "--max-clips") }
        }

        func run() throws {
            let start = Date()
            let reports = try GameSpeechImport.run(root: root, output: out, minimumSeconds: minSeconds, maxClips: maxClips, force: force)
            for r in reports {
                let kinds = r.kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print(String(format: "%@: %d clips read at %d Hz, %d kept (%.3f h at 16 kHz), %d shorter than %.1f s, %d not speech; %@",
                             r.package, r.clipsRead, r.sourceRate, r.clipsKept, r.keptSeconds / 3600, r.droppedShort, minSeconds,
                             r.droppedNotSpeech, kinds))
            }
            let total = reports.reduce(0) { $0 + $1.keptSeconds }
            print(String(format: "wrote %d unlabeled clips, %.3f h, to %@ in %.0f s", reports.reduce(0) { $0 + $1.clipsKept }, total / 3600,
                         out, Date().timeIntervalSince(start)))
        }
    }

    struct ImportPackage: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-package",
            abstract: "Import the labelled human speech of Debian packages as a corpus (speaker = the voice as the package defines it).",
            discussion: """
                PACKAGE: \(SpeechPackage.allCases.map(\.rawValue).joined(separator: ", ")). ROOT is / for installed packages, \
                or a folder where the .deb files were unpacked with `dpkg -x`. Clips are decoded by libsndfile, mixed \
                to mono, resampled to 16 kHz and written as 16-bit WAV under wav/<package>/; clips shorter than \
                --min-seconds and byte-identical copies are dropped. Speakers: tuxpaint-stamps-default \
                '<language>:<desc|digits|letters>' (descriptions and digits are different volunteers; French and \
                pt_BR descriptions are flagged several-speakers; en_GB digits and letters are one recorder), \
                hedgewars-data the voice pack (Robot and Singer and the non-verbal clips left out; every pack flagged \
                pitch-shifted), gcin-voice '3' or '5' (six syllables joined per clip, 0.1 s apart), codec2-examples \
                the talker (one recording each; raw files are 8 kHz s16le). The voice column of meta.tsv \
                keeps language, kind, source rate and flags. Prints clips, hours, speakers, sample rates and licence \
                per package. The survey behind the rules: benchmarks/real-speech/PACKAGES.md.
                """)

        @Argument(help: "Packages to import.") var packages: [String]
        @Option(name: .long, help: "Root of the installed or dpkg -x extracted packages.") var root: String = "/"
        @Option(name: .long, help: "Output folder.") var out: String
        @Option(name: .customLong("min-seconds"), help: "Drop clips shorter than this.") var minSeconds: Double = 0.5
        @Option(name: .customLong("max-clips"), help: "Read at most this many clips per package, spread over its list (a quick look).")
        var maxClips: Int?
        @Flag(name: .long, help: "Replace a different corpus already in --out.") var force = false

        func validate() throws {
            try checkRange(minSeconds, 0...60, "--min-seconds")
            if let maxClips { try checkRange(maxClips, 1...1_000_000, "--max-clips") }
            guard !packages.isEmpty else { throw ValidationError("name at least one package") }
            for p in packages where SpeechPackage(rawValue: p) == nil {
                throw ValidationError("unknown package '\(p)'; this spkv reads \(SpeechPackage.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() throws {
            let start = Date()
            let reports = try PackageSpeechImport.run(packages: packages.compactMap(SpeechPackage.init(rawValue:)), root: root, output: out,
                                                      minimumSeconds: minSeconds, maxClips: maxClips, force: force)
            for r in reports {
                let rates = r.sampleRates.sorted { $0.key < $1.key }.map { "\($0.key) Hz \($0.value)" }.joined(separator: ", ")
                print(String(format: "%@: %d clips read, %d kept (%.3f h), %d shorter than %.1f s, %d duplicates; %d speakers; %@",
                             r.package, r.clipsRead, r.clipsKept, r.keptSeconds / 3600, r.droppedShort, minSeconds, r.duplicates,
                             r.speakers.count, rates))
                print("  speakers: " + r.speakers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                print("  licence: \(r.licence)")
            }
            print(String(format: "wrote %d labelled clips, %.3f h, to %@ in %.0f s", reports.reduce(0) { $0 + $1.clipsKept },
                         reports.reduce(0) { $0 + $1.keptSeconds } / 3600, out, Date().timeIntervalSince(start)))
        }
    }

    struct GameTrials: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "game-trials",
            abstract: "Real-speech trials from Amazon Queen clip names (weak labels): parts of one line, Joe vs Joe, Joe vs his dialogue partner.",
            discussion: """
                Targets: every pair of parts of one line of the other person in a dialogue, and as many pairs of \
                Joe clips from different dialogues; non-targets: Joe against the other person of the same \
                dialogue, as many as targets. Paths are the corpus's (relative to its wav/ folder), so the list \
                feeds `spkv score --audio-root CORPUS/wav`. The corpus stays unlabeled for training; note that \
                a model trained on it has heard these clips (without labels).
                """)

        @Option(name: .long, help: "A corpus folder with the game import (or a merge of it).") var corpus: String
        @Option(name: .long, help: "Trial list to write.") var out: String
        @Option(name: .long, help: "Seed of the Joe–Joe and non-target draws.") var seed: UInt64 = 2026

        func run() throws {
            let rows = try CorpusManifest.read(path: "\(corpus)/meta.tsv")
            let trials = GameSpeechTrials.amazonQueen(rows, seed: seed)
            guard !trials.isEmpty else {
                throw CorpusError.gameData(path: corpus, reason: "its meta.tsv has no Amazon Queen line in several parts to pair (import the whole package with `spkv-train corpus import-game`)")
            }
            try CorpusManifest.writeAtomically(TrialListBuilder.text(trials), to: out)
            let targets = trials.filter(\.target).count
            print("wrote \(trials.count) trials to \(out): \(targets) targets, \(trials.count - targets) non-targets")
        }
    }

    struct Trials: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The real-speech benchmark: trial lists over an import-package corpus, confounds kept apart.",
            discussion: """
                Writes into --out-dir: all.txt, same-language.txt (non-targets between speakers of one language, \
                targets of the languages that have several speakers), cross-language.txt, cross-package.txt, \
                short.txt / long.txt (both sides shorter / not shorter than --short-seconds), package-<name>.txt \
                (both sides in one package: the leave-one-package-out lists) and enroll3.txt with enroll3.enrollments \
                (models of three clips: spkv score --enrollments). Labels that cover several people or no known \
                language give no trials, and speakers a package may have recorded twice are never non-targets \
                (benchmarks/real-speech/README.md). Paths are the corpus's (relative to its wav/ folder), for \
                spkv score --audio-root CORPUS/wav. Deterministic in --seed and the corpus.
                """)

        @Option(name: .long, help: "A corpus folder written by import-package.") var corpus: String
        @Option(name: .customLong("out-dir"), help: "Folder for the lists.") var outDir: String
        @Option(name: .customLong("max-clips-per-speaker"), help: "Clips per speaker the lists draw from.") var maxClipsPerSpeaker = 100
        @Option(name: .customLong("targets-per-clip"), help: "Target partners drawn per clip.") var targetsPerClip = 2
        @Option(name: .customLong("nontargets-per-pool"), help: "Non-targets per clip from each pool (same language, same package, anywhere).")
        var nonTargetsPerPool = 2
        @Option(name: .customLong("short-seconds"), help: "Short / long boundary.") var shortSeconds = 1.5
        @Option(name: .long, help: "Seed of every draw.") var seed: UInt64 = 2026

        func validate() throws {
            try checkRange(maxClipsPerSpeaker, 2...1_000_000, "--max-clips-per-speaker")
            try checkRange(targetsPerClip, 1...1_000, "--targets-per-clip")
            try checkRange(nonTargetsPerPool, 1...1_000, "--nontargets-per-pool")
            try checkRange(shortSeconds, 0.1...60, "--short-seconds")
        }

        func run() throws {
            let rows = try CorpusManifest.read(path: "\(corpus)/meta.tsv")
            guard rows.contains(where: { SpeechPackage(rawValue: $0.engine) != nil }) else {
                throw CorpusError.gameData(path: corpus, reason: "its meta.tsv has no clip of a labelled package (import them with `spkv-train corpus import-package`)")
            }
            var settings = PackageTrials.Settings()
            settings.maxClipsPerSpeaker = maxClipsPerSpeaker; settings.targetsPerClip = targetsPerClip
            settings.nonTargetsPerPool = nonTargetsPerPool; settings.shortSeconds = shortSeconds; settings.seed = seed
            let lists = PackageTrials.build(rows, settings: settings)
            do { try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true) } catch {
                throw CorpusError.unwritableOutput(path: outDir, reason: error.localizedDescription)
            }
            for (name, trials) in lists.lists {
                try CorpusManifest.writeAtomically(TrialListBuilder.text(trials), to: "\(outDir)/\(name).txt")
                let targets = trials.filter(\.target).count
                print("\(name).txt: \(targets) targets, \(trials.count - targets) non-targets")
            }
            if !lists.enrollments.isEmpty {
                let name = "enroll\(settings.enrollClips).enrollments"
                try CorpusManifest.writeAtomically(PackageTrials.enrollmentText(lists.enrollments), to: "\(outDir)/\(name)")
                print("\(name): \(lists.enrollments.count) models of \(settings.enrollClips) clips")
            }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Combine corpora into one training corpus (e.g. unlabeled game speech + a synthetic corpus with its dev set).",
            discussion: """
                Each CORPUS is a corpus folder, optionally NAME=FOLDER (default name: the folder's name). Nothing \
                is copied: wav/NAME links to each corpus's audio; ids, speakers, recordings and paths get NAME/ as \
                prefix (unlabeled speakers stay '-'); the dev lists and trial files are the sources' own with \
                rewritten paths, so a merged run is evaluated exactly as its sources.
                """)

        @Argument(help: "Corpora to merge (two or more): FOLDER or NAME=FOLDER.") var corpora: [String]
        @Option(name: .customLong("dev-only"), help: "Take only this corpus's dev set (repeatable): train on the others, evaluate on it.")
        var devOnly: [String] = []
        @Option(name: .long, help: "Output folder.") var out: String
        @Flag(name: .long, help: "Replace a different corpus already in --out.") var force = false

        func run() throws {
            let rows = try CorpusMerge.run(sources: CorpusMerge.sources(corpora, devOnly: devOnly), output: out, force: force)
            let train = rows.filter { $0.split == .train }
            let unlabeled = train.filter { $0.speaker == GameSpeechImport.unlabeledSpeaker }.count
            print(String(format: "merged %d corpora into %@: %d training utterances (%d unlabeled), %d dev, %.2f h of training audio",
                         corpora.count, out, train.count, unlabeled, rows.count - train.count,
                         train.reduce(0) { $0 + $1.duration } / 3600))
        }
    }

    struct Perturb: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Speed-perturbed copies of a corpus's training audio, as new voices (pitch, formants and tempo × f).",
            discussion: """
                Writes OUT/wav/sp<f>/… (16-bit PCM at the source's rate) for each factor and OUT/meta.tsv with ids, \
                speakers and recordings prefixed sp<f>/ (unlabeled clips stay unlabeled); factor 1 links the source's \
                audio (so do not also merge the source itself). Only the training split; no dev set. Merge the result with \
                other corpora (`corpus merge`) or train on it; with `distill.teacher_model` the teacher embeds each copy itself. Rerunning an \
                interrupted run with the same options skips finished files.
                """)

        @Argument(help: "Corpus folder.") var corpus: String
        @Option(name: .long, help: "Speed factors, comma separated (0.5–2), e.g. 0.9,1.1.") var factors: String = "0.9,1.1"
        @Option(name: .long, help: "Output folder.") var out: String
        @Option(name: .long, help: "Parallel workers.") var jobs: Int = 2
        @Flag(name: .long, help: "Replace a different corpus already in --out.") var force = false

        func run() throws {
            let values = try factors.split(separator: ",").map { text -> Double in
                guard let f = Double(text.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--factors: '\(text)' is not a number") }
                return f
            }
            let rows = try CorpusPerturb.run(source: corpus, factors: values, output: out, force: force, jobs: jobs)
            let labeled = Set(rows.map(\.speaker).filter { $0 != GameSpeechImport.unlabeledSpeaker })
            print(String(format: "perturbed %@ into %@: %d utterances (%d labeled voices), %.2f h",
                         corpus, out, rows.count, labeled.count, rows.reduce(0) { $0 + $1.duration } / 3600))
        }
    }
}
