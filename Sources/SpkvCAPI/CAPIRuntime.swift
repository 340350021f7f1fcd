import CSpkv
import Glibc
import SpeakerVerification

// The runtime side of spkv.h: the calling thread's last error, status names, and the boxes behind the opaque
// handles. Every exported function catches every Swift error and returns a status: nothing is thrown or trapped
// across the C boundary for bad input.

/// The calling thread's last error message (a malloc'd C string owned by the thread's key; freed at thread exit).
private let lastErrorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

/// Records `message` as this thread's last error and returns `status` (for `return fail(...)`).
func fail(_ status: spkv_status, _ message: String) -> spkv_status {
    free(pthread_getspecific(lastErrorKey))
    pthread_setspecific(lastErrorKey, strdup(message))
    return status
}

/// A status for a caught error: its kind picks the code, its description is the message.
func fail(_ error: any Error) -> spkv_status {
    switch error {
    case let e as SpeakerModelError: return fail(SPKV_ERROR_MODEL, e.description)
    case let e as ScoringBackendError: return fail(SPKV_ERROR_MODEL, e.description)
    case let e as AudioError: return fail(SPKV_ERROR_AUDIO, e.description)
    case let e as EmbeddingError: return fail(SPKV_ERROR_AUDIO, e.description)
    case let e as ProfileError: return fail(SPKV_ERROR_PROFILE, e.description)
    case let e as EnrollmentError:
        switch e {
        case .embedding(let inner): return fail(inner)
        case .tooLittleSpeech: return fail(SPKV_ERROR_TOO_LITTLE_SPEECH, e.description)
        case .noRecordings, .invalidName: return fail(SPKV_ERROR_INVALID_ARGUMENT, e.description)
        }
    case let e as VerificationError:
        switch e {
        case .profile(let inner): return fail(inner)
        case .embedding(let inner): return fail(inner)
        case .noThreshold: return fail(SPKV_ERROR_NOT_CALIBRATED, e.description)
        }
    case let e as LiveSessionError:
        if let inner = e.verification { return fail(inner) }
        return fail(SPKV_ERROR_INVALID_ARGUMENT, e.description)
    default: return fail(SPKV_ERROR_INVALID_ARGUMENT, "\(error)")
    }
}

/// A C string that lives as long as its owner.
final class CString {
    let pointer: UnsafeMutablePointer<CChar>
    init(_ text: String) { pointer = strdup(text)! }
    deinit { free(pointer) }
}

/// A static C string (no allocation, lives forever).
func staticCString(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// What a handle points to: a retained Swift object, released by the free function.
func makeHandle(_ object: AnyObject) -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(object).toOpaque()) }
func object<T: AnyObject>(_ handle: OpaquePointer, as type: T.Type) -> T {
    Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}
func release(_ handle: OpaquePointer?) {
    guard let handle else { return }
    Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(handle)).release()
}

/// A status already recorded with `fail`, carried through Swift code as an error.
struct StatusError: Error { let status: spkv_status }

/// Runs an exported function's body: a `StatusError` returns its status, any other error is mapped by `fail`.
func guarded(_ body: () throws -> spkv_status) -> spkv_status {
    do { return try body() } catch let e as StatusError { return e.status } catch { return fail(error) }
}

/// A pointer argument that must not be NULL.
func required<T>(_ value: T?, _ name: String, in function: String) throws(StatusError) -> T {
    guard let value else { throw StatusError(status: fail(SPKV_ERROR_INVALID_ARGUMENT, "\(function): \(name) is NULL")) }
    return value
}

/// A NUL-terminated argument as a Swift string: not NULL, valid UTF-8.
func string(_ pointer: UnsafePointer<CChar>?, _ name: String, in function: String) throws(StatusError) -> String {
    guard let s = String(validatingCString: try required(pointer, name, in: function)) else {
        throw StatusError(status: fail(SPKV_ERROR_INVALID_ARGUMENT, "\(function): \(name) is not valid UTF-8"))
    }
    return s
}

