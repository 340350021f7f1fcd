import Foundation

/// Speech clips of Flight of the Amazon Queen (CD talkie, Debian package `flight-of-the-amazon-queen`):
/// one resource file, `queen.1c`. Format facts relied on (GAME-SPEECH.md §2):
/// - header: "QTBL", a 6-byte version string ("CEM10\0": CD, English, 1.0), 2 bytes, then byte 12 the
///   compression type (0 none, 1 MP3, 2 Ogg, 3 FLAC) and bytes 13–14 the entry count (uint16 BE);
/// - then 21-byte entries: 12-byte NUL-padded file name, 1-byte bundle, uint32 BE offset (absolute),
///   uint32 BE size;
/// - sound resources are the `*.SB` entries, each a bare compressed stream (MP3: MPEG-2.5 layer III,
///   11025 Hz, mono) in this rebuilt file;
/// - names: `RR[KKKK|SSSS|XXXX][J|P]n` is in-room dialogue (J = Joe, P = the other person),
///   `JOEnnnnn` Joe's object descriptions, `C…` cut-scene speech; a number, an optional letter
///   A–C and 'S' padding (`1000SSSS`, `21CSSSSS`) are sound effects; `BLANK000`, `ROCKPAKS`,
///   `UNTITLE*` are not speech. (Observed on the Debian package; the doc lists the first patterns.)
public struct AmazonQueenSpeech {
    public enum Kind: String, Sendable, CaseIterable {
        case dialogueJoe = "dialogue-joe", dialogueOther = "dialogue-other", joeDescription = "joe-description"
        case cutscene, otherSpeech = "other-speech", soundEffect = "sfx", notSpeech = "misc"

        public var isSpeech: Bool { self != .soundEffect && self != .notSpeech }
        /// The container's own hint at the speaker (Joe), never a label we make up.
        public var speakerHint: String? { self == .dialogueJoe || self == .joeDescription ? "joe" : nil }
    }

    public struct Entry: Equatable, Sendable {
        public let name: String
        public let offset: Int
        public let size: Int
        public var kind: Kind { AmazonQueenSpeech.classify(name) }
    }

    public let path: String
    public let version: String
    public let compression: Int
    public let entries: [Entry]
    private let data: Data

    public init(folder: String) throws(CorpusError) {
        path = "\(folder)/queen.1c"
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw .gameData(path: path, reason: "missing or unreadable (install or `dpkg -x` the flight-of-the-amazon-queen package)")
        }
        guard data.count >= 15, data.prefix(4) == Data("QTBL".utf8) else {
            throw .gameData(path: path, reason: "no QTBL resource table at its start")
        }
        let bytes = data.prefix(15)
        version = String(decoding: bytes[4..<10].prefix { $0 != 0 }, as: UTF8.self)
        compression = Int(bytes[12])
        let count = Int(bytes[13]) << 8 | Int(bytes[14])
        guard data.count >= 15 + 21 * count else { throw .gameData(path: path, reason: "its table of \(count) entries is truncated") }
        var entries: [Entry] = []
        let table = [UInt8](data[15..<(15 + 21 * count)])
        for k in 0..<count {
            let e = 21 * k
            let name = String(decoding: table[e..<(e + 12)].prefix { $0 != 0 }, as: UTF8.self)
            let offset = table[(e + 13)..<(e + 17)].reduce(0) { $0 << 8 | Int($1) }
            let size = table[(e + 17)..<(e + 21)].reduce(0) { $0 << 8 | Int($1) }
            guard offset + size <= data.count else {
                throw .gameData(path: path, reason: "entry \(name) (offset \(offset), \(size) bytes) lies outside the \(data.count)-byte file")
            }
            entries.append(Entry(name: name, offset: offset, size: size))
        }
        self.entries = entries
    }

    /// The sound resources (`*.SB`), in table order.
    public var soundEntries: [Entry] { entries.filter { $0.name.hasSuffix(".SB") } }

    /// The file extension of the stored streams (what libsndfile needs to pick the decoder).
    public var streamExtension: String? { [1: "mp3", 2: "ogg", 3: "flac"][compression] }

    public func bytes(of entry: Entry) -> Data { data[entry.offset..<(entry.offset + entry.size)] }

    static func classify(_ fileName: String) -> Kind {
        let base = fileName.hasSuffix(".SB") ? String(fileName.dropLast(3)) : fileName
        let c = Array(base.utf8)
        func digit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        func hex(_ b: UInt8) -> Bool { digit(b) || (b >= 0x41 && b <= 0x46) }
        if ["BLANK000", "ROCKPAKS"].contains(base) || base.hasPrefix("UNTITLE") { return .notSpeech }
        if c.count == 8, digit(c[0]), digit(c[1]) {
            let key = String(decoding: c[2..<6], as: UTF8.self)
            if (c[2..<6].allSatisfy(hex) || key == "SSSS" || key == "XXXX"), c[6] == 0x4A || c[6] == 0x50 {
                return c[6] == 0x4A ? .dialogueJoe : .dialogueOther
            }
        }
        // Sound effects: a number, an optional letter A–C, then 'S' padding ("1000SSSS", "21CSSSSS").
        let digits = c.prefix(while: digit).count
        if (1...4).contains(digits) {
            var rest = c.dropFirst(digits)
            if let first = rest.first, (0x41...0x43).contains(first) { rest = rest.dropFirst() }
            if !rest.isEmpty, rest.allSatisfy({ $0 == 0x53 }) { return .soundEffect }
        }
        if base.hasPrefix("JOE"), c.count > 3, c[3...].allSatisfy(digit) { return .joeDescription }
        if base.hasPrefix("C") { return .cutscene }   // C<scene>_nnn, CDINT…, CINTR…, COMIC…
        return .otherSpeech
    }
}
