import Foundation
import Testing
import SVCorpus
import _SVTestSupport
@testable import SVTraining

/// The label-free SSPS diagnostics on a memory whose clusters are known: three tight groups
/// (hinted clips of source A, other clips of A, clips of B) on orthogonal axes.
@Suite struct SSPSReportTests {
    static let groups: [(source: String, hint: String?)] = [("game-a", "joe"), ("game-a", nil), ("game-b", nil)]

    /// Nine unlabeled utterances, three per group, each its own recording, and a memory holding them.
    static func setUp(_ dir: TemporaryDirectory) throws -> (TrainingCorpus, SSPSMemory) {
        var rows: [CorpusUtterance] = []
        for (g, group) in groups.enumerated() {
            for k in 0..<3 {
                let id = "u\(g)\(k)"
                rows.append(CorpusUtterance(id: id, speaker: GameSpeechImport.unlabeledSpeaker, recording: id, path: "\(id).wav",
                                            duration: 2, engine: group.source,
                                            voice: group.hint.map { "{\"kind\":\"dialogue\",\"speaker_hint\":\"\($0)\"}" } ?? "{}"))
            }
        }
        try FileManager.default.createDirectory(atPath: dir.path("c"), withIntermediateDirectories: true)
        try CorpusManifest.writeAtomically(CorpusManifest.tsv(rows), to: dir.path("c/meta.tsv"))
        let corpus = try TrainingCorpus(path: dir.path("c"))
        let d = 4, memory = SSPSMemory(referenceCapacity: 9, positiveCapacity: 9, dimension: d)
        var references = [Float](repeating: 0, count: 9 * d)
        for u in 0..<9 {
            // Group axis plus a small per-utterance tilt (unit length).
            let axis = u / 3
            references[u * d + axis] = 0.995
            references[u * d + 3] = 0.0998 * Float(u % 3 - 1)
        }
        memory.write(step: 0, indices: Array(0..<9), references: references, positives: references)
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
        #expect(r.clusters == 3 && r.nonEmpty == 3 && r.sizeMedian == 3 && r.sizeMax == 3 && r.singletons == 0)
        #expect(abs(r.largestShare - 1.0 / 3) < 1e-12 && r.sourcePurity == 1)
        #expect(r.draws == 9 && r.coverage == 1 && r.otherSource == 0)
        #expect(r.sameSpeaker == nil && r.nmiSpeaker == nil)
        let hint = try #require(r.hint)
        #expect(hint.hint == "joe" && hint.anchors == 3 && hint.agreement == 1 && abs(hint.baseRate - 1.0 / 3) < 1e-12)
        // Every utterance is its own recording: the recording NMI of 3 clusters over 9 singletons is log 3 / (log 3 + log 9)·2.
        #expect(abs(try #require(r.nmiRecording) - 2 * log(3.0) / (log(3.0) + log(9.0))) < 1e-9)
        #expect(r.text.contains("source purity    100.0 %"))
    }

    @Test func oneClusterMixesSourcesAndTheMajoritySourceSetsPurity() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (corpus, memory) = try Self.setUp(dir)
        let r = SSPSClusterReport.make(memory: memory, config: Self.config(clusters: 1), corpus: corpus, epoch: 0)
        #expect(r.nonEmpty == 1 && r.sizeMax == 9 && r.largestShare == 1)
        #expect(abs(r.sourcePurity - 6.0 / 9) < 1e-12)
        // Draws are uniform over the nine rows: some cross sources, some hinted anchors miss the hint.
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
