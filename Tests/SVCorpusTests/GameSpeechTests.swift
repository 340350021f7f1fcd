import Foundation
import Testing
import SVAudio
import _SVTestSupport
@testable import SVCorpus

/// Speech extraction from Debian's ScummVM talkie packages, on the real package files: installed
/// (`apt-get install beneath-a-steel-sky flight-of-the-amazon-queen`, as `.ci/run` does) or unpacked
/// with `dpkg -x` under `$SPKV_GAME_ROOT`.
@Suite(.serialized) struct GameSpeechTests {
    static var root: String { ProcessInfo.processInfo.environment["SPKV_GAME_ROOT"] ?? "/" }

    static func steelSky() throws -> SteelSkySpeech {
        do { return try SteelSkySpeech(folder: GameSpeechImport.packageFolder("beneath-a-steel-sky", root: root)) } catch {
            Issue.record("install beneath-a-steel-sky (or set SPKV_GAME_ROOT to a dpkg -x folder): \(error)")
            throw error
        }
    }

    static func amazonQueen() throws -> AmazonQueenSpeech {
        do { return try AmazonQueenSpeech(folder: GameSpeechImport.packageFolder("flight-of-the-amazon-queen", root: root)) } catch {
            Issue.record("install flight-of-the-amazon-queen (or set SPKV_GAME_ROOT to a dpkg -x folder): \(error)")
            throw error
        }
    }

    @Test func steelSkyIndexAndRNCClipsDecodeWithTheirCRCs() throws {
        let sky = try Self.steelSky()
        #expect(sky.entries.count == 5_097)
        let speech = sky.speechEntries
        #expect(speech.count == 3_491 && speech.first?.number == 50_007)
        // Every 35th clip (100 clips): RNC-decoded with both CRCs checked, 8-bit PCM, 0.2–6 s at 11025 Hz.
        for entry in stride(from: 0, to: speech.count, by: 35).map({ speech[$0] }) {
            let samples = try sky.samples(of: entry)
            let seconds = Double(samples.count) / Double(SteelSkySpeech.sampleRate)
            #expect(seconds > 0.2 && seconds < 6, "clip \(entry.number): \(seconds) s")
            #expect(samples.allSatisfy { $0 >= -1 && $0 < 1 } && Set(samples).count > 20, "clip \(entry.number) is not audio-like")
        }
    }

    @Test func damagedRNCDataIsAnErrorNotAudio() throws {
        let sky = try Self.steelSky()
        let entry = sky.speechEntries[0]
        let disk = try Data(contentsOf: URL(fileURLWithPath: sky.dskPath), options: .alwaysMapped)
        let packed = [UInt8](disk[(entry.offset + 22)..<(entry.offset + entry.size)])
        func decode(_ bytes: [UInt8]) -> RNCProPack.DecodeError? {
            do { _ = try bytes.withUnsafeBufferPointer { (b) throws(RNCProPack.DecodeError) in try RNCProPack.decode(b) }; return nil } catch { return error }
        }
        #expect(decode(packed) == nil)
        var flipped = packed
        flipped[200] ^= 0x10
        #expect({ if case .packedCRC = decode(flipped) { true } else { false } }())
        var wrongUnpackedCRC = packed
        wrongUnpackedCRC[12] ^= 0x01
        #expect({ if case .unpackedCRC = decode(wrongUnpackedCRC) { true } else { false } }())
        #expect({ if case .truncated = decode(Array(packed.prefix(packed.count / 2))) { true } else { false } }())
        #expect(decode(Array("RIFF....".utf8) + packed) == .notRNC)
        var method2 = packed
        method2[3] = 2
        #expect(decode(method2) == .unsupportedMethod(2))
        // CRC-16/ARC check value.
        #expect(Array("123456789".utf8).withUnsafeBufferPointer { RNCProPack.crc16($0) } == 0xBB3D)
    }

