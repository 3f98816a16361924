// What the elementwise C kernels share. Swift compiles for baseline x86-64 (SSE2) with no runtime
// dispatch, so the hot loops are plain C that the vectoriser widens, built once per instruction set
// by target_clones (AVX-512, AVX2+FMA, baseline); the loader picks the widest the CPU has.

#ifndef INSPECTD_VECTOR_CLONES_H
#define INSPECTD_VECTOR_CLONES_H

#if defined(__x86_64__) && defined(__clang__)
#define INSPECTD_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define INSPECTD_CLONES
#endif

// Sixteen lanes of partial maxima and sums: the vectoriser widens fixed-width lane loops, while a
// single running sum or maximum would stay scalar (reassociating it is not allowed without
// fast-math). Every clone reduces in the same order, so all give the same bits.
enum { LANES = 16 };

#endif
