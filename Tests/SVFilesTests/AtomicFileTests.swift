import Foundation
import Glibc
import Testing
@testable import SVFiles

private func temporaryFolder() throws -> String {
    let dir = NSTemporaryDirectory() + "svfiles-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

private func contents(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

private func entries(_ dir: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
}

@Suite struct AtomicFileTests {
    @Test func writesAndReplacesLeavingNothingElse() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.txt"
        try AtomicFile.write("first\n", to: path)
        #expect(contents(path) == "first\n")
        try AtomicFile.write("second, longer\n", to: path)
        #expect(contents(path) == "second, longer\n")
        let big = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try AtomicFile.write(big, to: path)
        #expect(FileManager.default.contents(atPath: path) == Data(big))
        #expect(try entries(dir) == ["out.txt"])
    }

    /// A bare file name goes to the working directory's folder ("."), not "/".
    @Test func splitsFolderAndName() {
        #expect(AtomicFile.split("a.txt") == (".", "a.txt"))
        #expect(AtomicFile.split("/a.txt") == ("/", "a.txt"))
        #expect(AtomicFile.split("/x/y/a.txt") == ("/x/y", "a.txt"))
        #expect(AtomicFile.split("y/a.txt") == ("y", "a.txt"))
    }

    /// The old profile writer opened `.NAME.tmp-PID` with O_TRUNC, following a symlink planted there
    /// and overwriting its target. Here a symlink (and a plain file) wait under the first names the
    /// writer will try: O_EXCL refuses them, the writer moves on to the next name, and neither the
    /// link's target nor the planted file is touched.
    @Test func filesAndSymlinksPlantedAtTheTemporaryNamesAreNeverOpened() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = dir + "/victim", path = dir + "/profile.json"
        try AtomicFile.write("precious\n", to: victim)
        try FileManager.default.createSymbolicLink(atPath: dir + "/.profile.json.tmp-first", withDestinationPath: victim)
        try AtomicFile.write("planted\n", to: dir + "/.profile.json.tmp-second")
        let suffixes = ["first", "second", "third"]
        try AtomicFile.write(to: path, temporarySuffix: { suffixes[$0] }, mapError: { $0 }) { fd throws(AtomicFile.WriteError) in
            #expect("{}\n".withCString { Glibc.write(fd, $0, 3) } == 3)
        }
        #expect(contents(victim) == "precious\n")
        #expect(contents(dir + "/.profile.json.tmp-second") == "planted\n")
        #expect(contents(path) == "{}\n")
        #expect(try entries(dir) == [".profile.json.tmp-first", ".profile.json.tmp-second", "profile.json", "victim"])
    }

    /// A replaced file keeps its permissions; a new one gets 0666 less the umask.
    @Test func aReplacedFileKeepsItsModeAndANewOneFollowsTheUmask() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/private.json"
        try AtomicFile.write("a", to: path)
        // The umask from /proc (setting it to read it would race with the other tests' files).
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Umask:") })
        let mask = try #require(mode_t(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8))
        #expect(try mode(path) == 0o666 & ~mask)
        chmod(path, 0o600)
        try AtomicFile.write("b", to: path)
        #expect(try mode(path) == 0o600 && contents(path) == "b")
    }

    private func mode(_ path: String) throws -> mode_t {
        var s = stat()
        try #require(stat(path, &s) == 0)
        return s.st_mode & 0o7777
    }

    /// A destination that is a symlink is replaced by the file; the link's target is not written.
    @Test func aSymlinkDestinationIsReplacedNotWrittenThrough() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/target", link = dir + "/link"
        try AtomicFile.write("target\n", to: target)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        try AtomicFile.write("new\n", to: link)
        #expect(contents(target) == "target\n")
        #expect(contents(link) == "new\n")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == nil)
    }

    /// A missing folder (root ignores permissions, so CI cannot test an unwritable one this way) is a
    /// "create" error naming the destination.
    @Test func aMissingFolderIsAnErrorNamingTheDestination() throws {
        let path = NSTemporaryDirectory() + "svfiles-missing-\(UUID().uuidString)/out.txt"
        do { try AtomicFile.write("x", to: path); Issue.record("no error") } catch {
            #expect(error.operation == "create" && error.path == path && error.errno == ENOENT)
            #expect(error.description.contains(path) && error.description.contains("No such file or directory"))
        }
    }

    /// A writer that fails half way leaves the old file as it was and no temporary file behind.
    @Test func aFailingWriterLeavesTheOldFileAndNoTemporary() throws {
        struct Broken: Error {}
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.bin"
        try AtomicFile.write("old\n", to: path)
        do {
            try AtomicFile.write(to: path, mapError: { _ in Broken() }) { fd throws(Broken) in
                _ = "half".withCString { Glibc.write(fd, $0, 4) }
                throw Broken()
            }
            Issue.record("no error")
        } catch {}
        #expect(contents(path) == "old\n")
        #expect(try entries(dir) == ["model.bin"])
    }

    /// Writers racing on one destination each get their own temporary file; the result is one whole
    /// version, never a mix.
    @Test func concurrentWritersNeverMix() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/shared"
        let versions = (0..<16).map { String(repeating: String(UnicodeScalar(UInt8(65 + $0))), count: 1 << 16) }
        DispatchQueue.concurrentPerform(iterations: versions.count) { i in
            for _ in 0..<4 { try? AtomicFile.write(versions[i], to: path) }
        }
        #expect(versions.contains(contents(path) ?? ""))
        #expect(try entries(dir) == ["shared"])
    }
}