    @Test func amazonQueenTableClassesAndMP3Clips() throws {
        let queen = try Self.amazonQueen()
        #expect(queen.version == "CEM10" && queen.compression == 1 && queen.entries.count == 7_671)
        let sounds = queen.soundEntries
        #expect(sounds.count == 6_745)
        var kinds: [AmazonQueenSpeech.Kind: Int] = [:]
        for e in sounds { kinds[e.kind, default: 0] += 1 }
        #expect(kinds[.soundEffect] == 136 && kinds[.notSpeech] == 6, "\(kinds)")
        #expect(kinds[.dialogueJoe, default: 0] + kinds[.joeDescription, default: 0] == 1_930, "\(kinds)")
        // A few clips decode from MP3 at 11025 Hz mono.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for e in sounds.filter({ $0.kind.isSpeech }).prefix(5) {
            try queen.bytes(of: e).write(to: URL(fileURLWithPath: dir.path("c.mp3")))
            let info = try AudioFile.info(path: dir.path("c.mp3"))
            #expect(info.sampleRate == 11_025 && info.channels == 1)
            #expect(try AudioFile.readMono(path: dir.path("c.mp3")).duration > 0.3)
        }
    }

    @Test func clipNamesAreClassifiedByTheContainersConventions() {
        let cases: [(String, AmazonQueenSpeech.Kind)] = [
            ("3700FFP1.SB", .dialogueOther), ("170006J1.SB", .dialogueJoe), ("12XXXXJ1.SB", .dialogueJoe),
            ("JOE04691.SB", .joeDescription), ("C41B_742.SB", .cutscene), ("CINTR051.SB", .cutscene),
            ("1000SSSS.SB", .soundEffect), ("21CSSSSS.SB", .soundEffect), ("5SSSSSSS.SB", .soundEffect),
            ("BLANK000.SB", .notSpeech), ("UNTITLED.SB", .notSpeech), ("MIK_0019.SB", .otherSpeech),
        ]
        for (name, kind) in cases { #expect(AmazonQueenSpeech.classify(name) == kind, "\(name)") }
        #expect(AmazonQueenSpeech.Kind.dialogueJoe.speakerHint == "joe" && AmazonQueenSpeech.Kind.dialogueOther.speakerHint == nil)
    }

    @Test func importWritesAnUnlabeledCorpusAndReportsIt() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let reports = try GameSpeechImport.run(root: Self.root, output: dir.path("game"), maxClips: 40, force: false)
        #expect(reports.map(\.package) == ["beneath-a-steel-sky", "flight-of-the-amazon-queen"])
        #expect(reports.allSatisfy { $0.clipsRead == 40 && $0.sourceRate == 11_025 && $0.clipsKept + $0.droppedShort + $0.droppedNotSpeech == 40 })
        let rows = try CorpusManifest.read(path: dir.path("game/meta.tsv"))
        #expect(rows.count == reports.reduce(0) { $0 + $1.clipsKept } && rows.count > 40)
        #expect(rows.allSatisfy { $0.speaker == GameSpeechImport.unlabeledSpeaker && $0.recording == $0.id && $0.duration >= 1 })
        let clip = try AudioFile.readMono(path: dir.path("game/wav/\(rows[0].path)"))
        #expect(abs(clip.duration - rows[0].duration) < 1e-3)
        #expect(try AudioFile.info(path: dir.path("game/wav/\(rows[0].path)")).sampleRate == 16_000)
        #expect(rows.contains { $0.voice.contains("\"speaker_hint\":\"joe\"") } || reports[1].kinds["dialogue-joe"] == nil)
        // A missing package is a clear error naming the file.
        #expect { try GameSpeechImport.run(root: dir.path("nowhere"), output: dir.path("g2"), force: false) } throws: {
            "\($0)".contains("sky.dnr") && "\($0)".contains("beneath-a-steel-sky")
        }
    }
}

/// The low-pass that band-limits wide-band training audio like 11025 Hz speech.
@Suite struct LowPassFilterTests {
    static func gain(_ filter: LowPassFilter, hz: Double) -> Double {
        let x = (0..<8_000).map { Float(sin(2 * Double.pi * hz * Double($0) / 16_000)) }
        let y = filter.apply(x)
        func rms(_ v: ArraySlice<Float>) -> Double { (v.reduce(0) { $0 + Double($1) * Double($1) } / Double(v.count)).squareRoot() }
        return rms(y[1_000..<7_000]) / rms(x[1_000..<7_000])
    }

    @Test func passesSpeechBandAndStopsAboveTheCutoff() {
        let f = LowPassFilter(cutoff: 5_512.5, sampleRate: 16_000)
        #expect(abs(f.taps.reduce(0, +) - 1) < 1e-5)
        for hz in [200.0, 1_000, 3_000, 4_800] { #expect(abs(Self.gain(f, hz: hz) - 1) < 0.01, "\(hz) Hz: \(Self.gain(f, hz: hz))") }
        for hz in [6_200.0, 7_000, 7_800] { #expect(20 * log10(Self.gain(f, hz: hz)) < -60, "\(hz) Hz: \(20 * log10(Self.gain(f, hz: hz))) dB") }
        #expect(f.apply([]).isEmpty && f.apply([1]).count == 1)
    }
}

extension GameSpeechTests {
    /// Damaged package files: each is a clear error naming the file, never a crash or silent garbage.
    @Test func corruptPackageFilesAreClearErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let sky = GameSpeechImport.packageFolder("beneath-a-steel-sky", root: Self.root)
        let queen = GameSpeechImport.packageFolder("flight-of-the-amazon-queen", root: Self.root)
        let fm = FileManager.default
        // sky.dnr cut short: its entry count promises more than it holds.
        let cut = dir.path("sky-cut")
        try fm.createDirectory(atPath: cut, withIntermediateDirectories: true)
        try fm.contents(atPath: "\(sky)/sky.dnr")!.prefix(1_000).write(to: URL(fileURLWithPath: "\(cut)/sky.dnr"))
        try fm.createSymbolicLink(atPath: "\(cut)/sky.dsk", withDestinationPath: "\(sky)/sky.dsk")
        #expect { try SteelSkySpeech(folder: cut) } throws: { "\($0)".contains("sky.dnr") && "\($0)".contains("announces 5097 entries") }
        // sky.dsk cut short: the first speech file lies outside it.
        let short = dir.path("sky-short")
        try fm.createDirectory(atPath: short, withIntermediateDirectories: true)
        try fm.copyItem(atPath: "\(sky)/sky.dnr", toPath: "\(short)/sky.dnr")
        try Data(repeating: 0, count: 4_096).write(to: URL(fileURLWithPath: "\(short)/sky.dsk"))
        let truncated = try SteelSkySpeech(folder: short)
        #expect { try truncated.samples(of: truncated.speechEntries[0]) } throws: { "\($0)".contains("sky.dsk") && "\($0)".contains("outside") }
        // queen.1c without its table, or with a table cut short.
        let q = dir.path("queen")
        try fm.createDirectory(atPath: q, withIntermediateDirectories: true)
        try Data("NOTQTBL".utf8).write(to: URL(fileURLWithPath: "\(q)/queen.1c"))
        #expect { try AmazonQueenSpeech(folder: q) } throws: { "\($0)".contains("queen.1c") && "\($0)".contains("QTBL") }
        try fm.contents(atPath: "\(queen)/queen.1c")!.prefix(5_000).write(to: URL(fileURLWithPath: "\(q)/queen.1c"))
        #expect { try AmazonQueenSpeech(folder: q) } throws: { "\($0)".contains("truncated") || "\($0)".contains("outside") }
    }
}
