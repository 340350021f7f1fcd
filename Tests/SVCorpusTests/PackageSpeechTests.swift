import Foundation
import Testing
import SVAudio
import _SVTestSupport
@testable import SVCorpus

/// Labelled speech from Debian packages: the label rules on path names, and the import on the real
/// package files — installed (`apt-get install tuxpaint-stamps-default hedgewars-data`, as `.ci/run`
/// does) or unpacked with `dpkg -x` under `$SPKV_PACKAGE_ROOT`.
@Suite(.serialized) struct PackageSpeechTests {
    static var root: String { ProcessInfo.processInfo.environment["SPKV_PACKAGE_ROOT"] ?? "/" }

    @Test func tuxpaintLabelsSayLanguageAndKind() {
        let cases: [(String, String?, [String])] = [
            ("food/apple/apple_desc_ro.ogg", "ro:desc", []),
            ("town/monuments/inukshuk-photo_desc_da.ogg.ogg", "da:desc", []),          // the package's one double extension
            ("food/cheese/cheese_desc_pt_BR.wav", "pt_BR:desc", ["several-speakers"]),
            ("animals/birds/pigeon_desc_fr.ogg", "fr:desc", ["several-speakers"]),
            ("animals/mammals/rat_desc.ogg", "en:desc", []),
            ("symbols/math/7_en_GB.ogg", "en_GB:digits-letters", []),
            ("symbols/math/3.ogg", "und:digits", ["language-unknown"]),
            ("symbols/math/operators/opplus_desc_es.ogg", "es:desc", []),
            ("symbols/alphabets/english/filled/lowercase/a_filled_en_GB.ogg", "en_GB:digits-letters", []),   // one recorder
            ("symbols/alphabets/english/filled/uppercase/a_ogonek_desc_lt.ogg", "lt:letters", []),
            ("symbols/alphabets/german/filled/a_umlaut_filled.ogg", "de:letters", []),
            ("symbols/alphabets/asl/asl_u_desc_ru.ogg", "ru:desc", []),
            // Sound effects and anything else are not speech of a known speaker.
            ("animals/birds/pigeon.ogg", nil, []),
            ("seasonal/hanukkah/dreydl-nun.ogg", nil, []),
            ("food/apple/apple_desc_ro.txt", nil, []),
        ]
        for (path, speaker, flags) in cases {
            let clip = SpeechPackage.tuxpaint.label(path)
            #expect(clip?.speaker == speaker, "\(path): \(String(describing: clip))")
            if speaker != nil { #expect(clip?.flags == flags, "\(path)") }
        }
        #expect(SpeechPackage.tuxpaint.label("symbols/math/3.ogg")?.language == nil)
    }

    @Test func hedgewarsLabelsAreThePackMergedWhereClipsAreShared() {
        #expect(SpeechPackage.hedgewars.label("Pirate/Hello.ogg")?.speaker == "Pirate")
        #expect(SpeechPackage.hedgewars.label("Classic/Hello.ogg")?.speaker == "Default")
        #expect(SpeechPackage.hedgewars.label("Russian_pl/Hello.ogg")?.speaker == "Default_pl")
        #expect(SpeechPackage.hedgewars.label("Pirate/Hello.ogg")?.flags == ["pitch-shifted"])
        for excluded in ["Robot/Hello.ogg", "Singer/Hello.ogg", "Pirate/Ow2.ogg", "Pirate/Laugh.ogg", "Pirate/Firepunch6.ogg",
                         "Pirate/PoisonCough.ogg", "Pirate/readme.txt", "Pirate/sub/Hello.ogg"] {
            #expect(SpeechPackage.hedgewars.label(excluded) == nil, "\(excluded)")
        }
    }

    /// The real packages: every package lists its clips with the survey's counts, and a spread of clips
    /// imports as 16 kHz WAV with its labels in meta.tsv.
    @Test func theInstalledPackagesImportWithTheirLabels() throws {
        let tuxpaint = try SpeechPackage.tuxpaint.clips(root: Self.root)
        let hedgewars = try SpeechPackage.hedgewars.clips(root: Self.root)
        // Bookworm's packages: 7,721 tuxpaint files match these rules (the survey, benchmarks/real-speech/PACKAGES.md,
        // counted 7,765 candidates with its own heuristics), 1,053 of them byte-identical copies; hedgewars: 13 packs ×
        // their verbal clips, Robot and Singer left out.
        #expect(tuxpaint.count > 7_600 && tuxpaint.count < 7_800, "\(tuxpaint.count) tuxpaint clips")
        #expect(hedgewars.count == 514, "\(hedgewars.count) hedgewars clips")
        #expect(Set(hedgewars.map(\.speaker)).count == 11)
        #expect(Set(tuxpaint.map(\.speaker)).isSuperset(of: ["ro:desc", "es:desc", "ru:desc", "fr:desc", "bg:desc", "el:desc",
                                                             "be:desc", "ca:desc", "da:desc", "ro:digits", "en_GB:digits-letters"]))
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let reports = try PackageSpeechImport.run(packages: [.tuxpaint, .hedgewars], root: Self.root, output: dir.path("c"),
                                                  maxClips: 24, force: false)
        #expect(reports.map(\.package) == ["tuxpaint-stamps-default", "hedgewars-data"])
        for r in reports {
            #expect(r.clipsRead == 24 && r.clipsKept + r.droppedShort + r.duplicates == 24 && r.clipsKept >= 15, "\(r)")
            #expect(r.keptSeconds > 0.5 * Double(r.clipsKept) && r.speakers.count >= 4, "\(r)")
            let rates = Set(r.sampleRates.keys)
            #expect(rates.isSubset(of: [8_000, 11_025, 22_050, 44_100, 48_000]), "\(r.sampleRates)")
        }
        let rows = try CorpusManifest.read(path: dir.path("c/meta.tsv"))
        #expect(rows.count == reports.reduce(0) { $0 + $1.clipsKept })
        for row in rows {
            let prefix = "\(row.engine)/"
            #expect(row.duration >= 0.5 && row.speaker.hasPrefix(prefix), "\(row)")
            let clip = try AudioFile.readMono(path: dir.path("c/wav/\(row.path)"))
            #expect(clip.sampleRate == 16_000 && abs(clip.duration - row.duration) < 1e-3, "\(row.path)")
            #expect(clip.samples.contains { abs($0) > 0.01 }, "\(row.path) is silent")
        }
        // Another import into the same folder is not taken for this one resumed.
        do {
            _ = try PackageSpeechImport.run(packages: [.hedgewars], root: Self.root, output: dir.path("c"), maxClips: 3, force: false)
            Issue.record("a different import into a corpus folder went ahead without --force")
        } catch {
            #expect(error.description.contains("--force"), "\(error)")
        }
        let voice = try #require(rows.first { $0.engine == "hedgewars-data" }?.voice)
        #expect(voice.contains("\"flags\":\"pitch-shifted\"") && voice.contains("\"kind\":\"voice-pack\""), "\(voice)")
    }

    @Test func gcinAndCodec2LabelsFollowTheSurvey() {
        #expect(SpeechPackage.gcin.label("ㄅㄚ2/3.ogg")?.speaker == "3")
        #expect(SpeechPackage.gcin.label("ㄅㄚ2/5.ogg")?.language == "zh")
        #expect(SpeechPackage.gcin.label("ㄅㄚ2/4.ogg") == nil && SpeechPackage.gcin.label("3.ogg") == nil)
        let syllables = (0..<13).map { SpeechPackage.Clip(path: String(format: "s%02d/3.ogg", $0), parts: [String(format: "s%02d/3.ogg", $0)],
                                                            speaker: "3", language: "zh", kind: "syllables", flags: []) }
        let joined = SpeechPackage.joinSyllables(syllables)
        #expect(joined.map(\.parts.count) == [6, 6, 1] && joined.map(\.path) == ["3/joined-0001", "3/joined-0002", "3/joined-0003"])
        #expect(joined[1].parts.first == "s06/3.ogg" && joined.allSatisfy { $0.speaker == "3" })
        #expect(SpeechPackage.codec2.label("raw/ve9qrp.raw")?.speaker == "VE9QRP")
        #expect(SpeechPackage.codec2.label("wav/wia_16kHz.wav")?.speaker == "wia")
        // Modem signals, concatenations, codec-processed copies, excerpts and an uncertain talker stay out.
        for excluded in ["wav/vk2tpm_004.wav", "wav/david4.wav", "wav/all.wav", "raw/hts.raw", "raw/m2400.raw", "raw/hts1a.raw",
                         "raw/ve9qrp_10s.raw", "raw/cross.raw", "wav/ve9qrp.wav", "raw/sine1k_2Hz_spread.raw"] {
            #expect(SpeechPackage.codec2.label(excluded) == nil, "\(excluded)")
        }
        // Tux Paint languages with overlapping or missing credits: their kinds may be one person.
        #expect(SpeechPackage.tuxpaint.mayBeSamePerson("be:desc", "be:digits"))
        #expect(!SpeechPackage.tuxpaint.mayBeSamePerson("ro:desc", "ro:digits"))
        #expect(!SpeechPackage.hedgewars.mayBeSamePerson("Pirate", "Surfer"))
    }

    /// gcin-voice and codec2-examples as installed: joined syllables, and raw 8-kHz files decoded exactly as
    /// libsndfile decodes their WAV twins.
    @Test func gcinAndCodec2Import() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let reports = try PackageSpeechImport.run(packages: [.gcin, .codec2], root: Self.root, output: dir.path("c"), maxClips: 6, force: false)
        #expect(reports[0].clipsKept == 6 && reports[0].speakers.keys.sorted() == ["3", "5"], "\(reports[0])")
        #expect(reports[0].keptSeconds > 6 * 1.8 && reports[0].keptSeconds < 6 * 3.5, "six syllables a clip: \(reports[0].keptSeconds) s")
        #expect(reports[1].clipsKept == 6 && reports[1].sampleRates[8_000] != nil, "\(reports[1])")
        let base = "\(Self.root)/usr/share/codec2"
        let raw = try PackageSpeechImport.pcm16(try Data(contentsOf: URL(fileURLWithPath: "\(base)/raw/vk5qi.raw")), sampleRate: 8_000,
                                                source: "vk5qi.raw")
        let wav = try AudioFile.readMono(path: "\(base)/wav/vk5qi.wav")
        #expect(raw.samples.count == wav.samples.count && maxAbsDifference(raw.samples, wav.samples) < 1e-6)
        // A raw file cut inside a sample is refused, named.
        let folder = dir.path("root/usr/share/codec2/raw")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\(folder)/vk5qi.raw"))
        do {
            _ = try PackageSpeechImport.run(packages: [.codec2], root: dir.path("root"), output: dir.path("c2"), force: false)
            Issue.record("no error")
        } catch {
            #expect(error.description.contains("vk5qi.raw") && error.description.contains("codec2-examples"), "\(error)")
        }
    }

    @Test func missingPackagesAndCorruptClipsAreClearErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Not installed under this root: named, with how to install it; nothing written.
        do {
            _ = try PackageSpeechImport.run(packages: [.hedgewars], root: dir.path("empty"), output: dir.path("c"), force: false)
            Issue.record("no error")
        } catch {
            #expect(error.description.contains("hedgewars-data") && error.description.contains("apt-get install"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("c")))
        // A clip that is not audio: the file is named.
        let folder = dir.path("root/usr/share/tuxpaint/stamps/food/apple")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data("OggS but not really".utf8).write(to: URL(fileURLWithPath: "\(folder)/apple_desc_ro.ogg"))
        do {
            _ = try PackageSpeechImport.run(packages: [.tuxpaint], root: dir.path("root"), output: dir.path("c2"), force: false)
            Issue.record("no error")
        } catch {
            #expect(error.description.contains("apple_desc_ro.ogg") && error.description.contains("tuxpaint-stamps-default"), "\(error)")
        }
    }
}
