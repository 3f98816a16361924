// glibc's malloc tuning for the engine's allocation pattern. Swift cannot see <malloc.h>, so the
// two calls live here.

#include "inspectd_kernels.h"

#include <limits.h>
#include <malloc.h>

void inspectd_keep_freed_memory(void) {
#ifdef __GLIBC__
    // 32 MiB is the largest threshold glibc accepts; anything below it now comes from the heap.
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

void inspectd_release_freed_memory(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}
