#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that can go wrong reading, checking or writing a model file (`models/FORMAT.md`).
///
/// Each case names what failed and on what (tensor, metadata key, byte offset); `description` adds
/// what to do about it, so the CLI can print it as is. Errors do not carry the model's path (except
/// I/O errors): the caller that opened the file prefixes it.
public enum ModelFileError: Error, Equatable, Sendable, CustomStringConvertible {
    // MARK: - I/O

    /// A system call failed on `path` (`operation` is the call, e.g. "open", "pread", "rename").
    case io(operation: String, path: String, errno: Int32)

    // MARK: - Container (safetensors) structure

    /// Fewer than the 8 bytes of the header-length prefix.
    case fileTooShort(byteCount: Int)
    /// The header-length prefix exceeds `SafeTensors.maxHeaderByteCount`.
    case headerTooLarge(declared: UInt64, limit: Int)
    /// The header-length prefix points past the end of the file (`available` = file size − 8).
    case headerBeyondEndOfFile(declared: UInt64, available: Int)
    /// The header is not valid UTF-8; `offset` is the first bad byte, from the start of the header.
    case headerNotUTF8(offset: Int)
    /// The header is not valid JSON; `offset` is counted from the start of the header.
    case headerNotJSON(offset: Int, reason: String)
    /// The header is JSON but a field has the wrong type or value (`field` is a path such as
    /// `"conv.weight".shape[1]` or `__metadata__."spkv.config"`).
    case invalidHeader(field: String, problem: String)
    /// A tensor's dtype is not one of `TensorDType`.
    case unknownDType(tensor: String, dtype: String)
    /// A shape with a negative dimension or an element count that overflows `Int`.
    case invalidShape(tensor: String, shape: [Int], reason: String)
    /// `data_offsets` span a byte count other than product(shape) × dtype size.
    case byteCountMismatch(tensor: String, dtype: TensorDType, shape: [Int], expected: Int, actual: Int)
    /// `data_offsets` are reversed or reach past the end of the data section.
    case offsetsOutOfRange(tensor: String, begin: Int, end: Int, dataSize: Int)
    /// Two tensors share bytes.
    case overlappingTensors(first: String, second: String)
    /// Bytes of the data section belong to no tensor (`after`/`before` are the neighbours, nil at
    /// the start/end of the data section).
    case dataGap(after: String?, before: String?, start: Int, end: Int)

    // MARK: - spkv layer

    /// `spkv.format` is missing (`found` nil) or is not "spkv-model".
    case notSpkvModel(found: String?)
    /// `spkv.format_version` is a newer major version than this build reads.
    case unsupportedFormatVersion(found: Int, supported: Int)
    /// The CRC-32 of the data section differs from `spkv.data_crc32`.
    case checksumMismatch(stored: String, computed: String)
    /// A required `__metadata__` key is absent.
    case missingMetadata(key: String)
    /// A `__metadata__` value has the wrong form (not an integer, not a JSON object, ...).
    case invalidMetadata(key: String, value: String, reason: String)

    // MARK: - Tensor access and the tensor table

    /// `ModelFile.tensor(_:)` asked for a tensor the file does not have.
    case tensorNotFound(name: String)
    /// A typed accessor was used on a tensor of another dtype (`requested` describes the accessor).
    case dtypeMismatch(tensor: String, dtype: TensorDType, requested: String)
    /// A tensor was built with a byte or element count that does not match its shape.
    case valueCountMismatch(tensor: String, shape: [Int], expected: Int, actual: Int)
    /// The tensors do not match what the architecture expects; all problems, sorted by tensor name.
    case tensorTable([TensorTableProblem])

