// libsndfile silently shortens a WAV whose `data` chunk runs past the end of the file (it logs
// "data : N (should be M)" and reports the frames that are there). A cut-off recording would then pass
// as a shorter, valid one, so the reader compares libsndfile's frame count with the size the RIFF
// header declares.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

//
// The same walk recovers the `fmt ` fields when libsndfile refuses a header (zero channels or rate),
// so that those files get the specific error rather than a generic one.
struct RIFFHeader {
    var channels: Int
    var sampleRate: Int
    /// Frames declared by the `data` chunk (`data` size / block align), or nil when there is no
    /// `data` chunk or its size is a streaming placeholder (0 or ≥ 0x7FFFF000, RF64).
    var declaredFrames: Int?

    /// The header of a plain RIFF/WAVE file, or nil when the file is not one or is unreadable.
    static func read(path: String) -> RIFFHeader? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }  // read-only descriptor: nothing to lose on a failed close

        func read(_ offset: Int, _ count: Int) -> [UInt8]? {
            var bytes = [UInt8](repeating: 0, count: count)
            let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return got == count ? bytes : nil
        }
        func u32(_ b: [UInt8], _ i: Int) -> Int {
            Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24
        }

        guard let head = read(0, 12), head[0..<4].elementsEqual("RIFF".utf8),
              head[8..<12].elementsEqual("WAVE".utf8) else { return nil }
        var offset = 12
        var header: RIFFHeader?
        var blockAlign = 0
        for _ in 0..<64 {  // a bounded walk: garbage cannot loop forever
            guard let chunk = read(offset, 8) else { return nil }
            let size = u32(chunk, 4)
            if chunk[0..<4].elementsEqual("fmt ".utf8) {
                guard size >= 16, let fmt = read(offset + 8, 16) else { return nil }
                header = RIFFHeader(channels: Int(fmt[2]) | Int(fmt[3]) << 8, sampleRate: u32(fmt, 4))
                blockAlign = Int(fmt[12]) | Int(fmt[13]) << 8
            } else if chunk[0..<4].elementsEqual("data".utf8) {
                if blockAlign > 0, size > 0, size < 0x7FFF_F000 { header?.declaredFrames = size / blockAlign }
                return header
            }
            offset += 8 + size + (size & 1)
        }
        return header
    }
}
