import Foundation

/// One scored trial, as `spkv score` writes it.
public struct ScoredTrial: Sendable, Equatable {
    public var enroll: String
    public var test: String
    public var score: Double
    public var label: TrialLabel?

    public init(enroll: String, test: String, score: Double, label: TrialLabel?) {
        self.enroll = enroll
        self.test = test
        self.score = score
        self.label = label
    }
}

/// What the scores in a score file are (its header's `kind`).
public enum ScoreKind: String, Sendable, CaseIterable {
    /// Raw cosine similarity.
    case cosine
    /// Calibrated log-likelihood ratios (eval reports actual DCF and Cllr for these).
    case llr
    /// AS-normalised cosine scores.
    case asnorm
}

/// The scores of a trial list in trial order, with header fields (`kind`, `model`, `prior`, …).
public struct ScoreList: Sendable, Equatable {
    public var header: [String: String]
    public var trials: [ScoredTrial]

    public init(header: [String: String] = [:], trials: [ScoredTrial]) {
        self.header = header
        self.trials = trials
    }

    /// The header's `kind`, if present (parse rejects unknown kinds).
    public var kind: ScoreKind? { header["kind"].flatMap(ScoreKind.init(rawValue:)) }
}

/// The score file format: `enroll test score [target|nontarget]`, one trial per line.
public enum ScoreFile {
    /// The header line's first word.
    public static let magic = "spkv-scores"

    /// `enroll test score [target|nontarget]`, one per line, in trial order; the score is printed in
    /// the shortest form that reads back to the same Double (Swift's `description`, which Python's
    /// `float()` and C's `strtod` read too).
    ///
    /// A non-empty header becomes one first line `# spkv-scores key=value …`, keys sorted. In values,
    /// `%`, space, tab, CR and LF are written as `%25`, `%20`, `%09`, `%0D`, `%0A` so that a value
    /// stays one word; keys must be non-empty and hold none of those characters nor `=`
    /// (precondition: keys are chosen by code, not by users).
    public static func format(_ list: ScoreList) -> String {
        var out = ""
        out.reserveCapacity(list.trials.count * 48 + 64)
        if !list.header.isEmpty {
            out += "# \(magic)"
            for key in list.header.keys.sorted() {
                precondition(!key.isEmpty && !key.contains(where: { " \t\r\n=%#".contains($0) }),
                             "ScoreFile.format: header key '\(key)' must be one word without '=', '%' or '#'")
                out += " \(key)=\(escape(list.header[key]!))"
            }
            out += "\n"
        }
        for t in list.trials {
            out += t.enroll
            out += " "
            out += t.test
            out += " "
            out += t.score.description
            if let label = t.label {
                out += " "
                out += label.rawValue
            }
            out += "\n"
        }
        return out
    }

