/// Decoder for RNC ProPack method 1 (Rob Northen Compression), the packing of Beneath a Steel Sky's
/// data files. Written from the format description in `shared/docs/GAME-SPEECH.md` §1 (derived from
/// reading ScummVM's `engines/sky/rnc_deco.cpp`); the facts it relies on:
/// - an 18-byte header: "RNC" 0x01, unpacked length (BE32), packed length (BE32), CRC of the unpacked
///   data (BE16), CRC of the packed data after the header (BE16), leeway (1 byte), chunk count (1);
///   both CRCs are CRC-16/ARC (reflected polynomial 0xA001, initial value 0);
/// - the bit stream is read as 16-bit little-endian words, bits taken least significant first; a
///   new word is fetched only when fewer bits remain than the read needs; literal bytes are copied
///   straight from the byte position of the word stream, which then continues after them, and the
///   bits already buffered are kept; the first 2 bits are discarded;
/// - per chunk: three Huffman tables (literal-run length, match distance, match length), each
///   `read(5)` code lengths of `read(4)` bits; canonical codes in order of length then symbol,
///   stored bit-reversed (the stream is LSB first); a symbol s ≥ 2 stands for
///   `read(s − 1) | 1 << (s − 1)`, else for s itself;
/// - then `read(16)` iterations: copy `value(literal)` bytes; except after the last one, copy
///   `value(length) + 2` bytes from `value(distance) + 1` bytes back (overlap allowed).
/// Both CRCs are verified, so a damaged file is an error, never silently wrong audio.
public enum RNCProPack {
    public static let headerSize = 18

    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case notRNC
        case unsupportedMethod(UInt8)
        case truncated(String)
        case packedCRC(stored: UInt16, computed: UInt16)
        case unpackedCRC(stored: UInt16, computed: UInt16)
        case corrupt(String)

