// What the elementwise C kernels share. Swift compiles for baseline x86-64 (SSE2) with no runtime
// dispatch, so the hot loops are plain C that the vectoriser widens, built once per instruction set
// by target_clones (AVX-512, AVX2+FMA, baseline); the loader picks the widest the CPU has.

#ifndef INSPECTD_VECTOR_CLONES_H
#define INSPECTD_VECTOR_CLONES_H

// INSPECTD_FLOAT_AVX2 (a benchmark build: `-Xcc -DINSPECTD_FLOAT_AVX2`) keeps every float kernel on
// AVX2+FMA even where AVX-512 runs, so that the int8 AVX2 path can be compared with the float
// kernels an AVX2 CPU would run.
#if defined(__x86_64__) && defined(__clang__) && defined(INSPECTD_FLOAT_AVX2)
#define INSPECTD_CLONES __attribute__((target("arch=haswell")))
#elif defined(__x86_64__) && defined(__clang__)
#define INSPECTD_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define INSPECTD_CLONES
#endif

// Sixteen lanes of partial maxima and sums: the vectoriser widens fixed-width lane loops, while a
// single running sum or maximum would stay scalar (reassociating it is not allowed without
// fast-math). Every clone reduces in the same order, so all give the same bits.
enum { LANES = 16 };

#endif
