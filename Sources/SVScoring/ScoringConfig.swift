import Foundation

/// A model file's scoring back end: what its `spkv.scoring` metadata (JSON) holds.
///
///     {"kind":"cosine"}
///     {"fitted_on":{"nontargets":M,"source":"…","targets":N},"kind":"linear","offset":…,"prior":…,"scale":…}
///     {"fitted_on":{…},"kind":"magneto","offset":…,"prior":…}
///
/// `fitted_on` is free-form provenance (string → string in Swift); values that are integers
/// (`-?[0-9]+`) are written as JSON numbers, everything else as strings, and numbers read back as
/// their decimal text.
public struct ScoringConfig: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// Raw cosine similarity (not an LLR).
        case cosine
        /// `LinearCalibration` of the cosine score: a log-likelihood ratio.
        case linear
        /// MagNetO: `a_i·a_j·cos + offset`, magnitudes from the model's magnitude network; a log-likelihood ratio.
        case magneto
    }

    /// MagNetO's global offset b and the target prior it was trained at.
    public struct MagNetOOffset: Codable, Equatable, Sendable {
        public var offset: Double
        public var prior: Double
        public init(offset: Double, prior: Double) { self.offset = offset; self.prior = prior }
    }

    public var kind: Kind
    /// Present exactly when `kind == .linear`.
    public var calibration: LinearCalibration?
    /// Present exactly when `kind == .magneto`.
    public var magneto: MagNetOOffset?
    public var fittedOn: [String: String]?

    public init(kind: Kind, calibration: LinearCalibration? = nil, magneto: MagNetOOffset? = nil, fittedOn: [String: String]? = nil) {
        self.kind = kind
        self.calibration = calibration
        self.magneto = magneto
        self.fittedOn = fittedOn
    }

    /// The default back end of a model without calibration.
    public static let cosine = ScoringConfig(kind: .cosine)

    /// A linear calibration, with where it was fitted (e.g. `targets`, `nontargets`, `source`).
    public static func linear(_ calibration: LinearCalibration, fittedOn: [String: String]? = nil) -> ScoringConfig {
        ScoringConfig(kind: .linear, calibration: calibration, fittedOn: fittedOn)
    }

    /// MagNetO with its offset and training prior.
    public static func magneto(offset: Double, prior: Double, fittedOn: [String: String]? = nil) -> ScoringConfig {
        ScoringConfig(kind: .magneto, magneto: MagNetOOffset(offset: offset, prior: prior), fittedOn: fittedOn)
    }

    /// Whether scores are log-likelihood ratios (so Bayes thresholds, actual DCF and Cllr apply).
    public var outputsLLR: Bool { kind != .cosine }

    /// The target prior the back end was fitted at (nil for cosine).
    public var prior: Double? { calibration?.prior ?? magneto?.prior }

    /// The back end's output for a cosine score; for MagNetO pass the two magnitudes, whose product
    /// replaces the linear calibrator's global scale.
    public func score(cosine: Double, magnitudes: (Double, Double)? = nil) -> Double {
        switch kind {
        case .cosine: return cosine
        case .linear: return calibration.map { $0.llr(cosine) } ?? cosine
        case .magneto:
            precondition(magnitudes != nil, "MagNetO scoring needs the two magnitudes")
            return magnitudes!.0 * magnitudes!.1 * cosine + (magneto?.offset ?? 0)
        }
    }

    // MARK: - JSON

    /// Parses `spkv.scoring`. Unknown kinds are an error that says to upgrade spkv; a linear back
    /// end needs finite `scale` and `offset` and a `prior` in (0, 1). Unknown keys are ignored.
    public static func decode(json: String) throws(ScoringConfigError) -> ScoringConfig {
        let raw: RawConfig
        do {
            raw = try JSONDecoder().decode(RawConfig.self, from: Data(json.utf8))
        } catch let DecodingError.keyNotFound(key, _) where key.stringValue == "kind" {
            throw .missingField(kind: nil, field: "kind")
        } catch {
            throw .invalidJSON(reason: ScoringConfig.describe(error))
        }
        guard let kind = Kind(rawValue: raw.kind) else { throw .unknownKind(raw.kind) }
        let fittedOn = raw.fitted_on?.mapValues(\.text)
        switch kind {
        case .cosine:
            return ScoringConfig(kind: .cosine, calibration: nil, fittedOn: fittedOn)
        case .linear:
            guard let scale = raw.scale else { throw .missingField(kind: kind.rawValue, field: "scale") }
            guard let offset = raw.offset else { throw .missingField(kind: kind.rawValue, field: "offset") }
            guard let prior = raw.prior else { throw .missingField(kind: kind.rawValue, field: "prior") }
            guard scale.isFinite else { throw .invalidValue(field: "scale", value: scale, reason: "must be finite") }
            guard offset.isFinite else { throw .invalidValue(field: "offset", value: offset, reason: "must be finite") }
            guard prior > 0, prior < 1 else {
                throw .invalidValue(field: "prior", value: prior, reason: "must be strictly between 0 and 1")
            }
            return ScoringConfig(kind: .linear, calibration: LinearCalibration(scale: scale, offset: offset, prior: prior),
                                 fittedOn: fittedOn)
        case .magneto:
            guard let offset = raw.offset else { throw .missingField(kind: kind.rawValue, field: "offset") }
            guard let prior = raw.prior else { throw .missingField(kind: kind.rawValue, field: "prior") }
            guard offset.isFinite else { throw .invalidValue(field: "offset", value: offset, reason: "must be finite") }
            guard prior > 0, prior < 1 else {
                throw .invalidValue(field: "prior", value: prior, reason: "must be strictly between 0 and 1")
            }
            return .magneto(offset: offset, prior: prior, fittedOn: fittedOn)
        }
    }

    /// Compact JSON with sorted keys; Doubles in their shortest round-trip form, so
    /// `decode(json: c.jsonString()) == c` and equal configs give equal bytes. A non-finite
    /// parameter is written as `null` (which `decode` rejects).
    public func jsonString() -> String {
        var fields: [(String, String)] = [("kind", ScoringConfig.quote(kind.rawValue))]
        if let c = calibration {
            fields += [("offset", ScoringConfig.number(c.offset)), ("prior", ScoringConfig.number(c.prior)),
                       ("scale", ScoringConfig.number(c.scale))]
        }
        if let m = magneto {
            fields += [("offset", ScoringConfig.number(m.offset)), ("prior", ScoringConfig.number(m.prior))]
        }
        if let f = fittedOn {
            let inner = f.keys.sorted().map { key -> String in
                let v = f[key]!
                let isInteger = ScoringConfig.isInteger(v)
                return ScoringConfig.quote(key) + ":" + (isInteger ? v : ScoringConfig.quote(v))
            }
            fields.append(("fitted_on", "{" + inner.joined(separator: ",") + "}"))
        }
        fields.sort { $0.0 < $1.0 }
        return "{" + fields.map { ScoringConfig.quote($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    // MARK: - Codable (the same JSON as `jsonString`/`decode`)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(RawConfig.self)
        guard let kind = Kind(rawValue: raw.kind) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: ScoringConfigError.unknownKind(raw.kind).description)
        }
        self.kind = kind
        self.fittedOn = raw.fitted_on?.mapValues(\.text)
        self.calibration = nil
        self.magneto = nil
        if kind == .linear {
            guard let s = raw.scale, let o = raw.offset, let p = raw.prior else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "linear scoring needs scale, offset and prior")
            }
            self.calibration = LinearCalibration(scale: s, offset: o, prior: p)
        } else if kind == .magneto {
            guard let o = raw.offset, let p = raw.prior else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "magneto scoring needs offset and prior")
            }
            self.magneto = MagNetOOffset(offset: o, prior: p)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(RawConfig(kind: kind.rawValue, scale: calibration?.scale, offset: calibration?.offset ?? magneto?.offset,
                                       prior: calibration?.prior ?? magneto?.prior, fitted_on: fittedOn?.mapValues { ScoringConfig.isInteger($0) ? .integer(Int($0)!) : .string($0) }))
    }

    // MARK: - Helpers

    private struct RawConfig: Codable {
        var kind: String
        var scale: Double?
        var offset: Double?
        var prior: Double?
        var fitted_on: [String: Scalar]?
    }

    private enum Scalar: Codable {
        case string(String)
        case integer(Int)
        case double(Double)

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { self = .integer(i); return }
            if let d = try? c.decode(Double.self) { self = .double(d); return }
            self = .string(try c.decode(String.self))
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .string(let s): try c.encode(s)
            case .integer(let i): try c.encode(i)
            case .double(let d): try c.encode(d)
            }
        }

        var text: String {
            switch self {
            case .string(let s): return s
            case .integer(let i): return String(i)
            case .double(let d): return d.description
            }
        }
    }

    /// Decimal integer text that reads back to itself (`12`, `-3`; not `+3`, `007`, `-0`).
    static func isInteger(_ v: String) -> Bool { Int(v).map { String($0) == v } ?? false }

    static func number(_ x: Double) -> String { x.isFinite ? x.description : "null" }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let DecodingError.dataCorrupted(ctx): return ctx.debugDescription
        case let DecodingError.typeMismatch(_, ctx): return "\(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)"
        case let DecodingError.keyNotFound(key, _): return "missing key '\(key.stringValue)'"
        case let DecodingError.valueNotFound(_, ctx): return "\(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)"
        default: return String(describing: error)
        }
    }
}

/// Why a model's `spkv.scoring` metadata cannot be used.
public enum ScoringConfigError: Error, Equatable, CustomStringConvertible {
    case invalidJSON(reason: String)
    case unknownKind(String)
    /// `kind` is nil when the `kind` field itself is missing.
    case missingField(kind: String?, field: String)
    case invalidValue(field: String, value: Double, reason: String)

    public var description: String {
        switch self {
        case let .invalidJSON(reason):
            return "the model's spkv.scoring metadata is not valid scoring JSON (\(reason)); re-export or re-calibrate the model"
        case let .unknownKind(kind):
            return "the model's scoring back end '\(kind)' is unknown to this spkv (it knows "
                + ScoringConfig.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                + "); the model was made by a newer spkv: upgrade spkv"
        case let .missingField(kind, field):
            if let kind { return "the model's \(kind) scoring metadata lacks '\(field)'; re-calibrate the model" }
            return "the model's spkv.scoring metadata lacks '\(field)'; re-export or re-calibrate the model"
        case let .invalidValue(field, value, reason):
            return "the model's scoring '\(field)' is \(value) but \(reason); re-calibrate the model"
        }
    }
}
