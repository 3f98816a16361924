#include <string.h>

#include "codec_internal.h"

#include <png.h>

typedef struct encoder {
    icodec_growable output;
    png_bytep *rows;
    icodec_status *status;
    int out_of_memory;
} encoder;

static void on_error(png_structp png, png_const_charp message) {
    encoder *context = png_get_error_ptr(png);
    icodec_set_status(context->status, context->out_of_memory ? ICODEC_OUT_OF_MEMORY : ICODEC_CORRUPT, message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void write_to_memory(png_structp png, png_bytep bytes, size_t count) {
    encoder *context = png_get_io_ptr(png);
    if (!icodec_growable_reserve(&context->output, count)) {
        context->out_of_memory = 1;
        png_error(png, "cannot grow the PNG output buffer");
    }
    memcpy(context->output.bytes + context->output.count, bytes, count);
    context->output.count += count;
}

static void flush_memory(png_structp png) { (void)png; }

int icodec_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t channels,
                      int compression_level, uint8_t **out, size_t *out_size, icodec_status *status) {
    icodec_set_status(status, ICODEC_OK, "");
    *out = NULL;
    *out_size = 0;
    const int color_type = channels == 1 ? PNG_COLOR_TYPE_GRAY
                         : channels == 3 ? PNG_COLOR_TYPE_RGB
                         : channels == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : -1;
    if (color_type < 0) {
        icodec_set_status(status, ICODEC_UNSUPPORTED, "PNG input must have 1, 3 or 4 channels");
        return 0;
    }
    encoder *const context = calloc(1, sizeof *context);
    png_structp png = NULL;
    png_infop info = NULL;
    if (context) {
        context->status = status;
        context->rows = malloc(sizeof(png_bytep) * (height ? height : 1));
        png = png_create_write_struct(PNG_LIBPNG_VER_STRING, context, on_error, on_warning);
        if (png) info = png_create_info_struct(png);
    }
    if (!context || !context->rows || !info) {
        icodec_set_status(status, ICODEC_OUT_OF_MEMORY, "cannot allocate PNG encoder");
        png_destroy_write_struct(&png, &info);
        if (context) free(context->rows);
        free(context);
        return 0;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(context->rows);
        free(context->output.bytes);
        free(context);
        return 0;
    }
    png_set_write_fn(png, context, write_to_memory, flush_memory);
    png_set_IHDR(png, info, width, height, 8, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, compression_level);
    png_write_info(png, info);
    const size_t stride = (size_t)width * channels;
    for (uint32_t y = 0; y < height; y++) context->rows[y] = (png_bytep)(pixels + stride * y);
    png_write_image(png, context->rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);

    *out = context->output.bytes;
    *out_size = context->output.count;
    free(context->rows);
    free(context);
    return 1;
}
