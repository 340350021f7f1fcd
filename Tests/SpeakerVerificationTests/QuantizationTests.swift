import Foundation
import Testing
import SVKernels
import _SVTestSupport
@testable import SpeakerVerification

/// Post-training int8 quantisation of a SpeechBrain-architecture model: the int8 file format, its
/// embeddings against fp32, kernel agreement on a whole encoder, and refusals of bad files.
@Suite(.serialized) struct QuantizationTests {
    static let speech = VerificationBackEndTests.speech

    static func fp32File() throws -> ModelFile {
        try ModelImport.run(from: .speechbrain, source: Fixtures.path("ecapa/speechbrain_c64.safetensors"), output: nil).file
    }

    static func int8File(method: ActivationCalibration = .mse) throws -> (ModelFile, PostTrainingQuantization.Calibration) {
        let file = try fp32File()
        let calibration = try PostTrainingQuantization.calibrate(model: try SpeakerModel(file: file), paths: Array(speech.prefix(2)), method: method)
        return (try Int8Quantizer.quantize(file: file, inputScales: calibration.inputScales, calibration: calibration.json), calibration)
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double { Double(Cosine.similarity(a, b)) }

    @Test func theInt8FileRecordsItsSchemeAndStoresInt8Weights() throws {
        let (file, calibration) = try Self.int8File()
        let model = try SpeakerModel(file: file)
        #expect(model.encoder.isQuantized && model.quantization.kind == .int8Static && model.quantization.version == 1)
        #expect(model.quantization.calibration?.contains("\"method\":\"mse\"") == true && calibration.files == 2)
        for p in model.ecapaConfig!.int8Convolutions {
            #expect(file.tensors["\(p).weight"]?.dtype == .i8)
            #expect(file.tensors[QuantizationScheme.inputScaleName(p)]?.shape == [1])
        }
        #expect(model.ecapaConfig!.int8Convolutions.count == 1 + 3 * (2 + model.ecapaConfig!.res2netScale - 1) + 1)
        // SE, attention and the embedding layer stay fp32.
        #expect(file.tensors["asp.tdnn.conv.conv.weight"]?.dtype == .f32 && file.tensors["fc.conv.weight"]?.dtype == .f32)
        let fp32Bytes = try Self.fp32File().serialize().count
        #expect(file.serialize().count < fp32Bytes)
        // Round trip through bytes: same model, same checksum.
        let reread = try ModelFile.read(bytes: file.serialize())
        let rereadModel = try SpeakerModel(file: reread)
        #expect(reread.checksum == file.checksum && rereadModel.encoder.isQuantized)
    }

    @Test func int8EmbeddingsStayCloseToFp32() throws {
        let fp32 = Embedder(model: try SpeakerModel(file: try Self.fp32File()))
        let int8 = Embedder(model: try SpeakerModel(file: try Self.int8File().0))
        for path in Self.speech {
            let c = Self.cosine(try fp32.embed(path: path), try int8.embed(path: path))
            #expect(c > 0.995, "\(path): cosine int8 vs fp32 \(c)")
        }
        // Clipping calibration beats no clipping on held-out speech (the third file was not used to calibrate).
        let max = Embedder(model: try SpeakerModel(file: try Self.int8File(method: .max).0))
        let heldOut = try fp32.embed(path: Self.speech[2])
        #expect(Self.cosine(heldOut, try int8.embed(path: Self.speech[2])) >= Self.cosine(heldOut, try max.embed(path: Self.speech[2])) - 1e-3)
    }

    @Test func vnniAndPortableKernelsGiveTheSameEmbedding() throws {
        let model = try SpeakerModel(file: try Self.int8File().0)
        let fast = try Embedder(model: model).embed(path: Self.speech[1])
        let previous = Int8Kernel.use(.portable)
        defer { Int8Kernel.use(previous) }
        let portable = try Embedder(model: model).embed(path: Self.speech[1])
        // The int8 layers agree bit for bit (Int8Conv1dTests); the fp32 parts around them run on
        // OpenBLAS, whose multi-threaded sums may split differently while other tests use it too.
        #expect(zip(fast, portable).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) }, "\(fast.prefix(4)) vs \(portable.prefix(4))")
    }

    @Test func badInt8FilesAreRefusedWithReasons() throws {
        let (file, _) = try Self.int8File()
        let p = try SpeakerModel(file: file).ecapaConfig!.int8Convolutions[3]
        // A non-positive scale.
        var bad = file
        var tensors = bad.tensors
        tensors[QuantizationScheme.inputScaleName(p)] = try StoredTensor(name: QuantizationScheme.inputScaleName(p), shape: [1], floats: [-1])
        bad = ModelFile(metadata: file.metadata, tensors: Array(tensors.values))
        #expect { try SpeakerModel(file: bad) } throws: { "\($0)".contains("\(p) has a scale that is not a positive finite number") }
        // int8 weights in a file that says it is fp32.
        var mislabelled = file
        mislabelled.metadata.quantization = ModelMetadata.defaultQuantization
        #expect { try SpeakerModel(file: mislabelled) } throws: { "\($0)".contains("another quantization scheme") }
        // Unknown scheme / newer version.
        var unknown = file
        unknown.metadata.quantization = #"{"scheme":"int4-magic","version":1}"#
        #expect { try SpeakerModel(file: unknown) } throws: { "\($0)".contains("unknown quantization scheme 'int4-magic'") }
        unknown.metadata.quantization = #"{"scheme":"int8-static","version":7}"#
        #expect { try SpeakerModel(file: unknown) } throws: { "\($0)".contains("version 7 is newer") }
        // Version 2 must say how activations are stored; unsigned ones need inputs ECAPA-TDNN does not have.
        unknown.metadata.quantization = #"{"scheme":"int8-static","version":2}"#
        #expect { try SpeakerModel(file: unknown) } throws: { "\($0)".contains("needs \"activations\"") }
        unknown.metadata.quantization = QuantizationScheme.int8Metadata(calibration: "{}", unsignedActivations: true)
        #expect { try SpeakerModel(file: unknown) } throws: { "\($0)".contains("never negative") && "\($0)".contains("ECAPA-TDNN") }
        unknown.metadata.quantization = #"{"activations":"int8 per tensor, static","scheme":"int8-static","version":2}"#
        #expect(try SpeakerModel(file: unknown).encoder.isQuantized, "version 2 with signed activations is version 1's layout")
        // Quantising twice.
        #expect { try Int8Quantizer.quantize(file: file, inputScales: [:], calibration: "{}") } throws: { "\($0)".contains("already quantised") }
    }

    @Test func clippingRulesOnHandMadeHistograms() {
        // Uniform |x| on [0, 1]: the best clip keeps (almost) everything.
        let uniform = [Double](repeating: 10, count: 2_048)
        #expect(PostTrainingQuantization.mseClip(uniform, peak: 1) > 0.95)
        // 1e8 values below 0.1 and 10 outliers at 1.0: clipping the outliers (error ≈ 10·0.9²) costs far
        // less than steps 10× coarser for all (≈ 1e8·(1/127)²/12 ≈ 517).
        var spiky = [Double](repeating: 0, count: 2_048)
        for i in 0..<205 { spiky[i] = 1e8 / 205 }
        spiky[2_047] = 10
        let clip = PostTrainingQuantization.mseClip(spiky, peak: 1)
        #expect(clip < 0.5 && clip > 0.05, "clip \(clip)")
        // Percentile: 99 % of 100 equal bins lie below the 99th bin's upper edge.
        let flat = [Double](repeating: 1, count: 100)
        #expect(PostTrainingQuantization.percentileClip(flat, peak: 1, percentile: 99) == 0.99)
        #expect(PostTrainingQuantization.percentileClip(flat, peak: 1, percentile: 100) == 1)
    }
}

extension QuantizationTests {
    /// Every importer's architecture variant quantises and stays close to fp32 (WeSpeaker: zero padding,
    /// a pass-through Res2Net chunk and an MFA without batch norm; sslsv: its own front end).
    @Test(arguments: [("wespeaker", "wespeaker_c32"), ("sslsv", "sslsv_c32"), ("speechbrain", "speechbrain_c64")])
    func everyImportedVariantQuantizes(_ toolkit: String, _ fixture: String) throws {
        let source = try #require(SourceToolkit(rawValue: toolkit))
        let file = try ModelImport.run(from: source, source: Fixtures.path("ecapa/\(fixture).safetensors"), output: nil).file
        let fp32 = try SpeakerModel(file: file)
        let calibration = try PostTrainingQuantization.calibrate(model: fp32, paths: Array(Self.speech.prefix(2)))
        let int8 = try SpeakerModel(file: try Int8Quantizer.quantize(file: file, inputScales: calibration.inputScales, calibration: calibration.json))
        #expect(int8.encoder.isQuantized && int8.ecapaConfig!.int8Convolutions.count == fp32.ecapaConfig!.int8Convolutions.count)
        let a = try Embedder(model: fp32).embed(path: Self.speech[2]), b = try Embedder(model: int8).embed(path: Self.speech[2])
        #expect(Self.cosine(a, b) > 0.99, "\(toolkit): cosine \(Self.cosine(a, b))")
    }
}
