import Foundation
import SVModels
import Testing
import _SVTestSupport
@testable import SpeakerVerification

/// `spkv score --embeddings`: a cached embedding is used only when its table's CRC-32, its length
/// (the model's embedding size) and its values (all finite) check out; otherwise the cache is an
/// error naming the file, never a trap later in scoring.
@Suite struct EmbeddingCacheTests {
    static let checksum = "0badc0de"
    static let clips = ["speech_a_3s", "speech_b_8s"].map { Fixtures.path("speech/\($0).wav") }

    /// A cache of this model checksum with one `dimension`-long row per clip.
    static func cache(checksum: String = checksum, dimension: Int, value: Float = 0.5) throws -> EmbeddingCache {
        var cache = EmbeddingCache(modelChecksum: checksum)
        for (i, clip) in clips.enumerated() {
            cache[try #require(EmbeddingCache.Key.current(path: clip))] = (0..<dimension).map { Float(i) + Float($0) * value }
        }
        return cache
    }

    /// Offset of the tensor data in a safetensors file (after the u64 header length and the header).
    static func dataStart(_ bytes: [UInt8]) -> Int { 8 + (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) } }

    @Test func roundTripStoresTheTableCRCAndDimension() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("cache.safetensors")
        let written = try Self.cache(dimension: 4)
        try written.write(path: path)
        let index = try JSONDecoder().decode(EmbeddingCache.Index.self,
                                             from: Data(try #require(SafeTensors.read(path: path).metadata[EmbeddingCache.metadataKey]).utf8))
        #expect(index.version == EmbeddingCache.formatVersion && index.dimension == 4)
        let table = try #require(SafeTensors.read(path: path).tensors[EmbeddingCache.tensorName])
        #expect(index.crc32 == CRC32.hex(CRC32.checksum(table.bytes)))
        #expect(try EmbeddingCache.read(path: path, modelChecksum: Self.checksum, embeddingDimension: 4).entries == written.entries)
    }

    @Test func aCacheOfAnotherEmbeddingSizeIsAnErrorNamingTheFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("cache.safetensors")
        try Self.cache(dimension: 4).write(path: path)
        let expected = EmbeddingCacheError.dimensionMismatch(path: path, cacheDimension: 4, modelDimension: 32)
        #expect(throws: expected) { try EmbeddingCache.read(path: path, modelChecksum: Self.checksum, embeddingDimension: 32) }
        #expect(expected.description.contains(path) && expected.description.contains("delete"))
    }

    /// What used to trap in `Cosine.similarity`: the model's own checksum, rows of another length for
    /// every trial file, and an AS-norm cohort of the model's length to compare them with.
    @Test func trialScoringReportsAWrongSizeCacheInsteadOfTrapping() throws {
        let model = try VerificationBackEndTests.model()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("cache.safetensors")
        try Self.cache(checksum: model.checksum, dimension: model.embeddingSize + 1).write(path: path)
        var scorer = TrialScoring(model: model)
        scorer.cachePath = path
        scorer.cohortEmbeddings = (0..<3).map { i in (0..<model.embeddingSize).map { Float(($0 + i) % 5) - 2 } }
        scorer.cohortTopN = 2
        let trials = try TrialList.parse("1 \(Self.clips[0]) \(Self.clips[1])\n", source: "t")
        #expect(throws: TrialScoringError.cache(.dimensionMismatch(path: path, cacheDimension: model.embeddingSize + 1,
                                                                    modelDimension: model.embeddingSize))) {
            try scorer.score(trials)
        }
    }

    @Test func aFlippedByteInTheTableIsACRCError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("cache.safetensors")
        try Self.cache(dimension: 4).write(path: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[Self.dataStart(bytes) + 5] ^= 0x40  // a mantissa bit of the second value: still finite
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try EmbeddingCache.read(path: path, modelChecksum: Self.checksum, embeddingDimension: 4)
            Issue.record("a damaged table was read")
        } catch {
            guard case .checksumMismatch(path, let stored, let computed) = error else { Issue.record("\(error)"); return }
            #expect(stored != computed)
            #expect(error.description.contains(path) && error.description.contains("CRC-32"))
        }
    }

    @Test func nonFiniteValuesAreRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("cache.safetensors")
        var cache = try Self.cache(dimension: 4)
        let key = try #require(EmbeddingCache.Key.current(path: Self.clips[1]))
        cache[key] = [0, .nan, 0, 0]
        try cache.write(path: path)
        #expect(throws: EmbeddingCacheError.nonFiniteEmbedding(path: path, audio: Self.clips[1])) {
            try EmbeddingCache.read(path: path, modelChecksum: Self.checksum, embeddingDimension: 4)
        }
    }

    /// Caches written before the CRC (no `version` in the index) are refused with a hint to delete them.
    @Test func anOlderCacheWithoutACRCIsRefusedWithAHintToDeleteIt() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("cache.safetensors")
        let key = try #require(EmbeddingCache.Key.current(path: Self.clips[0]))
        let keyJSON = String(decoding: try JSONEncoder().encode([key]), as: UTF8.self)
        let index = #"{"dimension":4,"keys":"# + keyJSON + #","modelChecksum":"0badc0de"}"#
        let table = try StoredTensor(name: EmbeddingCache.tensorName, shape: [1, 4], floats: [1, 0, 0, 0])
        try SafeTensors(metadata: [EmbeddingCache.metadataKey: index], tensors: [table]).write(path: path)
        let expected = EmbeddingCacheError.unsupportedFormat(path: path, version: 1)
        #expect(throws: expected) { try EmbeddingCache.read(path: path, modelChecksum: Self.checksum, embeddingDimension: 4) }
        #expect(expected.description.contains(path) && expected.description.contains("delete it"))
    }
}
