import Foundation

/// Sentences to speak, per text language ("en", "de", "it"): fortunes (Debian `fortunes`, `fortunes-de`,
/// `fortunes-it`) when installed, else a built-in word list that makes English pseudo-sentences.
public struct TextSource: Sendable {
    public let pools: [String: [String]]
    /// Where the text came from (recorded in corpus.json).
    public let provenance: String

    public init(pools: [String: [String]], provenance: String) {
        self.pools = pools; self.provenance = provenance
    }

    public static let fortunesRoot = "/usr/share/games/fortunes"
    static let englishFiles = ["fortunes", "literature", "wisdom", "people", "science", "humorists", "education",
                               "work", "politics", "miscellaneous", "food", "love", "pets", "platitudes", "law",
                               "medicine", "sports", "computers", "goedel", "magic", "news"]
    static let italianFiles = ["italia", "leggi", "definizioni", "luttazzi", "paolotedeschi", "formiche"]

    /// Fortunes under `root`, or the built-in list when there are none.
    public static func load(root: String = fortunesRoot) -> TextSource {
        var pools: [String: [String]] = [:]
        var used: [String] = []
        func collect(_ files: [String], language: String, asciiOnly: Bool) {
            var sentences = Set<String>()
            for file in files {
                let path = FileManager.default.fileExists(atPath: file + ".u8") ? file + ".u8" : file
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                let text = String(decoding: data, as: UTF8.self)
                used.append(path)
                sentences.formUnion(Self.sentences(fromFortunes: text, asciiOnly: asciiOnly))
            }
            if sentences.count >= 50 { pools[language] = sentences.sorted() }
        }
        collect(englishFiles.map { "\(root)/\($0)" }, language: "en", asciiOnly: true)
        let deDir = "\(root)/de"
        let deFiles = ((try? FileManager.default.contentsOfDirectory(atPath: deDir)) ?? [])
            .filter { !$0.contains(".") }.sorted().map { "\(deDir)/\($0)" }
        collect(deFiles, language: "de", asciiOnly: false)
        collect(italianFiles.map { "\(root)/\($0)" }, language: "it", asciiOnly: false)
        if pools["en"] == nil { return builtIn }
        return TextSource(pools: pools, provenance: "fortunes: " + used.map { ($0 as NSString).lastPathComponent }.joined(separator: ","))
    }

    /// Splits fortune-file text (entries separated by `%` lines) into clean sentences of 3–30 words.
    public static func sentences(fromFortunes text: String, asciiOnly: Bool) -> [String] {
        filter(text: text, asciiOnly: asciiOnly)
    }

    private static func filter(text: String, asciiOnly: Bool) -> [String] {
        var out: [String] = []
        for entry in text.components(separatedBy: "\n%") {
            let lines = entry.split(separator: "\n").filter {
                let t = $0.trimmingCharacters(in: .whitespaces)
                return !t.hasPrefix("--") && !t.hasPrefix("%") && !t.isEmpty
            }
            let joined = lines.joined(separator: " ").split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            var current = ""
            for ch in joined {
                current.append(ch)
                if ch == "." || ch == "!" || ch == "?" {
                    if let s = clean(current, asciiOnly: asciiOnly) { out.append(s) }
                    current = ""
                }
            }
            if let s = clean(current, asciiOnly: asciiOnly) { out.append(s) }
        }
        return out
    }

    /// A sentence worth speaking: 3–30 words, mostly letters, no markup; nil otherwise.
    static func clean(_ raw: String, asciiOnly: Bool) -> String? {
        let s = raw.trimmingCharacters(in: .whitespaces)
        let words = s.split(separator: " ")
        guard words.count >= 3, words.count <= 30 else { return nil }
        var letters = 0, total = 0
        for u in s.unicodeScalars {
            if asciiOnly && !u.isASCII { return nil }
            if "<>|/\\_=*#@{}[]~^`$&".unicodeScalars.contains(u) { return nil }
            total += 1
            if CharacterSet.letters.contains(u) || u == " " { letters += 1 }
        }
        guard Double(letters) >= 0.9 * Double(total) else { return nil }
        var t = s
        if t.hasPrefix("-") { t = " " + t }
        return t.replacingOccurrences(of: "\"", with: "")
    }

    /// English pseudo-sentences from a built-in word list (no fortunes installed).
    public static let builtIn: TextSource = {
        let words = """
        the a one every some many few old new small large quiet loud bright dark early late happy tired \
        river mountain city village garden window letter story market train harbour forest kitchen teacher \
        doctor farmer painter sailor child friend neighbour brother sister engine bridge morning evening \
        winter summer island station library museum walks reads writes builds carries finds opens closes \
        watches remembers explains follows answers visits crosses paints plays sings quickly slowly \
        carefully often never always sometimes again together alone near far under over behind before after \
        because while although and but so then today yesterday tomorrow
        """.split(separator: " ").map(String.init)
        var r = CorpusRandom(seed: 0x5EED, "builtin-text")
        var sentences: [String] = []
        for _ in 0..<400 {
            let n = r.int(5...14)
            var s = (0..<n).map { _ in r.choice(words) }.joined(separator: " ")
            s = s.prefix(1).uppercased() + s.dropFirst() + "."
            sentences.append(s)
        }
        return TextSource(pools: ["en": sentences], provenance: "built-in word list")
    }()

    /// The text pool of an espeak-ng language.
    public static func poolKey(_ language: String) -> String { language.hasPrefix("en") ? "en" : language }

    /// espeak-ng languages this source can give text for.
    public var espeakLanguages: [String] {
        EspeakVoice.englishVariants + ["de", "it"].filter { pools[$0] != nil }
    }

    /// 1–3 sentences, extended until they hold at least `minWords` words.
    public func text(language: String, minWords: Int, _ r: inout CorpusRandom) -> String {
        let pool = pools[Self.poolKey(language)] ?? pools["en"] ?? []
        guard !pool.isEmpty else { return "" }
        var parts: [String] = []
        var count = 0
        let sentences = r.int(1...3)
        while parts.count < sentences || count < minWords {
            let s = r.choice(pool)
            parts.append(s); count += s.split(separator: " ").count
            if parts.count > 12 { break }
        }
        return parts.joined(separator: " ")
    }
}