    public var description: String {
        switch self {
        case let .io(operation, path, code):
            return "cannot \(operation) '\(path)': \(Self.systemMessage(code)) (errno \(code)); "
                + "check that the path exists and is readable (or its folder writable)"
        case let .fileTooShort(byteCount):
            return "model file is too short: \(byteCount) bytes, but a safetensors file starts with an "
                + "8-byte header length; the file is truncated or not a model file, re-download or re-export it"
        case let .headerTooLarge(declared, limit):
            return "model file header length is \(declared) bytes, above the \(limit)-byte limit; "
                + "the file is corrupt or not a safetensors file"
        case let .headerBeyondEndOfFile(declared, available):
            return "model file header length is \(declared) bytes but only \(available) bytes follow the "
                + "length field; the file is truncated, re-download or re-export it"
        case let .headerNotUTF8(offset):
            return "model file header is not valid UTF-8 (bad byte at header offset \(offset)); "
                + "the file is corrupt or not a safetensors file"
        case let .headerNotJSON(offset, reason):
            return "model file header is not valid JSON at header offset \(offset): \(reason); "
                + "the file is corrupt or not a safetensors file"
        case let .invalidHeader(field, problem):
            return "model file header field \(field) \(problem); the file was not written by a "
                + "safetensors-compatible writer or is corrupt"
        case let .unknownDType(tensor, dtype):
            return "tensor '\(tensor)' has unknown dtype \"\(dtype)\" (known: "
                + TensorDType.allCases.map(\.rawValue).joined(separator: ", ")
                + "); re-export the model with a supported dtype or upgrade spkv"
        case let .invalidShape(tensor, shape, reason):
            return "tensor '\(tensor)' has invalid shape \(shape): \(reason); the file is corrupt"
        case let .byteCountMismatch(tensor, dtype, shape, expected, actual):
            return "tensor '\(tensor)' (\(dtype.rawValue) \(shape)) spans \(actual) bytes but needs "
                + "\(expected); the file is corrupt"
        case let .offsetsOutOfRange(tensor, begin, end, dataSize):
            return "tensor '\(tensor)' has data_offsets [\(begin), \(end)] outside the \(dataSize)-byte "
                + "data section; the file is truncated or corrupt"
        case let .overlappingTensors(first, second):
            return "tensors '\(first)' and '\(second)' overlap in the data section; the file is corrupt"
        case let .dataGap(after, before, start, end):
            let from = after.map { "after tensor '\($0)'" } ?? "at the start of the data section"
            let to = before.map { "before tensor '\($0)'" } ?? "at the end of the data section"
            return "data bytes [\(start), \(end)) \(from), \(to), belong to no tensor; the file is "
                + "corrupt or was written by a non-conforming writer"
        case let .notSpkvModel(found):
            let what = found.map { "spkv.format is \"\($0)\", not \"\(ModelMetadata.formatName)\"" }
                ?? "it has no spkv.format metadata"
            return "not an spkv model file: \(what); convert it with `spkv import` or export it with spkv-train"
        case let .unsupportedFormatVersion(found, supported):
            return "model file format version \(found) is newer than this spkv reads (up to \(supported)); "
                + "upgrade spkv, or re-export the model with this spkv version"
        case let .checksumMismatch(stored, computed):
            return "model file is corrupt: data CRC-32 is \(computed) but spkv.data_crc32 says \(stored); "
                + "re-download or re-export the model"
        case let .missingMetadata(key):
            return "model file lacks the required metadata key \(key); re-export the model with spkv-train"
        case let .invalidMetadata(key, value, reason):
            return "model file metadata \(key) = \(Self.abbreviated(value)) is invalid: \(reason); "
                + "re-export the model with spkv-train"
        case let .tensorNotFound(name):
            return "model has no tensor '\(name)'; the file does not match the architecture, re-export it"
        case let .dtypeMismatch(tensor, dtype, requested):
            return "tensor '\(tensor)' has dtype \(dtype.rawValue), which cannot be read as \(requested); "
                + "the model was exported with another quantization scheme than the loader expects"
        case let .valueCountMismatch(tensor, shape, expected, actual):
            return "tensor '\(tensor)' with shape \(shape) needs \(expected) values/bytes but got \(actual)"
        case let .tensorTable(problems):
            let list = problems.map(\.description).joined(separator: "; ")
            return "model tensors do not match the architecture (\(problems.count) problem"
                + "\(problems.count == 1 ? "" : "s")): \(list); the file was exported for another "
                + "spkv.config or by an incompatible exporter, re-export it"
        }
    }

    private static func systemMessage(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "unknown error" }
        return String(cString: text)
    }

    private static func abbreviated(_ value: String) -> String {
        value.count <= 80 ? "\"\(value)\"" : "\"\(value.prefix(77))...\""
    }
}

/// One mismatch found by `ModelFile.checkTensorTable(expected:optional:)`.
public enum TensorTableProblem: Equatable, Sendable, CustomStringConvertible {
    /// The file has a tensor the architecture does not use.
    case unexpected(tensor: String, shape: [Int])
    /// The architecture needs a tensor the file lacks.
    case missing(tensor: String, expected: [Int])
    /// The tensor exists with another shape.
    case shapeMismatch(tensor: String, expected: [Int], actual: [Int])

    /// The tensor the problem is about.
    public var tensor: String {
        switch self {
        case let .unexpected(name, _), let .missing(name, _), let .shapeMismatch(name, _, _): return name
        }
    }

    public var description: String {
        switch self {
        case let .unexpected(tensor, shape): return "unexpected tensor '\(tensor)' (got shape \(shape))"
        case let .missing(tensor, expected): return "missing tensor '\(tensor)' (expected shape \(expected))"
        case let .shapeMismatch(tensor, expected, actual):
            return "tensor '\(tensor)' has shape \(actual), expected \(expected)"
        }
    }
}
