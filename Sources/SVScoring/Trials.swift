import Foundation

/// Ground truth of a trial: same speaker (`target`) or different speakers (`nontarget`).
public enum TrialLabel: String, Codable, Sendable {
    case target, nontarget
}

/// One line of a trial list: which enrollment is compared with which test recording.
public struct Trial: Sendable, Equatable {
    public var enroll: String
    public var test: String
    /// `nil` for an unlabeled pair.
    public var label: TrialLabel?
    /// 1-based line number in the source it was read from (for error messages).
    public var line: Int

    public init(enroll: String, test: String, label: TrialLabel?, line: Int) {
        self.enroll = enroll
        self.test = test
        self.label = label
        self.line = line
    }
}

// MARK: - Errors

/// What went wrong reading a trial list or a score file, or matching the two.
public enum TrialListError: Error, Equatable, CustomStringConvertible {
    /// A line that is none of the accepted formats; `line` is 1-based and `text` the line as read.
    case malformed(source: String, line: Int, text: String, reason: String)
    /// The file does not exist, cannot be read, or is not UTF-8 text.
    case unreadable(path: String)
    /// No trial (or scored trial) after skipping blank and comment lines.
    case empty(source: String)
    /// The same (enroll, test) pair appears twice.
    case duplicate(source: String, line: Int, firstLine: Int, enroll: String, test: String)
    /// A scored pair's label differs from the trial list's label for it (or the trial list labels it twice differently).
    case labelConflict(enroll: String, test: String, scoreLabel: TrialLabel, trialLabel: TrialLabel)
    /// A scored pair is in the trial list but the trial list gives it no label.
    case missingLabel(enroll: String, test: String)
    /// A scored pair is not in the trial list at all.
    case notInTrials(enroll: String, test: String)

    public var description: String {
        switch self {
        case let .malformed(source, line, text, reason):
            return "\(source):\(line): \(reason): \"\(TrialListError.clip(text))\""
        case let .unreadable(path):
            return "cannot read '\(path)': it does not exist, is not readable, or is not UTF-8 text"
        case let .empty(source):
            return "\(source) holds no trials (only blank or '#' comment lines); check that it is the right file"
        case let .duplicate(source, line, firstLine, enroll, test):
            return "\(source):\(line): trial '\(enroll) \(test)' already appears on line \(firstLine); "
                + "remove the repeated line (each pair may be listed once)"
        case let .labelConflict(enroll, test, scoreLabel, trialLabel):
            return "trial '\(enroll) \(test)' is labelled \(scoreLabel.rawValue) in the scores but "
                + "\(trialLabel.rawValue) in the trial list; scores and trials do not belong together"
        case let .missingLabel(enroll, test):
            return "trial '\(enroll) \(test)' has no label in the trial list; give a labelled list "
                + "(`1|0 enroll test` or `enroll test target|nontarget`)"
        case let .notInTrials(enroll, test):
            return "scored trial '\(enroll) \(test)' is not in the trial list; scores and trials do not belong together"
        }
    }

    static func clip(_ text: String) -> String {
        text.count <= 200 ? text : String(text.prefix(200)) + "…"
    }
}

// MARK: - Trial lists

/// Reading trial lists.
public enum TrialList {
    /// Formats detected per line (a file may mix them):
    /// - VoxCeleb `1 enroll test` / `0 enroll test` (1 = same speaker);
    /// - Kaldi `enroll test target|nontarget`;
    /// - unlabeled `enroll test`.
    ///
    /// Blank lines and lines starting with '#' (after leading whitespace) are skipped. Fields are
    /// separated by runs of spaces or tabs; a trailing '\r' (CRLF files) is ignored. A three-field
    /// line must have `0`/`1` first or `target`/`nontarget` last, not both (that would be ambiguous).
    /// Anything else, a repeated (enroll, test) pair, or a list without trials is an error naming
    /// `source` and the 1-based line number and showing the line.
    public static func parse(_ text: String, source: String) throws(TrialListError) -> [Trial] {
        var trials: [Trial] = []
        var seen: [PairKey: Int] = [:]
        for line in tokenizeLines(text) where !line.isBlankOrComment {
            let trial = try parseFields(line.fields, lineNumber: line.number, source: source) { lineText(text, line) }
            let key = PairKey(enroll: trial.enroll, test: trial.test)
            if let first = seen[key] {
                throw .duplicate(source: source, line: line.number, firstLine: first, enroll: trial.enroll, test: trial.test)
            }
            seen[key] = line.number
            trials.append(trial)
        }
        if trials.isEmpty { throw .empty(source: source) }
        return trials
    }

