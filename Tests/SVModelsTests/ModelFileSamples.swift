import SVKernels
import Testing
import _SVTestSupport

@testable import SVModels

/// Shared builders for the ModelFile tests.
enum ModelFileSamples {
    static let pythonFixture = "modelfile/python_reference.safetensors"

    static func metadata() -> ModelMetadata {
        ModelMetadata(architecture: "ecapa-tdnn",
                      config: #"{"channels":[8,8],"embedding_dim":4}"#,
                      features: #"{"sample_rate":16000,"n_mels":8}"#,
                      producer: "ModelFileTests", created: "2025-01-01T00:00:00Z",
                      training: #"{"method":"simclr","epochs":1}"#)
    }

    /// A small model with several dtypes, a scalar and an empty tensor.
    static func model() throws -> ModelFile {
        let weights = (0..<24).map { Float($0) * 0.25 - 3 }
        return ModelFile(metadata: metadata(), tensors: [
            try StoredTensor(name: "blocks.0.conv.weight", shape: [4, 2, 3], floats: weights),
            try StoredTensor(name: "blocks.0.conv.bias", shape: [4], floats: [1, -1, 0.5, -0.5]),
            try StoredTensor(name: "blocks.1.weight", shape: [2, 2], int8s: [-128, -1, 0, 127]),
            try StoredTensor(name: "blocks.1.weight.scale", shape: [2], floats: [0.01, 0.02]),
            try StoredTensor(name: "features.window", dtype: .f16, shape: [2], bytes: [0x00, 0x3C, 0x00, 0xB8]),
            try StoredTensor(name: "step", dtype: .i64, shape: [], bytes: [7, 0, 0, 0, 0, 0, 0, 0]),
            try StoredTensor(name: "empty", shape: [0, 3], floats: []),
        ])
    }

    /// u64 LE length, then `header` (unpadded unless `pad`), then `data`.
    static func rawFile(header: String, data: [UInt8] = [], pad: Bool = true) -> [UInt8] {
        var h = Array(header.utf8)
        while pad, h.count % 8 != 0 { h.append(0x20) }
        return lengthPrefix(UInt64(h.count)) + h + data
    }

    static func lengthPrefix(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.littleEndian) { Array($0) } }

    /// A valid spkv header around `tensorsJSON` (the tensor entries, without braces) and `data`,
    /// with `spkv.data_crc32` set to the data's CRC; `change` edits the metadata first.
    static func spkvFile(tensorsJSON: String, data: [UInt8],
                         change: (inout [String: String]) -> Void = { _ in }) -> [UInt8] {
        var meta = metadata().entries
        meta[ModelMetadata.Key.dataCRC32] = CRC32.hex(CRC32.checksum(data))
        change(&meta)
        var header: [UInt8] = Array(#"{"__metadata__":{"#.utf8)
        for (i, key) in meta.keys.sorted().enumerated() {
            if i > 0 { header.append(UInt8(ascii: ",")) }
            JSONEncoding.appendString(key, to: &header)
            header.append(UInt8(ascii: ":"))
            JSONEncoding.appendString(meta[key]!, to: &header)
        }
        header.append(UInt8(ascii: "}"))
        if !tensorsJSON.isEmpty { header.append(contentsOf: Array(",\(tensorsJSON)".utf8)) }
        header.append(UInt8(ascii: "}"))
        return rawFile(header: String(decoding: header, as: UTF8.self), data: data)
    }

    /// The bytes of a serialized model with its metadata changed at the container level (the CRC
    /// stays valid because the data section is untouched).
    static func withMetadata(_ file: [UInt8], _ change: (inout [String: String]) -> Void) throws -> [UInt8] {
        var container = try SafeTensors.read(bytes: file)
        change(&container.metadata)
        return container.serialize()
    }

    /// Runs `body`; returns the `ModelFileError` it throws (nil if it returns or throws another type).
    static func error(_ body: () throws -> Void) -> ModelFileError? {
        do {
            try body()
            return nil
        } catch {
            return error as? ModelFileError
        }
    }
}
