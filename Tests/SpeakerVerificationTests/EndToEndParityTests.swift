import Foundation
import Testing
import SVKernels
import _SVTestSupport
@testable import SpeakerVerification

/// Audio file → spkv (libsndfile, front end, encoder) against each toolkit's own pipeline, on real
/// speech of 3.6, 8.7 and 14.8 s (fixtures by tools/reference/make_ecapa_fixtures.py).
@Suite struct EndToEndParityTests {
    static let minimumCosine = 0.9999

    struct Case: Sendable, CustomStringConvertible {
        let toolkit: SourceToolkit, fixture: String, clip: String
        var description: String { "\(toolkit.rawValue) \(clip)" }
    }

    static let cases: [Case] = [SourceToolkit.speechbrain, .wespeaker, .sslsv].flatMap { toolkit in
        ["speech_a_3s", "speech_b_8s", "speech_c_15s"].map { clip in
            Case(toolkit: toolkit, fixture: toolkit == .speechbrain ? "speechbrain_c64" : "\(toolkit.rawValue)_c32", clip: clip)
        }
    }

    static func importedModel(_ toolkit: SourceToolkit, _ fixture: String) throws -> SpeakerModel {
        let summary = try ModelImport.run(from: toolkit, source: Fixtures.path("ecapa/\(fixture).safetensors"), output: nil)
        return try SpeakerModel(file: summary.file)
    }

    @Test(arguments: cases)
    func embeddingFromAudioFileMatchesToolkit(_ c: Case) throws {
        let model = try Self.importedModel(c.toolkit, c.fixture)
        let ours = try Embedder(model: model).embed(path: Fixtures.path("speech/\(c.clip).wav"))
        let golden = try SafeTensors.read(path: Fixtures.path("ecapa/\(c.fixture)_golden.safetensors"))
        let theirs = try golden.tensors["\(c.clip)/embedding"]!.floats().array
        let cosine = cosineSimilarity(ours, theirs)
        #expect(cosine >= Self.minimumCosine, "cosine \(cosine): \(ours.prefix(4)) vs \(theirs.prefix(4))")
    }

    @Test func importedModelRoundTripsByteIdentically() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let first = dir.path("a.safetensors"), second = dir.path("b.safetensors")
        _ = try ModelImport.run(from: .wespeaker, source: Fixtures.path("ecapa/wespeaker_c32.safetensors"), output: first)
        try ModelFile.read(path: first).write(path: second)
        #expect(FileManager.default.contents(atPath: first) == FileManager.default.contents(atPath: second))
        let model = try SpeakerModel.load(path: first)
        #expect(model.ecapaConfig?.variant == .wespeaker && model.features == .kaldi)
    }

    @Test func wrongToolkitIsNamed() throws {
        #expect(throws: ModelImportError.self) {
            try ModelImport.run(from: .speechbrain, source: Fixtures.path("ecapa/wespeaker_c32.safetensors"), output: nil)
        }
        do {
            _ = try ModelImport.run(from: .speechbrain, source: Fixtures.path("ecapa/wespeaker_c32.safetensors"), output: nil)
        } catch {
            #expect(error.description.contains("no speechbrain ECAPA-TDNN found"))
        }
    }

    @Test func pytorchZipGetsAConversionHint() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("model.ckpt")
        _ = FileManager.default.createFile(atPath: path, contents: Data([0x50, 0x4B, 3, 4] + [UInt8](repeating: 0, count: 60)))
        #expect(throws: ModelImportError.pytorchCheckpoint(path: path)) {
            try ModelImport.run(from: .speechbrain, source: path, output: nil)
        }
    }

    @Test func tooShortAudioIsAClearError() throws {
        let model = try Self.importedModel(.speechbrain, "speechbrain_c64")
        let embedder = Embedder(model: model)
        #expect(throws: EmbeddingError.self) { try embedder.embed(samples: [Float](repeating: 0.1, count: 100)) }
        #expect(throws: EmbeddingError.self) { try embedder.embed(samples: [Float](repeating: 0.1, count: 400)) }
        #expect(throws: EmbeddingError.digitalSilence(source: "<memory>", seconds: 1)) {
            try embedder.embed(samples: [Float](repeating: 0, count: 16_000))
        }
    }
}
