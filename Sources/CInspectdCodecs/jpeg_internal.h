#ifndef INSPECTD_JPEG_INTERNAL_H
#define INSPECTD_JPEG_INTERNAL_H

#include "codec_internal.h"

#include <jpeglib.h>

// libjpeg's default error manager prints and calls exit(); this one records
// the message in `status` and longjmps to `jump`, which each entry point
// arms with setjmp before calling into libjpeg.
typedef struct icodec_jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    icodec_status *status;
    // Set once the headers are read: stray bytes found after that point are
    // the tail of a scan that lost its way, not harmless padding.
    int in_image_data;
} icodec_jpeg_error;

struct jpeg_error_mgr *icodec_jpeg_error_init(icodec_jpeg_error *error, icodec_status *status);

#endif
