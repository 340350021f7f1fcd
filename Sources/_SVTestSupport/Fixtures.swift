import Foundation

/// Locates the committed test fixtures (audio, golden vectors, tiny models).
public enum Fixtures {
    /// The fixture folder inside this target's resource bundle.
    public static var directory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures", isDirectory: true)
    }

    public static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }
    public static func path(_ name: String) -> String { url(name).path }
}

/// A fresh temporary directory for one test; removed by the caller with `remove()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL
    public init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("spkv-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Largest absolute difference between two equally long sequences; NaN when either holds a NaN.
public func maxAbsDifference<T: FloatingPoint, A: Collection<T>, B: Collection<T>>(_ a: A, _ b: B) -> T {
    precondition(a.count == b.count, "maxAbsDifference: lengths \(a.count) and \(b.count) differ")
    // NaN on either side is the largest difference of all: `max` would drop it and the check would pass.
    var worst: T = 0
    for (x, y) in zip(a, b) {
        let d = abs(x - y)
        if d.isNaN { return .nan }
        worst = max(worst, d)
    }
    return worst
}

/// Cosine similarity in Double, for parity checks.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in a.indices { dot += Double(a[i]) * Double(b[i]); na += Double(a[i]) * Double(a[i]); nb += Double(b[i]) * Double(b[i]) }
    return dot / (na.squareRoot() * nb.squareRoot())
}
