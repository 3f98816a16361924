#ifndef INSPECTD_FUZZ_DRIVER_H
#define INSPECTD_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's command line (corpus folders, -max_total_time, -runs, ...) run on one target.
// SwiftPM renames an executable's main, so a harness cannot leave main to libFuzzer; its main
// calls this instead.
int inspectd_fuzz_main(int argc, char **argv, int (*target)(const uint8_t *data, size_t size));

#endif
