import Foundation
import SVKernels
import Testing
import _SVTestSupport

@testable import SVModels

@Suite("ModelFile round trip")
struct ModelFileRoundTripTests {
    @Test("write → read → write is byte-identical and read gives back the model")
    func byteIdentical() throws {
        let model = try ModelFileSamples.model()
        let first = model.serialize()
        let read = try ModelFile.read(bytes: first)
        #expect(read == model)
        #expect(read.serialize() == first)
        #expect(read.checksum == model.checksum)
        #expect(read.metadata.entries[ModelMetadata.Key.dataCRC32] == nil)
    }

    @Test("the order tensors and metadata are added in does not change the bytes")
    func deterministic() throws {
        let model = try ModelFileSamples.model()
        var reversed = ModelFile(metadata: ModelMetadata(entries: [:]), tensors: model.tensors.values.reversed())
        for key in model.metadata.entries.keys.sorted().reversed() { reversed.metadata[key] = model.metadata[key] }
        #expect(reversed.serialize() == model.serialize())
    }

    @Test("layout: 8-byte header, sorted keys, data aligned, contiguous offsets in name order")
    func layout() throws {
        let bytes = try ModelFileSamples.model().serialize()
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        #expect(n % 8 == 0)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"spkv.architecture":"ecapa-tdnn","spkv.config":"#))
        #expect(header.contains(#""blocks.0.conv.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"#
            + #""blocks.0.conv.weight":{"dtype":"F32","shape":[4,2,3],"data_offsets":[16,112]}"#))
        #expect(header.trimmingCharacters(in: .whitespaces).hasSuffix("}"))
        let container = try SafeTensors.read(bytes: bytes)
        #expect(container.metadata[ModelMetadata.Key.format] == "spkv-model")
        #expect(container.metadata[ModelMetadata.Key.formatVersion] == "1")
        #expect(container.metadata[ModelMetadata.Key.dataCRC32] == CRC32.hex(CRC32.checksum(Array(bytes[(8 + n)...]))))
    }

    @Test("values survive the round trip, in 64-byte-aligned storage")
    func values() throws {
        let read = try ModelFile.read(bytes: ModelFileSamples.model().serialize())
        let weight = try read.tensor("blocks.0.conv.weight")
        #expect(weight.dtype == .f32 && weight.shape == [4, 2, 3] && weight.elementCount == 24)
        let floats = try weight.floats()
        #expect(floats.array == (0..<24).map { Float($0) * 0.25 - 3 })
        #expect(Int(bitPattern: floats.pointer) % 64 == 0)
        for name in read.tensorNames {
            try read.tensor(name).withUnsafeBytes { #expect(Int(bitPattern: $0.baseAddress) % 64 == 0) }
        }
        #expect(try read.tensor("blocks.1.weight").int8s() == [-128, -1, 0, 127])
        #expect(try read.tensor("features.window").floats().array == [1, -0.5])
        #expect(try read.tensor("step").int64s() == [7])
        #expect(try read.tensor("empty").floats().count == 0)
        #expect(read.tensorNames == ["blocks.0.conv.bias", "blocks.0.conv.weight", "blocks.1.weight",
                                     "blocks.1.weight.scale", "empty", "features.window", "step"])
    }

    @Test("names and metadata with quotes, control characters and non-ASCII round trip")
    func escaping() throws {
        var meta = ModelFileSamples.metadata()
        meta["x.note"] = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} é 語 🎙"
        meta.producer = "spkv-train 0.1 (deadbeef)"
        let model = ModelFile(metadata: meta, tensors: [try StoredTensor(name: "naïve \"w\"\n", shape: [1], floats: [2])])
        let bytes = model.serialize()
        let read = try ModelFile.read(bytes: bytes)
        #expect(read == model)
        #expect(read.serialize() == bytes)
    }

    @Test("a model without tensors round trips")
    func empty() throws {
        let model = ModelFile(metadata: ModelFileSamples.metadata(), tensors: [])
        let read = try ModelFile.read(bytes: model.serialize())
        #expect(read == model && read.tensors.isEmpty && read.checksum == "00000000")
    }

    @Test("random models round trip byte-identically (fixed seed)")
    func randomModels() throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        for _ in 0..<40 {
            var tensors: [StoredTensor] = []
            for t in 0..<Int(rng.next() % 6) {
                let dtype = TensorDType.allCases[Int(rng.next() % UInt64(TensorDType.allCases.count))]
                let shape = (0..<Int(rng.next() % 4)).map { _ in Int(rng.next() % 4) }
                let count = shape.reduce(1, *) * dtype.byteSize
                let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                tensors.append(try StoredTensor(name: "t\(t).\(rng.next() % 100)", dtype: dtype, shape: shape, bytes: bytes))
            }
            let model = ModelFile(metadata: ModelFileSamples.metadata(), tensors: tensors)
            let bytes = model.serialize()
            let read = try ModelFile.read(bytes: bytes)
            #expect(read == model)
            #expect(read.serialize() == bytes)
        }
    }

    @Test("write(path:) replaces the file atomically and leaves no temporary file")
    func fileRoundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("ecapa-c8-f32-v1.safetensors")
        let model = try ModelFileSamples.model()
        try model.write(path: path)
        var changed = model
        changed.metadata.producer = "second"
        try changed.write(path: path)
        let read = try ModelFile.read(path: path)
        #expect(read == changed)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == changed.serialize())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["ecapa-c8-f32-v1.safetensors"])
        let plain = try SafeTensors.read(path: path)
        try plain.write(path: dir.path("plain.safetensors"))
        #expect(try SafeTensors.read(path: dir.path("plain.safetensors")) == plain)
    }

    @Test("checksum is the stored CRC after reading and follows tensor changes")
    func checksum() throws {
        let model = try ModelFileSamples.model()
        let bytes = model.serialize()
        let stored = try SafeTensors.read(bytes: bytes).metadata[ModelMetadata.Key.dataCRC32]
        #expect(model.checksum == stored)
        var read = try ModelFile.read(bytes: bytes)
        #expect(read.checksum == stored)
        read.tensors["step"] = try StoredTensor(name: "step", dtype: .i64, shape: [], bytes: [8, 0, 0, 0, 0, 0, 0, 0])
        #expect(read.checksum != stored)
        #expect(try ModelFile.read(bytes: read.serialize()).checksum == read.checksum)
    }

    @Test("metadata: typed accessors, unknown keys kept, data_crc32 never in entries")
    func metadata() throws {
        var meta = ModelFileSamples.metadata()
        meta["vendor.extra"] = "kept"
        meta[ModelMetadata.Key.dataCRC32] = "12345678"
        #expect(meta[ModelMetadata.Key.dataCRC32] == nil)
        let read = try ModelFile.read(bytes: ModelFile(metadata: meta, tensors: []).serialize()).metadata
        #expect(read == meta)
        #expect(read.format == "spkv-model" && read.formatVersion == 1)
        #expect(read.architecture == "ecapa-tdnn")
        #expect(read.config == #"{"channels":[8,8],"embedding_dim":4}"#)
        #expect(read.features == #"{"sample_rate":16000,"n_mels":8}"#)
        #expect(read.scoring == ModelMetadata.defaultScoring)
        #expect(read.quantization == #"{"scheme":"none","version":1}"#)
        #expect(read.producer == "ModelFileTests" && read.created == "2025-01-01T00:00:00Z")
        #expect(read.training == #"{"method":"simclr","epochs":1}"#)
        #expect(read["vendor.extra"] == "kept")
    }
}

