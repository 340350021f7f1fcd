import Testing
import Foundation
import _SVTestSupport
@testable import SVScoring

@Suite struct TrialsTests {
    @Test func voxCelebKaldiAndUnlabeledMixedInOneFile() throws {
        let text = """
            # VoxCeleb, Kaldi and unlabeled lines may be mixed
            1 id10270/a.wav id10271/b.wav
            0\tid10270/a.wav   id10300/c.wav

            spk1-utt1 spk1-utt2 target
              # indented comment
            spk1-utt1 spk2-utt1 nontarget\r
            x.wav y.wav
            """
        let trials = try TrialList.parse(text, source: "mixed.txt")
        #expect(trials == [
            Trial(enroll: "id10270/a.wav", test: "id10271/b.wav", label: .target, line: 2),
            Trial(enroll: "id10270/a.wav", test: "id10300/c.wav", label: .nontarget, line: 3),
            Trial(enroll: "spk1-utt1", test: "spk1-utt2", label: .target, line: 5),
            Trial(enroll: "spk1-utt1", test: "spk2-utt1", label: .nontarget, line: 7),
            Trial(enroll: "x.wav", test: "y.wav", label: nil, line: 8),
        ])
    }

    @Test func crlfAndTrailingNewline() throws {
        let trials = try TrialList.parse("1 a b\r\n0 a c\r\n", source: "crlf")
        #expect(trials.map(\.test) == ["b", "c"])
        #expect(trials.map(\.label) == [.target, .nontarget])
    }

    /// Each malformed line: the error names the source and the 1-based line, and shows the line.
    @Test(arguments: [
        ("1 a b\nonlyone\n", 2, "onlyone", "1 field"),
        ("1 a b\n0 a c\n1 a b c\n", 3, "1 a b c", "4 fields"),
        ("a b c d e\n", 1, "a b c d e", "5 fields"),
        ("\n\n2 a b\n", 3, "2 a b", "unknown label"),
        ("a b same\n", 1, "a b same", "unknown label"),
        ("a b Target\n", 1, "a b Target", "unknown label"),
        ("1 a target\n", 1, "1 a target", "ambiguous"),
    ])
    func malformedLines(text: String, line: Int, shown: String, reason: String) {
        #expect {
            try TrialList.parse(text, source: "t.txt")
        } throws: { error in
            guard case let .malformed(source, l, t, r) = error as? TrialListError else { return false }
            let message = (error as! TrialListError).description
            return source == "t.txt" && l == line && t == shown && r.contains(reason)
                && message.hasPrefix("t.txt:\(line): ") && message.contains(shown)
        }
    }

    @Test func emptyAndCommentOnlyFilesAreErrors() {
        for text in ["", "\n\n", "# only a comment\n   \n\t\n"] {
            #expect(throws: TrialListError.empty(source: "e.txt")) { try TrialList.parse(text, source: "e.txt") }
        }
        #expect(TrialListError.empty(source: "e.txt").description.contains("e.txt"))
    }

    @Test func duplicatePairIsAnErrorNamingBothLines() {
        #expect(throws: TrialListError.duplicate(source: "d", line: 3, firstLine: 1, enroll: "a", test: "b")) {
            try TrialList.parse("1 a b\n0 a c\na b target\n", source: "d")
        }
        // (a, b) and (b, a) are different trials
        #expect((try? TrialList.parse("1 a b\n1 b a\n", source: "d"))?.count == 2)
    }

    @Test func readFromFileAndUnreadablePath() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("trials.txt")
        try "1 a b\n0 a c\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try TrialList.read(path: path).count == 2)
        #expect(throws: TrialListError.unreadable(path: dir.path("missing.txt"))) {
            try TrialList.read(path: dir.path("missing.txt"))
        }
        let binary = dir.path("binary.txt")
        try Data([0x31, 0x20, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: binary))
        #expect(throws: TrialListError.unreadable(path: binary)) { try TrialList.read(path: binary) }
        do {
            _ = try TrialList.parse("1 a b\nbad\n", source: path)
        } catch {
            #expect(error.description.hasPrefix("\(path):2: "))
        }
    }
}
