import Foundation
import Testing
@testable import SVCorpus

@Suite struct ManifestTests {
    static func sample() -> [CorpusUtterance] {
        var rows: [CorpusUtterance] = []
        for (s, split) in [("spk0001", CorpusSplit.train), ("spk0002", .train), ("dev0001", .dev), ("dev0002", .dev), ("dev0003", .dev)] {
            for r in 1...3 { for u in 1...2 {
                let path = "\(s)/rec0\(r)/0000\(u).wav"
                rows.append(CorpusUtterance(id: path, speaker: s, recording: "\(s)/rec0\(r)", path: path, split: split,
                                            duration: 2.5 + Double(u), engine: "espeak-ng", voice: #"{"a":1}"#,
                                            channel: #"{"codec":"gsm"}"#, text: "Hello\tthere."))
            }}
        }
        return rows
    }

    @Test func utteranceRoundTripsThroughJSON() throws {
        let u = CorpusUtterance(id: "u1", speaker: "s1", recording: "r1", path: "s1/r1/u1.wav")
        #expect(try JSONDecoder().decode(CorpusUtterance.self, from: JSONEncoder().encode(u)) == u)
    }

    @Test func metaTSVRoundTrips() throws {
        var rows = Self.sample()
        for k in rows.indices { rows[k].text = rows[k].text.replacingOccurrences(of: "\t", with: " ") }
        let parsed = try CorpusManifest.parse(tsv: CorpusManifest.tsv(Self.sample()))
        #expect(parsed == rows)
    }

    @Test func malformedManifestsAreReported() {
        #expect(throws: CorpusError.self) { try CorpusManifest.parse(tsv: "") }
        #expect(throws: CorpusError.self) { try CorpusManifest.parse(tsv: "a\tb\n") }
        let bad = CorpusManifest.columns.joined(separator: "\t") + "\nu\ts\tr\tnope\tp\t1\te\t{}\t{}\tt\n"
        do { _ = try CorpusManifest.parse(tsv: bad, path: "m.tsv"); Issue.record("no error") } catch {
            #expect(error.description.contains("m.tsv' line 2"))
        }
    }

    @Test func trainListHasNoDevSpeaker() {
        let list = CorpusManifest.list(Self.sample(), split: .train)
        #expect(!list.contains("dev0"))
        #expect(list.split(separator: "\n").count == 12)
        #expect(list.hasPrefix("spk0001 spk0001/rec01/00001.wav\n"))
    }

    @Test func trialListProperties() {
        let rows = Self.sample()
        let dev = rows.filter { $0.split == .dev }
        let byPath = Dictionary(uniqueKeysWithValues: dev.map { ($0.path, $0) })
        let cross = TrialListBuilder.build(dev, crossRecordingOnly: true, nonTargetsPerUtterance: 4, seed: 3)
        let all = TrialListBuilder.build(dev, crossRecordingOnly: false, nonTargetsPerUtterance: 4, seed: 3)
        for t in cross {
            let a = byPath[t.enroll]!, b = byPath[t.test]!
            #expect(t.enroll != t.test)
            if t.target { #expect(a.speaker == b.speaker && a.recording != b.recording) } else { #expect(a.speaker != b.speaker) }
        }
        // 3 speakers × (3 choose 2) recording pairs × 2 × 2 utterances; plus 3 × 3 same-recording pairs in `all`.
        #expect(cross.filter(\.target).count == 3 * 3 * 4)
        #expect(all.filter(\.target).count == 3 * 3 * 4 + 3 * 3)
        #expect(cross.filter { !$0.target } == all.filter { !$0.target })
        #expect(Set(all.map { [$0.enroll, $0.test].sorted() }).count == all.count)  // no repeated pair
        #expect(all.filter { !$0.target }.count >= dev.count * 4 / 2)
        #expect(TrialListBuilder.build(dev, crossRecordingOnly: true, nonTargetsPerUtterance: 4, seed: 3) == cross)
        #expect(TrialListBuilder.text(cross).hasPrefix("1 dev0001/rec01/00001.wav dev0001/rec02/00001.wav\n"))
    }
}
