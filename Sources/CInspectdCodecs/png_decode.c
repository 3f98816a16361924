#include <string.h>

#include "codec_internal.h"

#include <png.h>

struct icodec_png_decoder {
    png_structp png;
    png_infop info;
    const uint8_t *data;
    size_t size;
    size_t offset;
    int ran_out; // the read callback hit the end of the data
    png_bytep *rows;
    icodec_status *status;
};

static void on_error(png_structp png, png_const_charp message) {
    icodec_png_decoder *decoder = png_get_error_ptr(png);
    icodec_set_status(decoder->status, decoder->ran_out ? ICODEC_TRUNCATED : ICODEC_CORRUPT, message);
    png_longjmp(png, 1);
}

// Warnings concern ancillary chunks (bad CRC, odd colour profiles) that are
// dropped without affecting the pixels.
static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void read_from_memory(png_structp png, png_bytep out, size_t count) {
    icodec_png_decoder *decoder = png_get_io_ptr(png);
    if (count > decoder->size - decoder->offset) {
        decoder->ran_out = 1;
        png_error(png, "unexpected end of PNG data");
    }
    memcpy(out, decoder->data + decoder->offset, count);
    decoder->offset += count;
}

static void destroy(icodec_png_decoder *decoder) {
    png_destroy_read_struct(&decoder->png, decoder->info ? &decoder->info : NULL, NULL);
    free(decoder->rows);
    free(decoder);
}

icodec_png_decoder *icodec_png_open(const uint8_t *data, size_t size, uint64_t max_pixels,
                                    icodec_header *header, icodec_status *status) {
    icodec_set_status(status, ICODEC_OK, "");
    memset(header, 0, sizeof *header);
    icodec_png_decoder *const decoder = calloc(1, sizeof *decoder);
    if (!decoder) {
        icodec_set_status(status, ICODEC_OUT_OF_MEMORY, "cannot allocate PNG decoder");
        return NULL;
    }
    decoder->data = data;
    decoder->size = size;
    decoder->status = status;
    decoder->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, decoder, on_error, on_warning);
    if (decoder->png) decoder->info = png_create_info_struct(decoder->png);
    if (!decoder->info) {
        icodec_set_status(status, ICODEC_OUT_OF_MEMORY, "cannot allocate PNG decoder");
        destroy(decoder);
        return NULL;
    }
    png_structp const png = decoder->png;
    png_infop const info = decoder->info;
    if (setjmp(png_jmpbuf(png))) {
        destroy(decoder);
        return NULL;
    }
    png_set_read_fn(png, decoder, read_from_memory);
    png_read_info(png, info);

    const png_uint_32 width = png_get_image_width(png, info);
    const png_uint_32 height = png_get_image_height(png, info);
    const int color_type = png_get_color_type(png, info);
    const int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    header->width = width;
    header->height = height;
    header->channels = (color_type & PNG_COLOR_MASK_ALPHA) || has_trns ? 4 : (color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    if ((uint64_t)width * height > max_pixels) {
        icodec_set_status(status, ICODEC_TOO_LARGE, "image exceeds the pixel limit");
        destroy(decoder);
        return NULL;
    }

    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(png);
    if (has_trns) png_set_tRNS_to_alpha(png);
    png_set_scale_16(png);
    if (header->channels == 4 && !(color_type & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    if (png_get_channels(png, info) != header->channels || png_get_bit_depth(png, info) != 8) {
        icodec_set_status(status, ICODEC_UNSUPPORTED, "unexpected PNG sample layout after conversion");
        destroy(decoder);
        return NULL;
    }
    decoder->rows = malloc(sizeof(png_bytep) * height);
    if (!decoder->rows) {
        icodec_set_status(status, ICODEC_OUT_OF_MEMORY, "cannot allocate PNG row table");
        destroy(decoder);
        return NULL;
    }
    return decoder;
}

int icodec_png_read(icodec_png_decoder *decoder, uint8_t *pixels, icodec_status *status) {
    icodec_set_status(status, ICODEC_OK, "");
    decoder->status = status;
    png_structp const png = decoder->png;
    if (setjmp(png_jmpbuf(png))) return 0;

    const size_t stride = png_get_rowbytes(png, decoder->info);
    const png_uint_32 height = png_get_image_height(png, decoder->info);
    for (png_uint_32 y = 0; y < height; y++) decoder->rows[y] = pixels + stride * y;
    png_read_image(png, decoder->rows);
    // Reads on to IEND, so a file cut after its image data still fails.
    png_read_end(png, NULL);
    return 1;
}

void icodec_png_close(icodec_png_decoder *decoder) {
    if (decoder) destroy(decoder);
}
