import Foundation
import SpeakerVerification
import SVFiles

/// Where a command's text output goes: stdout, or a file replaced atomically when complete.
struct TextOutput {
    let path: String?

    func write(_ text: String) throws {
        guard let path else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        do { try AtomicFile.write(text, to: path) } catch {
            throw ReportedFailure(error.description)
        }
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
