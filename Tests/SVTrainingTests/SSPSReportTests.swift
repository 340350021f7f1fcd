import Foundation
import Testing
import SVCorpus
import _SVTestSupport
@testable import SVTraining

/// The label-free SSPS diagnostics on a memory whose clusters are known: three tight groups
/// (hinted clips of source A, other clips of A, clips of B) on orthogonal axes, six clips each.
@Suite struct SSPSReportTests {
    static let groups: [(source: String, hint: String?)] = [("game-a", "joe"), ("game-a", nil), ("game-b", nil)]

    /// Eighteen unlabeled utterances, six per group, each its own recording, and a memory holding them.
    static func setUp(_ dir: TemporaryDirectory) throws -> (TrainingCorpus, SSPSMemory) {
        var rows: [CorpusUtterance] = []
        for (g, group) in groups.enumerated() {
            for k in 0..<6 {
                let id = "u\(g)\(k)"
                rows.append(CorpusUtterance(id: id, speaker: GameSpeechImport.unlabeledSpeaker, recording: id, path: "\(id).wav",
                                            duration: 2, engine: group.source,
                                            voice: group.hint.map { "{\"kind\":\"dialogue\",\"speaker_hint\":\"\($0)\"}" } ?? "{}"))
            }
        }
        try FileManager.default.createDirectory(atPath: dir.path("c"), withIntermediateDirectories: true)
        try CorpusManifest.writeAtomically(CorpusManifest.tsv(rows), to: dir.path("c/meta.tsv"))
        let corpus = try TrainingCorpus(path: dir.path("c"))
        let n = 18, d = 4, memory = SSPSMemory(referenceCapacity: n, positiveCapacity: n, dimension: d)
        var references = [Float](repeating: 0, count: n * d)
        for u in 0..<n {
            // Group axis plus a small per-utterance tilt.
            references[u * d + u / 6] = 0.995
            references[u * d + 3] = 0.03 * Float(u % 6) - 0.075
        }
        memory.write(step: 0, indices: Array(0..<n), references: references, positives: references)
        return (corpus, memory)
    }

    static func config(clusters: Int) -> TrainingConfig {
        var c = TrainingConfig()
        c.ssps.enabled = true
        c.ssps.clusters = clusters
        c.ssps.neighbours = 0
        return c
    }

    @Test func separatedGroupsGivePureClustersAndAgreeingHints() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (corpus, memory) = try Self.setUp(dir)
        let r = SSPSClusterReport.make(memory: memory, config: Self.config(clusters: 3), corpus: corpus, epoch: 0)
        #expect(r.clusters == 3 && r.nonEmpty == 3 && r.sizeMedian == 6 && r.sizeMax == 6 && r.singletons == 0)
        #expect(abs(r.largestShare - 1.0 / 3) < 1e-12 && r.sourcePurity == 1)
        #expect(r.draws == 18 && r.coverage == 1 && r.otherSource == 0)
        #expect(r.sameSpeaker == nil && r.nmiSpeaker == nil)
        // With M = 0 an anchor may draw itself; those draws are counted apart, the rest stay in the group.
        let hint = try #require(r.hint)
        #expect(hint.hint == "joe" && hint.agreement == 1 && abs(hint.baseRate - 1.0 / 3) < 1e-12)
        #expect(hint.anchors >= 1 && hint.anchors <= 6 && r.selfDraws <= 18 - hint.anchors)
        // Every utterance is its own recording: the recording NMI of 3 clusters over 18 singletons is 2 log 3 / (log 3 + log 18).
        #expect(abs(try #require(r.nmiRecording) - 2 * log(3.0) / (log(3.0) + log(18.0))) < 1e-9)
        #expect(r.text.contains("source purity    100.0 %"))
    }

    @Test func oneClusterMixesSourcesAndTheMajoritySourceSetsPurity() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (corpus, memory) = try Self.setUp(dir)
        let r = SSPSClusterReport.make(memory: memory, config: Self.config(clusters: 1), corpus: corpus, epoch: 0)
        #expect(r.nonEmpty == 1 && r.sizeMax == 18 && r.largestShare == 1)
        #expect(abs(r.sourcePurity - 12.0 / 18) < 1e-12)
        // Draws are uniform over the eighteen rows: some cross sources.
        #expect(r.otherSource > 0)
    }

    @Test func quantilesInterpolateLikeNumpy() {
        #expect(SSPSClusterReport.quantile([1, 2, 3, 4], 0.5) == 2.5)
        #expect(abs(SSPSClusterReport.quantile([1, 2, 3, 4, 10], 0.9) - 7.6) < 1e-12)
        #expect(SSPSClusterReport.quantile([], 0.5) == 0)
        #expect(SSPSClusterReport.speakerHint(voice: "{\"speaker_hint\":\"joe\"}") == "joe")
        #expect(SSPSClusterReport.speakerHint(voice: "{}") == nil)
    }
}
