import Foundation

/// Speech clips of Beneath a Steel Sky (CD version 0.0372, Debian package `beneath-a-steel-sky`):
/// `sky.dnr` indexes the files packed in `sky.dsk`. Format facts relied on (GAME-SPEECH.md §1):
/// - `sky.dnr`: uint32 LE entry count, then 8-byte entries: uint16 LE file number; uint24 LE offset
///   field (bit 23 set: offset = (field & 0x7FFFFF) << 4, else field & 0x7FFFFF); uint24 LE flags
///   (size = flags & 0x3FFFFF; bit 23: stored uncompressed);
/// - each file starts with a 22-byte header of 11 uint16 LE words; bit 7 of word 0 marks RNC packing
///   of what follows;
/// - speech clips are file numbers 50000 ..< 55300 (section bases 0, 600, 1100, 2430, 3380, 4530,
///   5080, 5230); their payload is unsigned 8-bit mono PCM at 11025 Hz.
public struct SteelSkySpeech {
    public static let sampleRate = 11_025
    public static let speechFiles = 50_000..<55_300
    static let fileHeaderSize = 22

    public struct Entry: Equatable, Sendable {
        public let number: Int
        public let offset: Int
        public let size: Int
        public let storedUncompressed: Bool
    }

    public let dnrPath: String
    public let dskPath: String
    public let entries: [Entry]
    private let disk: Data

    /// Reads the index and maps the data file; errors name the file and what is wrong with it.
    public init(folder: String) throws(CorpusError) {
        dnrPath = "\(folder)/sky.dnr"; dskPath = "\(folder)/sky.dsk"
        guard let dnr = FileManager.default.contents(atPath: dnrPath) else {
            throw .gameData(path: dnrPath, reason: "missing or unreadable (install or `dpkg -x` the beneath-a-steel-sky package)")
        }
        do { disk = try Data(contentsOf: URL(fileURLWithPath: dskPath), options: .alwaysMapped) } catch {
            throw .gameData(path: dskPath, reason: "missing or unreadable (install or `dpkg -x` the beneath-a-steel-sky package)")
        }
        let bytes = [UInt8](dnr)
        guard bytes.count >= 4 else { throw .gameData(path: dnrPath, reason: "shorter than its 4-byte entry count") }
        let count = Int(Self.le32(bytes, 0))
        guard bytes.count >= 4 + 8 * count else {
            throw .gameData(path: dnrPath, reason: "announces \(count) entries but holds \((bytes.count - 4) / 8)")
        }
        var entries: [Entry] = []
        for k in 0..<count {
            let e = 4 + 8 * k
            let field = Int(bytes[e + 2]) | Int(bytes[e + 3]) << 8 | Int(bytes[e + 4]) << 16
            let flags = Int(bytes[e + 5]) | Int(bytes[e + 6]) << 8 | Int(bytes[e + 7]) << 16
            let offset = field & 0x80_0000 != 0 ? (field & 0x7F_FFFF) << 4 : field & 0x7F_FFFF
            entries.append(Entry(number: Int(bytes[e]) | Int(bytes[e + 1]) << 8, offset: offset, size: flags & 0x3F_FFFF,
                                 storedUncompressed: flags & 0x80_0000 != 0))
        }
        self.entries = entries
    }

    /// The index entries of speech clips, in file-number order.
    public var speechEntries: [Entry] { entries.filter { Self.speechFiles.contains($0.number) }.sorted { $0.number < $1.number } }

    /// A clip's 8-bit PCM samples as Float in [−1, 1) ((u8 − 128) / 128).
    public func samples(of entry: Entry) throws(CorpusError) -> [Float] {
        guard entry.offset + entry.size <= disk.count, entry.size >= Self.fileHeaderSize else {
            throw .gameData(path: dskPath, reason: "file \(entry.number) (offset \(entry.offset), \(entry.size) bytes) lies outside the \(disk.count)-byte file")
        }
        let pcm: [UInt8]
        do {
            pcm = try disk.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(RNCProPack.DecodeError) -> [UInt8] in
                let file = UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[entry.offset..<(entry.offset + entry.size)])
                let packed = file[0] & 0x80 != 0 && !entry.storedUncompressed
                let payload = UnsafeBufferPointer(rebasing: file[Self.fileHeaderSize...])
                return packed ? try RNCProPack.decode(payload) : Array(payload)
            }
        } catch {
            throw .gameData(path: dskPath, reason: "speech file \(entry.number): \(error)")
        }
        return pcm.map { (Float($0) - 128) / 128 }
    }

    static func le32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}
