/// A fixed-size, 64-byte-aligned buffer of `Float` (one cache line, one AVX-512 register).
///
/// Used both for immutable weights (shared between threads once built) and for per-stream
/// scratch space. It is a class so that copies share storage; mutation goes through
/// `pointer`, so whoever owns a workspace must not share it between threads.
public final class AlignedBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(count: Int) {
        precondition(count >= 0, "AlignedBuffer: negative count")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride,
                                                   alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        for (i, v) in values.enumerated() { pointer[i] = v }
    }

    deinit { pointer.deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }
    public var array: [Float] { Array(buffer) }
}
