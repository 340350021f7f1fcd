import Foundation
import SVKernels
import Testing
@testable import SVScoring

@Suite struct ScoringConfigTests {
    @Test func cosineJSON() throws {
        #expect(ScoringConfig.cosine.jsonString() == #"{"kind":"cosine"}"#)
        let c = try ScoringConfig.decode(json: #" { "kind" : "cosine" } "#)
        #expect(c == .cosine && !c.outputsLLR && c.score(cosine: 0.25) == 0.25)
    }

    @Test func linearJSONIsSortedAndRoundTrips() throws {
        let config = ScoringConfig.linear(LinearCalibration(scale: 12.5, offset: -3.25, prior: 0.01),
                                          fittedOn: ["targets": "1200", "nontargets": "40000", "source": "cal \"set\"/a.txt"])
        let json = config.jsonString()
        #expect(json == #"{"fitted_on":{"nontargets":40000,"source":"cal \"set\"/a.txt","targets":1200},"kind":"linear","offset":-3.25,"prior":0.01,"scale":12.5}"#)
        let back = try ScoringConfig.decode(json: json)
        #expect(back == config && back.outputsLLR && back.jsonString() == json)
        #expect(back.score(cosine: 0.5) == 12.5 * 0.5 - 3.25)
        // Codable gives the same object
        let viaCodable = try JSONDecoder().decode(ScoringConfig.self, from: JSONEncoder().encode(config))
        #expect(viaCodable == config)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomParametersRoundTripBitExactly(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<200 {
            var x: [Double] = []
            while x.count < 2 {
                let v = Double(bitPattern: rng.next())
                if v.isFinite { x.append(v) }
            }
            let prior = max(Double.leastNonzeroMagnitude, Double(rng.next() >> 11) / Double(1 << 53))
            let config = ScoringConfig.linear(LinearCalibration(scale: x[0], offset: x[1], prior: prior))
            let back = try ScoringConfig.decode(json: config.jsonString())
            #expect(back.calibration!.scale.bitPattern == x[0].bitPattern)
            #expect(back.calibration!.offset.bitPattern == x[1].bitPattern)
            #expect(back.calibration!.prior.bitPattern == prior.bitPattern)
        }
    }

    @Test func magnetoJSONRoundTrips() throws {
        let c = ScoringConfig.magneto(offset: -7.25, prior: 0.01, fittedOn: ["labels": "speakers", "pairs": "1200"])
        #expect(c.jsonString() == #"{"fitted_on":{"labels":"speakers","pairs":1200},"kind":"magneto","offset":-7.25,"prior":0.01}"#)
        let back = try ScoringConfig.decode(json: c.jsonString())
        #expect(back == c && back.outputsLLR && back.prior == 0.01)
        #expect(try JSONDecoder().decode(ScoringConfig.self, from: JSONEncoder().encode(c)) == c)
        #expect(c.score(cosine: 0.5, magnitudes: (2, 3)) == 3 - 7.25)
    }

    @Test func fittedOnAcceptsNumbersAndStrings() throws {
        let c = try ScoringConfig.decode(
            json: #"{"kind":"linear","scale":2,"offset":0,"prior":0.5,"fitted_on":{"targets":10,"ratio":0.5,"id":"007"},"extra":[1]}"#)
        #expect(c.fittedOn == ["targets": "10", "ratio": "0.5", "id": "007"])
        #expect(c.jsonString().contains(#""id":"007""#) && c.jsonString().contains(#""targets":10"#))
    }

    @Test func errors() {
        #expect(throws: ScoringConfigError.unknownKind("plda")) { try ScoringConfig.decode(json: #"{"kind":"plda"}"#) }
        #expect(ScoringConfigError.unknownKind("plda").description.contains("upgrade spkv"))
        #expect(throws: ScoringConfigError.missingField(kind: "magneto", field: "offset")) { try ScoringConfig.decode(json: #"{"kind":"magneto"}"#) }
        #expect(throws: ScoringConfigError.missingField(kind: "magneto", field: "prior")) {
            try ScoringConfig.decode(json: #"{"kind":"magneto","offset":1}"#)
        }
        #expect(throws: ScoringConfigError.missingField(kind: nil, field: "kind")) { try ScoringConfig.decode(json: "{}") }
        #expect(throws: ScoringConfigError.missingField(kind: "linear", field: "scale")) {
            try ScoringConfig.decode(json: #"{"kind":"linear","offset":0,"prior":0.5}"#)
        }
        #expect(throws: ScoringConfigError.missingField(kind: "linear", field: "prior")) {
            try ScoringConfig.decode(json: #"{"kind":"linear","offset":0,"scale":1}"#)
        }
        #expect(throws: ScoringConfigError.invalidValue(field: "prior", value: 1, reason: "must be strictly between 0 and 1")) {
            try ScoringConfig.decode(json: #"{"kind":"linear","offset":0,"scale":1,"prior":1}"#)
        }
        for bad in ["", "not json", #"{"kind":3}"#, #"{"kind":"linear","scale":"1","offset":0,"prior":0.5}"#, "[]",
                    #"{"kind":"linear","scale":null,"offset":0,"prior":0.5}"#] {
            #expect(throws: ScoringConfigError.self, "\(bad)") { try ScoringConfig.decode(json: bad) }
        }
        // a non-finite parameter is written as null, which decode rejects
        let broken = ScoringConfig.linear(LinearCalibration(scale: .nan, offset: 0, prior: 0.5))
        #expect(throws: ScoringConfigError.self) { try ScoringConfig.decode(json: broken.jsonString()) }
    }
}