    /// Reads what `format` writes. `#` lines before the first trial are the header: every
    /// `key=value` word in them is kept (a later repeat of a key wins); other words (such as the
    /// magic) and `#` lines after the first trial are ignored, as are blank lines. A `kind` other
    /// than `cosine`, `llr` or `asnorm`, a line that is not `enroll test score [target|nontarget]`,
    /// a score that is not a finite number, a repeated (enroll, test) pair, or a file with no
    /// scores is an error naming `source` and the line.
    public static func parse(_ text: String, source: String) throws(TrialListError) -> ScoreList {
        var header: [String: String] = [:]
        var trials: [ScoredTrial] = []
        var seen: [PairKey: Int] = [:]
        for line in tokenizeLines(text) {
            func bad(_ reason: String) -> TrialListError {
                .malformed(source: source, line: line.number, text: lineText(text, line), reason: reason)
            }
            let fields = line.fields
            if fields.isEmpty { continue }
            if fields[0].utf8.first == UInt8(ascii: "#") {
                guard trials.isEmpty else { continue }
                var words = fields[...]
                words[words.startIndex] = String(words[words.startIndex].dropFirst())
                for word in words {
                    guard let eq = word.firstIndex(of: "=") else { continue }
                    let key = String(word[..<eq])
                    guard !key.isEmpty, let value = unescape(word[word.index(after: eq)...]) else {
                        throw bad("header word '\(word)' is not key=value (with %XX escapes)")
                    }
                    if key == "kind", ScoreKind(rawValue: value) == nil {
                        throw bad("unknown score kind '\(value)' (expected "
                                  + ScoreKind.allCases.map(\.rawValue).joined(separator: ", ")
                                  + "); the file may come from a newer spkv")
                    }
                    header[key] = value
                }
                continue
            }
            guard fields.count == 3 || fields.count == 4 else {
                throw bad("\(fields.count) field\(fields.count == 1 ? "" : "s"); "
                          + "expected `enroll test score` or `enroll test score target|nontarget`")
            }
            guard let score = Double(fields[2]), score.isFinite else {
                throw bad("score '\(fields[2])' is not a finite number")
            }
            var label: TrialLabel?
            if fields.count == 4 {
                guard let l = TrialLabel(rawValue: fields[3]) else {
                    throw bad("label '\(fields[3])' is neither target nor nontarget")
                }
                label = l
            }
            let trial = ScoredTrial(enroll: fields[0], test: fields[1], score: score, label: label)
            let key = PairKey(enroll: trial.enroll, test: trial.test)
            if let first = seen[key] {
                throw .duplicate(source: source, line: line.number, firstLine: first, enroll: trial.enroll, test: trial.test)
            }
            seen[key] = line.number
            trials.append(trial)
        }
        if trials.isEmpty { throw .empty(source: source) }
        return ScoreList(header: header, trials: trials)
    }

    /// `parse` on the contents of a UTF-8 file; the path is the error's source.
    public static func read(path: String) throws(TrialListError) -> ScoreList {
        try parse(readText(path: path), source: path)
    }

    /// Labels from a trial list, matched by (enroll, test). A scored pair missing from the trials
    /// (`notInTrials`), unlabelled there (`missingLabel`), or labelled differently there or twice
    /// differently in the trials (`labelConflict`) is an error naming it. Trials without a score
    /// are ignored; the header and order are kept.
    public static func attachLabels(_ list: ScoreList, from trials: [Trial]) throws(TrialListError) -> ScoreList {
        var labels: [PairKey: TrialLabel?] = [:]
        labels.reserveCapacity(trials.count)
        for t in trials {
            let key = PairKey(enroll: t.enroll, test: t.test)
            if let existing = labels[key], let a = existing, let b = t.label, a != b {
                throw .labelConflict(enroll: t.enroll, test: t.test, scoreLabel: b, trialLabel: a)
            }
            // updateValue: assigning a nil label through the subscript would remove the key.
            if labels[key] == nil || labels[key]! == nil { labels.updateValue(t.label, forKey: key) }
        }
        var out = list
        for i in out.trials.indices {
            let s = out.trials[i]
            guard let entry = labels[PairKey(enroll: s.enroll, test: s.test)] else {
                throw .notInTrials(enroll: s.enroll, test: s.test)
            }
            guard let label = entry else { throw .missingLabel(enroll: s.enroll, test: s.test) }
            if let own = s.label, own != label {
                throw .labelConflict(enroll: s.enroll, test: s.test, scoreLabel: own, trialLabel: label)
            }
            out.trials[i].label = label
        }
        return out
    }

    // MARK: - Header value escaping

    static func escape(_ value: String) -> String {
        var out = ""
        for ch in value {
            switch ch {
            case "%": out += "%25"
            case " ": out += "%20"
            case "\t": out += "%09"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Decodes `%XX` (two hex digits, a UTF-8 byte); nil on a broken escape.
    static func unescape(_ value: Substring) -> String? {
        guard value.contains("%") else { return String(value) }
        var bytes: [UInt8] = []
        var it = Array(value.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let hi = hexValue(it.popFirst()!), let lo = hexValue(it.popFirst()!) else {
                    return nil
                }
                bytes.append(hi << 4 | lo)
            } else {
                bytes.append(b)
            }
        }
        return String(bytes: bytes, encoding: .utf8)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
