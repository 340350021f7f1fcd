import Testing
@testable import SVCorpus

/// Weak-label trials from Amazon Queen clip names: which names count, and which pairs are made.
@Suite struct GameSpeechTrialsTests {
    static func clip(_ stem: String) -> CorpusUtterance {
        CorpusUtterance(id: "fotaq-\(stem)", speaker: GameSpeechImport.unlabeledSpeaker, recording: "fotaq-\(stem)",
                        path: "fotaq/\(stem).wav", engine: "flight-of-the-amazon-queen")
    }

    @Test func namesGiveDialogueLineAndSpeaker() throws {
        let p = try #require(GameSpeechTrials.dialogueClip(path: "game/fotaq/02001FP2.wav"))
        #expect(p.dialogue == "02" && p.line == "02001F" && !p.joe)
        let j = try #require(GameSpeechTrials.dialogueClip(path: "fotaq/03SSSSJ1.wav"))
        #expect(j.dialogue == "03" && j.line == "03SSSS" && j.joe)
        #expect(try #require(GameSpeechTrials.dialogueClip(path: "fotaq/JOE00012.wav")).joe)
        // Parts 10–15 (hex A–F) are left out; a name shorter than a dialogue name does not trap.
        #expect(GameSpeechTrials.dialogueClip(path: "fotaq/02001FPA.wav") == nil)
        #expect(GameSpeechTrials.dialogueClip(path: "fotaq/0200.wav") == nil)
        for other in ["fotaq/C18_012.wav", "fotaq/1000SSSS.wav", "fotaq/0200ZZP1.wav", "fotaq/020006PX.wav", "fotaq/MIK_0001.wav", "fotaq/020001P2.mp3", "bass/50007.wav"] {
            #expect(GameSpeechTrials.dialogueClip(path: other) == nil, "\(other)")
        }
    }

    @Test func pairsFollowTheNamesOnly() {
        // Dialogue 02: P line 0006 in three parts, P line 0007 in one, Joe twice; dialogue 03: Joe once, P once.
        let stems = ["020006P1", "020006P2", "020006P3", "020007P1", "020006J1", "020008J1", "030001J1", "030002P1", "JOE00001", "C18_001"]
        var rows = stems.map(Self.clip)
        rows.append(CorpusUtterance(id: "bass-1", speaker: "-", recording: "bass-1", path: "bass/020006P4.wav", engine: "beneath-a-steel-sky"))
        let trials = GameSpeechTrials.amazonQueen(rows, seed: 1)
        let targets = trials.filter(\.target), nontargets = trials.filter { !$0.target }
        func stem(_ path: String) -> String { String(path.split(separator: "/").last!.dropLast(4)) }
        // The three parts of line 020006 give 3 pairs; as many Joe pairs from different dialogues.
        let partPairs = targets.filter { !stem($0.enroll).contains("J") && !stem($0.enroll).hasPrefix("JOE") }
        #expect(Set(partPairs.map { [stem($0.enroll), stem($0.test)] }) == [["020006P1", "020006P2"], ["020006P1", "020006P3"], ["020006P2", "020006P3"]])
        let joePairs = targets.filter { stem($0.enroll).contains("J") }
        #expect(joePairs.count == 3)
        for t in joePairs {
            #expect(GameSpeechTrials.dialogueClip(path: t.enroll)!.joe && GameSpeechTrials.dialogueClip(path: t.test)!.joe)
            #expect(GameSpeechTrials.dialogueClip(path: t.enroll)!.dialogue != GameSpeechTrials.dialogueClip(path: t.test)!.dialogue)
        }
        // Non-targets: Joe against the other person of the same dialogue, never across dialogues; at most as many as targets.
        #expect(!nontargets.isEmpty && nontargets.count <= targets.count)
        for t in nontargets {
            let a = GameSpeechTrials.dialogueClip(path: t.enroll)!, b = GameSpeechTrials.dialogueClip(path: t.test)!
            #expect(a.joe && !b.joe && a.dialogue == b.dialogue)
        }
        // The candidates are 2 Joe × 4 P in 0200 and 1 × 1 in 0300: 6 drawn from 9, no repeats, no Steel Sky clip.
        #expect(nontargets.count == 6 && Set(nontargets.map(\.line)).count == 6)
        #expect(!trials.contains { $0.enroll.hasPrefix("bass/") || $0.test.hasPrefix("bass/") })
        #expect(GameSpeechTrials.amazonQueen(rows, seed: 1) == trials)
    }
}
