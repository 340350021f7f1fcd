/// A minimal read-only zip reader for PyTorch checkpoints (`torch.save` since 1.6 writes a zip of
/// stored, uncompressed entries: `<root>/data.pkl`, `<root>/data/<key>`, …).
///
/// Written from the PKWARE APPNOTE layout: the end-of-central-directory record (EOCD) at the end of
/// the file, the ZIP64 EOCD locator and record when a field overflows, the central directory, and
/// each entry's local header (only to find where its data starts). Sizes come from the central
/// directory, since torch sets the data-descriptor flag and may leave the local sizes zero.
/// Only stored (method 0), unencrypted, single-disk archives are accepted; everything else is a
/// `PyTorchCheckpointError`, and every offset and length is checked against the file size, so no
/// byte sequence can make it trap. Entries may not share bytes of the file: otherwise one stretch
/// of it could be read, and held, once per entry (the zip-bomb pattern).
public struct ZipArchive {
    public struct Entry: Equatable, Sendable {
        public let name: String
        /// Offset of the entry's local file header.
        let localHeaderOffset: Int
        /// Offset of the entry's data, after the local header's name and extra field.
        let dataOffset: Int
        /// Bytes of the entry in the file (compressed size).
        public let size: Int
        /// Bytes once decompressed, as the central directory declares them.
        public let uncompressedSize: Int
        public let crc32: UInt32
        /// 0 stored, 8 deflate.
        public let method: UInt16
        public let flags: UInt16
    }

    let source: any ModelByteSource
    /// Entries in central-directory order.
    public let entries: [Entry]
    private let index: [String: Int]

    /// Largest central directory accepted (a checkpoint with a million tensors needs ~100 MB).
    static let maxCentralDirectoryBytes = 256 << 20

    /// Reads and checks the central directory (errors are `PyTorchCheckpointError`'s zip cases, whose
    /// `zipDescription` says what is wrong without the checkpoint advice).
    public init(source: any ModelByteSource) throws(PyTorchCheckpointError) {
        self.source = source
        let directory = try Self.locateCentralDirectory(source)
        entries = try Self.parseCentralDirectory(source, directory)
        try Self.checkNoOverlap(entries)
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() where index[e.name] == nil { index[e.name] = i }
        self.index = index
    }

    public func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The entry's bytes as they lie in the file (compressed for method 8), unchecked: for a caller
    /// that decompresses them and checks `crc32` itself. Encrypted entries are refused.
    public func rawBytes(of entry: Entry) throws(PyTorchCheckpointError) -> [UInt8] {
        if entry.flags & 0x1 != 0 { throw .unsupportedZipEntry(entry: entry.name, reason: "it is encrypted") }
        return try Self.read(source, at: entry.dataOffset, count: entry.size, what: "entry '\(entry.name)'")
    }

    /// The stored bytes of `entry`, CRC-checked.
    func contents(of entry: Entry) throws(PyTorchCheckpointError) -> [UInt8] {
        if entry.flags & 0x1 != 0 {
            throw .unsupportedZipEntry(entry: entry.name, reason: "it is encrypted")
        }
        guard entry.method == 0 else {
            let kind = entry.method == 8 ? "deflate-compressed" : "compressed with method \(entry.method)"
            throw .unsupportedZipEntry(entry: entry.name, reason: "it is \(kind); torch.save writes stored (uncompressed) entries")
        }
        let bytes = try Self.read(source, at: entry.dataOffset, count: entry.size, what: "entry '\(entry.name)'")
        let crc = CRC32.checksum(bytes)
        guard crc == entry.crc32 else {
            throw .checksumMismatch(entry: entry.name, stored: CRC32.hex(entry.crc32), computed: CRC32.hex(crc))
        }
        return bytes
    }

    // MARK: - Central directory

    private struct DirectoryLocation {
        let offset: Int
        let size: Int
        let count: Int
    }

