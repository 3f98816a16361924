#include <string.h>

#include "jpeg_internal.h"

#include <jerror.h>

// Our own destination instead of jpeg_mem_dest, whose buffer cannot be
// freed reliably after an error part-way through compression.
typedef struct encoder {
    struct jpeg_compress_struct cinfo;
    icodec_jpeg_error error;
    struct jpeg_destination_mgr destination;
    icodec_growable output;
} encoder;

enum { chunk_size = 64 * 1024 };

static void take_chunk(j_compress_ptr cinfo) {
    encoder *context = (encoder *)cinfo; // cinfo is the first member
    if (!icodec_growable_reserve(&context->output, chunk_size)) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    context->destination.next_output_byte = context->output.bytes + context->output.count;
    context->destination.free_in_buffer = context->output.capacity - context->output.count;
}

static void init_destination(j_compress_ptr cinfo) { take_chunk(cinfo); }

// libjpeg calls this only when the whole free space has been filled.
static boolean empty_output_buffer(j_compress_ptr cinfo) {
    encoder *context = (encoder *)cinfo;
    context->output.count = context->output.capacity;
    take_chunk(cinfo);
    return TRUE;
}

static void term_destination(j_compress_ptr cinfo) {
    encoder *context = (encoder *)cinfo;
    context->output.count = context->output.capacity - context->destination.free_in_buffer;
}

int icodec_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t components,
                       icodec_jpeg_storage storage, int quality, int progressive,
                       uint8_t **out, size_t *out_size, icodec_status *status) {
    icodec_set_status(status, ICODEC_OK, "");
    *out = NULL;
    *out_size = 0;
    J_COLOR_SPACE space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : components == 4 ? JCS_CMYK : JCS_UNKNOWN;
    if (space == JCS_UNKNOWN) {
        icodec_set_status(status, ICODEC_UNSUPPORTED, "JPEG input must have 1, 3 or 4 components");
        return 0;
    }
    encoder *const context = calloc(1, sizeof *context);
    if (!context) {
        icodec_set_status(status, ICODEC_OUT_OF_MEMORY, "cannot allocate JPEG encoder");
        return 0;
    }
    struct jpeg_compress_struct *const cinfo = &context->cinfo;
    cinfo->err = icodec_jpeg_error_init(&context->error, status);
    if (setjmp(context->error.jump)) {
        jpeg_destroy_compress(cinfo);
        free(context->output.bytes);
        free(context);
        return 0;
    }
    jpeg_create_compress(cinfo);
    context->destination.init_destination = init_destination;
    context->destination.empty_output_buffer = empty_output_buffer;
    context->destination.term_destination = term_destination;
    cinfo->dest = &context->destination;

    cinfo->image_width = width;
    cinfo->image_height = height;
    cinfo->input_components = (int)components;
    cinfo->in_color_space = space;
    jpeg_set_defaults(cinfo);
    if (space == JCS_CMYK && storage == ICODEC_JPEG_STORE_YCCK) jpeg_set_colorspace(cinfo, JCS_YCCK);
    jpeg_set_quality(cinfo, quality, TRUE);
    if (progressive) jpeg_simple_progression(cinfo);

    jpeg_start_compress(cinfo, TRUE);
    const size_t stride = (size_t)width * components;
    while (cinfo->next_scanline < height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * cinfo->next_scanline);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo);
    jpeg_destroy_compress(cinfo);

    *out = context->output.bytes;
    *out_size = context->output.count;
    free(context);
    return 1;
}