        public var description: String {
            switch self {
            case .notRNC: return "not RNC ProPack data (no \"RNC\" signature)"
            case .unsupportedMethod(let m): return "RNC method \(m) is not supported (only method 1)"
            case .truncated(let what): return "RNC data is truncated (\(what))"
            case .packedCRC(let s, let c): return String(format: "RNC packed-data CRC mismatch (stored %04x, computed %04x)", s, c)
            case .unpackedCRC(let s, let c): return String(format: "RNC unpacked-data CRC mismatch (stored %04x, computed %04x)", s, c)
            case .corrupt(let why): return "RNC data is corrupt: \(why)"
            }
        }
    }

    /// CRC-16/ARC of `bytes`.
    public static func crc16(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for b in bytes {
            crc ^= UInt16(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        }
        return crc
    }

    /// Unpacked length announced by a header at the start of `data`, or nil when it is not RNC.
    public static func unpackedLength(_ data: UnsafeBufferPointer<UInt8>) -> Int? {
        guard data.count >= headerSize, data[0] == 0x52, data[1] == 0x4E, data[2] == 0x43 else { return nil }
        return Int(be32(data, 4))
    }

    /// Decodes the RNC stream at the start of `data` (header included).
    public static func decode(_ data: UnsafeBufferPointer<UInt8>) throws(DecodeError) -> [UInt8] {
        guard data.count >= headerSize, data[0] == 0x52, data[1] == 0x4E, data[2] == 0x43 else { throw .notRNC }
        guard data[3] == 1 else { throw .unsupportedMethod(data[3]) }
        let unpacked = Int(be32(data, 4)), packed = Int(be32(data, 8))
        let unpackedCRC = UInt16(data[12]) << 8 | UInt16(data[13]), packedCRC = UInt16(data[14]) << 8 | UInt16(data[15])
        let chunks = Int(data[17])
        guard headerSize + packed <= data.count else { throw .truncated("\(packed) packed bytes announced, \(data.count - headerSize) present") }
        let stream = UnsafeBufferPointer(rebasing: data[headerSize..<(headerSize + packed)])
        let computedPacked = crc16(stream)
        guard computedPacked == packedCRC else { throw .packedCRC(stored: packedCRC, computed: computedPacked) }

        var out = [UInt8](repeating: 0, count: unpacked)
        var written = 0
        var bits = BitReader(stream)
        _ = try bits.read(2)
        for _ in 0..<chunks {
            let literal = try HuffmanTable(&bits), distance = try HuffmanTable(&bits), length = try HuffmanTable(&bits)
            let count = try bits.read(16)
            for iteration in 0..<count {
                let run = try literal.value(&bits)
                guard written + run <= unpacked else { throw .corrupt("a literal run passes the announced length") }
                try bits.copyLiterals(run, into: &out, at: written)
                written += run
                guard iteration + 1 < count else { break }
                let back = try distance.value(&bits) + 1, n = try length.value(&bits) + 2
                guard back <= written else { throw .corrupt("a match reaches before the start of the output") }
                guard written + n <= unpacked else { throw .corrupt("a match passes the announced length") }
                for k in 0..<n { out[written + k] = out[written + k - back] }   // overlap allowed: byte by byte
                written += n
            }
        }
        guard written == unpacked else { throw .corrupt("\(written) bytes decoded, \(unpacked) announced") }
        let computedUnpacked = out.withUnsafeBufferPointer { crc16($0) }
        guard computedUnpacked == unpackedCRC else { throw .unpackedCRC(stored: unpackedCRC, computed: computedUnpacked) }
        return out
    }

    static func be32(_ d: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
        UInt32(d[i]) << 24 | UInt32(d[i + 1]) << 16 | UInt32(d[i + 2]) << 8 | UInt32(d[i + 3])
    }

    /// LSB-first bits from little-endian 16-bit words, fetched lazily; literal bytes read in between.
    struct BitReader {
        let data: UnsafeBufferPointer<UInt8>
        var position = 0
        var buffer: UInt64 = 0
        var count = 0

        init(_ data: UnsafeBufferPointer<UInt8>) { self.data = data }

        mutating func read(_ n: Int) throws(DecodeError) -> Int {
            while count < n {
                // The packer may end the stream inside the last word's bits: bytes past the end read as
                // zero (a stream that truly ends early fails the length and CRC checks instead).
                guard position < data.count + 4 else { throw .truncated("the bit stream ends early") }
                let low = position < data.count ? UInt16(data[position]) : 0
                let high = position + 1 < data.count ? UInt16(data[position + 1]) : 0
                buffer |= UInt64(low | high << 8) << UInt64(count)
                position += 2
                count += 16
            }
            let value = Int(buffer & ((1 << UInt64(n)) - 1))
            buffer >>= UInt64(n)
            count -= n
            return value
        }

        mutating func copyLiterals(_ n: Int, into out: inout [UInt8], at start: Int) throws(DecodeError) {
            // The last run may end a byte or two past the announced packed length (the packer counts
            // whole words); those bytes read as zero and the unpacked CRC decides.
            guard position + n <= data.count + 4 else { throw .truncated("a literal run passes the end of the packed data") }
            for k in 0..<n { out[start + k] = position + k < data.count ? data[position + k] : 0 }
            position += n
        }
    }

    /// One canonical Huffman table; codes stored bit-reversed for LSB-first matching.
    struct HuffmanTable {
        var entries: [(code: Int, length: Int, symbol: Int)] = []

        init(_ bits: inout BitReader) throws(DecodeError) {
            let n = try bits.read(5)
            var lengths: [Int] = []
            for _ in 0..<n { lengths.append(try bits.read(4)) }
            var code = 0
            for length in 1...16 {
                for (symbol, l) in lengths.enumerated() where l == length {
                    entries.append((Self.reverse(code, length), length, symbol))
                    code += 1
                }
                code <<= 1
            }
        }

        static func reverse(_ code: Int, _ length: Int) -> Int {
            var r = 0
            for i in 0..<length where code & (1 << i) != 0 { r |= 1 << (length - 1 - i) }
            return r
        }

        /// Reads one code bit by bit (so words are fetched as late as possible) and returns its value.
        func value(_ bits: inout BitReader) throws(DecodeError) -> Int {
            var code = 0
            for length in 1...16 {
                code |= try bits.read(1) << (length - 1)
                if let e = entries.first(where: { $0.length == length && $0.code == code }) {
                    return e.symbol < 2 ? e.symbol : try bits.read(e.symbol - 1) | 1 << (e.symbol - 1)
                }
            }
            throw .corrupt("no Huffman code matches")
        }
    }
}
