import Foundation
import SVAudio

/// `spkv-train corpus import-package`: the labelled human speech of Debian packages (`SpeechPackage`) as a
/// corpus: each clip decoded by libsndfile (Ogg Vorbis, WAV), mixed to mono and resampled to 16 kHz,
/// clips shorter than `minimumSeconds` dropped, byte-identical files kept once, one recording per
/// clip; speaker = the voice as the package defines it, `engine` = the package, and the `voice` column
/// keeps language, kind, source rate and the label's caveats (flags).
public enum PackageSpeechImport {
    public static let outputRate = 16_000

    public struct PackageReport: Sendable, Equatable {
        public var package: String
        public var licence: String
        public var clipsRead = 0
        public var clipsKept = 0
        public var droppedShort = 0
        public var duplicates = 0
        public var keptSeconds = 0.0
        /// Kept clips per speaker.
        public var speakers: [String: Int] = [:]
        /// Source sample rates seen (Hz → clips).
        public var sampleRates: [Int: Int] = [:]
    }

    /// - Parameter maxClips: read at most this many clips per package, spread evenly over its sorted list
    ///   (a quick look, and tests).
    public static func run(packages: [SpeechPackage], root: String, output: String, minimumSeconds: Double = 0.5,
                           maxClips: Int? = nil, force: Bool,
                           progress: (String, Int, Int) -> Void = { _, _, _ in }) throws(CorpusError) -> [PackageReport] {
        precondition(!packages.isEmpty, "PackageSpeechImport: no package")
        // Every package is listed before anything is written: a missing one is an error up front.
        var listed: [(SpeechPackage, PackageFiles, [SpeechPackage.Clip])] = []
        for package in packages {
            let files = try PackageFiles(package: package, root: root)
            listed.append((package, files, try package.clips(in: files)))
        }
        // The recipe (packages, length limit, sampling) goes where `sameRecipe` compares it, so that another
        // import into the same folder needs --force instead of being taken for this one resumed.
        let recipe = "packages \(packages.map(\.rawValue).joined(separator: ",")); min_seconds \(minimumSeconds); max_clips \(maxClips.map { "\($0)" } ?? "all")"
        let description = CorpusDescription(kind: "import-package", options: nil, textSource: recipe,
                                            tools: Dictionary(uniqueKeysWithValues: packages.map { ($0.rawValue, $0.licence) })
                                                .merging(["max_clips": maxClips.map { "\($0)" } ?? "all",
                                                          "min_seconds": "\(minimumSeconds)"]) { a, _ in a },
                                            importRoot: URL(fileURLWithPath: root).standardizedFileURL.path,
                                            complete: false, utterances: 0, audioSeconds: 0)
        _ = try CorpusOutput.prepare(output, description: description, force: force)
        var rows: [CorpusUtterance] = [], reports: [PackageReport] = []
        for (package, files, all) in listed {
            var report = PackageReport(package: package.rawValue, licence: package.licence)
            let clips = maxClips.map { n in all.count <= n ? all : (0..<n).map { all[$0 * all.count / n] } } ?? all
            var seen: [UInt64: [SpeechPackage.Clip]] = [:]   // digest of the files → clips kept with it (duplicates kept once)
            for (k, clip) in clips.enumerated() {
                progress(package.rawValue, k, clips.count)
                report.clipsRead += 1
                // Each part is read (and inflated) once, for the duplicate check and the decoding.
                var parts: [Data] = []
                for part in clip.parts { parts.append(try files.bytes(part)) }
                let bytes = parts.reduce(Data(), +)
                // Equal digests are compared byte for byte, so a collision never drops a clip.
                let digest = fnv1a(bytes), earlier = seen[digest] ?? []
                var duplicate = false
                for kept in earlier where try clipBytes(kept, files) == bytes { duplicate = true; break }
                if duplicate { report.duplicates += 1; continue }
                seen[digest] = earlier + [clip]
                let (audio, sourceRate) = try decode(clip, parts: parts, files)
                guard audio.duration >= minimumSeconds else { report.droppedShort += 1; continue }
                let stem = ["ogg", "wav", "raw"].reduce(clip.path) { $0.replacingOccurrences(of: ".\($1)", with: "") }
                let relative = "\(package.rawValue)/\(stem).wav"
                let folder = ("\(output)/wav/\(relative)" as NSString).deletingLastPathComponent
                do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                    throw .unwritableOutput(path: folder, reason: error.localizedDescription)
                }
                do { try AudioFile.write(path: "\(output)/wav/\(relative)", samples: audio.samples, sampleRate: outputRate, format: .wav16) } catch {
                    throw .audio(path: "\(output)/wav/\(relative)", message: error.description)
                }
                var voice = ["kind": clip.kind, "source_rate": "\(sourceRate)"]
                if let language = clip.language { voice["language"] = language }
                if !clip.flags.isEmpty { voice["flags"] = clip.flags.joined(separator: ",") }
                let id = "\(package.rawValue)-" + stem.replacingOccurrences(of: "/", with: "-")
                rows.append(CorpusUtterance(id: id, speaker: "\(package.rawValue)/\(clip.speaker)", recording: id, path: relative,
                                            split: .train, duration: (audio.duration * 10_000).rounded() / 10_000,
                                            engine: package.rawValue, voice: CorpusManifest.json(voice)))
                report.clipsKept += 1
                report.keptSeconds += audio.duration
                report.speakers[clip.speaker, default: 0] += 1
                report.sampleRates[sourceRate, default: 0] += 1
            }
            reports.append(report)
        }
        try CorpusOutput.finishImport(output, rows: rows, description: description)
        return reports
    }

    /// The bytes of a clip's files, in order (what the duplicate check compares).
    static func clipBytes(_ clip: SpeechPackage.Clip, _ files: PackageFiles) throws(CorpusError) -> Data {
        var bytes = Data()
        for part in clip.parts { bytes.append(try files.bytes(part)) }
        return bytes
    }

    /// Silence between joined parts (syllables), as between words of a slow reading.
    static let joinGapSeconds = 0.1

    /// The clip at 16 kHz mono (its parts, whose bytes are `parts`, joined with `joinGapSeconds` of silence)
    /// and the source rate.
    static func decode(_ clip: SpeechPackage.Clip, parts: [Data], _ files: PackageFiles) throws(CorpusError) -> (AudioClip, Int) {
        var samples: [Float] = [], sourceRate = 0
        for (part, bytes) in zip(clip.parts, parts) {
            let (audio, rate) = try files.decode(part, bytes: bytes, outputRate: outputRate)
            if !samples.isEmpty { samples += [Float](repeating: 0, count: Int(joinGapSeconds * Double(outputRate))) }
            samples += audio.samples
            sourceRate = rate
        }
        do { return (try AudioClip(samples: samples, sampleRate: outputRate, source: clip.path), sourceRate) } catch {
            throw .gameData(path: files.location(clip.path), reason: "\(files.package.rawValue): \(error.description)")
        }
    }

    /// A headerless signed 16-bit little-endian mono file's bytes at `sampleRate`, resampled to 16 kHz;
    /// `source` names it in errors.
    static func pcm16(_ data: Data, sampleRate: Int, source: String) throws(AudioError) -> AudioClip {
        guard data.count >= 2, data.count % 2 == 0 else {
            throw .truncated(path: source, declaredFrames: (data.count + 1) / 2, readFrames: data.count / 2)
        }
        let pcm = data.withUnsafeBytes { raw in
            (0..<data.count / 2).map { Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) / 32_768 }
        }
        let resampled = sampleRate == outputRate ? pcm : Resampler(inputRate: sampleRate, outputRate: outputRate).process(pcm)
        return try AudioClip(samples: resampled, sampleRate: outputRate, source: source)
    }

    /// 64-bit FNV-1a of a file's bytes: the duplicate check keeps digests, not whole files.
    static func fnv1a(_ data: Data) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}
