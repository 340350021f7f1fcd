import CZlib
import Foundation
import SVAudio
import SVModels

/// Where a package's clip files are read: the folder it installs, or the zip archive it installs
/// (nexuiz's `.pk3`, warzone2100's `.wz`), whose members are inflated here with zlib and CRC-checked.
final class PackageFiles {
    let package: SpeechPackage
    let root: String
    private let archive: ZipArchive?
    private let archiveEntries: [String: ZipArchive.Entry]
    /// Archive members are decoded by libsndfile from a file in this private folder.
    private var scratch: String?

    /// Largest member inflated (a clip is a few hundred kilobytes; a damaged size field must not allocate gigabytes).
    static let maxMemberBytes = 64 << 20

    init(package: SpeechPackage, root: String) throws(CorpusError) {
        self.package = package
        self.root = root
        let base = "\(root)/\(package.folder)"
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: base, isDirectory: &isDirectory)
        guard exists, isDirectory.boolValue == !package.isArchive else {
            throw .gameData(path: base, reason: "package \(package.rawValue) is not installed there: `apt-get install \(package.rawValue)`, or unpack it with `dpkg -x` and pass that folder as --root")
        }
        if package.isArchive {
            do {
                let archive = try ZipArchive(source: FileByteSource(path: base))
                self.archive = archive
                archiveEntries = Dictionary(archive.entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            } catch let error as PyTorchCheckpointError {
                throw .gameData(path: base, reason: "\(package.rawValue): \(error.zipDescription ?? error.description)")
            } catch {
                throw .gameData(path: base, reason: "\(package.rawValue): \(error)")
            }
        } else {
            archive = nil
            archiveEntries = [:]
        }
    }

    deinit { if let scratch { try? FileManager.default.removeItem(atPath: scratch) } }

    /// Every file name (relative to the folder, or archive member names), unsorted.
    func names() throws(CorpusError) -> [String] {
        // A member name is a path the import writes under its output folder: '..', '.', absolute and
        // backslash names could point elsewhere, so they are never clips.
        if archive != nil { return archiveEntries.keys.filter(Self.isPlainRelativePath) }
        let base = "\(root)/\(package.folder)"
        guard let walker = FileManager.default.enumerator(atPath: base) else { throw .gameData(path: base, reason: "cannot list the folder") }
        var names: [String] = []
        for case let relative as String in walker { names.append(relative) }
        return names
    }

    static func isPlainRelativePath(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix("/") && !name.contains("\\")
            && !name.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == ".." || $0 == "." || $0.isEmpty }
    }

    /// Where errors about `name` point: the file, or `archive:member`.
    func location(_ name: String) -> String { "\(root)/\(package.folder)\(archive != nil ? ":" : "/")\(name)" }

    func bytes(_ name: String) throws(CorpusError) -> Data {
        guard let archive else {
            guard let data = FileManager.default.contents(atPath: location(name)) else {
                throw .gameData(path: location(name), reason: "cannot read it (\(package.rawValue))")
            }
            return data
        }
        guard let entry = archiveEntries[name] else { throw .gameData(path: location(name), reason: "no such member") }
        guard entry.uncompressedSize <= Self.maxMemberBytes, entry.size <= Self.maxMemberBytes else {
            throw .gameData(path: location(name), reason: "declares \(max(entry.size, entry.uncompressedSize)) bytes, over the \(Self.maxMemberBytes)-byte limit for a clip")
        }
        do {
            let raw = try archive.rawBytes(of: entry)
            let data: [UInt8]
            switch entry.method {
            case 0: data = raw
            case 8: data = try Self.inflate(raw, size: entry.uncompressedSize, name: location(name))
            default:
                throw CorpusError.gameData(path: location(name), reason: "compressed with zip method \(entry.method); only stored and deflate members are read")
            }
            var crc = CRC32()
            data.withUnsafeBytes { crc.update($0) }
            guard crc.value == entry.crc32 else {
                throw CorpusError.gameData(path: location(name), reason: "corrupt member: CRC-32 \(crc.hex), stored \(CRC32.hex(entry.crc32))")
            }
            return Data(data)
        } catch let error as CorpusError {
            throw error
        } catch let error as PyTorchCheckpointError {
            throw .gameData(path: location(name), reason: error.zipDescription ?? error.description)
        } catch {
            throw .gameData(path: location(name), reason: "\(error)")
        }
    }

    /// Raw deflate (zip method 8) to exactly `size` bytes; anything else (a damaged stream, more or fewer
    /// bytes than declared) is an error naming `name`.
    static func inflate(_ input: [UInt8], size: Int, name: String) throws(CorpusError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size + 1)   // one spare byte reveals a stream longer than declared
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .gameData(path: name, reason: "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var input = input
        let status: Int32 = input.withUnsafeMutableBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                stream.next_in = src.baseAddress
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else {
            let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
            throw .gameData(path: name, reason: "damaged deflate data (\(status == Z_BUF_ERROR ? "longer than the declared \(size) bytes or cut short" : message))")
        }
        guard Int(stream.total_out) == size else {
            throw .gameData(path: name, reason: "inflates to \(stream.total_out) bytes, but the archive declares \(size)")
        }
        output.removeLast()
        return output
    }

    /// One file at 16 kHz mono and its source rate, from its bytes as `bytes(_:)` returned them: raw s16le
    /// where the package has raw files, libsndfile otherwise (from the installed file, or for an archive
    /// member from a private temporary copy of `bytes`).
    func decode(_ name: String, bytes: Data, outputRate: Int) throws(CorpusError) -> (AudioClip, Int) {
        do {
            if let rate = package.rawSampleRate, name.hasSuffix(".raw") {
                return (try PackageSpeechImport.pcm16(bytes, sampleRate: rate, source: location(name)), rate)
            }
            var path = location(name)
            if archive != nil {
                path = "\(try scratchFolder())/member.\((name as NSString).pathExtension)"
                do { try bytes.write(to: URL(fileURLWithPath: path)) } catch {
                    throw CorpusError.unwritableOutput(path: path, reason: error.localizedDescription)
                }
            }
            let rate = try AudioFile.info(path: path).sampleRate
            return (try AudioFile.readMono(path: path, sampleRate: outputRate), rate)
        } catch let error as CorpusError {
            throw error
        } catch let error as AudioError {
            throw .gameData(path: location(name), reason: "\(package.rawValue): \(error.description.replacingOccurrences(of: scratch ?? "\u{0}", with: "<member>"))")
        } catch {
            throw .gameData(path: location(name), reason: "\(package.rawValue): \(error)")
        }
    }

    private func scratchFolder() throws(CorpusError) -> String {
        if let scratch { return scratch }
        let folder = NSTemporaryDirectory() + "spkv-package-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max))"
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false) } catch {
            throw .unwritableOutput(path: folder, reason: error.localizedDescription)
        }
        scratch = folder
        return folder
    }
}
