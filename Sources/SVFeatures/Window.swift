import Foundation

extension WindowKind {
    /// The window of `length` samples, computed in Double and rounded once.
    /// Periodic uses the denominator D = length (torch default), symmetric D = length − 1 (Kaldi).
    public func values(length: Int, periodic: Bool) -> [Float] {
        precondition(length >= 1, "window length must be positive")
        let denominator = Double(periodic ? length : length - 1)
        return (0..<length).map { n in
            let phase = denominator > 0 ? 2 * Double.pi * Double(n) / denominator : 0
            switch self {
            case .hamming: return Float(0.54 - 0.46 * cos(phase))
            case .hann: return Float(0.5 - 0.5 * cos(phase))
            case .povey: return Float(pow(0.5 - 0.5 * cos(phase), 0.85))
            case .rectangular: return 1
            }
        }
    }
}
