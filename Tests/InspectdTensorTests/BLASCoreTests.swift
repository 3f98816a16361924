import Testing
@testable import InspectdTensor

@Suite struct BLASCoreTests {
    static let avx512 = BLASCore.cpuFlags(cpuinfo: """
        processor\t: 0
        model\t\t: 207
        flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl hypervisor
        processor\t: 1
        flags\t\t: fpu sse

        """)

    @Test func readsTheFirstProcessorsFlags() {
        #expect(Self.avx512.contains("avx512vl"))
        #expect(Self.avx512.contains("fpu"))
        #expect(!Self.avx512.contains("207"))
        #expect(BLASCore.cpuFlags(cpuinfo: "processor\t: 0\n").isEmpty)
    }

    @Test func asksForTheWidestKernelsTheCPUCanRunWhenOpenBLASFellBack() {
        #expect(BLASCore.better(current: "prescott", cpuFlags: Self.avx512, userChoice: nil) == "SKYLAKEX")
        #expect(BLASCore.better(current: "prescott", cpuFlags: ["avx", "avx2", "fma"], userChoice: nil) == "HASWELL")
        // AVX-512 without the BW/DQ/VL parts (Knights Landing) is not what the SkylakeX kernels need.
        #expect(BLASCore.better(current: "prescott", cpuFlags: ["avx2", "fma", "avx512f"], userChoice: nil) == "HASWELL")
    }

    @Test func leavesAGoodOrUserChosenCoreAlone() {
        #expect(BLASCore.better(current: "skylakex", cpuFlags: Self.avx512, userChoice: nil) == nil)
        #expect(BLASCore.better(current: "haswell", cpuFlags: Self.avx512, userChoice: nil) == nil)
        #expect(BLASCore.better(current: "prescott", cpuFlags: Self.avx512, userChoice: "Prescott") == nil)
        #expect(BLASCore.better(current: "prescott", cpuFlags: ["sse2", "avx"], userChoice: nil) == nil)
    }

    @Test func namesTheRunningKernelSet() {
        #expect(!BLASCore.current.isEmpty)
        #expect(BLASCore.current == BLASCore.current.lowercased())
    }
}
