import Foundation
import Testing
import SVAudio
import _SVTestSupport
@testable import SVCorpus

/// `corpus perturb`: speed-perturbed copies are new voices with the pitch and length the factor implies.
@Suite struct PerturbTests {
    /// A corpus of a labelled 440 Hz tone (1 s), an unlabelled 220 Hz tone (0.5 s) and a dev clip, at 16 kHz.
    static func sourceCorpus(in dir: TemporaryDirectory) throws -> String {
        let root = dir.path("source")
        var rows: [CorpusUtterance] = []
        for (id, speaker, hz, seconds, split) in [("a/r1/u1.wav", "a", 440.0, 1.0, CorpusSplit.train),
                                                  ("game/u2.wav", GameSpeechImport.unlabeledSpeaker, 220.0, 0.5, .train),
                                                  ("d/r1/u3.wav", "d", 330.0, 1.0, .dev)] {
            let n = Int(16_000 * seconds)
            let tone = (0..<n).map { Float(0.5 * sin(2 * Double.pi * hz * Double($0) / 16_000)) }
            try FileManager.default.createDirectory(atPath: "\(root)/wav/\((id as NSString).deletingLastPathComponent)",
                                                    withIntermediateDirectories: true)
            try AudioFile.write(path: "\(root)/wav/\(id)", samples: tone, sampleRate: 16_000, format: .wav16)
            rows.append(CorpusUtterance(id: id, speaker: speaker, recording: speaker == "a" ? "a/r1" : id, path: id, split: split,
                                        duration: seconds, engine: "tuxpaint-stamps-default"))
        }
        try CorpusManifest.writeAtomically(CorpusManifest.tsv(rows), to: "\(root)/meta.tsv")
        return root
    }

    /// Frequency of a tone from its upward zero crossings, away from the resampler's edges.
    static func frequency(_ x: [Float], sampleRate: Int) -> Double {
        let inner = Array(x[(x.count / 10)..<(x.count * 9 / 10)])
        var crossings: [Int] = []
        for i in 1..<inner.count where inner[i - 1] < 0 && inner[i] >= 0 { crossings.append(i) }
        return Double(crossings.count - 1) * Double(sampleRate) / Double(crossings.last! - crossings.first!)
    }

    @Test func copiesHaveThePitchAndLengthOfTheirFactorAndAreNewVoices() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = try Self.sourceCorpus(in: dir)
        let out = dir.path("perturbed")
        let rows = try CorpusPerturb.run(source: source, factors: [0.9, 1, 1.1], output: out, force: false, jobs: 2)
        #expect(rows.count == 6 && rows.allSatisfy { $0.split == .train }, "the dev clip is not copied")
        #expect(Set(rows.map(\.speaker)) == ["sp0.9/a", "sp1/a", "sp1.1/a", GameSpeechImport.unlabeledSpeaker])
        #expect(rows.allSatisfy { $0.engine == "tuxpaint-stamps-default" }, "provenance keeps the source")
        for factor in [0.9, 1.1] {
            let tag = CorpusPerturb.tag(factor)
            let clip = try AudioFile.readMono(path: "\(out)/wav/\(tag)/a/r1/u1.wav")
            #expect(clip.sampleRate == 16_000)
            #expect(abs(Double(clip.samples.count) - 16_000 / factor) <= 2, "\(tag): \(clip.samples.count) samples")
            let hz = Self.frequency(clip.samples, sampleRate: 16_000)
            #expect(abs(hz - 440 * factor) < 440 * factor * 0.005, "\(tag): \(hz) Hz")
            let row = try #require(rows.first { $0.path == "\(tag)/a/r1/u1.wav" })
            let voice = try JSONSerialization.jsonObject(with: Data(row.voice.utf8)) as? [String: Any]
            #expect(abs(row.duration - 1 / factor) < 0.001 && (voice?["speed"] as? Double) == factor, "\(row)")
        }
        // Factor 1 is the source's audio itself, linked.
        let same = try AudioFile.readMono(path: "\(out)/wav/sp1/game/u2.wav").samples
        #expect(same == (try AudioFile.readMono(path: "\(source)/wav/game/u2.wav").samples))
        // The manifest reads back; rerunning the same recipe (factors in any order) resumes, another one needs --force.
        #expect(try CorpusManifest.read(path: "\(out)/meta.tsv") == rows)
        #expect(try CorpusPerturb.run(source: source, factors: [1.1, 0.9, 1], output: out, force: false, jobs: 1) == rows)
        // An interrupted run (corpus.json still incomplete, one copy missing) resumes: only the missing file is written.
        let fm = FileManager.default
        let description = try String(contentsOfFile: "\(out)/corpus.json", encoding: .utf8)
        try description.replacingOccurrences(of: "\"complete\" : true", with: "\"complete\" : false")
            .write(toFile: "\(out)/corpus.json", atomically: true, encoding: .utf8)
        let kept = "\(out)/wav/sp1.1/a/r1/u1.wav", lost = "\(out)/wav/sp0.9/a/r1/u1.wav"
        let keptDate = Date(timeIntervalSinceNow: -3600)
        try fm.setAttributes([.modificationDate: keptDate], ofItemAtPath: kept)
        try fm.removeItem(atPath: lost)
        #expect(try CorpusPerturb.run(source: source, factors: [0.9, 1, 1.1], output: out, force: false, jobs: 1) == rows)
        #expect(fm.fileExists(atPath: lost))
        let keptNow = try fm.attributesOfItem(atPath: kept)[.modificationDate] as? Date
        #expect(keptNow.map { abs($0.timeIntervalSince(keptDate)) < 1 } == true, "a finished copy is not rewritten")
        #expect(throws: CorpusError.self) { try CorpusPerturb.run(source: source, factors: [0.8], output: out, force: false, jobs: 1) }
        #expect(try CorpusPerturb.run(source: source, factors: [0.8], output: out, force: true, jobs: 1).count == 2)
    }

    @Test func factorsOutsideTheRangeOrRepeatedAreRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = try Self.sourceCorpus(in: dir)
        #expect { try CorpusPerturb.run(source: source, factors: [0.9], output: source, force: true, jobs: 1) } throws: {
            guard case .invalidRecipe = $0 as? CorpusError else { return false }
            return true
        }
        for factors in [[3.0], [0.4], [], [1.1, 1.1], [1.1004]] {
            #expect { try CorpusPerturb.run(source: source, factors: factors, output: dir.path("x"), force: false, jobs: 1) } throws: {
                guard case .invalidRecipe = $0 as? CorpusError else { return false }
                return true
            }
        }
    }
}
