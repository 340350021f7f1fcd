/// One verification trial: `label enroll test`, label 1 for target.
public struct CorpusTrial: Equatable, Hashable, Sendable {
    public var target: Bool
    public var enroll: String
    public var test: String
    public var line: String { "\(target ? 1 : 0) \(enroll) \(test)" }
}

/// VoxCeleb-format trial lists over a set of utterances.
public enum TrialListBuilder {
    /// All target pairs (same speaker; with `crossRecordingOnly`, only pairs from different recordings),
    /// then for each utterance `nonTargetsPerUtterance` drawn utterances of other speakers (pairs are
    /// not repeated). Deterministic in `seed` and the order of `utterances`.
    public static func build(_ utterances: [CorpusUtterance], crossRecordingOnly: Bool,
                             nonTargetsPerUtterance: Int, seed: UInt64) -> [CorpusTrial] {
        var trials: [CorpusTrial] = []
        let n = utterances.count
        for i in 0..<n {
            for j in (i + 1)..<max(n, i + 1) where utterances[i].speaker == utterances[j].speaker {
                if crossRecordingOnly && utterances[i].recording == utterances[j].recording { continue }
                trials.append(CorpusTrial(target: true, enroll: utterances[i].path, test: utterances[j].path))
            }
        }
        var seen = Set<[Int]>()
        for i in 0..<n {
            let others = (0..<n).filter { utterances[$0].speaker != utterances[i].speaker }
            guard !others.isEmpty else { continue }
            var r = CorpusRandom(seed: seed, "nontarget", i)
            for pick in r.distinct(nonTargetsPerUtterance, of: others.count) {
                let j = others[pick]
                let key = [min(i, j), max(i, j)]
                if seen.insert(key).inserted {
                    trials.append(CorpusTrial(target: false, enroll: utterances[key[0]].path, test: utterances[key[1]].path))
                }
            }
        }
        return trials
    }

    public static func text(_ trials: [CorpusTrial]) -> String { trials.map { $0.line + "\n" }.joined() }
}