@Suite("ModelFile dtypes and CRC-32")
struct ModelFileDTypeTests {
    @Test("CRC-32 known vectors (zlib.crc32)", arguments: [
        ("123456789", "cbf43926"), ("", "00000000"), ("a", "e8b7be43"),
        ("The quick brown fox jumps over the lazy dog", "414fa339"),
    ])
    func crcVectors(text: String, hex: String) {
        #expect(CRC32.hex(CRC32.checksum(Array(text.utf8))) == hex)
        #expect(CRC32.parseHex(hex) == CRC32.checksum(Array(text.utf8)))
    }

    @Test("CRC-32 slicing-by-8 equals the bitwise definition for every length and split")
    func crcBitwise() {
        var rng = SplitMix64(seed: 42)
        let data = (0..<300).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        func bitwise(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
            }
            return ~c
        }
        for n in 0...data.count {
            #expect(CRC32.checksum(Array(data[..<n])) == bitwise(data[..<n]))
        }
        for split in stride(from: 0, through: data.count, by: 7) {
            var crc = CRC32()
            crc.update(Array(data[..<split]))
            crc.update(Array(data[split...]))
            #expect(crc.value == bitwise(data[...]))
        }
        #expect(CRC32.parseHex("CBF43926") == nil && CRC32.parseHex("cbf4392") == nil && CRC32.parseHex("+bf43926") == nil)
    }

    @Test("F16 → F32 is exact for all 65536 bit patterns")
    func float16All() throws {
        var bytes: [UInt8] = []
        for h in 0...UInt16.max { bytes += [UInt8(h & 0xFF), UInt8(h >> 8)] }
        let floats = try StoredTensor(name: "h", dtype: .f16, shape: [65536], bytes: bytes).floats()
        for h in 0...Int(UInt16.max) {
            let exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF, sign: Float = h & 0x8000 != 0 ? -1 : 1
            let expected: Float = exponent == 0 ? sign * Float(mantissa) * 0x1p-24
                : exponent == 31 ? (mantissa == 0 ? sign * .infinity : .nan)
                : sign * (1 + Float(mantissa) / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
            let got = floats.pointer[h]
            if expected.isNaN {
                #expect(got.isNaN)
            } else if got.bitPattern != expected.bitPattern {
                Issue.record("F16 0x\(String(h, radix: 16)): got \(got), expected \(expected)")
            }
        }
    }

    @Test("BF16 and F64 convert; integer dtypes refuse floats()")
    func conversions() throws {
        let bf16 = try StoredTensor(name: "b", dtype: .bf16, shape: [3], bytes: [0x80, 0x3F, 0x20, 0xC0, 0x49, 0x40])
        #expect(try bf16.floats().array == [1, -2.5, 3.140625])
        let f64 = try StoredTensor(name: "d", dtype: .f64, shape: [1], bytes: withUnsafeBytes(of: (-2.5).bitPattern.littleEndian) { Array($0) })
        #expect(try f64.floats().array == [-2.5])
        let i8 = try StoredTensor(name: "q", shape: [2], int8s: [1, 2])
        #expect(ModelFileSamples.error { _ = try i8.floats() }
            == .dtypeMismatch(tensor: "q", dtype: .i8, requested: "floating point (F32/F16/BF16/F64)"))
        #expect(ModelFileSamples.error { _ = try bf16.int8s() } == .dtypeMismatch(tensor: "b", dtype: .bf16, requested: "I8"))
        #expect(TensorDType.allCases.map(\.byteSize) == [1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8])
    }
}
