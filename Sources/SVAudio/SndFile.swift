// Thin, checked access to libsndfile. Every C call goes through `sndfileCheck`, which names the C
// function in the thrown error (the idea of swift-nio's `syscall(blocking:where:_:)`).
import CSndFile
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// libsndfile reports the error of a failed `sf_open` through a process-wide variable read by
/// `sf_error(NULL)` / `sf_strerror(NULL)`. Opening and reading that error happen under this lock so
/// that concurrent opens cannot swap each other's messages.
let sndfileOpenLock = Mutex<Void>(())

/// Builds the structured error for a failed libsndfile call, from `sf_error`/`sf_strerror` of `handle`
/// (`nil`: the last failed `sf_open`, call under `sndfileOpenLock`).
func sndfileError(_ function: String, path: String, handle: OpaquePointer?) -> AudioError {
    let code = Int(sf_error(handle))
    let message = sf_strerror(handle).map { String(cString: $0) } ?? "unknown error"
    switch code {
    case SF_ERR_UNRECOGNISED_FORMAT:
        return .unrecognizedFormat(path: path, reason: message)
    case SF_ERR_SYSTEM:
        return .cannotOpen(path: path, reason: message)
    case SF_ERR_MALFORMED_FILE:
        return .malformedFile(path: path, reason: message)
    case SF_ERR_UNSUPPORTED_ENCODING:
        return .unsupportedEncoding(path: path, reason: message)
    default:
        return .library(function: function, path: path, code: code, message: message)
    }
}

/// Runs one libsndfile call and checks its result with `succeeded`; on failure throws the error that
/// names `function` and `path`, with libsndfile's own code and message.
@inline(__always)
func sndfileCheck<T>(_ function: String, path: String, handle: OpaquePointer?,
                     _ call: () -> T, succeeded: (T) -> Bool) throws(AudioError) -> T {
    let result = call()
    guard succeeded(result) else { throw sndfileError(function, path: path, handle: handle) }
    return result
}

/// An error from an OS call, with `errno` and `strerror`.
func systemError(_ function: String, path: String, errno err: Int32) -> AudioError {
    let message = strerror(err).map { String(cString: $0) } ?? "unknown error"
    return .system(function: function, path: path, errno: err, message: message)
}

/// An open libsndfile handle. Close it with `close()` to have `sf_close` checked; `deinit` closes a
/// handle left open on an error path.
final class SndFileHandle {
    let pointer: OpaquePointer
    let path: String
    let info: SF_INFO
    private var isOpen = true

    private init(pointer: OpaquePointer, path: String, info: SF_INFO) {
        self.pointer = pointer
        self.path = path
        self.info = info
    }

    deinit {
        // Only reached on an error path that already throws; the close result cannot be reported.
        if isOpen { _ = sf_close(pointer) }
    }

    /// Opens `path` for reading after checking that it exists, is a regular file and is not empty.
    static func openForReading(path: String) throws(AudioError) -> SndFileHandle {
        var st = stat()
        if stat(path, &st) != 0 {
            let err = errno
            if err == ENOENT || err == ENOTDIR { throw .fileNotFound(path: path) }
            throw .cannotOpen(path: path, reason: String(cString: strerror(err)))
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw .cannotOpen(path: path, reason: "it is a directory") }
        if (st.st_mode & S_IFMT) == S_IFREG && st.st_size == 0 { throw .emptyAudio(path: path) }

        var info = SF_INFO()
        let pointer: OpaquePointer? = try sndfileOpenLock.withLock { _ throws(AudioError) in
            try sndfileCheck("sf_open", path: path, handle: nil, { sf_open(path, Int32(SFM_READ), &info) },
                             succeeded: { $0 != nil })
        }
        guard let pointer else { throw .library(function: "sf_open", path: path, code: -1, message: "no handle") }
        return SndFileHandle(pointer: pointer, path: path, info: info)
    }

    /// Opens the already-open descriptor `fd` for writing (`fd` stays owned by the caller).
    static func openForWriting(fd: Int32, path: String, info: SF_INFO) throws(AudioError) -> SndFileHandle {
        var info = info
        let pointer: OpaquePointer? = try sndfileOpenLock.withLock { _ throws(AudioError) in
            try sndfileCheck("sf_open_fd", path: path, handle: nil,
                             { sf_open_fd(fd, Int32(SFM_WRITE), &info, 0) }, succeeded: { $0 != nil })
        }
        guard let pointer else { throw .library(function: "sf_open_fd", path: path, code: -1, message: "no handle") }
        return SndFileHandle(pointer: pointer, path: path, info: info)
    }

    /// `sf_close`, checked.
    func close() throws(AudioError) {
        guard isOpen else { return }
        isOpen = false
        // The handle is freed whatever happens, so the error comes from the returned code.
        let rc = sf_close(pointer)
        guard rc == 0 else {
            let message = sf_error_number(rc).map { String(cString: $0) } ?? "unknown error"
            throw .library(function: "sf_close", path: path, code: Int(rc), message: message)
        }
    }

    /// `sf_command` for a boolean setting; libsndfile returns the new setting, which must equal `value`.
    func setBoolean(_ command: Int32, _ value: Bool, name: String) throws(AudioError) {
        let flag = Int32(value ? SF_TRUE : SF_FALSE)
        _ = try sndfileCheck("sf_command(\(name))", path: path, handle: pointer,
                             { sf_command(pointer, command, nil, flag) }, succeeded: { $0 == flag })
    }

    /// `sf_command` taking a Double (e.g. `SFC_SET_VBR_ENCODING_QUALITY`); returns `SF_TRUE` on success.
    func setDouble(_ command: Int32, _ value: Double, name: String) throws(AudioError) {
        var value = value
        _ = try sndfileCheck("sf_command(\(name))", path: path, handle: pointer,
                             { sf_command(pointer, command, &value, Int32(MemoryLayout<Double>.size)) },
                             succeeded: { $0 == Int32(SF_TRUE) })
    }
}

/// The libsndfile name of a major format or subtype (`SFC_GET_FORMAT_INFO`), or a hex code if unknown.
func sndfileFormatName(_ format: Int32) -> String {
    var fi = SF_FORMAT_INFO()
    fi.format = format
    let rc = sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &fi, Int32(MemoryLayout<SF_FORMAT_INFO>.size))
    if rc == 0, let name = fi.name { return String(cString: name) }
    return "format 0x" + String(format, radix: 16)
}
