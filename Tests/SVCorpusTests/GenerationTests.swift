import Foundation
import SVAudio
import Testing
@testable import SVCorpus

private let haveTools = ExternalTools.find("espeak-ng") != nil && ExternalTools.find("sox") != nil
private let skipMessage: Comment = "needs espeak-ng and sox on PATH (apt-get install espeak-ng sox); skipped"

private func temporaryFolder(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "svcorpus-\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Every regular file under `dir` (relative path → bytes), skipping nothing (shared by the corpus tests).
func snapshot(_ dir: String) -> [String: Data] {
    var out: [String: Data] = [:]
    let fm = FileManager.default
    guard let walker = fm.enumerator(atPath: dir) else { return out }
    while let item = walker.nextObject() as? String {
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: "\(dir)/\(item)", isDirectory: &isDir), !isDir.boolValue {
            out[item] = fm.contents(atPath: "\(dir)/\(item)")
        }
    }
    return out
}

@Suite struct GenerationTests {
    @Test(.enabled(if: haveTools, skipMessage), .timeLimit(.minutes(2)))
    func tinyCorpusEndToEndIsReproducibleAndResumable() throws {
        let out = temporaryFolder("e2e")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let options = CorpusOptions(speakers: 3, devSpeakers: 2, recordings: 2, utterances: 2, seed: 5,
                                    engines: [.espeakNG], nonTargetsPerUtterance: 3)
        let tools = try ExternalTools.locate(engines: options.engines)
        let generator = CorpusGenerator(options: options, text: .builtIn, tools: tools, output: out, jobs: 2)
        let report = try generator.run(force: false)
        #expect(report.utterances == 20 && report.generated == 20)

        let rows = try CorpusManifest.read(path: "\(out)/meta.tsv")
        #expect(rows.count == 20)
        #expect(Set(rows.map(\.speaker)).count == 5)
        for row in rows {
            let path = "\(out)/wav/\(row.path)"
            let info = try AudioFile.info(path: path)
            #expect(info.sampleRate == 16_000 && info.channels == 1 && info.formatName.contains("16 bit"))
            let clip = try AudioFile.readMono(path: path)
            #expect(clip.duration >= 2 && clip.duration <= 8, "\(row.path) lasts \(clip.duration) s")
            #expect(abs(clip.duration - row.duration) < 1e-3)
            #expect(SignalOps.peak(clip.samples) > 0.05)
            #expect(row.recording.hasPrefix(row.speaker + "/") && row.path.hasPrefix(row.recording + "/"))
            #expect(row.channel.contains("\"chain\"") && row.voice.contains("formants"))
        }
        let train = try String(contentsOfFile: "\(out)/train.txt", encoding: .utf8)
        #expect(train.split(separator: "\n").count == 12 && !train.contains("dev"))
        let dev = Dictionary(uniqueKeysWithValues: rows.filter { $0.split == .dev }.map { ($0.path, $0) })
        #expect(dev.count == 8)
        for name in ["trials.txt", "trials-cross-channel.txt"] {
            let lines = try String(contentsOfFile: "\(out)/dev/\(name)", encoding: .utf8).split(separator: "\n")
            #expect(!lines.isEmpty)
            for line in lines {
                let f = line.split(separator: " ").map(String.init)
                #expect(f.count == 3)
                guard f.count == 3, let a = dev[f[1]], let b = dev[f[2]] else { Issue.record("\(name): \(line)"); continue }
                #expect((f[0] == "1") == (a.speaker == b.speaker))
                if name == "trials-cross-channel.txt", f[0] == "1" { #expect(a.recording != b.recording) }
            }
        }

        // Interrupt: lose three utterances (one also without its manifest part), rerun, compare bytes.
        let before = snapshot(out)
        for p in rows.prefix(3).map(\.path) { try FileManager.default.removeItem(atPath: "\(out)/wav/\(p)") }
        try FileManager.default.removeItem(atPath: "\(out)/.parts/" + rows[0].path.replacingOccurrences(of: ".wav", with: ".json"))
        try FileManager.default.removeItem(atPath: "\(out)/meta.tsv")
        let again = try CorpusGenerator(options: options, text: .builtIn, tools: tools, output: out, jobs: 1).run(force: false)
        #expect(again.generated == 3)
        let after = snapshot(out)
        #expect(after.keys.sorted() == before.keys.sorted())
        for (path, data) in before where after[path] != data { Issue.record("\(path) differs after the rerun") }

        // A different recipe in the same folder needs --force.
        var other = options
        other.seed = 6
        #expect(throws: CorpusError.self) {
            _ = try CorpusGenerator(options: other, text: .builtIn, tools: tools, output: out, jobs: 1).run(force: false)
        }
    }

