import CSpkv
import SpeakerVerification

/// What an `spkv_model *` points to: the model, its scoring back end, and the C strings
/// `spkv_model_get_info` hands out.
final class ModelHandle {
    let model: SpeakerModel
    let backend: ScoringBackend
    let architecture: CString, quantization: CString, checksum: CString

    init(model: SpeakerModel) {
        self.model = model
        backend = model.scoring
        architecture = CString(model.encoder.architecture)
        quantization = CString(model.quantization.kind == .int8Static ? "int8" : "fp32")
        checksum = CString(model.checksum)
    }

    static func from(_ pointer: OpaquePointer?, in function: String) throws(StatusError) -> ModelHandle {
        object(try required(pointer, "model", in: function), as: ModelHandle.self)
    }

    /// An embedding of samples already at the model's rate.
    func embed(_ samples: [Float], source: String) throws(EmbeddingError) -> [Float] {
        try Embedder(model: model).embed(samples: samples, source: source)
    }
}

@_cdecl("spkv_model_load")
public func spkvModelLoad(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> spkv_status {
    guarded {
        let f = "spkv_model_load"
        let path = try string(path, "path", in: f)
        let out = try required(out, "out", in: f)
        out.pointee = makeHandle(ModelHandle(model: try SpeakerModel.load(path: path)))
        return SPKV_OK
    }
}

@_cdecl("spkv_model_free")
public func spkvModelFree(_ model: OpaquePointer?) { release(model) }

@_cdecl("spkv_model_get_info")
public func spkvModelGetInfo(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<spkv_model_info>?) -> spkv_status {
    guarded {
        let f = "spkv_model_get_info"
        let m = try ModelHandle.from(model, in: f)
        let out = try required(out, "out", in: f)
        out.pointee = spkv_model_info(sample_rate: Int32(m.model.features.sampleRate), embedding_size: Int32(m.model.embeddingSize),
                                      outputs_llr: m.backend.outputsLLR ? 1 : 0, has_magneto: m.backend.isMagNetO ? 1 : 0,
                                      architecture: m.architecture.pointer, quantization: m.quantization.pointer,
                                      checksum: m.checksum.pointer)
        return SPKV_OK
    }
}

@_cdecl("spkv_embed_file")
public func spkvEmbedFile(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ embedding: UnsafeMutablePointer<Float>?,
                          _ capacity: Int) -> spkv_status {
    guarded {
        let f = "spkv_embed_file"
        let m = try ModelHandle.from(model, in: f)
        let path = try string(path, "path", in: f)
        let output = try required(embedding, "embedding", in: f)
        return copy(try Embedder(model: m.model).embed(path: path), to: output, capacity: capacity, in: f)
    }
}

@_cdecl("spkv_embed_pcm")
public func spkvEmbedPCM(_ model: OpaquePointer?, _ samples: UnsafePointer<Float>?, _ count: Int, _ sampleRate: Int32,
                         _ embedding: UnsafeMutablePointer<Float>?, _ capacity: Int) -> spkv_status {
    guarded {
        let f = "spkv_embed_pcm"
        let m = try ModelHandle.from(model, in: f)
        let samples = try required(samples, "samples", in: f)
        let output = try required(embedding, "embedding", in: f)
        let audio = try modelRateSamples(samples, count: count, rate: sampleRate, model: m.model, source: "<pcm>", in: f)
        return copy(try m.embed(audio, source: "<pcm>"), to: output, capacity: capacity, in: f)
    }
}

@_cdecl("spkv_compare")
public func spkvCompare(_ model: OpaquePointer?, _ a: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?, _ size: Int,
                        _ out: UnsafeMutablePointer<spkv_score>?) -> spkv_status {
    guarded {
        let f = "spkv_compare"
        let m = try ModelHandle.from(model, in: f)
        let a = try required(a, "a", in: f), b = try required(b, "b", in: f)
        let out = try required(out, "out", in: f)
        guard size == m.model.embeddingSize else {
            throw invalid(f, "size is \(size) but the model's embeddings have \(m.model.embeddingSize) values")
        }
        let x = Array(UnsafeBufferPointer(start: a, count: size)), y = Array(UnsafeBufferPointer(start: b, count: size))
        guard x.allSatisfy(\.isFinite), y.allSatisfy(\.isFinite) else { throw invalid(f, "an embedding holds NaN or infinity") }
        out.pointee = cScore(m.backend.compare(x, y))
        return SPKV_OK
    }
}

func cScore(_ c: (cosine: Double, llr: Double?)) -> spkv_score {
    spkv_score(cosine: c.cosine, llr: c.llr ?? 0, has_llr: c.llr != nil ? 1 : 0, score: c.llr ?? c.cosine)
}
