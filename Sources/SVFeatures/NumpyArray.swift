import Foundation
import SVFiles

/// Minimal `.npy` writer: float32 little-endian, format version 1.0, C order.
public enum NumpyArray {
    public enum WriteError: Error, Equatable, CustomStringConvertible {
        case shapeMismatch(shape: [Int], values: Int)
        case ioFailure(path: String, reason: String)

        public var description: String {
            switch self {
            case let .shapeMismatch(shape, values):
                return "npy: shape \(shape) holds \(shape.reduce(1, *)) values, got \(values)"
            case let .ioFailure(path, reason):
                return "npy: cannot write \(path): \(reason)"
            }
        }
    }

    /// The complete file: magic, version 1.0, header padded with spaces to a 64-byte boundary
    /// ending in "\n", then the data.
    public static func encode(shape: [Int], values: [Float]) throws(WriteError) -> Data {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else {
            throw .shapeMismatch(shape: shape, values: values.count)
        }
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        guard header.utf8.count <= Int(UInt16.max) else { throw .shapeMismatch(shape: shape, values: values.count) }
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        values.withUnsafeBufferPointer { buffer in
            for v in buffer {
                let bits = v.bitPattern.littleEndian
                withUnsafeBytes(of: bits) { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    /// Writes the array atomically (`AtomicFile`).
    public static func write(path: String, shape: [Int], values: [Float]) throws(WriteError) {
        let data = try encode(shape: shape, values: values)
        do { try AtomicFile.write(data, to: path) } catch { throw .ioFailure(path: path, reason: error.description) }
    }
}
