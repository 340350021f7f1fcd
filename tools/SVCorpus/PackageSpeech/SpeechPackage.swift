import Foundation

/// A Debian package whose files hold human speech with a recoverable speaker, and how to read its
/// labels (`benchmarks/real-speech/PACKAGES.md` is the survey behind each rule).
public enum SpeechPackage: String, CaseIterable, Sendable {
    /// Spoken stamp descriptions, digits and letters, one volunteer per language and kind.
    case tuxpaint = "tuxpaint-stamps-default"
    /// Hedgehog voice packs: one voice per pack, every pack pitch-shifted (cartoon voices).
    case hedgewars = "hedgewars-data"

    /// Where the package installs its audio, relative to the root (`/` or a `dpkg -x` folder).
    public var folder: String {
        switch self {
        case .tuxpaint: return "usr/share/tuxpaint/stamps"
        case .hedgewars: return "usr/share/games/hedgewars/Data/Sounds/voices"
        }
    }

    /// The licence of the audio and the credit to give, from the package's copyright and changelog.
    public var licence: String {
        switch self {
        case .tuxpaint: return "GPL-2 (Tux Paint Stamps © 2002-2022 Bill Kendrick & contributors; voices credited in the package changelog)"
        case .hedgewars: return "GFDL-1.3 (Hedgewars voice packs © 2004-2006 Andrey Korotaev / Hedgewars Project)"
        }
    }

    /// One labelled clip: its path under `folder`, its speaker key and what is known about it.
    public struct Clip: Equatable, Sendable {
        public var path: String
        public var speaker: String
        public var language: String?
        public var kind: String
        /// Caveats a trial list must respect (e.g. a label that covers several people, a processed voice).
        public var flags: [String]
    }

    /// The label of a file under `folder` (relative path), or nil when it is not speech of a known speaker.
    public func label(_ relative: String) -> Clip? {
        switch self {
        case .tuxpaint: return Self.tuxpaintLabel(relative)
        case .hedgewars: return Self.hedgewarsLabel(relative)
        }
    }

    /// Every labelled clip of the installed package, sorted by path.
    public func clips(root: String) throws(CorpusError) -> [Clip] {
        let base = "\(root)/\(folder)"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: base, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .gameData(path: base, reason: "package \(rawValue) is not installed there: `apt-get install \(rawValue)`, or unpack it with `dpkg -x` and pass that folder as --root")
        }
        guard let walker = FileManager.default.enumerator(atPath: base) else {
            throw .gameData(path: base, reason: "cannot list the folder")
        }
        var clips: [Clip] = []
        for case let relative as String in walker {
            if let clip = label(relative) { clips.append(clip) }
        }
        return clips.sorted { $0.path < $1.path }
    }

    // MARK: - Tux Paint

    /// `<lang>:<desc|digits|letters>`: descriptions and digits are different voices in most languages.
    static func tuxpaintLabel(_ relative: String) -> Clip? {
        var name = (relative as NSString).lastPathComponent
        var stripped = false
        while name.hasSuffix(".ogg") || name.hasSuffix(".wav") { name = String(name.dropLast(4)); stripped = true }   // one file is *.ogg.ogg
        guard stripped else { return nil }
        func match(_ pattern: String) -> [String]? {
            guard let r = try? NSRegularExpression(pattern: "^" + pattern + "$"),
                  let m = r.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) else { return nil }
            return (1..<max(1, m.numberOfRanges)).map { i in Range(m.range(at: i), in: name).map { String(name[$0]) } ?? "" }
        }
        let language = "([a-z]{2}(?:_[A-Z]{2})?)"
        var clip: (language: String, kind: String)?
        let alphabet = relative.hasPrefix("symbols/alphabets/")
        // Letters: the English and German alphabets, and the Lithuanian one (named like a description);
        // the other `_desc_` files of the alphabets are descriptions of the letters' signs.
        if alphabet, match(".*_(?:filled|outline)_en_GB") != nil { clip = ("en_GB", "letters") }
        else if alphabet, match(".*_desc_lt") != nil { clip = ("lt", "letters") }
        else if alphabet, match(".*(?:umlaut|eszett)_(?:filled|outline)") != nil { clip = ("de", "letters") }
        else if relative.hasPrefix("symbols/math/"), !relative.contains("/operators/"), match("[0-9](?:_.*)?") != nil {
            if match("[0-9]") != nil { clip = ("und", "digits") }
            else if let m = match("[0-9]_" + language) { clip = (m[0], "digits") }
        } else if let m = match(".*_desc_" + language) {
            clip = (m[0], "desc")
        } else if relative.hasPrefix("animals/"), match(".*_desc") != nil {
            clip = ("en", "desc")   // the English animal names (probably Childsplay recordings)
        }
        guard let clip else { return nil }
        var flags: [String] = []
        // French descriptions: two credited recorders, three recording sessions; pt_BR: several children.
        if clip.kind == "desc", clip.language == "fr" || clip.language == "pt_BR" { flags.append("several-speakers") }
        if clip.language == "und" { flags.append("language-unknown") }
        return Clip(path: relative, speaker: "\(clip.language):\(clip.kind)", language: clip.language == "und" ? nil : clip.language,
                    kind: clip.kind, flags: flags)
    }

    // MARK: - Hedgewars

    /// Non-verbal clips every pack has (grunts, laughs, coughs).
    static let hedgewarsNonVerbal = try! NSRegularExpression(pattern: "^(Ow[1-4]|Ooff[1-3]|Jump[1-3]|Laugh|Firepunch[1-6]|PoisonCough|PoisonMoan|Hmm)$")
    /// Packs that are not speech (a robot, a singer).
    static let hedgewarsExcluded: Set<String> = ["Robot", "Singer"]
    /// Packs that share byte-identical clips: the same speaker.
    static let hedgewarsSameVoice = ["Classic": "Default", "Russian_pl": "Default_pl"]

    static func hedgewarsLabel(_ relative: String) -> Clip? {
        let parts = relative.split(separator: "/").map(String.init)
        guard parts.count == 2, parts[1].hasSuffix(".ogg"), !hedgewarsExcluded.contains(parts[0]) else { return nil }
        let name = String(parts[1].dropLast(4))
        guard hedgewarsNonVerbal.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) == nil else { return nil }
        let pack = hedgewarsSameVoice[parts[0]] ?? parts[0]
        return Clip(path: relative, speaker: pack, language: nil, kind: "voice-pack", flags: ["pitch-shifted"])
    }
}
