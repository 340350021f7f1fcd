import SVKernels
import Testing
import _SVTestSupport

@testable import SVModels

/// Every `ModelFileError` the reader, the spkv layer and the tensor accessors can produce.
@Suite("ModelFile errors")
struct ModelFileErrorTests {
    typealias S = ModelFileSamples
    static let f32x2 = #""w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#
    static let eightBytes: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]

    // MARK: - Container structure

    @Test("file too short")
    func tooShort() {
        #expect(throws: ModelFileError.fileTooShort(byteCount: 0)) { try ModelFile.read(bytes: []) }
        #expect(throws: ModelFileError.fileTooShort(byteCount: 7)) { try SafeTensors.read(bytes: [1, 2, 3, 4, 5, 6, 7]) }
    }

    @Test("header length above 100 MB, or past the end of the file")
    func headerLength() {
        #expect(throws: ModelFileError.headerTooLarge(declared: 100_000_001, limit: 100_000_000)) {
            try ModelFile.read(bytes: S.lengthPrefix(100_000_001) + Array("{}      ".utf8))
        }
        #expect(throws: ModelFileError.headerTooLarge(declared: .max, limit: 100_000_000)) {
            try ModelFile.read(bytes: S.lengthPrefix(.max))
        }
        #expect(throws: ModelFileError.headerBeyondEndOfFile(declared: 9, available: 8)) {
            try ModelFile.read(bytes: S.lengthPrefix(9) + Array("{}      ".utf8))
        }
    }

    @Test("header not UTF-8")
    func notUTF8() {
        var file = S.rawFile(header: "{\"ab\":1}")
        file[8 + 3] = 0xFF
        #expect(throws: ModelFileError.headerNotUTF8(offset: 3)) { try ModelFile.read(bytes: file) }
        var overlong = S.rawFile(header: "{\"abc\":1}")
        overlong[8 + 2] = 0xC0  // overlong encoding lead byte
        overlong[8 + 3] = 0xAF
        #expect(throws: ModelFileError.headerNotUTF8(offset: 2)) { try ModelFile.read(bytes: overlong) }
    }

    @Test("header not JSON", arguments: [
        ("", 0, "unexpected end of JSON, expected a value"),
        (#"{"a":"#, 5, "unexpected end of JSON, expected a value"),
        (#"{"a":1} x"#, 8, "unexpected character 'x' after the top-level value"),
        (#"{"a":1,"a":2}"#, 7, #"duplicate key "a""#),
        (#"{"a":01}"#, 6, "number with a leading zero"),
        (#"{"a":"\x"}"#, 7, "invalid escape \\character 'x'"),
        (#"{"a":"\ud800"}"#, 12, "unpaired high surrogate in \\u escape"),
        ("{\"a\":\"\u{1}\"}", 6, "unescaped control character 0x1 in string"),
        (#"{'a':1}"#, 1, "unexpected character ''', expected a string key"),
        (String(repeating: "[", count: 100_000), 64, "nesting deeper than 64 levels"),
    ])
    func notJSON(header: String, offset: Int, reason: String) {
        #expect(throws: ModelFileError.headerNotJSON(offset: offset, reason: reason)) {
            try SafeTensors.read(bytes: S.rawFile(header: header, pad: false))
        }
    }

    @Test("header with wrong JSON types", arguments: [
        (#"[1]"#, "(top level)", "is an array, expected an object"),
        (#"{"__metadata__":[]}"#, "__metadata__", "is an array, expected an object of strings"),
        (#"{"__metadata__":{"k":1}}"#, #"__metadata__."k""#, "is a number, expected a string"),
        (#"{"w":[]}"#, #""w""#, "is an array, expected an object with dtype, shape, data_offsets"),
        (#"{"w":{"shape":[],"data_offsets":[0,0]}}"#, #""w".dtype"#, "is missing"),
        (#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, #""w".shape"#, "is missing"),
        (#"{"w":{"dtype":"F32","shape":[]}}"#, #""w".data_offsets"#, "is missing"),
        (#"{"w":{"dtype":4,"shape":[],"data_offsets":[0,4]}}"#, #""w".dtype"#, "is a number, expected a string"),
        (#"{"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}"#, #""w".shape"#, "is a number, expected an array of integers"),
        (#"{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, #""w".shape[0]"#,
         "is 2.0, which is not an integer in Int range, expected an integer"),
        (#"{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}"#, #""w".shape[0]"#,
         "is 99999999999999999999, which is not an integer in Int range, expected an integer"),
        (#"{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}"#, #""w".shape[0]"#, "is a string, expected an integer"),
        (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}"#, #""w".data_offsets"#,
         "has 3 elements, expected [begin, end]"),
        (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#, #""w".data_offsets[0]"#,
         "is -8, expected a non-negative integer"),
        (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#, #""w"."extra""#,
         "is not a known tensor field (dtype, shape, data_offsets)"),
    ])
    func wrongTypes(header: String, field: String, problem: String) {
        #expect(throws: ModelFileError.invalidHeader(field: field, problem: problem)) {
            try SafeTensors.read(bytes: S.rawFile(header: header, data: Self.eightBytes))
        }
    }

    @Test("unknown dtype")
    func unknownDType() {
        #expect(throws: ModelFileError.unknownDType(tensor: "w", dtype: "F8_E4M3")) {
            try SafeTensors.read(bytes: S.rawFile(header: #"{"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}"#,
                                                  data: Self.eightBytes))
        }
    }

    @Test("negative or overflowing shape")
    func badShape() {
        #expect(throws: ModelFileError.invalidShape(tensor: "w", shape: [-2, -4], reason: "negative dimension")) {
            try SafeTensors.read(bytes: S.rawFile(header: #"{"w":{"dtype":"F32","shape":[-2,-4],"data_offsets":[0,8]}}"#,
                                                  data: Self.eightBytes))
        }
        let big = Int.max / 2 + 1
        #expect(throws: ModelFileError.invalidShape(tensor: "w", shape: [big, 2], reason: "element count overflows Int")) {
            try SafeTensors.read(bytes: S.rawFile(header: #"{"w":{"dtype":"U8","shape":[\#(big),2],"data_offsets":[0,8]}}"#,
                                                  data: Self.eightBytes))
        }
        #expect(throws: ModelFileError.invalidShape(tensor: "w", shape: [big], reason: "byte count overflows Int")) {
            try SafeTensors.read(bytes: S.rawFile(header: #"{"w":{"dtype":"F32","shape":[\#(big)],"data_offsets":[0,8]}}"#,
                                                  data: Self.eightBytes))
        }
        #expect(throws: ModelFileError.invalidShape(tensor: "t", shape: [2, -1], reason: "negative dimension")) {
            try StoredTensor(name: "t", shape: [2, -1], floats: [])
        }
        #expect(throws: ModelFileError.invalidHeader(field: #""__metadata__""#,
                                                     problem: "is reserved for the metadata block and cannot name a tensor")) {
            try StoredTensor(name: "__metadata__", shape: [], int8s: [1])
        }
    }

    @Test("byte count ≠ product(shape) × size")
    func byteCount() {
        #expect(throws: ModelFileError.byteCountMismatch(tensor: "w", dtype: .f32, shape: [3], expected: 12, actual: 8)) {
            try SafeTensors.read(bytes: S.rawFile(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                                                  data: Self.eightBytes))
        }
        #expect(throws: ModelFileError.valueCountMismatch(tensor: "t", shape: [2, 2], expected: 4, actual: 3)) {
            try StoredTensor(name: "t", shape: [2, 2], floats: [1, 2, 3])
        }
        #expect(throws: ModelFileError.valueCountMismatch(tensor: "t", shape: [2], expected: 4, actual: 3)) {
            try StoredTensor(name: "t", dtype: .f16, shape: [2], bytes: [1, 2, 3])
        }
    }

    @Test("offsets out of range, overlapping, with holes")
    func offsets() {
        func read(_ tensors: String, _ data: [UInt8] = Self.eightBytes) throws {
            _ = try SafeTensors.read(bytes: S.rawFile(header: "{\(tensors)}", data: data))
        }
        #expect(throws: ModelFileError.offsetsOutOfRange(tensor: "w", begin: 4, end: 12, dataSize: 8)) {
            try read(#""w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}"#)
        }
        #expect(throws: ModelFileError.offsetsOutOfRange(tensor: "w", begin: 8, end: 0, dataSize: 8)) {
            try read(#""w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}"#)
        }
        #expect(throws: ModelFileError.overlappingTensors(first: "a", second: "b")) {
            try read(#""b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#)
        }
        #expect(throws: ModelFileError.dataGap(after: "a", before: "b", start: 2, end: 4)) {
            try read(#""a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#)
        }
        #expect(throws: ModelFileError.dataGap(after: nil, before: "b", start: 0, end: 4)) {
            try read(#""b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#)
        }
        #expect(throws: ModelFileError.dataGap(after: "a", before: nil, start: 4, end: 8)) {
            try read(#""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#)
        }
        #expect(throws: ModelFileError.dataGap(after: nil, before: nil, start: 0, end: 8)) { try read("") }
        // Empty tensors may sit anywhere on a boundary, including shared offsets.
        #expect(throws: Never.self) {
            try read(#""e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
                + #""b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"f":{"dtype":"I8","shape":[0,3],"data_offsets":[8,8]}"#)
        }
    }

    // MARK: - spkv layer

    @Test("not an spkv model")
    func notSpkv() throws {
        let plain = SafeTensors(tensors: [try StoredTensor(name: "w", shape: [1], floats: [1])]).serialize()
        #expect(throws: ModelFileError.notSpkvModel(found: nil)) { try ModelFile.read(bytes: plain) }
        let other = try S.withMetadata(S.model().serialize()) { $0[ModelMetadata.Key.format] = "gguf" }
        #expect(throws: ModelFileError.notSpkvModel(found: "gguf")) { try ModelFile.read(bytes: other) }
    }

    @Test("newer major version refused before anything else is interpreted")
    func version() throws {
        let v2 = S.spkvFile(tensorsJSON: #""w":{"dtype":"Q4_K","shape":[7],"data_offsets":[0,8],"blocks":32}"#,
                            data: Self.eightBytes) { $0[ModelMetadata.Key.formatVersion] = "2" }
        let error = S.error { _ = try ModelFile.read(bytes: v2) }
        #expect(error == .unsupportedFormatVersion(found: 2, supported: 1))
        #expect(error?.description.contains("upgrade spkv") == true)
        #expect(error?.description.contains("re-export") == true)
        for bad in ["0", "1.0", "v1", " 1", "01", ""] {
            let file = try S.withMetadata(S.model().serialize()) { $0[ModelMetadata.Key.formatVersion] = bad }
            #expect(throws: ModelFileError.invalidMetadata(key: "spkv.format_version", value: bad,
                                                           reason: "expected a positive decimal integer (the major version)")) {
                try ModelFile.read(bytes: file)
            }
        }
    }

    @Test("CRC mismatch: the file is corrupt")
    func crc() throws {
        var bytes = try S.model().serialize()
        let stored = try SafeTensors.read(bytes: bytes).metadata[ModelMetadata.Key.dataCRC32]!
        bytes[bytes.count - 20] ^= 0x01
        let error = S.error { _ = try ModelFile.read(bytes: bytes) }
        guard case let .checksumMismatch(s, computed)? = error else {
            Issue.record("expected checksumMismatch, got \(String(describing: error))")
            return
        }
        #expect(s == stored && computed != stored && computed.count == 8)
        #expect(error!.description.hasPrefix("model file is corrupt"))
        // The container layer does not check the spkv CRC.
        #expect(throws: Never.self) { try SafeTensors.read(bytes: bytes) }
    }

    @Test("missing required metadata", arguments: Array(ModelMetadata.Key.required.dropFirst(2)) + [ModelMetadata.Key.formatVersion, ModelMetadata.Key.dataCRC32])
    func missingKey(key: String) throws {
        let file = try S.withMetadata(S.model().serialize()) { $0[key] = nil }
        #expect(throws: ModelFileError.missingMetadata(key: key)) { try ModelFile.read(bytes: file) }
    }

    @Test("invalid metadata values", arguments: [
        (ModelMetadata.Key.config, "[1,2]", "expected a JSON object"),
        (ModelMetadata.Key.features, "{\"n_mels\":", "not JSON (unexpected end of JSON, expected a value at offset 10)"),
        (ModelMetadata.Key.training, "simclr", "not JSON (unexpected character 's', expected a value at offset 0)"),
        (ModelMetadata.Key.dataCRC32, "CBF43926", "expected 8 lowercase hex digits"),
        (ModelMetadata.Key.architecture, "", "expected a non-empty architecture name such as ecapa-tdnn"),
    ])
    func invalidValue(key: String, value: String, reason: String) throws {
        let file = try S.withMetadata(S.model().serialize()) { $0[key] = value }
        #expect(throws: ModelFileError.invalidMetadata(key: key, value: value, reason: reason)) { try ModelFile.read(bytes: file) }
    }

    // MARK: - Access and tensor table

    @Test("tensor table: unknown, missing and wrongly shaped tensors, all at once, with got/expected")
    func tensorTable() throws {
        let model = try S.model()
        var expected = Dictionary(uniqueKeysWithValues: model.tensors.map { ($0.key, $0.value.shape) })
        try model.checkTensorTable(expected: expected)
        expected["blocks.0.conv.weight"] = [4, 2, 5]
        expected["blocks.9.bias"] = [4]
        expected["asp.bias"] = [8]
        expected["step"] = nil
        let error = S.error { try model.checkTensorTable(expected: expected, optional: ["asp.bias"]) }
        #expect(error == .tensorTable([
            .shapeMismatch(tensor: "blocks.0.conv.weight", expected: [4, 2, 5], actual: [4, 2, 3]),
            .missing(tensor: "blocks.9.bias", expected: [4]),
            .unexpected(tensor: "step", shape: []),
        ]))
        let text = error?.description ?? ""
        #expect(text.contains("3 problems"))
        #expect(text.contains("tensor 'blocks.0.conv.weight' has shape [4, 2, 3], expected [4, 2, 5]"))
        #expect(text.contains("missing tensor 'blocks.9.bias' (expected shape [4])"))
        #expect(text.contains("unexpected tensor 'step' (got shape [])"))
    }

    @Test("tensor not found; dtype mismatch")
    func access() throws {
        let model = try S.model()
        #expect(throws: ModelFileError.tensorNotFound(name: "nope")) { try model.tensor("nope") }
        #expect(throws: ModelFileError.dtypeMismatch(tensor: "step", dtype: .i64, requested: "I32")) {
            try model.tensor("step").int32s()
        }
    }

    @Test("I/O errors name the path and the call")
    func io() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let missing = dir.path("missing.safetensors")
        #expect(throws: ModelFileError.io(operation: "open", path: missing, errno: 2)) { try ModelFile.read(path: missing) }
        #expect(throws: ModelFileError.io(operation: "read a regular file at", path: dir.url.path, errno: 21)) {
            try ModelFile.read(path: dir.url.path)
        }
        let error = S.error { try S.model().write(path: dir.path("no/such/dir/m.safetensors")) }
        guard case let .io(operation, _, code)? = error else {
            Issue.record("expected an io error, got \(String(describing: error))")
            return
        }
        #expect(operation == "create" && code == 2)
        #expect(error!.description.contains("No such file or directory"))
    }

    @Test("descriptions say what failed, on what, and what to do")
    func descriptions() throws {
        let cases: [(ModelFileError, [String])] = [
            (.fileTooShort(byteCount: 3), ["3 bytes", "truncated", "re-download or re-export"]),
            (.headerNotJSON(offset: 5, reason: "x"), ["offset 5", "corrupt"]),
            (.unknownDType(tensor: "w", dtype: "Q4"), ["'w'", "Q4", "F32", "upgrade spkv"]),
            (.byteCountMismatch(tensor: "w", dtype: .f32, shape: [3], expected: 12, actual: 8), ["'w'", "F32 [3]", "8 bytes", "12"]),
            (.overlappingTensors(first: "a", second: "b"), ["'a'", "'b'", "overlap"]),
            (.notSpkvModel(found: nil), ["not an spkv model", "spkv import"]),
            (.missingMetadata(key: "spkv.config"), ["spkv.config", "re-export"]),
            (.invalidMetadata(key: "k", value: String(repeating: "v", count: 200), reason: "r"), ["k = \"vvv", "...\"", ": r;"]),
        ]
        for (error, parts) in cases {
            for part in parts { #expect(error.description.contains(part), "\(error) lacks \(part)") }
        }
    }
}
