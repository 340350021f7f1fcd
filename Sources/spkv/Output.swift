import Foundation
import SpeakerVerification

/// Where a command's text output goes: stdout, or a file replaced atomically when complete.
struct TextOutput {
    let path: String?

    func write(_ text: String) throws {
        guard let path else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        // Same-folder temporary file, fsync, rename(2): readers see the old file or the whole new one.
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
        func fail(_ what: String) -> ReportedFailure {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return ReportedFailure("cannot write \(path): \(what) failed: \(reason)")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw fail("creating a temporary file") }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { close(fd); throw fail("write") }
            written += n
        }
        guard fsync(fd) == 0 else { close(fd); throw fail("fsync") }
        guard close(fd) == 0 else { throw fail("close") }
        guard rename(temporary, path) == 0 else { throw fail("rename") }
    }
}

/// A one-line progress display on stderr, only when stderr is a terminal.
final class Progress: @unchecked Sendable {
    private let enabled = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    private let label: String
    init(_ label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        guard enabled else { return }
        lock.withLock {
            FileHandle.standardError.write(Data("\r\(label) \(done)/\(total)\(done == total ? "\n" : "")".utf8))
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("spkv: \(message)\n".utf8))
}

extension Array where Element == Float {
    /// Space-separated, each value in the shortest form that reads back to the same Float.
    var spaceSeparated: String { map { "\($0)" }.joined(separator: " ") }
}
