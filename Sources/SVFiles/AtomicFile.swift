import Foundation
import Glibc

/// Writing a file so that a reader (or a crash) sees either the old file or the whole new one, never a
/// part: every output the engine and the trainer write goes through here.
///
/// The bytes go to a new temporary file in the destination's folder, named `.NAME.tmp-` plus 64 random
/// bits and created with `O_EXCL | O_NOFOLLOW` (so an existing file or a symlink planted under that name
/// is never opened, and two writers never share one); writes are retried on `EINTR` and short counts;
/// the file is `fsync`ed, renamed over the destination, and the folder is `fsync`ed so that the rename
/// itself survives a power cut. On failure the temporary file is removed and the destination is untouched.
/// A destination that is a symbolic link is replaced by the file (the link's target is not written).
public enum AtomicFile {
    /// A failed system call: which step, the file being written (the destination, not the temporary
    /// name), and `errno`.
    public struct WriteError: Error, Equatable, CustomStringConvertible, Sendable {
        /// "create" (the temporary file), "write", "fsync", "close" or "rename".
        public let operation: String
        public let path: String
        public let errno: Int32

        public init(operation: String, path: String, errno: Int32) {
            self.operation = operation; self.path = path; self.errno = errno
        }

        public var description: String {
            "cannot write '\(path)': \(operation) failed: \(String(cString: strerror(errno)))"
        }
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws(WriteError) {
        try write(to: path, mapError: { $0 }) { fd throws(WriteError) in try writeAll(fd, bytes, path: path) }
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws(WriteError) {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out by hand.
        var failure: WriteError?
        data.withUnsafeBytes { raw in
            do throws(WriteError) { try write(raw, to: path) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws(WriteError) {
        var failure: WriteError?
        bytes.withUnsafeBytes { raw in
            do throws(WriteError) { try write(raw, to: path) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes `text` as UTF-8 to `path` atomically.
    public static func write(_ text: String, to path: String) throws(WriteError) {
        try write(Array(text.utf8), to: path)
    }

    /// For writers that need the descriptor (libsndfile): `body` writes the whole file through `fd`
    /// (the temporary file, open for writing) and must not close it. Then fsync, rename and the folder's
    /// fsync as above. This function's own failures reach the caller through `mapError`, so that it can
    /// keep one error type.
    public static func write<E: Error>(to path: String, mapError: (WriteError) -> E,
                                       _ body: (_ fd: Int32) throws(E) -> Void) throws(E) {
        try write(to: path, temporarySuffix: { _ in
            var rng = SystemRandomNumberGenerator()
            return String(rng.next() as UInt64, radix: 16)
        }, mapError: mapError, body)
    }

    /// `write(to:mapError:_:)` with the temporary names' random part given by `temporarySuffix(attempt)`
    /// (tests plant files under the names it will try).
    static func write<E: Error>(to path: String, temporarySuffix: (Int) -> String, mapError: (WriteError) -> E,
                                _ body: (_ fd: Int32) throws(E) -> Void) throws(E) {
        let (folder, name) = split(path)
        var fd: Int32 = -1
        var temporary = ""
        // A name collision (another writer, or a planted file or symlink: O_EXCL refuses both) is
        // retried with other random bits.
        for attempt in 0..<8 {
            temporary = (folder == "/" ? "" : folder) + "/.\(name).tmp-" + temporarySuffix(attempt)
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw mapError(WriteError(operation: "create", path: path, errno: errno)) }
        // A file being replaced keeps its permissions (a profile made private stays private); a new
        // one gets 0666 less the umask, as any program's new file does.
        var existing = stat()
        if stat(path, &existing) == 0, existing.st_mode & S_IFMT == S_IFREG {
            _ = fchmod(fd, existing.st_mode & 0o7777)
        }
        var descriptorOpen = true
        var renamed = false
        defer {
            // Error-path cleanup only: the error being thrown is the one worth reporting.
            if descriptorOpen { _ = close(fd) }
            if !renamed { _ = unlink(temporary) }
        }
        try body(fd)
        guard fsync(fd) == 0 else { throw mapError(WriteError(operation: "fsync", path: path, errno: errno)) }
        descriptorOpen = false
        // close is not retried on EINTR: on Linux the descriptor is released either way.
        guard close(fd) == 0 else { throw mapError(WriteError(operation: "close", path: path, errno: errno)) }
        guard rename(temporary, path) == 0 else { throw mapError(WriteError(operation: "rename", path: path, errno: errno)) }
        renamed = true
        // Makes the rename durable. A folder that cannot be opened or synced (some file systems refuse)
        // does not undo a complete, renamed file, so it is not an error.
        let folderDescriptor = Glibc.open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            _ = fsync(folderDescriptor)
            _ = close(folderDescriptor)
        }
    }

    /// Writes all of `bytes` to `fd`, retrying on EINTR and after short writes.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(WriteError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw WriteError(operation: "write", path: path, errno: errno)
            }
            done += n
        }
    }

    /// The folder ("." for a bare name, "/" at the root) and the file name of `path`.
    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = slash == path.startIndex ? "/" : String(path[..<slash])
        return (folder, String(path[path.index(after: slash)...]))
    }
}
