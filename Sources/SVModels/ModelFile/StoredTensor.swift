import SVKernels

/// Element types of the safetensors format (the names are the header's `dtype` strings).
/// All values are stored little-endian.
public enum TensorDType: String, Sendable, CaseIterable, CustomStringConvertible {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case i64 = "I64"
    case u64 = "U64"
    case f64 = "F64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .i64, .u64, .f64: return 8
        }
    }

    /// F16, BF16, F32 and F64: the dtypes `Tensor.floats()` converts.
    public var isFloatingPoint: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64: return true
        default: return false
        }
    }

    public var description: String { rawValue }
}

/// Element count of `shape` (1 for a scalar `[]`), or nil for a negative dimension or overflow.
func shapeElementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, overflow) = n.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        n = p
    }
    return n
}

/// Immutable 64-byte-aligned raw bytes (one cache line; AVX-512 loads). Shared between copies of a
/// `Tensor`, never mutated after `fill`, hence Sendable.
final class AlignedBytes: @unchecked Sendable {
    let count: Int
    let pointer: UnsafeMutableRawPointer

    init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }

    convenience init(_ bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count)
        if bytes.count > 0 { pointer.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
    }

    deinit { pointer.deallocate() }

    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
    var mutableBuffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: pointer, count: count) }
}

/// One named tensor: dtype, shape and its little-endian bytes in 64-byte-aligned storage.
///
/// Copies share the (immutable) storage, so a loaded model's tensors can be handed to several
/// threads. Typed accessors check the dtype and throw `ModelFileError.dtypeMismatch` otherwise.
public struct StoredTensor: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let dtype: TensorDType
    /// Dimensions, outermost first (row-major, PyTorch order). `[]` is a scalar.
    public let shape: [Int]
    let storage: AlignedBytes

    /// Builds a tensor from raw little-endian bytes; throws if the shape is invalid or
    /// `bytes.count` ≠ product(shape) × `dtype.byteSize`.
    public init(name: String, dtype: TensorDType, shape: [Int], bytes: [UInt8]) throws(ModelFileError) {
        let count = try Self.checkedElementCount(name: name, shape: shape)
        let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw .invalidShape(tensor: name, shape: shape, reason: "byte count overflows Int") }
        guard expected == bytes.count else {
            throw .valueCountMismatch(tensor: name, shape: shape, expected: expected, actual: bytes.count)
        }
        self.init(name: name, dtype: dtype, shape: shape, storage: bytes.withUnsafeBytes { AlignedBytes($0) })
    }

    /// An F32 tensor; `values.count` must equal product(shape).
    public init(name: String, shape: [Int], floats values: [Float]) throws(ModelFileError) {
        let count = try Self.checkedElementCount(name: name, shape: shape)
        guard count == values.count else {
            throw .valueCountMismatch(tensor: name, shape: shape, expected: count, actual: values.count)
        }
        let storage = AlignedBytes(count: count * 4)
        for (i, v) in values.enumerated() {
            storage.pointer.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
        }
        self.init(name: name, dtype: .f32, shape: shape, storage: storage)
    }

    /// An I8 tensor (quantized weights); `values.count` must equal product(shape).
    public init(name: String, shape: [Int], int8s values: [Int8]) throws(ModelFileError) {
        let count = try Self.checkedElementCount(name: name, shape: shape)
        guard count == values.count else {
            throw .valueCountMismatch(tensor: name, shape: shape, expected: count, actual: values.count)
        }
        self.init(name: name, dtype: .i8, shape: shape, storage: values.withUnsafeBytes { AlignedBytes($0) })
    }

    init(name: String, dtype: TensorDType, shape: [Int], storage: AlignedBytes) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    /// Checks the name (not the reserved `__metadata__`) and shape; returns product(shape).
    private static func checkedElementCount(name: String, shape: [Int]) throws(ModelFileError) -> Int {
        guard name != "__metadata__" else {
            throw .invalidHeader(field: quoted(name), problem: "is reserved for the metadata block and cannot name a tensor")
        }
        guard let count = shapeElementCount(shape) else {
            let reason = shape.contains { $0 < 0 } ? "negative dimension" : "element count overflows Int"
            throw .invalidShape(tensor: name, shape: shape, reason: reason)
        }
        return count
    }

    /// Number of elements: product(shape).
    public var elementCount: Int { storage.count / dtype.byteSize }
    /// Number of bytes: `elementCount × dtype.byteSize`.
    public var byteCount: Int { storage.count }
    /// A copy of the raw little-endian bytes.
    public var bytes: [UInt8] { Array(storage.buffer) }

    /// The raw little-endian bytes in place (64-byte aligned; valid only inside `body`).
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(storage.buffer)
    }

    public var description: String { "\(name): \(dtype.rawValue) \(shape)" }

    public static func == (a: StoredTensor, b: StoredTensor) -> Bool {
        a.name == b.name && a.dtype == b.dtype && a.shape == b.shape
            && (a.storage === b.storage || a.storage.buffer.elementsEqual(b.storage.buffer))
    }

    // MARK: - Typed access

    /// The values as F32 in a new 64-byte-aligned buffer. F32 is copied; F16, BF16 and F64 are
    /// converted (F64 rounds to nearest). Integer dtypes throw `dtypeMismatch`.
    public func floats() throws(ModelFileError) -> AlignedBuffer {
        let n = elementCount
        let out = AlignedBuffer(count: n)
        let raw = storage.buffer
        switch dtype {
        case .f32:
            for i in 0..<n { out.pointer[i] = Float(bitPattern: UInt32(littleEndian: raw.load(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<n { out.pointer[i] = halfToFloat(UInt16(littleEndian: raw.load(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0..<n {
                let bits = UInt16(littleEndian: raw.load(fromByteOffset: 2 * i, as: UInt16.self))
                out.pointer[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .f64:
            for i in 0..<n { out.pointer[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.load(fromByteOffset: 8 * i, as: UInt64.self)))) }
        default:
            throw .dtypeMismatch(tensor: name, dtype: dtype, requested: "floating point (F32/F16/BF16/F64)")
        }
        return out
    }

    /// The values of an I8 tensor.
    public func int8s() throws(ModelFileError) -> [Int8] { try integers(.i8, as: Int8.self) }
    /// The values of a U8 tensor.
    public func uint8s() throws(ModelFileError) -> [UInt8] { try integers(.u8, as: UInt8.self) }
    /// The values of an I32 tensor.
    public func int32s() throws(ModelFileError) -> [Int32] { try integers(.i32, as: Int32.self) }
    /// The values of an I64 tensor.
    public func int64s() throws(ModelFileError) -> [Int64] { try integers(.i64, as: Int64.self) }

    private func integers<T: FixedWidthInteger>(_ expected: TensorDType, as: T.Type) throws(ModelFileError) -> [T] {
        guard dtype == expected else { throw .dtypeMismatch(tensor: name, dtype: dtype, requested: expected.rawValue) }
        let raw = storage.buffer
        let size = MemoryLayout<T>.size
        return (0..<elementCount).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: size * $0, as: T.self)) }
    }
}

/// IEEE 754 binary16 → binary32 (exact; subnormals, infinities and NaN payloads preserved).
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exponent = UInt32((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0:
        // Zero or subnormal: mantissa × 2^-24, exact in Float.
        let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)
        return sign != 0 ? -magnitude : magnitude
    case 0x1F:
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    default:
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}
