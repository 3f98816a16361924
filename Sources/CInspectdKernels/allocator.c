// glibc's malloc tuned for the engine's allocation pattern: every op returns a fresh tensor of a
// size the same op asked for a moment ago. By default glibc maps large blocks anew and unmaps them
// on free, and gives each thread its own arena, whose heaps it deletes as soon as they empty (the
// trim threshold does not cover that); either way the next step's tensors come back as pages the
// kernel must fault in and zero, a tenth of a training step (measured with perf). Swift cannot see
// <malloc.h>, so the calls live here.

#include "inspectd_kernels.h"

#include <limits.h>
#include <malloc.h>

#ifdef __GLIBC__
// Before main, so before any thread has taken an arena of its own: the arena limit only steers
// threads that have not allocated yet.
__attribute__((constructor)) static void inspectd_tune_malloc(void) {
    mallopt(M_ARENA_MAX, 1);
    // 32 MiB is the largest threshold glibc accepts; anything below it now comes from the heap.
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
}
#endif

void inspectd_release_freed_memory(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}
