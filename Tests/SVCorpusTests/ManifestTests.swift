import Foundation
import Testing
@testable import SVCorpus

@Suite struct ManifestTests {
    @Test func utteranceRoundTripsThroughJSON() throws {
        let u = CorpusUtterance(id: "u1", speaker: "s1", recording: "r1", path: "s1/r1/u1.wav")
        #expect(try JSONDecoder().decode(CorpusUtterance.self, from: JSONEncoder().encode(u)) == u)
    }
}
