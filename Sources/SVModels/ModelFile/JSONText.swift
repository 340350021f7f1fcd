import Foundation

/// Any JSON value read with `JSONDecoder` and kept as compact text with sorted keys: the free-form provenance
/// objects inside metadata sections (e.g. how int8 scales were calibrated), shown by `spkv info`, never interpreted.
struct JSONText: Decodable, Equatable {
    let text: String

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            text = "null"
        } else if let b = try? c.decode(Bool.self) {
            text = b ? "true" : "false"
        } else if let d = try? c.decode(Double.self) {
            text = d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : "\(d)"
        } else if let s = try? c.decode(String.self) {
            text = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        } else if let a = try? c.decode([JSONText].self) {
            text = "[" + a.map(\.text).joined(separator: ",") + "]"
        } else {
            let o = try c.decode([String: JSONText].self)
            text = "{" + o.keys.sorted().map { String(decoding: try! JSONEncoder().encode($0), as: UTF8.self) + ":" + o[$0]!.text }
                .joined(separator: ",") + "}"
        }
    }
}
