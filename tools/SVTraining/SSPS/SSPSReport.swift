import Foundation
import SVCorpus

/// What an SSPS memory says about its clusters and pseudo-positives when speaker labels are missing
/// or partial (issue 9: real unlabeled speech). Everything here is computed from the queues a
/// checkpoint holds, so it describes the clustering the *next* epoch would sample from.
public struct SSPSClusterReport: Equatable, Sendable {
    /// k-means clusters asked for and clusters that hold at least one Q̂ row.
    public var clusters: Int
    public var nonEmpty: Int
    /// Cluster sizes (Q̂ rows) over the non-empty clusters.
    public var sizeMedian: Double
    public var sizeP90: Double
    public var sizeMax: Int
    public var singletons: Int
    /// Share of Q̂ rows in the largest cluster (a collapsed clustering puts most rows in one).
    public var largestShare: Double
    /// Share of Q̂ rows whose cluster's most common source (manifest `engine`: a game package or a
    /// TTS engine) is their own. Different sources share no speaker here, so mixing is an error
    /// that needs no labels to see.
    public var sourcePurity: Double
    /// One pseudo-positive drawn for every stored utterance exactly as training draws them.
    public var draws: Int
    /// Draws that returned the anchor's own stored embedding (possible with M = 0); left out of the
    /// same-speaker, other-source and hint shares below, which would count them as agreements.
    public var selfDraws: Int
    public var coverage: Double
    public var otherRecording: Double
    public var otherSource: Double
    /// Same-speaker share over draws where both utterances carry a speaker label (nil when none do).
    public var sameSpeaker: Double?
    /// For a partial hint (the manifest's `speaker_hint`, e.g. the Amazon Queen protagonist's lines):
    /// the share of hinted anchors whose pseudo-positive carries the same hint, against the hint's
    /// share among the Q′ slots positives are drawn from (what random pairing would give).
    public var hint: HintAgreement?
    public var nmiRecording: Double?
    public var nmiSpeaker: Double?

    public struct HintAgreement: Equatable, Sendable {
        public var hint: String
        public var anchors: Int
        public var agreement: Double
        public var baseRate: Double
    }

