import Foundation
import SVAudio

/// Reads a VoxCeleb-style tree `speaker/recording/utterance.wav` into the corpus manifest format.
/// The output folder gets a `wav` symbolic link to the tree, so paths in meta.tsv and the lists are
/// relative to `wav/` exactly as in a synthetic corpus.
public enum CorpusImport {
    public static let audioExtensions: Set<String> = ["wav", "flac", "ogg"]

    /// The utterances of the tree, sorted by path; dev speakers are `devSpeakers` speakers drawn with `seed`.
    public static func scan(root: String, devSpeakers: Int, seed: UInt64) throws(CorpusError) -> [CorpusUtterance] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw .badImportTree(path: root, reason: "it is not a folder")
        }
        var rows: [CorpusUtterance] = []
        let speakers = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        for speaker in speakers {
            let sp = "\(root)/\(speaker)"
            guard fm.fileExists(atPath: sp, isDirectory: &isDir), isDir.boolValue else { continue }
            for recording in ((try? fm.contentsOfDirectory(atPath: sp)) ?? []).filter({ !$0.hasPrefix(".") }).sorted() {
                let rp = "\(sp)/\(recording)"
                guard fm.fileExists(atPath: rp, isDirectory: &isDir), isDir.boolValue else { continue }
                for file in ((try? fm.contentsOfDirectory(atPath: rp)) ?? []).sorted()
                where !file.hasPrefix(".") && audioExtensions.contains((file as NSString).pathExtension.lowercased()) {
                    let relative = "\(speaker)/\(recording)/\(file)"
                    let info: AudioFileInfo
                    do { info = try AudioFile.info(path: "\(root)/\(relative)") } catch {
                        throw .audio(path: "\(root)/\(relative)", message: error.description)
                    }
                    let id = "\(speaker)-\(recording)-" + (file as NSString).deletingPathExtension
                    rows.append(CorpusUtterance(id: id, speaker: speaker, recording: "\(speaker)/\(recording)",
                                                path: relative, duration: (info.duration * 10_000).rounded() / 10_000,
                                                engine: "import"))
                }
            }
        }
        guard !rows.isEmpty else { throw .badImportTree(path: root, reason: "no speaker/recording/*.wav files found") }
        let names = Array(Set(rows.map(\.speaker))).sorted()
        guard devSpeakers >= 0, devSpeakers < names.count else {
            throw .invalidRecipe("--dev-speakers \(devSpeakers) must leave at least one of the \(names.count) speakers for training")
        }
        var r = CorpusRandom(seed: seed, "import-dev")
        let dev = Set(r.distinct(devSpeakers, of: names.count).map { names[$0] })
        for k in rows.indices where dev.contains(rows[k].speaker) { rows[k].split = .dev }
        return rows
    }

    /// Imports `root` into `output` (meta.tsv, train.txt, dev lists and trials, corpus.json, wav link).
    public static func run(root: String, output: String, devSpeakers: Int, seed: UInt64, force: Bool,
                           nonTargetsPerUtterance: Int = 8) throws(CorpusError) -> [CorpusUtterance] {
        let absolute = URL(fileURLWithPath: root).standardizedFileURL.path
        let rows = try scan(root: absolute, devSpeakers: devSpeakers, seed: seed)
        var description = CorpusDescription(kind: "import", options: nil, textSource: nil, tools: [:],
                                            importRoot: absolute, complete: false, utterances: 0, audioSeconds: 0)
        let resumed = try CorpusOutput.prepare(output, description: description, force: force)
        if resumed { try? FileManager.default.removeItem(atPath: "\(output)/wav") }
        do { try FileManager.default.createSymbolicLink(atPath: "\(output)/wav", withDestinationPath: absolute) } catch {
            throw .unwritableOutput(path: "\(output)/wav", reason: error.localizedDescription)
        }
        try CorpusOutput.writeManifests(output, utterances: rows, nonTargetsPerUtterance: nonTargetsPerUtterance, seed: seed)
        description.complete = true
        description.utterances = rows.count
        description.audioSeconds = (rows.reduce(0) { $0 + $1.duration } * 10).rounded() / 10
        try CorpusOutput.writeDescription(description, dir: output)
        return rows
    }
}
