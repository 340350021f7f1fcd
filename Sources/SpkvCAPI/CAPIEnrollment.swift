import CSpkv
import SpeakerVerification

/// What an `spkv_profile *` points to.
final class ProfileHandle {
    let profile: SpeakerProfile
    /// Where the profile came from, for errors ("<enrolled>" when made in memory).
    let origin: String
    let name: CString

    init(profile: SpeakerProfile, origin: String) {
        self.profile = profile; self.origin = origin
        name = CString(profile.name)
    }

    static func from(_ pointer: OpaquePointer?, in function: String) throws(StatusError) -> ProfileHandle {
        object(try required(pointer, "profile", in: function), as: ProfileHandle.self)
    }
}

/// A negative minimum means the default.
private func minimumSpeech(_ seconds: Double, in function: String) throws(StatusError) -> Double {
    guard !seconds.isNaN, seconds <= 86_400 else { throw invalid(function, "min_speech_seconds must be at most 86400 (negative: the default)") }
    return seconds < 0 ? Enrollment.defaultMinimumSpeechSeconds : seconds
}

@_cdecl("spkv_enroll_files")
public func spkvEnrollFiles(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ paths: UnsafePointer<UnsafePointer<CChar>?>?,
                            _ count: Int, _ minSpeechSeconds: Double, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> spkv_status {
    guarded {
        let f = "spkv_enroll_files"
        let m = try ModelHandle.from(model, in: f)
        let name = try string(name, "name", in: f)
        let paths = try required(paths, "paths", in: f)
        let out = try required(out, "out", in: f)
        guard count > 0, count <= 1_000_000 else { throw invalid(f, "count must be from 1 to 1000000") }
        var list: [String] = []
        for i in 0..<count { list.append(try string(paths[i], "paths[\(i)]", in: f)) }
        let profile = try Enrollment.enroll(name: name, paths: list, model: m.model,
                                            minimumSpeechSeconds: try minimumSpeech(minSpeechSeconds, in: f))
        out.pointee = makeHandle(ProfileHandle(profile: profile, origin: "<enrolled>"))
        return SPKV_OK
    }
}

@_cdecl("spkv_enroll_pcm")
public func spkvEnrollPCM(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ samples: UnsafePointer<UnsafePointer<Float>?>?,
                          _ lengths: UnsafePointer<Int>?, _ count: Int, _ sampleRate: Int32, _ minSpeechSeconds: Double,
                          _ out: UnsafeMutablePointer<OpaquePointer?>?) -> spkv_status {
    guarded {
        let f = "spkv_enroll_pcm"
        let m = try ModelHandle.from(model, in: f)
        let name = try string(name, "name", in: f)
        let samples = try required(samples, "samples", in: f), lengths = try required(lengths, "lengths", in: f)
        let out = try required(out, "out", in: f)
        guard count > 0, count <= 1_000_000 else { throw invalid(f, "count must be from 1 to 1000000") }
        var clips: [(source: String, samples: [Float])] = []
        for i in 0..<count {
            let source = "<pcm clip \(i)>"
            let clip = try required(samples[i], "samples[\(i)]", in: f)
            clips.append((source, try modelRateSamples(clip, count: lengths[i], rate: sampleRate, model: m.model, source: source, in: f)))
        }
        let profile = try Enrollment.enroll(name: name, recordings: clips, model: m.model,
                                            minimumSpeechSeconds: try minimumSpeech(minSpeechSeconds, in: f))
        out.pointee = makeHandle(ProfileHandle(profile: profile, origin: "<enrolled>"))
        return SPKV_OK
    }
}

@_cdecl("spkv_profile_load")
public func spkvProfileLoad(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> spkv_status {
    guarded {
        let f = "spkv_profile_load"
        let path = try string(path, "path", in: f)
        let out = try required(out, "out", in: f)
        out.pointee = makeHandle(ProfileHandle(profile: try SpeakerProfile.read(path: path), origin: path))
        return SPKV_OK
    }
}

@_cdecl("spkv_profile_save")
public func spkvProfileSave(_ profile: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> spkv_status {
    guarded {
        let f = "spkv_profile_save"
        let p = try ProfileHandle.from(profile, in: f)
        try p.profile.write(path: try string(path, "path", in: f))
        return SPKV_OK
    }
}

@_cdecl("spkv_profile_name")
public func spkvProfileName(_ profile: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let profile else { return nil }
    return UnsafePointer(object(profile, as: ProfileHandle.self).name.pointer)
}

@_cdecl("spkv_profile_embedding_size")
public func spkvProfileEmbeddingSize(_ profile: OpaquePointer?) -> Int {
    guard let profile else { return 0 }
    return object(profile, as: ProfileHandle.self).profile.embedding.count
}

@_cdecl("spkv_profile_embedding")
public func spkvProfileEmbedding(_ profile: OpaquePointer?, _ embedding: UnsafeMutablePointer<Float>?, _ capacity: Int) -> spkv_status {
    guarded {
        let f = "spkv_profile_embedding"
        let p = try ProfileHandle.from(profile, in: f)
        return copy(p.profile.embedding, to: try required(embedding, "embedding", in: f), capacity: capacity, in: f)
    }
}

@_cdecl("spkv_profile_free")
public func spkvProfileFree(_ profile: OpaquePointer?) { release(profile) }

/// NaN: the Bayes threshold at `prior`; else a fixed one.
func threshold(_ value: Double, prior: Double, in function: String) throws(StatusError) -> Double? {
    guard prior > 0, prior < 1 else { throw invalid(function, "prior must be between 0 and 1 (exclusive), got \(prior)") }
    guard !value.isInfinite else { throw invalid(function, "threshold must be finite, or NAN for the Bayes threshold") }
    return value.isNaN ? nil : value
}

func cDecision(_ r: VerificationResult) -> spkv_decision {
    spkv_decision(score: cScore((r.cosine, r.llr)), threshold: r.threshold, accepted: r.accepted ? 1 : 0)
}

@_cdecl("spkv_verify_file")
public func spkvVerifyFile(_ model: OpaquePointer?, _ profile: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                           _ thresholdValue: Double, _ prior: Double, _ out: UnsafeMutablePointer<spkv_decision>?) -> spkv_status {
    guarded {
        let f = "spkv_verify_file"
        let m = try ModelHandle.from(model, in: f), p = try ProfileHandle.from(profile, in: f)
        let path = try string(path, "path", in: f)
        let out = try required(out, "out", in: f)
        let r = try Verification.verify(profile: p.profile, profilePath: p.origin, audioPath: path, model: m.model,
                                        threshold: try threshold(thresholdValue, prior: prior, in: f), prior: prior)
        out.pointee = cDecision(r)
        return SPKV_OK
    }
}

@_cdecl("spkv_verify_pcm")
public func spkvVerifyPCM(_ model: OpaquePointer?, _ profile: OpaquePointer?, _ samples: UnsafePointer<Float>?, _ count: Int,
                          _ sampleRate: Int32, _ thresholdValue: Double, _ prior: Double,
                          _ out: UnsafeMutablePointer<spkv_decision>?) -> spkv_status {
    guarded {
        let f = "spkv_verify_pcm"
        let m = try ModelHandle.from(model, in: f), p = try ProfileHandle.from(profile, in: f)
        let samples = try required(samples, "samples", in: f)
        let out = try required(out, "out", in: f)
        let fixed = try threshold(thresholdValue, prior: prior, in: f)
        let audio = try modelRateSamples(samples, count: count, rate: sampleRate, model: m.model, source: "<pcm>", in: f)
        let r = try Verification.verify(profile: p.profile, profilePath: p.origin, samples: audio, source: "<pcm>", model: m.model,
                                        threshold: fixed, prior: prior)
        out.pointee = cDecision(r)
        return SPKV_OK
    }
}
