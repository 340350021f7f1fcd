/// Cosine scoring of speaker embeddings, the back end every model file supports.
public enum Cosine {
    /// Cosine similarity of two equally long vectors, accumulated in Double; 0 when either is zero.
    public static func similarity(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        precondition(a.count == b.count, "cosine: lengths \(a.count) and \(b.count) differ")
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in 0..<a.count {
            let x = Double(a[i]), y = Double(b[i])
            dot += x * y; na += x * x; nb += y * y
        }
        guard na > 0, nb > 0 else { return 0 }
        return Float(min(1, max(-1, dot / (na.squareRoot() * nb.squareRoot()))))
    }

    public static func similarity(_ a: [Float], _ b: [Float]) -> Float {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in similarity(pa, pb) } }
    }

    /// `v / ‖v‖`; a zero vector stays zero.
    public static func normalized(_ v: [Float]) -> [Float] {
        let norm = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 0 else { return v }
        return v.map { Float(Double($0) / norm) }
    }
}
