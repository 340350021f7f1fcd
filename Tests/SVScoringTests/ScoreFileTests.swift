import Foundation
import SVKernels
import Testing
import _SVTestSupport
@testable import SVScoring

@Suite struct ScoreFileTests {
    /// Random Doubles over the whole range: raw bit patterns (any magnitude, subnormals, both signs)
    /// plus hand-picked edge values.
    static func randomScores(seed: UInt64, count: Int) -> [Double] {
        var rng = SplitMix64(seed: seed)
        var out: [Double] = [0, -0.0, 1, -1, 0.1, -0.3, 1e-300, -1e-300, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
                             .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1e16, 123456789012345680, 2.5e-8]
        while out.count < count {
            let x: Double
            switch rng.next() % 3 {
            case 0: x = Double(bitPattern: rng.next())  // anything
            case 1: x = (Double(rng.next() >> 11) / Double(1 << 53) - 0.5) * 40  // LLR-like
            default: x = Double(rng.nextFloat()) * 2 - 1  // cosine-like (Float values)
            }
            if x.isFinite { out.append(x) }
        }
        return out
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func formatParseRoundTripIsBitExact(seed: UInt64) throws {
        let scores = Self.randomScores(seed: seed, count: 2000)
        let labels: [TrialLabel?] = [.target, .nontarget, nil]
        let list = ScoreList(
            header: ["kind": "llr", "model": "0x1234abcd", "prior": "0.01", "source": "my trials/v1 100%.txt"],
            trials: scores.enumerated().map { i, s in
                ScoredTrial(enroll: "e\(i % 17).wav", test: "dir/t\(i).wav", score: s, label: labels[i % 3])
            })
        let text = ScoreFile.format(list)
        let back = try ScoreFile.parse(text, source: "round-trip")
        #expect(back.header == list.header)
        #expect(back.trials.count == list.trials.count)
        for (a, b) in zip(back.trials, list.trials) {
            #expect(a.score.bitPattern == b.score.bitPattern, "\(b.score) read back as \(a.score)")
            #expect(a.enroll == b.enroll && a.test == b.test && a.label == b.label)
        }
        #expect(back.kind == .llr)
    }

    @Test func formatIsShortestAndHeaderFirst() {
        let list = ScoreList(header: ["kind": "cosine", "model": "abc"],
                             trials: [ScoredTrial(enroll: "a", test: "b", score: 0.1, label: .target),
                                      ScoredTrial(enroll: "a", test: "c", score: -2.5e-7, label: nil),
                                      ScoredTrial(enroll: "a", test: "d", score: 3, label: .nontarget)])
        #expect(ScoreFile.format(list)
                == "# spkv-scores kind=cosine model=abc\na b 0.1 target\na c -2.5e-07\na d 3.0 nontarget\n")
        #expect(ScoreFile.format(ScoreList(trials: [ScoredTrial(enroll: "x", test: "y", score: 1.5, label: nil)]))
                == "x y 1.5\n")
    }

    @Test func headerKeyValues() throws {
        let text = """
            # spkv-scores kind=asnorm model=deadbeef
            #   prior=0.05 note=a%20b%25 ignored-word
            a b 1.0
            # kind=llr  (after the first trial: a plain comment)
            a c 2.0 target
            """
        let list = try ScoreFile.parse(text, source: "h")
        #expect(list.header == ["kind": "asnorm", "model": "deadbeef", "prior": "0.05", "note": "a b%"])
        #expect(list.kind == .asnorm)
        #expect(list.trials.map(\.label) == [nil, .target])
        // headerless files (e.g. written by other toolkits) are fine
        #expect(try ScoreFile.parse("a b 0.5\n", source: "h").header.isEmpty)
    }

    @Test(arguments: [
        ("# kind=plda\na b 1\n", 1, "unknown score kind"),
        ("# note=%zz\na b 1\n", 1, "key=value"),
        ("a b 1\na c\n", 2, "2 fields"),
        ("a b 1 target extra\n", 1, "5 fields"),
        ("a b one\n", 1, "not a finite number"),
        ("a b nan\n", 1, "not a finite number"),
        ("a b inf target\n", 1, "not a finite number"),
        ("a b 1 same\n", 1, "neither target nor nontarget"),
        ("a b 1 1\n", 1, "neither target nor nontarget"),
    ])
    func malformedScoreLines(text: String, line: Int, reason: String) {
        #expect {
            try ScoreFile.parse(text, source: "s.txt")
        } throws: { error in
            guard case let .malformed(source, l, _, r) = error as? TrialListError else { return false }
            return source == "s.txt" && l == line && r.contains(reason)
        }
    }

    @Test func emptyDuplicateAndUnreadable() {
        #expect(throws: TrialListError.empty(source: "s")) { try ScoreFile.parse("# spkv-scores kind=llr\n", source: "s") }
        #expect(throws: TrialListError.duplicate(source: "s", line: 2, firstLine: 1, enroll: "a", test: "b")) {
            try ScoreFile.parse("a b 1\na b 2\n", source: "s")
        }
        #expect(throws: TrialListError.unreadable(path: "/nonexistent/scores.txt")) {
            try ScoreFile.read(path: "/nonexistent/scores.txt")
        }
    }

    @Test func readCommittedFixtureAndAttachLabels() throws {
        let scores = try ScoreFile.read(path: Fixtures.path("scoring/scores_small.txt"))
        let trials = try TrialList.read(path: Fixtures.path("scoring/trials_mixed.txt"))
        #expect(scores.kind == .cosine && scores.trials.count == 4)
        let labelled = try ScoreFile.attachLabels(scores, from: trials)
        #expect(labelled.trials.map(\.label) == [.target, .nontarget, .target, .nontarget])
        #expect(labelled.trials.map(\.score) == scores.trials.map(\.score))
        #expect(labelled.header == scores.header)
    }

    @Test func attachLabelsErrors() throws {
        let trials = [Trial(enroll: "a", test: "b", label: .target, line: 1),
                      Trial(enroll: "a", test: "c", label: nil, line: 2)]
        func scores(_ pairs: [(String, String, TrialLabel?)]) -> ScoreList {
            ScoreList(trials: pairs.map { ScoredTrial(enroll: $0.0, test: $0.1, score: 0, label: $0.2) })
        }
        #expect(try ScoreFile.attachLabels(scores([("a", "b", nil)]), from: trials).trials[0].label == .target)
        #expect(try ScoreFile.attachLabels(scores([("a", "b", .target)]), from: trials).trials[0].label == .target)
        #expect(throws: TrialListError.notInTrials(enroll: "b", test: "a")) {
            try ScoreFile.attachLabels(scores([("a", "b", nil), ("b", "a", nil)]), from: trials)
        }
        #expect(throws: TrialListError.missingLabel(enroll: "a", test: "c")) {
            try ScoreFile.attachLabels(scores([("a", "c", nil)]), from: trials)
        }
        #expect(throws: TrialListError.labelConflict(enroll: "a", test: "b", scoreLabel: .nontarget, trialLabel: .target)) {
            try ScoreFile.attachLabels(scores([("a", "b", .nontarget)]), from: trials)
        }
        // a trial list that labels the same pair both ways (built by hand; parse would reject the repeat)
        let conflicting = trials + [Trial(enroll: "a", test: "b", label: .nontarget, line: 3)]
        #expect(throws: TrialListError.labelConflict(enroll: "a", test: "b", scoreLabel: .nontarget, trialLabel: .target)) {
            try ScoreFile.attachLabels(scores([("a", "b", nil)]), from: conflicting)
        }
        // an unlabelled repeat does not erase an earlier label
        let repeated = trials + [Trial(enroll: "a", test: "b", label: nil, line: 3)]
        #expect(try ScoreFile.attachLabels(scores([("a", "b", nil)]), from: repeated).trials[0].label == .target)
        for e: TrialListError in [.notInTrials(enroll: "x", test: "y"), .missingLabel(enroll: "x", test: "y"),
                                  .labelConflict(enroll: "x", test: "y", scoreLabel: .target, trialLabel: .nontarget)] {
            #expect(e.description.contains("'x y'"))
        }
    }
}
