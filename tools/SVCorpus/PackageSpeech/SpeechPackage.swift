import Foundation

/// A Debian package whose files hold human speech with a recoverable speaker, and how to read its
/// labels (`benchmarks/real-speech/PACKAGES.md` is the survey behind each rule).
public enum SpeechPackage: String, CaseIterable, Sendable {
    /// Spoken stamp descriptions, digits and letters, one volunteer per language and kind.
    case tuxpaint = "tuxpaint-stamps-default"
    /// Hedgehog voice packs: one voice per pack, every pack pitch-shifted (cartoon voices).
    case hedgewars = "hedgewars-data"
    /// Mandarin syllables read by two speakers (`3.ogg` a man, `5.ogg` a woman), joined into clips.
    case gcin = "gcin-voice"
    /// codec2's reference talkers: one recording each, 8 kHz (raw s16le or WAV).
    case codec2 = "codec2-examples"
    /// Nexuiz player voices, announcer and tutorial instructor, inside `data.pk3` (a zip).
    case nexuiz = "nexuiz-data"
    /// Warzone 2100's narrator, taunt voices and commander, inside `base.wz` (a zip).
    case warzone = "warzone2100-data"

    /// Where the package installs its audio, relative to the root (`/` or a `dpkg -x` folder).
    public var folder: String {
        switch self {
        case .tuxpaint: return "usr/share/tuxpaint/stamps"
        case .hedgewars: return "usr/share/games/hedgewars/Data/Sounds/voices"
        case .gcin: return "usr/share/gcin-voice/ogg"
        case .codec2: return "usr/share/codec2"
        case .nexuiz: return "usr/share/games/nexuiz/data/data.pk3"
        case .warzone: return "usr/share/games/warzone2100/base.wz"
        }
    }

    /// Whether `folder` is a zip archive whose members are the files.
    public var isArchive: Bool { self == .nexuiz || self == .warzone }

    /// Sample rate of the package's headerless `.raw` files (signed 16-bit little-endian mono).
    public var rawSampleRate: Int? { self == .codec2 ? 8_000 : nil }

    /// The licence of the audio and the credit to give, from the package's copyright and changelog.
    public var licence: String {
        switch self {
        case .tuxpaint: return "GPL-2 (Tux Paint Stamps © 2002-2022 Bill Kendrick & contributors; voices credited in the package changelog)"
        case .hedgewars: return "GFDL-1.3 (Hedgewars voice packs © 2004-2006 Andrey Korotaev / Hedgewars Project)"
        case .gcin: return "3.ogg: GPL-3 or LGPL-3 (© 2014 Edward Der-Hua Liu); 5.ogg: CC-BY-3.0 (徵音梅林開發委員會錄音組 / 聲優 羅竺 Chu Lo)"
        case .codec2: return "LGPL-2.1 (codec2 test vectors © 2007-2019 David Rowe; talkers by callsign or file name)"
        case .nexuiz: return "GPL-2+ (Nexuiz © 2002-2009 Alientrap / Lee Vermeulen; announcer Amos 'torus' Dudley; player voices Michael 'Tenshihan' Quinn)"
        case .warzone: return "GPL-2+ (Warzone 2100 © 1999-2004 Eidos Interactive / Pumpkin Studios, 2005-2013 Warzone 2100 Project; voice actors not named)"
        }
    }