    private static func locateCentralDirectory(_ source: any ModelByteSource) throws(PyTorchCheckpointError) -> DirectoryLocation {
        let fileSize = source.byteCount
        guard fileSize >= 22 else { throw .notZipArchive(reason: "the file is \(fileSize) bytes, shorter than a zip end record") }
        // The EOCD is 22 bytes plus a comment of at most 65535 bytes; search backwards.
        let tailCount = min(fileSize, 22 + 0xFFFF)
        let tailStart = fileSize - tailCount
        let tail = try read(source, at: tailStart, count: tailCount, what: "end of the file")
        var eocd: Int?
        var i = tailCount - 22
        while i >= 0 {
            if tail.leU32(i) == 0x0605_4B50, i + 22 + Int(tail.leU16(i + 20)) == tailCount { eocd = i; break }
            i -= 1
        }
        if eocd == nil {  // tolerate trailing bytes after the comment: take the last signature
            i = tailCount - 22
            while i >= 0 { if tail.leU32(i) == 0x0605_4B50 { eocd = i; break }; i -= 1 }
        }
        guard let e = eocd else { throw .notZipArchive(reason: "no end-of-central-directory record") }
        let disk = tail.leU16(e + 4), cdDisk = tail.leU16(e + 6)
        var countOnDisk = Int(tail.leU16(e + 8)), count = Int(tail.leU16(e + 10))
        var size = Int(tail.leU32(e + 12)), offset = Int(tail.leU32(e + 16))

        let needsZip64 = count == 0xFFFF || countOnDisk == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF
        let eocdOffset = tailStart + e
        if eocdOffset >= 20 {
            let locator = try read(source, at: eocdOffset - 20, count: 20, what: "ZIP64 locator")
            if locator.leU32(0) == 0x0706_4B50 {
                let recordOffset = locator.leU64(8)
                guard recordOffset <= UInt64(fileSize), Int(recordOffset) <= fileSize - 56 else {
                    throw .malformedZip("ZIP64 end record offset \(recordOffset) is outside the file (\(fileSize) bytes)")
                }
                let record = try read(source, at: Int(recordOffset), count: 56, what: "ZIP64 end record")
                guard record.leU32(0) == 0x0606_4B50 else {
                    throw .malformedZip("no ZIP64 end record signature at offset \(recordOffset)")
                }
                guard record.leU32(16) == 0, record.leU32(20) == 0 else {
                    throw .unsupportedZip("multi-disk (split) archives are not supported")
                }
                func fit(_ v: UInt64, _ what: String) throws(PyTorchCheckpointError) -> Int {
                    guard v <= UInt64(fileSize) else { throw .malformedZip("ZIP64 \(what) \(v) exceeds the file size \(fileSize)") }
                    return Int(v)
                }
                countOnDisk = try fit(record.leU64(24), "entry count")
                count = try fit(record.leU64(32), "entry count")
                size = try fit(record.leU64(40), "central directory size")
                offset = try fit(record.leU64(48), "central directory offset")
            } else if needsZip64 {
                throw .malformedZip("the end record needs ZIP64 values but there is no ZIP64 locator")
            }
        } else if needsZip64 {
            throw .malformedZip("the end record needs ZIP64 values but there is no ZIP64 locator")
        }
        guard disk == 0 || disk == 0xFFFF, cdDisk == 0 || cdDisk == 0xFFFF, countOnDisk == count else {
            throw .unsupportedZip("multi-disk (split) archives are not supported")
        }
        guard size <= maxCentralDirectoryBytes else {
            throw .malformedZip("central directory of \(size) bytes exceeds the \(maxCentralDirectoryBytes)-byte limit")
        }
        guard offset <= fileSize, size <= fileSize - offset else {
            throw .malformedZip("central directory (\(size) bytes at offset \(offset)) runs past the end of the file (\(fileSize) bytes)")
        }
        guard count <= size / 46 else {
            throw .malformedZip("\(count) entries cannot fit in a \(size)-byte central directory")
        }
        return DirectoryLocation(offset: offset, size: size, count: count)
    }

