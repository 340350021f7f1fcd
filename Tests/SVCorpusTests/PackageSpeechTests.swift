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
