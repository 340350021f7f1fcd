import Testing
@testable import SVAutograd

@Suite struct TensorTests {
    @Test func zerosHaveTheShapesCount() {
        let t = Tensor(zeros: [2, 3, 4])
        #expect(t.count == 24 && t.values.allSatisfy { $0 == 0 })
    }
}
