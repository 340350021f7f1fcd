import Foundation
import SVKernels
import Testing
import _SVTestSupport

@testable import SVModels

/// The fixture written by Python's `safetensors` (tools/reference/make_safetensors_fixture.py);
/// its data section is ordered by dtype alignment, not by name.
@Suite("ModelFile Python safetensors fixture")
struct ModelFileFixtureTests {
    static func fixture() throws -> ModelFile { try ModelFile.read(path: Fixtures.path(ModelFileSamples.pythonFixture)) }

    @Test("metadata and checksum")
    func metadata() throws {
        let model = try Self.fixture()
        #expect(model.checksum == "9f77e32f")
        let meta = model.metadata
        #expect(meta.format == "spkv-model" && meta.formatVersion == 1)
        #expect(meta.architecture == "fixture")
        #expect(meta.config == #"{"note": "dtype fixture, not a network"}"#)
        #expect(meta.features == #"{"sample_rate": 16000}"#)
        #expect(meta.scoring == #"{"kind": "cosine"}"#)
        #expect(meta.quantization == #"{"scheme": "none", "version": 1}"#)
        #expect(meta.created == "2025-01-01T00:00:00Z")
        #expect(meta.training == #"{"method": "none"}"#)
        #expect(meta.producer?.hasPrefix("make_safetensors_fixture.py") == true)
    }

    @Test("dtypes, shapes and values")
    func values() throws {
        let model = try Self.fixture()
        try model.checkTensorTable(expected: [
            "f32.matrix": [2, 3], "f16.vector": [5], "bf16.vector": [3], "f64.pair": [2], "i8.weight": [2, 2],
            "u8.bytes": [3], "i32.ids": [2], "i64.scalar": [], "f32.empty": [0, 4],
        ])
        let dtypes = model.tensorNames.map { model.tensors[$0]!.dtype }
        #expect(dtypes == [.bf16, .f16, .f32, .f32, .f64, .i32, .i64, .i8, .u8])

        #expect(try model.tensor("f32.matrix").floats().array == [0, 1.5, -2, 3.25, 1e-3, -0.0])
        #expect(try model.tensor("f32.matrix").floats().array[5].sign == .minus)
        #expect(try model.tensor("f16.vector").floats().array == [1, -0.5, 65504, 0x1p-24, -.infinity])
        #expect(try model.tensor("bf16.vector").floats().array == [1, -2.5, 3.140625])
        #expect(try model.tensor("f64.pair").floats().array == [Float(0.1), -2.5])
        #expect(try model.tensor("i8.weight").int8s() == [-128, -1, 0, 127])
        #expect(try model.tensor("u8.bytes").uint8s() == [0, 128, 255])
        #expect(try model.tensor("i32.ids").int32s() == [Int32.min, Int32.max])
        #expect(try model.tensor("i64.scalar").int64s() == [1_234_567_890_123])
        #expect(try model.tensor("f32.empty").elementCount == 0)
    }

    @Test("the plain container reader agrees; re-export is spkv-ordered and stable")
    func reexport() throws {
        let original = try Array(Data(contentsOf: Fixtures.url(ModelFileSamples.pythonFixture)))
        let model = try ModelFile.read(bytes: original)
        let container = try SafeTensors.read(bytes: original)
        #expect(container.tensors == model.tensors)
        #expect(container.metadata[ModelMetadata.Key.dataCRC32] == "9f77e32f")

        let first = model.serialize()
        #expect(first != original)  // Python orders data by alignment and metadata by hash
        let again = try ModelFile.read(bytes: first)
        #expect(again == model)
        #expect(again.serialize() == first)
        #expect(again.checksum != model.checksum)  // same tensors, name-ordered data section
    }

    /// Writes the sample model where `SPKV_MODELFILE_EXPORT_DIR` points, for the by-hand check
    /// `make_safetensors_fixture.py --check DIR/sample.safetensors` (Python safetensors opens it).
    @Test("export for the Python check", .enabled(if: ProcessInfo.processInfo.environment["SPKV_MODELFILE_EXPORT_DIR"] != nil))
    func exportForPython() throws {
        let dir = ProcessInfo.processInfo.environment["SPKV_MODELFILE_EXPORT_DIR"]!
        try ModelFileSamples.model().write(path: dir + "/sample.safetensors")
        try ModelFile.read(path: Fixtures.path(ModelFileSamples.pythonFixture)).write(path: dir + "/fixture-reexport.safetensors")
    }
}