    @Test(.enabled(if: haveTools && ExternalTools.find("flite") != nil, "needs flite (apt-get install flite); skipped"))
    func fliteSpeakerSynthesises() throws {
        let out = temporaryFolder("flite")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let options = CorpusOptions(speakers: 1, devSpeakers: 0, recordings: 1, utterances: 1, seed: 1)
        let tools = try ExternalTools.locate(engines: [.espeakNG, .flite])
        let generator = CorpusGenerator(options: options, text: .builtIn, tools: tools, output: out, jobs: 1)
        let context = try WorkerContext(folder: out + "/w", tools: tools)
        var r = CorpusRandom(seed: 1, "flite")
        let voice = SpeakerVoice(engine: .flite, espeak: nil, flite: FliteVoice.draw(&r, base: "rms"))
        let speech = try generator.synthesize(voice, jitter: .none, text: "- The harbour opens early every morning.", context: context)
        #expect(speech.count > 16_000)
        #expect(try generator.synthesize(voice, jitter: .none, text: "- The harbour opens early every morning.", context: context) == speech)
    }

    @Test func missingProgramsNameTheirPackage() {
        do { _ = try ExternalTools.locate(engines: [.espeakNG, .flite], searchPath: "/nonexistent"); Issue.record("no error") } catch {
            #expect(error == .missingProgram(name: "sox", aptPackage: "sox"))
            #expect(error.description.contains("apt-get install sox"))
        }
        #expect(CorpusError.missingProgram(name: "flite", aptPackage: "flite").description.contains("--engines espeak-ng"))
    }

    /// Every codec of the channel chain is written and read back by this machine's sox (mp3 needs
    /// libsox-fmt-mp3, which a plain `apt-get install sox --no-install-recommends` leaves out).
    @Test(.enabled(if: haveTools, skipMessage)) func soxWritesEveryCodecOfTheRecipe() throws {
        let tools = try ExternalTools.locate(engines: [.espeakNG])
        try tools.checkCodecs(Codec.allCases)
    }

    /// A sox that lacks the mp3 handler (a wrapper that answers as sox does then, and hands every other
    /// call to the real sox) stops the generator before it creates the output folder, naming the package.
    @Test(.enabled(if: haveTools, skipMessage)) func aMissingCodecNamesItsPackageBeforeAnyWork() throws {
        let dir = temporaryFolder("nomp3")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sox = try #require(ExternalTools.find("sox"))
        let wrapper = dir + "/sox"
        try Data("""
            #!/bin/sh
            for a in "$@"; do case "$a" in *.mp3) echo "$0 FAIL formats: no handler for file extension \\`mp3'" >&2; exit 2;; esac; done
            exec \(sox) "$@"

            """.utf8).write(to: URL(fileURLWithPath: wrapper))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper)
        var paths = try ExternalTools.locate(engines: [.espeakNG]).paths
        paths["sox"] = wrapper
        let tools = ExternalTools(paths: paths)
        try tools.checkCodecs([.none, .gsm, .vorbis])  // the wrapper passes the others through
        // 4 speakers × 4 recordings: the recipe draws an mp3 channel among them (checked below).
        let options = CorpusOptions(speakers: 4, devSpeakers: 0, recordings: 4, utterances: 1, seed: 5, engines: [.espeakNG])
        let generator = CorpusGenerator(options: options, text: .builtIn, tools: tools, output: dir + "/corpus", jobs: 1)
        #expect(generator.recipe.allRecordings.contains { $0.channel.codec == .mp3 })
        do { _ = try generator.run(force: false); Issue.record("no error") } catch {
            guard case .missingCodec(let codec, let package, _) = error else { Issue.record("\(error)"); return }
            #expect(codec == "mp3" && package == "libsox-fmt-mp3")
            #expect(error.description.contains("apt-get install libsox-fmt-mp3"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/corpus"), "work started before the codec check")
    }

