import Foundation
import SVAudio

/// `spkv-train corpus import-game`: the speech of the two ScummVM talkies Debian ships, as an
/// **unlabeled** corpus: every clip decoded, resampled from 11025 Hz to 16 kHz (the band above
/// 5.5 kHz stays empty), clips shorter than `minimumSeconds` dropped, one recording per clip, and the
/// speaker column `-` (unknown: no speaker labels are invented). What the container does say is kept
/// in the `voice` column: the clip kind and, for Flight of the Amazon Queen, the hint that Joe speaks.
public enum GameSpeechImport {
    /// The speaker value of an unlabeled utterance in meta.tsv.
    public static let unlabeledSpeaker = "-"
    public static let outputRate = 16_000

    public struct PackageReport: Sendable, Equatable {
        public var package: String
        public var sourceRate: Int
        public var clipsRead = 0
        public var clipsKept = 0
        public var droppedShort = 0
        public var droppedNotSpeech = 0
        public var keptSeconds = 0.0
        /// Kept clips per container kind.
        public var kinds: [String: Int] = [:]
    }

    /// Package data folders as installed (`/usr/share/scummvm/<package>`) or under a `dpkg -x` root.
    public static func packageFolder(_ package: String, root: String) -> String {
        "\(root)/usr/share/scummvm/\(package)"
    }

    /// - Parameter maxClips: read at most this many clips per package (a quick look, and tests).
    public static func run(root: String, output: String, minimumSeconds: Double = 1, maxClips: Int? = nil, force: Bool,
                           progress: (String, Int, Int) -> Void = { _, _, _ in }) throws(CorpusError) -> [PackageReport] {
        let sky = try SteelSkySpeech(folder: packageFolder("beneath-a-steel-sky", root: root))
        let queen = try AmazonQueenSpeech(folder: packageFolder("flight-of-the-amazon-queen", root: root))
        guard let queenExtension = queen.streamExtension else {
            throw .gameData(path: queen.path, reason: "compression type \(queen.compression) is not one spkv decodes (MP3, Ogg or FLAC)")
        }
        let description = CorpusDescription(kind: "import-game", options: nil, textSource: nil,
                                            tools: ["beneath-a-steel-sky": "dnr \(sky.entries.count) entries",
                                                    "flight-of-the-amazon-queen": queen.version,
                                                    "max_clips": maxClips.map { "\($0)" } ?? "all"],
                                            importRoot: URL(fileURLWithPath: root).standardizedFileURL.path,
                                            complete: false, utterances: 0, audioSeconds: 0)
        _ = try CorpusOutput.prepare(output, description: description, force: force)
        let fm = FileManager.default
        for sub in ["wav/bass", "wav/fotaq", ".work"] {
            do { try fm.createDirectory(atPath: "\(output)/\(sub)", withIntermediateDirectories: true) } catch {
                throw .unwritableOutput(path: "\(output)/\(sub)", reason: error.localizedDescription)
            }
        }
        var rows: [CorpusUtterance] = []
        var skyReport = PackageReport(package: "beneath-a-steel-sky", sourceRate: SteelSkySpeech.sampleRate)
        let clips = Array(sky.speechEntries.prefix(maxClips ?? .max))
        for (k, entry) in clips.enumerated() {
            progress(skyReport.package, k, clips.count)
            skyReport.clipsRead += 1
            let native = try sky.samples(of: entry)
            guard Double(native.count) / Double(SteelSkySpeech.sampleRate) >= minimumSeconds else { skyReport.droppedShort += 1; continue }
            let samples = Resampler(inputRate: SteelSkySpeech.sampleRate, outputRate: outputRate).process(native)
            let relative = "bass/\(entry.number).wav"
            try write(samples, to: "\(output)/wav/\(relative)")
            let kind = "section-\(Self.steelSkySection(entry.number))"
            rows.append(row(id: "bass-\(entry.number)", path: relative, samples: samples.count, engine: skyReport.package,
                            voice: ["kind": kind, "source_rate": "\(SteelSkySpeech.sampleRate)", "source_format": "u8 PCM, RNC ProPack"]))
            skyReport.clipsKept += 1
            skyReport.keptSeconds += Double(samples.count) / Double(outputRate)
            skyReport.kinds[kind, default: 0] += 1
        }
        var queenReport = PackageReport(package: "flight-of-the-amazon-queen", sourceRate: 11_025)
        let sounds = Array(queen.soundEntries.prefix(maxClips ?? .max))
        let temporary = "\(output)/.work/clip.\(queenExtension)"
        for (k, entry) in sounds.enumerated() {
            progress(queenReport.package, k, sounds.count)
            queenReport.clipsRead += 1
            let kind = entry.kind
            guard kind.isSpeech else { queenReport.droppedNotSpeech += 1; continue }
            let clip: AudioClip
            do {
                try queen.bytes(of: entry).write(to: URL(fileURLWithPath: temporary))
                clip = try AudioFile.readMono(path: temporary, sampleRate: outputRate)
                queenReport.sourceRate = try AudioFile.info(path: temporary).sampleRate   // errors reported, not skipped
            } catch let error as AudioError {
                throw .gameData(path: queen.path, reason: "\(entry.name): \(error.description)")
            } catch {
                throw .unwritableOutput(path: temporary, reason: error.localizedDescription)
            }
            guard clip.duration >= minimumSeconds else { queenReport.droppedShort += 1; continue }
            let stem = String(entry.name.dropLast(3))
            let relative = "fotaq/\(stem).wav"
            try write(clip.samples, to: "\(output)/wav/\(relative)")
            var voice = ["kind": kind.rawValue, "source_rate": "\(queenReport.sourceRate)", "source_format": "\(queenExtension) stream"]
            if let hint = kind.speakerHint { voice["speaker_hint"] = hint }
            rows.append(row(id: "fotaq-\(stem)", path: relative, samples: clip.samples.count, engine: queenReport.package, voice: voice))
            queenReport.clipsKept += 1
            queenReport.keptSeconds += clip.duration
            queenReport.kinds[kind.rawValue, default: 0] += 1
        }
        try? fm.removeItem(atPath: "\(output)/.work")
        try CorpusOutput.finishImport(output, rows: rows, description: description)
        return [skyReport, queenReport]
    }

    /// Section of a Steel Sky speech file (bases 0, 600, 1100, 2430, 3380, 4530, 5080, 5230 above 50000).
    static func steelSkySection(_ number: Int) -> Int {
        let bases = [0, 600, 1100, 2430, 3380, 4530, 5080, 5230]
        return (bases.lastIndex { number - 50_000 >= $0 }) ?? 0
    }

    private static func row(id: String, path: String, samples: Int, engine: String, voice: [String: String]) -> CorpusUtterance {
        CorpusUtterance(id: id, speaker: unlabeledSpeaker, recording: id, path: path, split: .train,
                        duration: (Double(samples) / Double(outputRate) * 10_000).rounded() / 10_000, engine: engine,
                        voice: CorpusManifest.json(voice))
    }

    private static func write(_ samples: [Float], to path: String) throws(CorpusError) {
        do { try AudioFile.write(path: path, samples: samples, sampleRate: outputRate, format: .wav16) } catch {
            throw .audio(path: path, message: error.description)
        }
    }
}
