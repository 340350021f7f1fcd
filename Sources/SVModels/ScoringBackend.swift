import SVScoring

/// How one model compares two of its embeddings: its `spkv.scoring` metadata, checked against the
/// model (a MagNetO back end needs the magnitude network, and the network needs that back end).
/// `SpeakerModel` decodes and checks it at load (`SpeakerModel.scoring`): a file whose back end does not fit
/// its network does not load.
///
/// For cosine and linear back ends the embeddings are the encoder's; for MagNetO, `Embedder` already
/// returns `a·x̂` (the magnitude times the unit embedding), so the LLR is an inner product plus the
/// offset, as the paper's §8 notes, and enrollment profiles store the mean of such vectors.
public struct ScoringBackend: Sendable {
    public let config: ScoringConfig

    /// Decodes `json` (`spkv.scoring`) for a model that has (or has not) a magnitude network.
    public init(json: String, hasMagnitudeNetwork: Bool) throws(ScoringBackendError) {
        do { config = try ScoringConfig.decode(json: json) } catch { throw .config(error) }
        switch (config.kind, hasMagnitudeNetwork) {
        case (.magneto, false): throw .inconsistent("its scoring back end is MagNetO but it holds no magnitude network")
        case (.cosine, true), (.linear, true):
            throw .inconsistent("it holds a MagNetO magnitude network but its scoring back end is \(config.kind.rawValue)")
        default: break
        }
    }

    public var isMagNetO: Bool { config.kind == .magneto }
    public var outputsLLR: Bool { config.outputsLLR }

    /// The comparison of two embeddings of this model: the cosine, and the LLR when the model is calibrated.
    public func compare(_ a: [Float], _ b: [Float]) -> (cosine: Double, llr: Double?) {
        let cosine = Double(Cosine.similarity(a, b))
        switch config.kind {
        case .cosine: return (cosine, nil)
        case .linear: return (cosine, config.score(cosine: cosine))
        case .magneto:
            var dot = 0.0
            for i in a.indices { dot += Double(a[i]) * Double(b[i]) }
            return (cosine, dot + config.magneto!.offset)
        }
    }

    /// The score `spkv score` writes: the LLR when calibrated, else the cosine.
    public func score(_ a: [Float], _ b: [Float]) -> Double {
        let c = compare(a, b)
        return c.llr ?? c.cosine
    }
}

public enum ScoringBackendError: Error, Equatable, CustomStringConvertible {
    case config(ScoringConfigError)
    case inconsistent(String)

    public var description: String {
        switch self {
        case .config(let e): return e.description
        case .inconsistent(let why): return "the model file is inconsistent: \(why); re-export it"
        }
    }
}
