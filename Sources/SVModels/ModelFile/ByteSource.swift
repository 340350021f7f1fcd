#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the reader gets a model file's bytes from: a file (`FileByteSource`) or memory
/// (`ByteArraySource`). The reader asks for the 8-byte prefix, then the header, then each tensor's
/// bytes straight into its aligned storage, so a file is read once and never held twice.
public protocol ModelByteSource {
    /// Total size in bytes.
    var byteCount: Int { get }
    /// Copies `destination.count` bytes starting at `offset` into `destination`. The reader only
    /// asks for ranges inside `0..<byteCount`.
    func read(at offset: Int, into destination: UnsafeMutableRawBufferPointer) throws(ModelFileError)
}

/// An in-memory model file.
public struct ByteArraySource: ModelByteSource, Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var byteCount: Int { bytes.count }

    public func read(at offset: Int, into destination: UnsafeMutableRawBufferPointer) throws(ModelFileError) {
        precondition(offset >= 0 && destination.count <= bytes.count - offset, "ByteArraySource: range out of bounds")
        guard destination.count > 0 else { return }
        bytes.withUnsafeBytes { src in
            destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<offset + destination.count]))
        }
    }
}

/// A model file on disk, read with `pread`. The descriptor is closed when the source is released.
public final class FileByteSource: ModelByteSource {
    public let path: String
    public let byteCount: Int
    private let fd: Int32

    public init(path: String) throws(ModelFileError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw .io(operation: "stat", path: path, errno: code)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw .io(operation: "read a regular file at", path: path, errno: EISDIR)
        }
        self.fd = fd
        self.byteCount = Int(info.st_size)
    }

    deinit { close(fd) }

    public func read(at offset: Int, into destination: UnsafeMutableRawBufferPointer) throws(ModelFileError) {
        var done = 0
        while done < destination.count {
            let n = pread(fd, destination.baseAddress! + done, destination.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "read", path: path, errno: errno)
            }
            // The file shrank under us: report it as a read error rather than returning garbage.
            if n == 0 { throw .io(operation: "read (file shrank while reading)", path: path, errno: EIO) }
            done += n
        }
    }
}
