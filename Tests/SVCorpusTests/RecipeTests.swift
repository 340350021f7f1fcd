import Foundation
import Testing
@testable import SVCorpus

@Suite struct RecipeTests {
    let options = CorpusOptions(speakers: 40, devSpeakers: 6, recordings: 3, utterances: 2, seed: 11)

    @Test func sameSeedSameDraws() {
        let a = CorpusRecipe(options: options, languages: TextSource.builtIn.espeakLanguages)
        let b = CorpusRecipe(options: options, languages: TextSource.builtIn.espeakLanguages)
        #expect(a.allSpeakers == b.allSpeakers)
        #expect(a.allRecordings == b.allRecordings)
        var other = options
        other.seed = 12
        let c = CorpusRecipe(options: other, languages: TextSource.builtIn.espeakLanguages)
        #expect(c.train.map(\.voice) != a.train.map(\.voice))
    }

    @Test func streamsAreKeyedNotOrdered() {
        var a = CorpusRandom(seed: 5, "text", 0, 3, 1, 2)
        var b = CorpusRandom(seed: 5, "text", 0, 3, 1, 2)
        var c = CorpusRandom(seed: 5, "text", 0, 3, 2, 1)
        var d = CorpusRandom(seed: 5, "noise", 0, 3, 1, 2)
        let x = a.next()
        #expect(x == b.next())
        #expect(x != c.next())
        #expect(x != d.next())
    }

    @Test func devSpeakersAreNotTrainingSpeakers() {
        let recipe = CorpusRecipe(options: options, languages: ["en-us"])
        let train = Set(recipe.train.map(\.id)), dev = Set(recipe.dev.map(\.id))
        #expect(train.isDisjoint(with: dev))
        for d in recipe.dev { #expect(!recipe.train.contains { $0.voice == d.voice }) }
    }

    @Test func espeakVariantFollowsTheRecipe() {
        for i in 0..<200 {
            var r = CorpusRandom(seed: 3, "voice", 0, i)
            let v = EspeakVoice.draw(&r, languages: EspeakVoice.englishVariants)
            #expect(v.formants.count == 6)
            #expect(v.pitchTop - v.pitchBase >= 40 && v.pitchTop - v.pitchBase <= 200)
            #expect((135...195).contains(v.wordsPerMinute))
            #expect((0...30).contains(v.flutter) && (0...5).contains(v.roughness))
            #expect(v.klatt.map { (1...4).contains($0) } ?? true)
            #expect(v.formants.allSatisfy { (60...140).contains($0.height) && (70...170).contains($0.width) })
            let file = v.variantFile(name: "cur", pitchFactor: 1)
            #expect(file.hasPrefix("language variant\nname cur\n"))
            #expect(file.contains("pitch \(v.pitchBase) \(v.pitchTop)\n"))
        }
    }

    @Test func fliteSpeakersAreCappedPerBaseVoice() {
        let many = CorpusOptions(speakers: 600, devSpeakers: 0, recordings: 1, utterances: 1, seed: 2)
        let recipe = CorpusRecipe(options: many, languages: ["en-us"])
        let flite = recipe.train.compactMap(\.voice.flite)
        #expect(flite.count > 0)
        for base in FliteVoice.baseVoices { #expect(flite.filter { $0.base == base }.count <= FliteVoice.maxPerBase) }
        let espeakOnly = CorpusRecipe(options: CorpusOptions(speakers: 100, devSpeakers: 0, recordings: 1, utterances: 1,
                                                             seed: 2, engines: [.espeakNG]), languages: ["en-us"])
        #expect(espeakOnly.train.allSatisfy { $0.voice.engine == .espeakNG })
    }

    @Test func channelDrawsStayInTheirRanges() {
        var rooms = 0, codecs = Set<Codec>(), noises = Set<NoiseType>()
        for i in 0..<400 {
            var r = CorpusRandom(seed: 9, "recording", 0, i, 0)
            let c = ChannelChain.draw(&r, trainingSpeakers: 10, exclude: 3)
            if let room = c.room {
                rooms += 1
                #expect(room.rt60 >= 0.15 && room.rt60 <= 1.0)
                #expect(room.distance <= 3.01)
                for a in 0..<3 { #expect(room.source[a] >= 0.5 - 1e-9 && room.source[a] <= room.dimensions[a] - 0.5 + 1e-9) }
            }
            #expect(c.snrDB >= 0 && c.snrDB <= 30)
            #expect(ChannelChain.highpassChoices.contains(c.highpassHz) && ChannelChain.lowpassChoices.contains(c.lowpassHz))
            #expect(c.eq.count <= 3 && c.eq.allSatisfy { abs($0.gainDB) <= 8 })
            #expect(c.gainDB >= -20 && c.gainDB <= 0)
            if let b = c.babbleSpeakers { #expect((3...6).contains(b.count) && !b.contains(3) && Set(b).count == b.count) }
            codecs.insert(c.codec); noises.insert(c.noise)
            var u = CorpusRandom(seed: 9, "utt", i)
            #expect(abs(c.utteranceSNR(&u) - c.snrDB) <= 1.0 + 1e-9)
        }
        #expect(rooms > 280 && rooms < 360)  // 80 % reverberant
        #expect(codecs == Set(Codec.allCases))
        #expect(noises == Set(NoiseType.allCases))
    }

    @Test func mildRecordingsChangeOnlyTheirChannel() {
        let base = CorpusRecipe(options: options, languages: ["en-us"])
        var zero = options
        zero.mildFraction = 0
        #expect(CorpusRecipe(options: zero, languages: ["en-us"]).allRecordings == base.allRecordings)
        var all = options
        all.mildFraction = 1
        let mild = CorpusRecipe(options: all, languages: ["en-us"]).allRecordings
        #expect(mild.allSatisfy { $0.channel.codec == .none && $0.channel.snrDB >= 20 && $0.channel.mild == true })
        #expect(zip(mild, base.allRecordings).allSatisfy { $0.channel.room == $1.channel.room && $0.jitter == $1.jitter })
        #expect(throws: CorpusError.self) { try CorpusOptions(speakers: 2, devSpeakers: 2, recordings: 2, utterances: 1, seed: 1, mildFraction: 2).validate() }
    }

    @Test func optionsAreValidated() {
        #expect(throws: CorpusError.self) { try CorpusOptions(speakers: 0, devSpeakers: 2, recordings: 2, utterances: 1, seed: 1).validate() }
        #expect(throws: CorpusError.self) { try CorpusOptions(speakers: 2, devSpeakers: 1, recordings: 2, utterances: 1, seed: 1).validate() }
        #expect(throws: CorpusError.self) { try CorpusOptions(speakers: 2, devSpeakers: 2, recordings: 1, utterances: 1, seed: 1).validate() }
        #expect(throws: Never.self) { try CorpusOptions(speakers: 2, devSpeakers: 2, recordings: 2, utterances: 1, seed: 1).validate() }
    }

    @Test func fortunesAreCutIntoCleanSentences() {
        let text = "Hello there my friend. How are you today?\n\t\t-- Somebody\n%\nA <b>tag</b> here is bad.\n%\nshort.\n"
        let s = TextSource.sentences(fromFortunes: text, asciiOnly: true)
        #expect(s == ["Hello there my friend.", "How are you today?"])
        var r = CorpusRandom(seed: 1, "t")
        let t = TextSource.builtIn.text(language: "en-us", minWords: 20, &r)
        #expect(t.split(separator: " ").count >= 20)
    }
}
