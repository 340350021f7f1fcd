import Foundation
import SVFiles

/// One utterance of a VoxCeleb-like corpus: speaker → recording (one channel) → utterance.
public struct CorpusUtterance: Codable, Equatable, Sendable {
    public var id: String
    public var speaker: String
    public var recording: String
    /// Path relative to the corpus `wav/` folder.
    public var path: String
    public var split: CorpusSplit
    public var duration: Double
    public var engine: String
    /// Voice parameters as JSON (`{}` when unknown, e.g. imported data).
    public var voice: String
    /// Channel parameters as JSON, including this utterance's SNR.
    public var channel: String
    public var text: String

    public init(id: String, speaker: String, recording: String, path: String, split: CorpusSplit = .train,
                duration: Double = 0, engine: String = "", voice: String = "{}", channel: String = "{}",
                text: String = "") {
        self.id = id; self.speaker = speaker; self.recording = recording; self.path = path
        self.split = split; self.duration = duration; self.engine = engine; self.voice = voice
        self.channel = channel; self.text = text
    }
}

/// meta.tsv, train.txt and the dev list: writing and reading.
public enum CorpusManifest {
    public static let columns = ["utterance", "speaker", "recording", "split", "path", "duration",
                                 "engine", "voice", "channel", "text"]

    static func field(_ s: String) -> String {
        s.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: "\r", with: " ")
    }

    public static func tsv(_ utterances: [CorpusUtterance]) -> String {
        var out = columns.joined(separator: "\t") + "\n"
        for u in utterances {
            out += [u.id, u.speaker, u.recording, u.split.rawValue, u.path, String(format: "%.4f", u.duration),
                    u.engine, u.voice, u.channel, u.text].map(field).joined(separator: "\t") + "\n"
        }
        return out
    }

    public static func parse(tsv: String, path: String = "meta.tsv") throws(CorpusError) -> [CorpusUtterance] {
        var lines = tsv.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let header = lines.first else { throw .malformedManifest(path: path, line: 1, reason: "the file is empty") }
        guard header.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) == columns else {
            throw .malformedManifest(path: path, line: 1, reason: "expected the header '\(columns.joined(separator: "<TAB>"))'")
        }
        var out: [CorpusUtterance] = []
        for (k, line) in lines.enumerated().dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == columns.count else {
                throw .malformedManifest(path: path, line: k + 1, reason: "\(f.count) fields, expected \(columns.count)")
            }
            guard let split = CorpusSplit(rawValue: f[3]) else {
                throw .malformedManifest(path: path, line: k + 1, reason: "split '\(f[3])' is not train or dev")
            }
            guard let duration = Double(f[5]), duration >= 0 else {
                throw .malformedManifest(path: path, line: k + 1, reason: "duration '\(f[5])' is not a number of seconds")
            }
            guard !f[0].isEmpty, !f[1].isEmpty, !f[2].isEmpty, !f[4].isEmpty else {
                throw .malformedManifest(path: path, line: k + 1, reason: "empty utterance, speaker, recording or path")
            }
            out.append(CorpusUtterance(id: f[0], speaker: f[1], recording: f[2], path: f[4], split: split,
                                       duration: duration, engine: f[6], voice: f[7], channel: f[8], text: f[9]))
        }
        return out
    }

    public static func read(path: String) throws(CorpusError) -> [CorpusUtterance] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .malformedManifest(path: path, line: 0, reason: "cannot read the file")
        }
        return try parse(tsv: String(decoding: data, as: UTF8.self), path: path)
    }

    /// `speaker path` lines (the VoxCeleb train_list format) for one split.
    public static func list(_ utterances: [CorpusUtterance], split: CorpusSplit) -> String {
        utterances.filter { $0.split == split }.map { "\($0.speaker) \($0.path)\n" }.joined()
    }

    /// JSON with sorted keys (stable bytes for the same values).
    public static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Writes `text` to `path` atomically (`AtomicFile`).
    public static func writeAtomically(_ text: String, to path: String) throws(CorpusError) {
        do { try AtomicFile.write(text, to: path) } catch {
            throw .unwritableOutput(path: path, reason: error.description)
        }
    }
}
