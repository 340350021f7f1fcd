import Foundation
import Testing
import SVKernels
@testable import SVStreaming

@Suite struct SPSCRingBufferTests {
    @Test func keepsOrderAcrossWrapAround() {
        let ring = SPSCRingBuffer(capacity: 7)
        var next: Float = 0, expected: Float = 0
        var rng = SplitMix64(seed: 11)
        for _ in 0..<500 {
            let chunk = (0..<Int(rng.next() % 5)).map { _ -> Float in next += 1; return next }
            let stored = chunk.withUnsafeBufferPointer { ring.write($0) }
            next -= Float(chunk.count - stored)           // what did not fit is offered again later
            var out = [Float](repeating: 0, count: Int(rng.next() % 6))
            let got = out.withUnsafeMutableBufferPointer { ring.read(into: $0) }
            for v in out.prefix(got) { expected += 1; #expect(v == expected) }
        }
    }

    @Test func fullBufferRefusesWhatDoesNotFit() {
        let ring = SPSCRingBuffer(capacity: 4)
        let stored = [Float](repeating: 1, count: 6).withUnsafeBufferPointer { ring.write($0) }
        #expect(stored == 4 && ring.available == 4)
        var out = [Float](repeating: 0, count: 10)
        #expect(out.withUnsafeMutableBufferPointer { ring.read(into: $0) } == 4)
        #expect(ring.available == 0)
    }

    @Test func producerAndConsumerThreadsAgree() async {
        let ring = SPSCRingBuffer(capacity: 64), total = 200_000
        let producer = Thread {
            var v: Float = 0
            var chunk = [Float](repeating: 0, count: 37)
            while v < Float(total) {
                for i in chunk.indices { chunk[i] = v + Float(i) + 1 }
                let count = min(37, total - Int(v))
                let n = chunk.withUnsafeBufferPointer { ring.write(UnsafeBufferPointer(rebasing: $0[0..<count])) }
                v += Float(n)
            }
        }
        producer.start()
        var expected: Float = 0, mismatches = 0
        var out = [Float](repeating: 0, count: 50)
        while expected < Float(total) {
            let got = out.withUnsafeMutableBufferPointer { ring.read(into: $0) }
            for v in out.prefix(got) { expected += 1; if v != expected { mismatches += 1 } }
            if got == 0 { await Task.yield() }
        }
        #expect(mismatches == 0)
    }
}