/// An argument outside its range.
func invalid(_ function: String, _ what: String) -> StatusError {
    StatusError(status: fail(SPKV_ERROR_INVALID_ARGUMENT, "\(function): \(what)"))
}

/// Copies a float array into a caller's buffer of `capacity` values.
func copy(_ values: [Float], to buffer: UnsafeMutablePointer<Float>, capacity: Int, in function: String) -> spkv_status {
    guard capacity >= values.count else {
        return fail(SPKV_ERROR_BUFFER_TOO_SMALL, "\(function): the output holds \(capacity) floats, the embedding has \(values.count)")
    }
    values.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: values.count) }
    return SPKV_OK
}

/// Samples at `rate` as validated mono audio at the model's rate (resampled when the rates differ). A count that
/// is negative as a signed number (a size_t of 2^63 or more) is refused before anything is read, and so is audio
/// longer than the audio length limit (SPKV_MAX_AUDIO_SECONDS, as for files), before it is copied.
func modelRateSamples(_ samples: UnsafePointer<Float>, count: Int, rate: Int32, model: SpeakerModel,
                      source: String, in function: String) throws -> [Float] {
    guard count >= 0 else { throw invalid(function, "the sample count \(UInt(bitPattern: count)) is not a length") }
    guard AudioFile.supportedSampleRates.contains(Int(rate)) else {
        throw AudioError.unsupportedSampleRate(path: source, sampleRate: Int(rate))
    }
    let limit = try AudioFile.maximumSeconds(for: source)
    let seconds = Double(count) / Double(rate)
    guard seconds <= limit else { throw AudioError.tooLong(path: source, seconds: seconds, limitSeconds: limit) }
    let input = Array(UnsafeBufferPointer(start: samples, count: count))
    let clip = try AudioClip(samples: input, sampleRate: Int(rate), source: source)
    let target = model.features.sampleRate
    return clip.sampleRate == target ? clip.samples : Resampler(inputRate: clip.sampleRate, outputRate: target).process(clip.samples)
}

@_cdecl("spkv_api_version")
public func spkvAPIVersion() -> Int32 { 1 }

private nonisolated(unsafe) let versionString = strdup(SpeakerVerification.version)!

@_cdecl("spkv_version")
public func spkvVersion() -> UnsafePointer<CChar> { UnsafePointer(versionString) }

@_cdecl("spkv_status_name")
public func spkvStatusName(_ status: spkv_status) -> UnsafePointer<CChar> {
    switch status {
    case SPKV_OK: return staticCString("SPKV_OK")
    case SPKV_ERROR_INVALID_ARGUMENT: return staticCString("SPKV_ERROR_INVALID_ARGUMENT")
    case SPKV_ERROR_MODEL: return staticCString("SPKV_ERROR_MODEL")
    case SPKV_ERROR_AUDIO: return staticCString("SPKV_ERROR_AUDIO")
    case SPKV_ERROR_PROFILE: return staticCString("SPKV_ERROR_PROFILE")
    case SPKV_ERROR_TOO_LITTLE_SPEECH: return staticCString("SPKV_ERROR_TOO_LITTLE_SPEECH")
    case SPKV_ERROR_NOT_CALIBRATED: return staticCString("SPKV_ERROR_NOT_CALIBRATED")
    case SPKV_ERROR_BUFFER_TOO_SMALL: return staticCString("SPKV_ERROR_BUFFER_TOO_SMALL")
    case SPKV_ERROR_STATE: return staticCString("SPKV_ERROR_STATE")
    default: return staticCString("unknown status")
    }
}

@_cdecl("spkv_last_error")
public func spkvLastError() -> UnsafePointer<CChar> {
    guard let message = pthread_getspecific(lastErrorKey) else { return staticCString("") }
    return UnsafePointer(message.assumingMemoryBound(to: CChar.self))
}
