// Helpers shared by the codec implementations; not part of the public header.
#ifndef INSPECTD_CODEC_INTERNAL_H
#define INSPECTD_CODEC_INTERNAL_H

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include "inspectd_codecs.h"

void icodec_set_status(icodec_status *status, icodec_result result, const char *message);

// A malloc'd byte buffer that doubles as it fills, for encoder output.
typedef struct icodec_growable {
    uint8_t *bytes;
    size_t count;
    size_t capacity;
} icodec_growable;

// Makes room for at least `extra` more bytes; returns 0 when out of memory.
int icodec_growable_reserve(icodec_growable *buffer, size_t extra);

#endif
