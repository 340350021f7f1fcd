import Foundation

/// `spkv-train corpus merge`: several corpora as one training corpus, e.g. the unlabeled game speech
/// plus a synthetic corpus, with the synthetic corpus's dev set as the evaluation. Nothing is copied:
/// `wav/<name>` links to each source's audio, and every path, utterance, speaker and recording id
/// gets the source's name as prefix (`name/…`) so ids from different corpora never collide. Unlabeled
/// utterances (speaker `-`) stay unlabeled. Dev lists and trial files are the sources' own, with their
/// paths rewritten, so evaluation is exactly the sources' evaluation.
public enum CorpusMerge {
    /// Sources by name, with `devOnly` set for the names in `devOnly`.
    public static func sources(_ arguments: [String], devOnly: [String]) throws(CorpusError) -> [Source] {
        let sources = arguments.map { a -> Source in
            var s = Source(a)
            s.devOnly = devOnly.contains(s.name)
            return s
        }
        if let unknown = devOnly.first(where: { name in !sources.contains { $0.name == name } }) {
            throw .invalidRecipe("--dev-only \(unknown) names no corpus (names: \(sources.map(\.name).joined(separator: ", ")))")
        }
        return sources
    }

    public struct Source: Sendable {
        public var name: String
        public var path: String
        /// Keep only this corpus's dev set (train on the other corpora, evaluate on this one's trials).
        public var devOnly = false

        /// `NAME=PATH`, or a path whose folder name becomes the name.
        public init(_ argument: String) {
            if let eq = argument.firstIndex(of: "="), eq != argument.startIndex {
                name = String(argument[..<eq]); path = String(argument[argument.index(after: eq)...])
            } else {
                path = argument
                name = URL(fileURLWithPath: argument).standardizedFileURL.lastPathComponent
            }
        }
    }

    public static func run(sources: [Source], output: String, force: Bool) throws(CorpusError) -> [CorpusUtterance] {
        guard sources.count >= 2 else { throw .invalidRecipe("merge needs at least two corpora") }
        let names = sources.map(\.name)
        guard Set(names).count == names.count, names.allSatisfy({ !$0.isEmpty && !$0.contains("/") && !$0.contains(" ") }) else {
            throw .invalidRecipe("corpus names must be distinct, non-empty, without '/' or spaces (use NAME=PATH): \(names)")
        }
        let fm = FileManager.default
        var rows: [CorpusUtterance] = []
        var devUtterances = "", trials = "", crossTrials = ""
        for source in sources {
            let meta = try CorpusManifest.read(path: "\(source.path)/meta.tsv")
            for var u in meta where !(source.devOnly && u.split == .train) {
                u.id = "\(source.name)/\(u.id)"
                if u.speaker != GameSpeechImport.unlabeledSpeaker { u.speaker = "\(source.name)/\(u.speaker)" }
                u.recording = "\(source.name)/\(u.recording)"
                u.path = "\(source.name)/\(u.path)"
                rows.append(u)
            }
            func rewritten(_ file: String, pathFields: [Int]) throws(CorpusError) -> String {
                guard let text = try? String(contentsOfFile: "\(source.path)/\(file)", encoding: .utf8) else { return "" }
                var out = ""
                for (k, line) in text.split(separator: "\n").enumerated() {
                    var f = line.split(separator: " ").map(String.init)
                    guard pathFields.allSatisfy({ $0 < f.count }) else {
                        throw .malformedManifest(path: "\(source.path)/\(file)", line: k + 1, reason: "too few fields")
                    }
                    for i in pathFields { f[i] = "\(source.name)/\(f[i])" }
                    if file == "dev/utterances.txt" { f[0] = "\(source.name)/\(f[0])" }
                    out += f.joined(separator: " ") + "\n"
                }
                return out
            }
            devUtterances += try rewritten("dev/utterances.txt", pathFields: [1])
            trials += try rewritten("dev/trials.txt", pathFields: [1, 2])
            crossTrials += try rewritten("dev/trials-cross-channel.txt", pathFields: [1, 2])
        }
        let description = CorpusDescription(kind: "merge", options: nil, textSource: nil,
                                            tools: Dictionary(uniqueKeysWithValues: sources.map { ($0.name, URL(fileURLWithPath: $0.path).standardizedFileURL.path) }),
                                            importRoot: nil, complete: false, utterances: 0, audioSeconds: 0)
        _ = try CorpusOutput.prepare(output, description: description, force: force)
        try? fm.removeItem(atPath: "\(output)/wav")
        do {
            try fm.createDirectory(atPath: "\(output)/wav", withIntermediateDirectories: true)
            for source in sources {
                let audio = URL(fileURLWithPath: "\(source.path)/wav").resolvingSymlinksInPath().standardizedFileURL.path
                try fm.createSymbolicLink(atPath: "\(output)/wav/\(source.name)", withDestinationPath: audio)
            }
        } catch {
            throw .unwritableOutput(path: "\(output)/wav", reason: error.localizedDescription)
        }
        try CorpusManifest.writeAtomically(CorpusManifest.tsv(rows), to: "\(output)/meta.tsv")
        try CorpusManifest.writeAtomically(CorpusManifest.list(rows, split: .train), to: "\(output)/train.txt")
        if !devUtterances.isEmpty || !trials.isEmpty || !crossTrials.isEmpty {
            do { try fm.createDirectory(atPath: "\(output)/dev", withIntermediateDirectories: true) } catch {
                throw .unwritableOutput(path: "\(output)/dev", reason: error.localizedDescription)
            }
            try CorpusManifest.writeAtomically(devUtterances, to: "\(output)/dev/utterances.txt")
            try CorpusManifest.writeAtomically(trials, to: "\(output)/dev/trials.txt")
            try CorpusManifest.writeAtomically(crossTrials, to: "\(output)/dev/trials-cross-channel.txt")
        }
        var done = description
        done.complete = true
        done.utterances = rows.count
        done.audioSeconds = (rows.reduce(0) { $0 + $1.duration } * 10).rounded() / 10
        try CorpusOutput.writeDescription(done, dir: output)
        return rows
    }
}
