import Foundation
import SVKernels
import Testing
import _SVTestSupport

@testable import SVModels

/// Random mutations and truncations of valid files (fixed seeds): the reader must throw a
/// `ModelFileError` or return a model, never trap. Whatever parses must re-serialize and re-read to
/// the same value. The plain container layer is fuzzed too, since the CRC stops most data mutations
/// at the spkv layer before the later checks run.
@Suite("ModelFile fuzzing")
struct ModelFileFuzzTests {
    static let iterations = 3000

    enum Base: String, CaseIterable, CustomStringConvertible {
        case swiftWriter, pythonFixture
        var description: String { rawValue }

        func bytes() throws -> [UInt8] {
            switch self {
            case .swiftWriter: return try ModelFileSamples.model().serialize()
            case .pythonFixture: return try Array(Data(contentsOf: Fixtures.url(ModelFileSamples.pythonFixture)))
            }
        }
    }

    /// Bytes that steer JSON mutations towards structurally interesting headers.
    static let interesting = Array(#"{}[]",:-0123456789e.\ "#.utf8) + [0x00, 0x7F, 0x80, 0xC0, 0xFF]

    static func mutate(_ base: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = base
        let headerEnd = 8 + Int(UInt64(littleEndian: base.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        func anyIndex() -> Int { Int(rng.next() % UInt64(b.count)) }
        func headerIndex() -> Int { 8 + Int(rng.next() % UInt64(headerEnd - 8)) }
        let rounds = 1 + Int(rng.next() % 3)
        for _ in 0..<rounds where !b.isEmpty {
            switch rng.next() % 9 {
            case 0:  // flip one bit anywhere
                b[anyIndex()] ^= UInt8(1) << (rng.next() % 8)
            case 1:  // random byte anywhere
                b[anyIndex()] = UInt8(truncatingIfNeeded: rng.next())
            case 2:  // interesting byte in the header
                if headerEnd <= b.count { b[headerIndex()] = interesting[Int(rng.next() % UInt64(interesting.count))] }
            case 3:  // a digit somewhere in the header (shapes, offsets, lengths)
                if headerEnd <= b.count { b[headerIndex()] = 0x30 + UInt8(rng.next() % 10) }
            case 4:  // truncate
                b.removeLast(Int(rng.next() % UInt64(b.count + 1)))
            case 5:  // delete a byte
                b.remove(at: anyIndex())
            case 6:  // insert a byte
                b.insert(interesting[Int(rng.next() % UInt64(interesting.count))], at: anyIndex())
            case 7:  // header length field near its value or random
                let delta = rng.next() % 2 == 0 ? Int64(rng.next() % 33) - 16 : Int64(bitPattern: rng.next())
                let n = UInt64(bitPattern: Int64(headerEnd - 8) &+ delta)
                if b.count >= 8 { b.replaceSubrange(0..<8, with: ModelFileSamples.lengthPrefix(n)) }
            default:  // append garbage
                b += (0..<(1 + rng.next() % 16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
        return b
    }

    @Test("mutated files throw or parse, never crash", arguments: Base.allCases)
    func mutations(base: Base) throws {
        let original = try base.bytes()
        var rng = SplitMix64(seed: base == .swiftWriter ? 0xF022_0001 : 0xF022_0002)
        var parsedContainers = 0
        var kinds: Set<String> = []
        for _ in 0..<Self.iterations {
            let bytes = Self.mutate(original, &rng)
            do {
                let model = try ModelFile.read(bytes: bytes)
                let again = model.serialize()
                #expect(try ModelFile.read(bytes: again) == model)
            } catch {
                kinds.insert(Mirror(reflecting: error).children.first?.label ?? "\(error)")
            }
            if let container = try? SafeTensors.read(bytes: bytes) {
                parsedContainers += 1
                let again = container.serialize()
                let reread = try SafeTensors.read(bytes: again)
                #expect(reread == container)
                #expect(reread.serialize() == again)
            }
        }
        // The mutations reach both outcomes and most checks (14-15 distinct error cases with these seeds).
        #expect(parsedContainers > 0 && parsedContainers < Self.iterations)
        #expect(kinds.count >= 12, "only \(kinds.count) distinct errors: \(kinds.sorted())")
    }

    @Test("every truncation of a valid file throws")
    func truncations() throws {
        for base in Base.allCases {
            let original = try base.bytes()
            for n in 0..<original.count {
                #expect(throws: ModelFileError.self) { try ModelFile.read(bytes: Array(original[..<n])) }
            }
        }
    }

    @Test("random byte strings with a plausible length prefix throw or parse")
    func randomBytes() {
        var rng = SplitMix64(seed: 0xF022_0003)
        for _ in 0..<Self.iterations {
            let count = Int(rng.next() % 64)
            var bytes = (0..<count).map { _ in Self.interesting[Int(rng.next() % UInt64(Self.interesting.count))] }
            bytes = ModelFileSamples.lengthPrefix(UInt64(rng.next() % UInt64(count + 2))) + bytes
            _ = try? ModelFile.read(bytes: bytes)
            _ = try? SafeTensors.read(bytes: bytes)
        }
    }
}
