#include <string.h>

#include "codec_internal.h"

void icodec_set_status(icodec_status *status, icodec_result result, const char *message) {
    status->result = result;
    snprintf(status->message, sizeof status->message, "%s", message);
}

int icodec_growable_reserve(icodec_growable *buffer, size_t extra) {
    if (buffer->capacity - buffer->count >= extra) return 1;
    size_t capacity = buffer->capacity ? buffer->capacity : 64 * 1024;
    while (capacity - buffer->count < extra) capacity *= 2;
    uint8_t *bytes = realloc(buffer->bytes, capacity);
    if (!bytes) return 0;
    buffer->bytes = bytes;
    buffer->capacity = capacity;
    return 1;
}

void icodec_free(void *buffer) { free(buffer); }
