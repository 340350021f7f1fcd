#if canImport(Glibc)
import Glibc
#endif

/// Allocator settings for long training runs.
public enum ProcessMemory {
    /// Keeps freed blocks up to 32 MiB in the heap for reuse instead of returning them to the
    /// kernel. A training step allocates and frees gigabytes of activations; with glibc's defaults
    /// every large block is a fresh mmap whose pages the kernel zeroes on first touch, which cost
    /// about a tenth of a step (measured in `spkv-train bench`). Call once, before any work.
    /// Elsewhere (another C library) nothing changes.
    public static func retainFreedBlocks() {
        #if canImport(Glibc)
        // glibc's mallopt (malloc.h, which the Glibc module does not export), looked up by name.
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3   // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD (glibc ABI)
        _ = mallopt(mmapThreshold, 32 << 20)
        _ = mallopt(trimThreshold, 1 << 30)
        #endif
    }
}
