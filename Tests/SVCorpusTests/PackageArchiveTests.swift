import CZlib
import Foundation
import Testing
import SVAudio
import SVModels
import _SVTestSupport
@testable import SVCorpus

/// Packages whose clips live in a zip (nexuiz's data.pk3, warzone2100's base.wz): the reader on small
/// archives built here (stored and deflated members, damaged ones), and on the installed packages.
@Suite(.serialized) struct PackageArchiveTests {
    static var root: String { ProcessInfo.processInfo.environment["SPKV_PACKAGE_ROOT"] ?? "/" }

    struct Member { var name: String; var data: [UInt8]; var deflate: Bool; var crcOverride: UInt32? = nil; var sizeOverride: Int? = nil }

    /// Raw deflate of `data` (zlib's stream without its 2-byte header and Adler-32 trailer).
    static func deflated(_ data: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = compress2(&out, &size, data, uLong(data.count), 9)
        precondition(status == Z_OK)
        return Array(out[2..<(Int(size) - 4)])
    }

    /// A zip (PKWARE APPNOTE layout: local headers, central directory, end record), no ZIP64.
    static func zip(_ members: [Member]) -> [UInt8] {
        var file: [UInt8] = [], directory: [UInt8] = []
        func u16(_ v: Int, _ out: inout [UInt8]) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: UInt32, _ out: inout [UInt8]) { for k in 0..<4 { out.append(UInt8(v >> (8 * UInt32(k)) & 0xFF)) } }
        for m in members {
            var crc = CRC32()
            m.data.withUnsafeBytes { crc.update($0) }
            let body = m.deflate ? deflated(m.data) : m.data
            let name = Array(m.name.utf8), offset = file.count
            func fields(_ out: inout [UInt8]) {
                u16(20, &out); u16(0, &out); u16(m.deflate ? 8 : 0, &out); u16(0, &out); u16(0, &out)
                u32(m.crcOverride ?? crc.value, &out); u32(UInt32(body.count), &out); u32(UInt32(m.sizeOverride ?? m.data.count), &out)
                u16(name.count, &out); u16(0, &out)
            }
            u32(0x0403_4B50, &file); fields(&file); file += name; file += body
            u32(0x0201_4B50, &directory); u16(20, &directory); fields(&directory)
            u16(0, &directory); u16(0, &directory); u16(0, &directory); u32(0, &directory); u32(UInt32(offset), &directory)
            directory += name
        }
        let start = file.count
        file += directory
        u32(0x0605_4B50, &file); u16(0, &file); u16(0, &file); u16(members.count, &file); u16(members.count, &file)
        u32(UInt32(directory.count), &file); u32(UInt32(start), &file); u16(0, &file)
        return file
    }

    /// A 1-s voiced-like Ogg Vorbis clip written by libsndfile.
    static func oggClip(_ dir: TemporaryDirectory, frequency: Double) throws -> [UInt8] {
        let samples: [Float] = (0..<44_100).map { i in
            let t = Double(i), tone: Double = sin(2 * Double.pi * frequency * t / 44_100)
            return Float(0.3 * tone * (0.6 + 0.4 * sin(t * 0.0007)))
        }
        try AudioFile.write(path: dir.path("clip.ogg"), samples: samples, sampleRate: 44_100, format: .oggVorbis)
        return Array(try Data(contentsOf: dir.url.appendingPathComponent("clip.ogg")))
    }

    static func install(_ archive: [UInt8], in dir: TemporaryDirectory, as package: SpeechPackage, root: String) throws {
        let path = dir.path("\(root)/\(package.folder)")
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(archive).write(to: URL(fileURLWithPath: path))
    }

    @Test func storedAndDeflatedMembersImportWithTheirLabels() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let a = try Self.oggClip(dir, frequency: 140), b = try Self.oggClip(dir, frequency: 210)
        let archive = Self.zip([
            Member(name: "sound/player/torus/attack.ogg", data: a, deflate: true),
            Member(name: "sound/player/torus/pain25.ogg", data: b, deflate: true),             // not speech: left out
            Member(name: "sound/player/marine/coms/attack.ogg", data: b, deflate: false),
            Member(name: "sound/tutorial/1-welcome.ogg", data: a + [], deflate: true),         // same bytes as torus's: a duplicate
            Member(name: "models/player/marine.zym.sounds", data: Array("x".utf8), deflate: true),
            // Names that would write outside the output folder are never clips.
            Member(name: "sound/player/../coms/../../../../../escaped.ogg", data: b, deflate: true),
            Member(name: "sound/player/marine/coms/../../../../escaped.ogg", data: b, deflate: true),
        ])
        try Self.install(archive, in: dir, as: .nexuiz, root: "root")
        let clips = try SpeechPackage.nexuiz.clips(root: dir.path("root"))
        #expect(clips.map(\.path) == ["sound/player/marine/coms/attack.ogg", "sound/player/torus/attack.ogg", "sound/tutorial/1-welcome.ogg"])
        #expect(clips.map(\.speaker) == ["marine", "torus", "tutorial"])
        for bad in ["/abs.ogg", "a/../b.ogg", "./a.ogg", "a//b.ogg", "a\\b.ogg", ""] { #expect(!PackageFiles.isPlainRelativePath(bad), "\(bad)") }
        #expect(PackageFiles.isPlainRelativePath("sound/player/torus/attack.ogg"))
        let files = try PackageFiles(package: .nexuiz, root: dir.path("root"))
        #expect(Array(try files.bytes("sound/player/torus/attack.ogg")) == a)
        #expect(Array(try files.bytes("sound/player/marine/coms/attack.ogg")) == b)
        let reports = try PackageSpeechImport.run(packages: [.nexuiz], root: dir.path("root"), output: dir.path("c"), force: false)
        #expect(reports[0].clipsKept == 2 && reports[0].duplicates == 1, "\(reports[0])")
        let direct = try AudioFile.readMono(path: dir.path("clip.ogg"))   // b, the last clip written
        let rows = try CorpusManifest.read(path: dir.path("c/meta.tsv"))
        let marine = try #require(rows.first { $0.speaker == "nexuiz-data/marine" })
        let imported = try AudioFile.readMono(path: dir.path("c/wav/\(marine.path)"))
        #expect(imported.samples.count == direct.samples.count && maxAbsDifference(imported.samples, direct.samples) < 1e-4)
    }

    @Test func damagedArchivesAndMembersAreNamedErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let a = try Self.oggClip(dir, frequency: 140)
        func importing(_ members: [Member], _ name: String) -> String {
            do {
                try Self.install(Self.zip(members), in: dir, as: .warzone, root: name)
                _ = try PackageSpeechImport.run(packages: [.warzone], root: dir.path(name), output: dir.path("out-\(name)"), force: false)
                return "no error"
            } catch { return "\(error)" }
        }
        let member = "audio/extra/hello.ogg"
        let crc = importing([Member(name: member, data: a, deflate: true, crcOverride: 0x1234_5678)], "crc")
        #expect(crc.contains("base.wz:\(member)") && crc.contains("CRC-32"), "\(crc)")
        let long = importing([Member(name: member, data: a, deflate: true, sizeOverride: a.count - 10)], "long")
        #expect(long.contains(member) && long.contains("declared"), "\(long)")
        let short = importing([Member(name: member, data: a, deflate: true, sizeOverride: a.count + 10)], "short")
        #expect(short.contains(member) && short.contains("declares \(a.count + 10)"), "\(short)")
        // Cut before its end record: the archive, not a member, is named.
        try FileManager.default.createDirectory(atPath: dir.path("cut/\((SpeechPackage.warzone.folder as NSString).deletingLastPathComponent)"),
                                                withIntermediateDirectories: true)
        let whole = Self.zip([Member(name: member, data: a, deflate: true)])
        try Data(whole.prefix(whole.count - 30)).write(to: URL(fileURLWithPath: dir.path("cut/\(SpeechPackage.warzone.folder)")))
        do {
            _ = try PackageSpeechImport.run(packages: [.warzone], root: dir.path("cut"), output: dir.path("out-cut"), force: false)
            Issue.record("a cut archive imported")
        } catch {
            #expect(error.description.contains("base.wz") && error.description.contains("zip"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("out-cut/meta.tsv")))
    }

    /// The real warzone2100 archive (CI installs warzone2100-data): the survey's speakers, and a spread of
    /// members inflated and decoded.
    @Test func theInstalledWarzoneArchiveImports() throws {
        let warzone = try SpeechPackage.warzone.clips(root: Self.root)
        #expect(Set(warzone.map(\.speaker)) == ["narrator", "taunt1", "taunt2", "taunt3", "commander"])
        #expect(warzone.count == 402, "\(warzone.count) warzone clips (PACKAGES.md §4: 335 narrator + 33 taunts + 34 commander)")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let reports = try PackageSpeechImport.run(packages: [.warzone], root: Self.root, output: dir.path("c"), maxClips: 12, force: false)
        #expect(reports[0].clipsKept >= 10 && reports[0].keptSeconds > 0.5 * Double(reports[0].clipsKept), "\(reports[0])")
        #expect(reports[0].sampleRates.keys.contains(11_025))
    }

    /// nexuiz-data needs nexuiz-textures (455 MB more), so CI leaves it out; where it is installed (or
    /// unpacked under $SPKV_PACKAGE_ROOT) the real data.pk3 is read too.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "\(root)/\(SpeechPackage.nexuiz.folder)")))
    func theInstalledNexuizArchiveImports() throws {
        let nexuiz = try SpeechPackage.nexuiz.clips(root: Self.root)
        #expect(nexuiz.count == 219, "\(nexuiz.count) nexuiz clips (PACKAGES.md §3: 144 coms + 10 torus + 16 announcer + 49 tutorial)")
        #expect(Set(nexuiz.map(\.speaker)).count == 10)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let reports = try PackageSpeechImport.run(packages: [.nexuiz], root: Self.root, output: dir.path("c"), maxClips: 12, force: false)
        #expect(reports[0].clipsKept >= 10 && reports[0].keptSeconds > 0.5 * Double(reports[0].clipsKept), "\(reports[0])")
    }
}