    private static func parseCentralDirectory(_ source: any ModelByteSource, _ location: DirectoryLocation) throws(PyTorchCheckpointError) -> [Entry] {
        let cd = try read(source, at: location.offset, count: location.size, what: "central directory")
        var entries: [Entry] = []
        entries.reserveCapacity(location.count)
        var p = 0
        for n in 0..<location.count {
            guard p <= cd.count - 46, cd.leU32(p) == 0x0201_4B50 else {
                throw .malformedZip("central directory entry \(n) at offset \(location.offset + p) is truncated or has no signature")
            }
            let flags = cd.leU16(p + 8), method = cd.leU16(p + 10)
            let crc = cd.leU32(p + 16)
            var compressed = UInt64(cd.leU32(p + 20)), uncompressed = UInt64(cd.leU32(p + 24))
            let nameLength = Int(cd.leU16(p + 28)), extraLength = Int(cd.leU16(p + 30)), commentLength = Int(cd.leU16(p + 32))
            var disk = UInt32(cd.leU16(p + 34))
            var localOffset = UInt64(cd.leU32(p + 42))
            let nameStart = p + 46
            let end = nameStart + nameLength + extraLength + commentLength
            guard end <= cd.count else { throw .malformedZip("central directory entry \(n) runs past the directory's end") }
            let name = String(decoding: cd[nameStart..<nameStart + nameLength], as: UTF8.self)

            // ZIP64 extended information: only the fields whose 32/16-bit value is saturated, in order.
            var q = nameStart + nameLength
            let extraEnd = q + extraLength
            while q + 4 <= extraEnd {
                let id = cd.leU16(q), length = Int(cd.leU16(q + 2))
                let body = q + 4
                guard body + length <= extraEnd else { throw .malformedZip("entry '\(name)': extra field overruns its area") }
                if id == 0x0001 {
                    var r = body
                    func next64() throws(PyTorchCheckpointError) -> UInt64 {
                        guard r + 8 <= body + length else { throw .malformedZip("entry '\(name)': ZIP64 extra field too short") }
                        defer { r += 8 }
                        return cd.leU64(r)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next64() }
                    if compressed == 0xFFFF_FFFF { compressed = try next64() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next64() }
                    if disk == 0xFFFF {
                        guard r + 4 <= body + length else { throw .malformedZip("entry '\(name)': ZIP64 extra field too short") }
                        disk = cd.leU32(r)
                    }
                }
                q = body + length
            }
            guard disk == 0 else { throw .unsupportedZip("entry '\(name)' lies on disk \(disk); split archives are not supported") }
            let fileSize = UInt64(source.byteCount)
            guard compressed <= fileSize, localOffset <= fileSize else {
                throw .malformedZip("entry '\(name)': size \(compressed) or offset \(localOffset) exceeds the file size \(fileSize)")
            }
            if method == 0, flags & 1 == 0, compressed != uncompressed {
                throw .malformedZip("stored entry '\(name)' has compressed size \(compressed) ≠ size \(uncompressed)")
            }
            guard uncompressed <= UInt64(Int.max) else { throw .malformedZip("entry '\(name)': size \(uncompressed) is out of range") }
            let dataOffset = try dataOffset(source, name: name, localHeaderOffset: Int(localOffset), size: Int(compressed))
            entries.append(Entry(name: name, localHeaderOffset: Int(localOffset), dataOffset: dataOffset, size: Int(compressed),
                                 uncompressedSize: Int(uncompressed), crc32: crc, method: method, flags: flags))
            p = end
        }
        return entries
    }

    /// Where an entry's data starts: its local header's name and extra field may differ in length
    /// from the central record's, so the local header is read (and its data bounds-checked) here.
    private static func dataOffset(_ source: any ModelByteSource, name: String, localHeaderOffset: Int,
                                   size: Int) throws(PyTorchCheckpointError) -> Int {
        let local = try read(source, at: localHeaderOffset, count: 30, what: "local header of '\(name)'")
        guard local.leU32(0) == 0x0403_4B50 else {
            throw .malformedZip("entry '\(name)': no local header signature at offset \(localHeaderOffset)")
        }
        let dataStart = localHeaderOffset + 30 + Int(local.leU16(26)) + Int(local.leU16(28))
        guard dataStart <= source.byteCount, size <= source.byteCount - dataStart else {
            throw .malformedZip("entry '\(name)': \(size) bytes at offset \(dataStart) run past the end of the file (\(source.byteCount) bytes)")
        }
        return dataStart
    }

    /// Each entry (local header and data) must own its bytes. Two central records naming the same
    /// or overlapping bytes would make one stretch of the file be read and held once per record;
    /// torch.save never writes them. Sorted by start, disjoint spans have each start at or after
    /// the previous end, so neighbours are the only pairs to compare.
    private static func checkNoOverlap(_ entries: [Entry]) throws(PyTorchCheckpointError) {
        let order = entries.indices.sorted { (entries[$0].localHeaderOffset, $0) < (entries[$1].localHeaderOffset, $1) }
        for (previous, next) in zip(order, order.dropFirst()) {
            let earlier = entries[previous], later = entries[next]
            if later.localHeaderOffset < earlier.dataOffset + earlier.size {
                throw .overlappingZipEntries(first: earlier.name, second: later.name)
            }
        }
    }

    // MARK: - Reading

    static func read(_ source: any ModelByteSource, at offset: Int, count: Int, what: String) throws(PyTorchCheckpointError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= source.byteCount, count <= source.byteCount - offset else {
            throw .malformedZip("\(what): \(count) bytes at offset \(offset) run past the end of the file (\(source.byteCount) bytes)")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        var failure: ModelFileError?
        bytes.withUnsafeMutableBytes { buffer in
            do throws(ModelFileError) { try source.read(at: offset, into: buffer) } catch { failure = error }
        }
        if let failure { throw .io(failure) }
        return bytes
    }
}

// MARK: - Little-endian field access (callers check bounds)

extension Array where Element == UInt8 {
    func leU16(_ i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    func leU32(_ i: Int) -> UInt32 { UInt32(leU16(i)) | UInt32(leU16(i + 2)) << 16 }
    func leU64(_ i: Int) -> UInt64 { UInt64(leU32(i)) | UInt64(leU32(i + 4)) << 32 }
}
