import Testing
@testable import InspectdTensor

@Suite struct TensorTests {
    @Test func stridesAreRowMajor() {
        let t = Tensor(zeros: [2, 3, 4])
        #expect(t.strides == [12, 4, 1])
        #expect(t.count == 24)
    }
}
