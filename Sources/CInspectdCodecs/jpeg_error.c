#include <string.h>

#include "jpeg_internal.h"

#include <jerror.h>

static void fail(j_common_ptr cinfo, icodec_result result) {
    icodec_jpeg_error *error = (icodec_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, text);
    // The caller already says the data is corrupt; don't say it twice.
    const char *prefix = "Corrupt JPEG data: ";
    const char *message = strncmp(text, prefix, strlen(prefix)) == 0 ? text + strlen(prefix) : text;
    icodec_set_status(error->status, result, message);
    longjmp(error->jump, 1);
}

static void on_error_exit(j_common_ptr cinfo) {
    switch (cinfo->err->msg_code) {
    case JERR_INPUT_EMPTY:
    case JERR_INPUT_EOF:
        fail(cinfo, ICODEC_TRUNCATED);
        break;
    case JERR_OUT_OF_MEMORY:
        fail(cinfo, ICODEC_OUT_OF_MEMORY);
        break;
    case JERR_CONVERSION_NOTIMPL:
    case JERR_NOT_COMPILED:
        fail(cinfo, ICODEC_UNSUPPORTED);
        break;
    default:
        fail(cinfo, ICODEC_CORRUPT);
    }
}

// libjpeg only warns about data that ends early or fails to decode, then
// fills the rest of the image with grey. A half-written camera frame must not
// be scored as if it were complete, so those warnings are errors here.
// Other warnings (unknown JFIF revision, stray bytes between header markers)
// leave the pixels intact and are ignored.
static void on_emit_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return; // trace output, not a warning
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
        fail(cinfo, ICODEC_TRUNCATED);
        break;
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_BOGUS_PROGRESSION:
        fail(cinfo, ICODEC_CORRUPT);
        break;
    case JWRN_EXTRANEOUS_DATA:
        if (((icodec_jpeg_error *)cinfo->err)->in_image_data) fail(cinfo, ICODEC_CORRUPT);
        cinfo->err->num_warnings++;
        break;
    default:
        cinfo->err->num_warnings++;
    }
}

struct jpeg_error_mgr *icodec_jpeg_error_init(icodec_jpeg_error *error, icodec_status *status) {
    struct jpeg_error_mgr *manager = jpeg_std_error(&error->manager);
    manager->error_exit = on_error_exit;
    manager->emit_message = on_emit_message;
    error->status = status;
    error->in_image_data = 0;
    return manager;
}