    @Test func outputFolderRules() throws {
        let dir = temporaryFolder("out")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = CorpusDescription(kind: "synth", options: CorpusOptions(speakers: 1, devSpeakers: 0, recordings: 1, utterances: 1, seed: 1),
                                  textSource: "x", tools: [:], importRoot: nil, complete: false, utterances: 0, audioSeconds: 0)
        #expect(try CorpusOutput.prepare(dir, description: d, force: false) == false)  // empty: fine
        _ = FileManager.default.createFile(atPath: "\(dir)/notes.txt", contents: Data("keep".utf8))
        #expect(throws: CorpusError.self) { try CorpusOutput.prepare(dir, description: d, force: false) }
        _ = FileManager.default.createFile(atPath: "\(dir)/meta.tsv", contents: Data())
        #expect(try CorpusOutput.prepare(dir, description: d, force: true) == false)
        #expect(FileManager.default.fileExists(atPath: "\(dir)/notes.txt"))  // --force removes only corpus files
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/meta.tsv"))
        try CorpusOutput.writeDescription(d, dir: dir)
        #expect(try CorpusOutput.prepare(dir, description: d, force: false) == true)  // same recipe: resume
        do { _ = try CorpusOutput.prepare("\(dir)/notes.txt/sub", description: d, force: false); Issue.record("no error") } catch {
            guard case .unwritableOutput = error else { Issue.record("\(error)"); return }
        }
    }

    @Test func importReadsAVoxCelebTree() throws {
        let root = temporaryFolder("tree"), out = temporaryFolder("imported")
        defer { try? FileManager.default.removeItem(atPath: root); try? FileManager.default.removeItem(atPath: out) }
        for s in ["id001", "id002", "id003", "id004"] { for r in ["vidA", "vidB"] { for u in ["00001", "00002"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(s)/\(r)", withIntermediateDirectories: true)
            try AudioFile.write(path: "\(root)/\(s)/\(r)/\(u).wav", samples: [Float](repeating: 0.1, count: 8_000),
                                sampleRate: 16_000, format: .wav16)
        }}}
        let rows = try CorpusImport.run(root: root, output: out, devSpeakers: 2, seed: 3, force: false)
        #expect(rows.count == 16)
        #expect(Set(rows.filter { $0.split == .dev }.map(\.speaker)).count == 2)
        #expect(rows.allSatisfy { abs($0.duration - 0.5) < 1e-6 })
        #expect(try CorpusManifest.read(path: "\(out)/meta.tsv") == rows)
        #expect(try AudioFile.readMono(path: "\(out)/wav/\(rows[0].path)").samples.count == 8_000)
        let cross = try String(contentsOfFile: "\(out)/dev/trials-cross-channel.txt", encoding: .utf8)
        #expect(cross.contains("1 ") && cross.contains("0 "))
        // --force on the output removes the `wav` link, never the imported tree behind it.
        let other = CorpusDescription(kind: "synth", options: nil, textSource: nil, tools: [:], importRoot: nil,
                                      complete: false, utterances: 0, audioSeconds: 0)
        _ = try CorpusOutput.prepare(out, description: other, force: true)
        #expect(!FileManager.default.fileExists(atPath: "\(out)/wav"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/id001/vidA/00001.wav"))
        #expect(throws: CorpusError.self) { _ = try CorpusImport.scan(root: out + "/none", devSpeakers: 0, seed: 1) }
        #expect(throws: CorpusError.self) { _ = try CorpusImport.scan(root: root, devSpeakers: 4, seed: 1) }
    }
}
