import Foundation

/// Minimal reader for the small golden-vector `.safetensors` fixtures (u64 LE header length,
/// JSON header, raw little-endian data). Supports F32 and I64 tensors; bounds are checked.
public struct SafeTensorsFixture: Sendable {
    public struct StoredTensor: Sendable {
        public let dtype: String
        public let shape: [Int]
        let bytes: Data
        public var count: Int { shape.reduce(1, *) }

        public var floats: [Float] {
            precondition(dtype == "F32", "tensor is \(dtype), not F32")
            return (0..<count).map { i in
                Float(bitPattern: UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) }))
            }
        }

        public var ints: [Int] {
            precondition(dtype == "I64", "tensor is \(dtype), not I64")
            return (0..<count).map { i in
                Int(Int64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self) }))
            }
        }
    }

    public struct FormatError: Error, CustomStringConvertible {
        public let description: String
    }

    public let tensors: [String: StoredTensor]
    public let metadata: [String: String]

    public init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard data.count >= 8 else { throw FormatError(description: "\(path): shorter than 8 bytes") }
        let headerLength = Int(UInt64(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        guard headerLength <= data.count - 8 else { throw FormatError(description: "\(path): header length \(headerLength) past end") }
        let header = data.subdata(in: 8..<(8 + headerLength))
        guard let json = try JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw FormatError(description: "\(path): header is not a JSON object")
        }
        let body = data.subdata(in: (8 + headerLength)..<data.count)
        var tensors: [String: StoredTensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in json {
            if name == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw FormatError(description: "\(path): bad entry \(name)") }
            let size = ["F32": 4, "I64": 8][dtype]
            guard let size else { throw FormatError(description: "\(path): \(name) has unsupported dtype \(dtype)") }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= body.count,
                  offsets[1] - offsets[0] == shape.reduce(1, *) * size
            else { throw FormatError(description: "\(path): \(name) offsets \(offsets) do not fit shape \(shape)") }
            tensors[name] = StoredTensor(dtype: dtype, shape: shape, bytes: body.subdata(in: offsets[0]..<offsets[1]))
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    public subscript(name: String) -> StoredTensor? { tensors[name] }
}
