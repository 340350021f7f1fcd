/// Real-speech verification trials from what Amazon Queen's clip names say about their speakers
/// (`AmazonQueenSpeech.classify`; GAME-SPEECH.md §2). The corpus itself stays unlabeled; these
/// weak labels are only used to ask whether a model separates real voices.
///
/// Name facts relied on (`DDKKKKsn`: two digits naming the dialogue, a 4-hex line key or `SSSS` /
/// `XXXX`, the speaker s ∈ {J, P}, the part n — the shape `AmazonQueenSpeech.classify` accepts):
/// - `J` is Joe, the protagonist, one voice throughout; `JOEnnnnn` descriptions are Joe too.
/// - `P` is "the other person" of that dialogue, never Joe.
/// - Clips that differ only in the part digit are parts of one line, so one speaker.
/// Not relied on: that one dialogue has one other person, or that characters have distinct actors
/// (actors doubled roles), so no pair of two `P` clips from different lines is used.
///
/// Targets: the parts of one `P` line (every pair) and as many Joe–Joe pairs from different
/// dialogues; non-targets: Joe against the other person of the same dialogue (same scene, same
/// recording session), as many as there are targets.
public enum GameSpeechTrials {
    struct DialogueClip {
        var path: String
        var dialogue: String   // DD
        var line: String       // DDKKKK
        var joe: Bool
    }

    /// Parses a clip path `…/DDKKKK[J|P]n.wav` or `…/JOEnnnnn.wav`; nil for other clips.
    static func dialogueClip(path: String) -> DialogueClip? {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        guard file.hasSuffix(".wav") else { return nil }
        let stem = Array(file.dropLast(4).utf8)
        func digit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        if stem.count == 8, Array("JOE".utf8) == Array(stem[0..<3]), stem[3...].allSatisfy(digit) {
            return DialogueClip(path: path, dialogue: "JOE", line: String(decoding: stem, as: UTF8.self), joe: true)
        }
        let kind = AmazonQueenSpeech.classify(String(decoding: stem, as: UTF8.self))
        // Dialogue names are 8 characters; the part is one hex digit (ScummVM formats it with %1x). Parts
        // 10–15 (A–F: 6 clips of the longest lines) are left out; the published trial list was made without them.
        guard kind == .dialogueJoe || kind == .dialogueOther, digit(stem[7]) else { return nil }
        return DialogueClip(path: path, dialogue: String(decoding: stem[0..<2], as: UTF8.self),
                            line: String(decoding: stem[0..<6], as: UTF8.self), joe: stem[6] == 0x4A)
    }

    /// Trials over the Amazon Queen clips among `utterances` (paths as in the manifest), deterministic in `seed`.
    public static func amazonQueen(_ utterances: [CorpusUtterance], seed: UInt64) -> [CorpusTrial] {
        let clips = utterances.filter { $0.engine == "flight-of-the-amazon-queen" }.compactMap { dialogueClip(path: $0.path) }
        var trials: [CorpusTrial] = []
        // Parts of one P line.
        let otherLines = Dictionary(grouping: clips.filter { !$0.joe }, by: \.line)
        for line in otherLines.keys.sorted() {
            let parts = otherLines[line]!.sorted { $0.path < $1.path }
            for i in 0..<parts.count { for j in (i + 1)..<max(parts.count, i + 1) {
                trials.append(CorpusTrial(target: true, enroll: parts[i].path, test: parts[j].path))
            } }
        }
        let sameLineTargets = trials.count
        // Joe with Joe, from different dialogues (or descriptions vs dialogue).
        let joe = clips.filter(\.joe).sorted { $0.path < $1.path }
        var rng = CorpusRandom(seed: seed, "game-trials-joe")
        var seen = Set<[Int]>()
        var attempts = 0
        while trials.count < 2 * sameLineTargets, joe.count > 1, attempts < 100 * max(sameLineTargets, 1) {
            attempts += 1
            let a = rng.int(0...(joe.count - 1)), b = rng.int(0...(joe.count - 1))
            guard a != b, joe[a].dialogue != joe[b].dialogue, seen.insert([min(a, b), max(a, b)]).inserted else { continue }
            trials.append(CorpusTrial(target: true, enroll: joe[min(a, b)].path, test: joe[max(a, b)].path))
        }
        // Joe against the other person of the same dialogue.
        var candidates: [CorpusTrial] = []
        let byDialogue = Dictionary(grouping: clips.filter { $0.dialogue != "JOE" }, by: \.dialogue)
        for d in byDialogue.keys.sorted() {
            let here = byDialogue[d]!.sorted { $0.path < $1.path }
            for j in here where j.joe { for p in here where !p.joe { candidates.append(CorpusTrial(target: false, enroll: j.path, test: p.path)) } }
        }
        let targets = trials.count
        var pick = CorpusRandom(seed: seed, "game-trials-nontarget")
        for k in pick.distinct(targets, of: candidates.count).sorted() { trials.append(candidates[k]) }
        return trials
    }
}