    /// One labelled clip: its path under `folder`, its speaker key and what is known about it.
    public struct Clip: Equatable, Sendable {
        public var path: String
        /// The files under `folder` that make the clip, joined in this order (one, except for joined syllables).
        public var parts: [String]
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
        case .gcin: return Self.gcinLabel(relative)
        case .codec2: return Self.codec2Label(relative)
        case .nexuiz: return Self.nexuizLabel(relative)
        case .warzone: return Self.warzoneLabel(relative)
        }
    }

    /// Every labelled clip of the installed package, sorted by path.
    public func clips(root: String) throws(CorpusError) -> [Clip] {
        try clips(in: PackageFiles(package: self, root: root))
    }

    /// The same from the package's opened files (an archive's directory read once for listing and import).
    func clips(in files: PackageFiles) throws(CorpusError) -> [Clip] {
        let clips = try files.names().compactMap(label).sorted { $0.path < $1.path }
        return self == .gcin ? Self.joinSyllables(clips) : clips
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
        // John Arundel recorded both the en_GB digits and letters: one speaker.
        let key = clip.language == "en_GB" ? "en_GB:digits-letters" : "\(clip.language):\(clip.kind)"
        return Clip(path: relative, parts: [relative], speaker: key, language: clip.language == "und" ? nil : clip.language,
                    kind: clip.kind, flags: flags)
    }

    /// Tux Paint languages whose descriptions and digits may be the same person (overlapping or missing
    /// credits, `PACKAGES.md` §1): their speakers are never paired as non-targets.
    static let tuxpaintUncertainLanguages: Set<String> = ["be", "ca", "fr"]

    /// Whether two different speaker keys of this package may still be one person (then a trial list
    /// must not call them a non-target).
    public func mayBeSamePerson(_ a: String, _ b: String) -> Bool {
        guard a != b else { return true }
        switch self {
        case .tuxpaint:
            let la = a.split(separator: ":").first.map(String.init), lb = b.split(separator: ":").first.map(String.init)
            return la == lb && la.map(Self.tuxpaintUncertainLanguages.contains) == true
        case .nexuiz:
            // Credits: torus voiced the announcer and his own player; Tenshihan the other player voices;
            // the tutorial instructor is not named.
            let pair = Set([a, b])
            return !(pair.contains("torus") && pair.isDisjoint(with: ["tutorial"]))
        case .warzone:
            // Only pairs whose median F0 says another sex (PACKAGES.md §4): the narrator and taunt2 (~200 Hz)
            // against taunt1 and taunt3 (83–110 Hz).
            let high: Set = ["narrator", "taunt2"], low: Set = ["taunt1", "taunt3"]
            return !((high.contains(a) && low.contains(b)) || (low.contains(a) && high.contains(b)))
        case .hedgewars, .gcin, .codec2: return false
        }
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
        return Clip(path: relative, parts: [relative], speaker: pack, language: nil, kind: "voice-pack", flags: ["pitch-shifted"])
    }

    // MARK: - gcin

    /// Syllables joined into one clip: six of ~0.35 s make a ~2.5-s clip (a single syllable is too
    /// short to verify, and would be dropped by the 0.5-s limit).
    static let gcinSyllablesPerClip = 6

    /// `<zhuyin syllable>[tone]/<3|5>.ogg`: the file name is the speaker (gcin-voice's copyright).
    static func gcinLabel(_ relative: String) -> Clip? {
        let parts = relative.split(separator: "/").map(String.init)
        guard parts.count == 2, parts[1] == "3.ogg" || parts[1] == "5.ogg" else { return nil }
        return Clip(path: relative, parts: [relative], speaker: String(parts[1].prefix(1)), language: "zh", kind: "syllables", flags: [])
    }

    /// Each speaker's syllables, in path order, joined `gcinSyllablesPerClip` at a time into clips named
    /// `<speaker>/joined-NNNN` (a shorter last group is kept if it reaches the length limit).
    static func joinSyllables(_ syllables: [Clip]) -> [Clip] {
        var joined: [Clip] = []
        for speaker in Set(syllables.map(\.speaker)).sorted() {
            let own = syllables.filter { $0.speaker == speaker }
            for (n, start) in stride(from: 0, to: own.count, by: gcinSyllablesPerClip).enumerated() {
                let group = own[start..<min(own.count, start + gcinSyllablesPerClip)]
                joined.append(Clip(path: String(format: "%@/joined-%04d", speaker, n + 1), parts: group.map(\.path), speaker: speaker,
                                   language: "zh", kind: "joined-syllables", flags: []))
            }
        }
        return joined
    }

    // MARK: - codec2

    /// The talkers of codec2's test vectors (`PACKAGES.md` §6): one recording each. Left out: modem and
    /// sine signals, codec-processed copies (m2400, f2400), the 3-s prefixes and the 10-s excerpt of longer
    /// files, WAV twins of raw files, the concatenations (all.wav, hts.raw, speech_orig_16k.wav), speech in
    /// noise (mmt1), and `cross`, which may be the same person as `big_dog`.
    static let codec2Talkers: [String: String] = [
        "raw/ve9qrp.raw": "VE9QRP", "raw/vk5qi.raw": "VK5QI", "raw/g3plx.raw": "G3PLX", "raw/kristoff.raw": "kristoff",
        "raw/cq_ref.raw": "cq_ref", "raw/hts1.raw": "hts1", "raw/hts2.raw": "hts2", "raw/morig.raw": "morig",
        "raw/forig.raw": "forig", "raw/big_dog.raw": "big_dog", "wav/wia_16kHz.wav": "wia",
    ]

    static func codec2Label(_ relative: String) -> Clip? {
        guard let talker = codec2Talkers[relative] else { return nil }
        return Clip(path: relative, parts: [relative], speaker: talker, language: "en", kind: "talker", flags: ["one-recording"])
    }

    // MARK: - Nexuiz (members of data.pk3)

    static func nexuizLabel(_ name: String) -> Clip? {
        let parts = name.split(separator: "/").map(String.init)
        guard name.hasSuffix(".ogg"), parts.count >= 3, parts[0] == "sound" else { return nil }
        let stem = String(parts.last!.dropLast(4))
        func clip(_ speaker: String, _ kind: String, _ flags: [String]) -> Clip {
            Clip(path: name, parts: [name], speaker: speaker, language: "en", kind: kind, flags: flags)
        }
        switch (parts[1], parts.count) {
        case ("player", 4...) where parts[3] == "coms" && parts[2] != "torus":
            return clip(parts[2], "player-voice", ["processed"])   // coms/ and coms/ideas/
        case ("player", 4) where parts[2] == "torus" && nexuizTorusLines.contains(stem):
            return clip("torus", "player-voice", [])
        case ("announcer", 4) where parts[2] == "male":
            return clip("torus", "announcer", ["processed"])
        case ("tutorial", 3) where stem != "misc-at_corp_rap":
            return clip("tutorial", "tutorial", [])
        default:
            return nil
        }
    }

    /// torus's spoken player lines (the rest of his folder is pain, death and jump sounds).
    static let nexuizTorusLines: Set<String> = ["attack", "coverme", "flagseen", "hooah", "incoming", "letsgo", "needhelp", "taunt",
                                                "teamshoot", "waypoint"]

    // MARK: - Warzone 2100 (members of base.wz)

    /// In-game message folders, the extra and tutorial lines, countdown and proximity messages: one female
    /// narrator by pitch and style (PACKAGES.md §4), so one speaker.
    static let warzoneNarratorFolders: Set<String> = [
        "audio/memressp/artbat", "audio/memressp/cmndrasi", "audio/memressp/combat", "audio/memressp/console", "audio/memressp/desnseq",
        "audio/memressp/detect", "audio/memressp/missmesg", "audio/memressp/power", "audio/memressp/productn", "audio/memressp/repair",
        "audio/memressp/research", "audio/memressp/routing", "audio/memressp/status", "audio/memressp/struct", "audio/memressp/trnsport",
        "audio/memressp/tutorial", "audio/memressp/vtols", "audio/extra", "audio/tutorial", "audio/countdown", "audio/proxmessages",
    ]

    static func warzoneLabel(_ name: String) -> Clip? {
        guard name.hasSuffix(".ogg") else { return nil }
        let folder = (name as NSString).deletingLastPathComponent, stem = ((name as NSString).lastPathComponent as NSString).deletingPathExtension
        func clip(_ speaker: String, _ flags: [String]) -> Clip {
            Clip(path: name, parts: [name], speaker: speaker, language: "en", kind: "game-voice", flags: flags)
        }
        if warzoneNarratorFolders.contains(folder) { return clip("narrator", ["merged-folders"]) }
        if folder.hasPrefix("audio/taunts/taunt"), !stem.hasPrefix("haha") { return clip(String(folder.dropFirst("audio/taunts/".count)), []) }
        if folder == "audio/memressp/cmndrvoc" { return clip("commander", ["processed"]) }
        // Left out: the radio-filtered pilots (perhaps three people under one folder), the NEXUS AI and the
        // whispered Collective (processed), jingles and sound effects.
        return nil
    }
}