    /// `parse` on the contents of a UTF-8 file; the path is the error's source.
    public static func read(path: String) throws(TrialListError) -> [Trial] {
        try parse(readText(path: path), source: path)
    }

    private static let formats = "expected `1|0 enroll test`, `enroll test target|nontarget` or `enroll test`"

    private static func parseFields(_ f: [String], lineNumber: Int, source: String,
                                    line: () -> String) throws(TrialListError) -> Trial {
        func bad(_ reason: String) -> TrialListError {
            .malformed(source: source, line: lineNumber, text: line(), reason: reason)
        }
        switch f.count {
        case 2:
            return Trial(enroll: f[0], test: f[1], label: nil, line: lineNumber)
        case 3:
            let kaldi = TrialLabel(rawValue: f[2])
            let vox: TrialLabel? = f[0] == "1" ? .target : f[0] == "0" ? .nontarget : nil
            switch (vox, kaldi) {
            case let (v?, nil):
                return Trial(enroll: f[1], test: f[2], label: v, line: lineNumber)
            case let (nil, k?):
                return Trial(enroll: f[0], test: f[1], label: k, line: lineNumber)
            case (_?, _?):
                throw bad("ambiguous trial: reads both as VoxCeleb (`\(f[0]) enroll test`) and as Kaldi "
                          + "(`enroll test \(f[2])`); rename the file called '\(f[0])' or '\(f[2])'")
            case (nil, nil):
                throw bad("unknown label: neither '\(f[0])' is 0/1 (VoxCeleb) nor '\(f[2])' is target/nontarget "
                          + "(Kaldi); \(formats)")
            }
        default:
            throw bad("\(f.count) field\(f.count == 1 ? "" : "s"); \(formats)")
        }
    }
}

// MARK: - Shared helpers (trial lists and score files)

struct PairKey: Hashable {
    var enroll: String
    var test: String
}

/// One line of a text file, split into fields at runs of spaces and tabs ('\n' ends a line, and one
/// '\r' before it is dropped). Works on UTF-8 bytes: Swift's Character view is an order of
/// magnitude slower on large trial lists and would merge a separator with a following combining mark.
struct TokenizedLine {
    /// 1-based.
    var number: Int
    var fields: [String]
    /// The line's bytes in the text (without the line break), for error messages.
    var bytes: Range<Int>

    var isBlankOrComment: Bool { fields.isEmpty || fields[0].utf8.first == UInt8(ascii: "#") }
}

func tokenizeLines(_ text: String) -> [TokenizedLine] {
    var text = text
    return text.withUTF8 { buf -> [TokenizedLine] in
        var lines: [TokenizedLine] = []
        var number = 0
        var lineStart = 0
        while true {
            var lineEnd = lineStart
            while lineEnd < buf.count, buf[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            if lineStart == buf.count { break }  // empty text, or nothing after the final '\n'
            let next = lineEnd + 1
            number += 1
            if lineEnd > lineStart, buf[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            var fields: [String] = []
            var i = lineStart
            while i < lineEnd {
                while i < lineEnd, buf[i] == UInt8(ascii: " ") || buf[i] == UInt8(ascii: "\t") { i += 1 }
                let fieldStart = i
                while i < lineEnd, buf[i] != UInt8(ascii: " "), buf[i] != UInt8(ascii: "\t") { i += 1 }
                if i > fieldStart {
                    fields.append(String(decoding: UnsafeBufferPointer(rebasing: buf[fieldStart..<i]), as: UTF8.self))
                }
            }
            lines.append(TokenizedLine(number: number, fields: fields, bytes: lineStart..<lineEnd))
            if next > buf.count { break }
            lineStart = next
        }
        return lines
    }
}

/// The text of one tokenized line (for error messages only: copies the text's bytes).
func lineText(_ text: String, _ line: TokenizedLine) -> String {
    let bytes = Array(text.utf8)
    return String(decoding: bytes[line.bytes], as: UTF8.self)
}

/// The whole file as UTF-8 text, or `.unreadable`.
func readText(path: String) throws(TrialListError) -> String {
    guard let data = FileManager.default.contents(atPath: path),
          let text = String(data: data, encoding: .utf8)
    else { throw .unreadable(path: path) }
    return text
}
