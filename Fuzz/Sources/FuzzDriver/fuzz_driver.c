#include "fuzz_driver.h"

// In libclang_rt.fuzzer, which -sanitize=fuzzer links.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*target)(const uint8_t *data, size_t size));

int inspectd_fuzz_main(int argc, char **argv, int (*target)(const uint8_t *data, size_t size)) {
    return LLVMFuzzerRunDriver(&argc, &argv, target);
}