    /// Clusters `memory` as epoch `epoch` would (same seed, same k-means), then draws one positive per
    /// stored utterance (step 0 of that epoch's draw stream).
    public static func make(memory: SSPSMemory, config: TrainingConfig, corpus: TrainingCorpus, epoch: Int) -> SSPSClusterReport {
        let clusters = PositiveSampler.clusters(memory: memory, config: config.ssps, datasetSize: corpus.train.count,
                                                seed: config.seed, epoch: epoch, speakers: corpus.labels,
                                                recordings: corpus.recordingLabels, labeled: corpus.labeled)
        let stored = Array(Set(memory.referenceIndices.filter { $0 >= 0 }.map(Int.init))).sorted()
        let sources = corpus.train.map(\.engine)
        let hints = corpus.train.map { speakerHint(voice: $0.voice) }

        var members = [[Int]](repeating: [], count: clusters.clusterCount)
        for u in stored where clusters.assignments[u] >= 0 { members[Int(clusters.assignments[u])].append(u) }
        let sizes = members.map(\.count).filter { $0 > 0 }.sorted()
        var pure = 0
        for m in members where !m.isEmpty {
            var count: [String: Int] = [:]
            for u in m { count[sources[u], default: 0] += 1 }
            let top = count.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
            pure += m.filter { sources[$0] == top }.count
        }

        let picks = PositiveSampler.drawFromClusters(anchors: stored, memory: memory, clusters: clusters,
                                                     seed: config.seed, epoch: epoch, step: 0)
        var substituted = 0, selfDraws = 0, otherRecording = 0, otherSource = 0, labeledPairs = 0, sameSpeaker = 0
        var hintAnchors: [String: (anchors: Int, agree: Int)] = [:]
        for (u, slot) in zip(stored, picks) {
            guard let slot else { continue }
            let v = Int(memory.positiveIndices[slot])
            substituted += 1
            guard v != u else { selfDraws += 1; continue }
            if corpus.train[u].recording != corpus.train[v].recording { otherRecording += 1 }
            if sources[u] != sources[v] { otherSource += 1 }
            if corpus.labeled[u] && corpus.labeled[v] {
                labeledPairs += 1
                if corpus.labels[u] == corpus.labels[v] { sameSpeaker += 1 }
            }
            if let h = hints[u] {
                hintAnchors[h, default: (0, 0)].anchors += 1
                if hints[v] == h { hintAnchors[h]!.agree += 1 }
            }
        }
        let n = Double(max(substituted - selfDraws, 1))
        let slots = memory.positiveIndices.filter { $0 >= 0 }.map(Int.init)
        let hint = hintAnchors.max { ($0.value.anchors, $1.key) < ($1.value.anchors, $0.key) }.map { h, c in
            HintAgreement(hint: h, anchors: c.anchors, agreement: Double(c.agree) / Double(max(c.anchors, 1)),
                          baseRate: Double(slots.filter { hints[$0] == h }.count) / Double(max(slots.count, 1)))
        }
        return SSPSClusterReport(
            clusters: clusters.clusterCount, nonEmpty: sizes.count,
            sizeMedian: quantile(sizes, 0.5), sizeP90: quantile(sizes, 0.9), sizeMax: sizes.last ?? 0,
            singletons: sizes.filter { $0 == 1 }.count,
            largestShare: Double(sizes.last ?? 0) / Double(max(stored.count, 1)),
            sourcePurity: Double(pure) / Double(max(stored.count, 1)),
            draws: stored.count, selfDraws: selfDraws, coverage: Double(substituted) / Double(max(stored.count, 1)),
            otherRecording: Double(otherRecording) / n, otherSource: Double(otherSource) / n,
            sameSpeaker: labeledPairs > 0 ? Double(sameSpeaker) / Double(labeledPairs) : nil,
            hint: hint, nmiRecording: clusters.nmiRecording, nmiSpeaker: clusters.nmiSpeaker)
    }

    /// The `speaker_hint` field of a manifest voice JSON, if any.
    static func speakerHint(voice: String) -> String? {
        guard voice.contains("speaker_hint"),
              let object = try? JSONSerialization.jsonObject(with: Data(voice.utf8)) as? [String: Any] else { return nil }
        return object["speaker_hint"] as? String
    }

    /// Linear-interpolation quantile of sorted integers (numpy's default).
    static func quantile(_ sorted: [Int], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let x = q * Double(sorted.count - 1), lo = Int(x.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return Double(sorted[lo]) + (x - Double(lo)) * Double(sorted[hi] - sorted[lo])
    }

    public var text: String {
        func pct(_ x: Double) -> String { String(format: "%.1f %%", x * 100) }
        var lines = [
            "clusters         \(clusters) (\(nonEmpty) non-empty; sizes median \(String(format: "%.0f", sizeMedian)), "
                + "p90 \(String(format: "%.0f", sizeP90)), max \(sizeMax); \(singletons) singletons; largest holds \(pct(largestShare)) of the rows)",
            "source purity    \(pct(sourcePurity)) of rows are in a cluster whose most common source is their own",
            "pseudo-positives \(draws) anchors: coverage \(pct(coverage)), other recording \(pct(otherRecording)), other source \(pct(otherSource))",
        ]
        if selfDraws > 0 { lines.append("self draws       \(selfDraws) anchors drew their own stored embedding (left out of the shares)") }
        if let sameSpeaker { lines.append("same speaker     \(pct(sameSpeaker)) of draws between labeled utterances") }
        if let hint {
            lines.append("hint '\(hint.hint)'       \(pct(hint.agreement)) of \(hint.anchors) hinted anchors drew a hinted positive "
                         + "(\(pct(hint.baseRate)) by chance)")
        }
        if let nmiRecording { lines.append(String(format: "NMI recordings   %.3f", nmiRecording)) }
        if let nmiSpeaker { lines.append(String(format: "NMI speakers     %.3f (labeled rows)", nmiSpeaker)) }
        return lines.joined(separator: "\n")
    }
}
