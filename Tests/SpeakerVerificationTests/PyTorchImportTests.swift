import Foundation
import SpeakerVerification
import Testing
import _SVTestSupport

/// `spkv import` straight from a PyTorch checkpoint: the same encoder as from safetensors.
@Suite("PyTorch checkpoint import")
struct PyTorchImportTests {
    /// `pytorch/sslsv_c32.ckpt` is `torch.save({"model": <ecapa/sslsv_c32.safetensors>, "epoch": 3,
    /// "optimizer": {...}})` (tools/reference/make_pytorch_fixtures.py); the importer finds the
    /// `model.` prefix itself.
    @Test func checkpointImportsLikeSafetensors() throws {
        let fromCheckpoint = try ModelImport.run(from: .sslsv, source: Fixtures.path("pytorch/sslsv_c32.ckpt"), output: nil)
        let fromSafetensors = try ModelImport.run(from: .sslsv, source: Fixtures.path("ecapa/sslsv_c32.safetensors"), output: nil)
        let a = try #require(fromCheckpoint.imported), b = try #require(fromSafetensors.imported)
        #expect(a.config == b.config)
        #expect(a.tensors.keys.sorted() == b.tensors.keys.sorted())
        for (name, expected) in b.tensors {
            let got = try #require(a.tensors[name])
            #expect(got.shape == expected.shape && got.values == expected.values, "\(name)")
        }
        #expect(fromCheckpoint.usedCheckpointTables == fromSafetensors.usedCheckpointTables)
        #expect(a.frontEndTables?.window == b.frontEndTables?.window)
        #expect(a.frontEndTables?.melFilterbank == b.frontEndTables?.melFilterbank)
        #expect(fromCheckpoint.file.tensors == fromSafetensors.file.tensors)
    }

    @Test func legacyPickleGetsTheConversionHint() {
        let path = Fixtures.path("pytorch/legacy.pt")
        #expect(throws: ModelImportError.pytorchCheckpoint(path: path)) {
            try ModelImport.run(from: .speechbrain, source: path, output: nil)
        }
    }

    @Test func forbiddenGlobalIsRefusedByName() {
        let path = Fixtures.path("pytorch/forbidden_global.ckpt")
        #expect(throws: ModelImportError.pytorchUnreadable(path: path, .forbiddenGlobal(module: "os", name: "system"))) {
            try ModelImport.run(from: .speechbrain, source: path, output: nil)
        }
    }
}
