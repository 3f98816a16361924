#include <string.h>

#include "jpeg_internal.h"

struct icodec_jpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    icodec_jpeg_error error;
    uint8_t *cmyk_row; // scanline buffer when CMYK is converted to RGB
};

static void destroy(icodec_jpeg_decoder *decoder) {
    jpeg_destroy_decompress(&decoder->cinfo);
    free(decoder->cmyk_row);
    free(decoder);
}

icodec_jpeg_decoder *icodec_jpeg_open(const uint8_t *data, size_t size, uint64_t max_pixels,
                                      icodec_header *header, icodec_status *status) {
    icodec_set_status(status, ICODEC_OK, "");
    memset(header, 0, sizeof *header);
    icodec_jpeg_decoder *const decoder = calloc(1, sizeof *decoder);
    if (!decoder) {
        icodec_set_status(status, ICODEC_OUT_OF_MEMORY, "cannot allocate JPEG decoder");
        return NULL;
    }
    struct jpeg_decompress_struct *const cinfo = &decoder->cinfo;
    cinfo->err = icodec_jpeg_error_init(&decoder->error, status);
    if (setjmp(decoder->error.jump)) {
        destroy(decoder);
        return NULL;
    }
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, data, size);
    jpeg_read_header(cinfo, TRUE);

    int cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    if (cmyk) {
        cinfo->out_color_space = JCS_CMYK;
    } else if (cinfo->jpeg_color_space != JCS_GRAYSCALE) {
        cinfo->out_color_space = JCS_RGB;
    }
    header->width = cinfo->image_width;
    header->height = cinfo->image_height;
    header->channels = cinfo->out_color_space == JCS_GRAYSCALE ? 1 : 3;

    // Checked before jpeg_start_decompress: for progressive files that call
    // allocates coefficient buffers for the whole image.
    if ((uint64_t)cinfo->image_width * cinfo->image_height > max_pixels) {
        icodec_set_status(status, ICODEC_TOO_LARGE, "image exceeds the pixel limit");
        destroy(decoder);
        return NULL;
    }
    decoder->error.in_image_data = 1;
    jpeg_start_decompress(cinfo);
    if (cmyk) {
        decoder->cmyk_row = malloc((size_t)cinfo->output_width * 4);
        if (!decoder->cmyk_row) {
            icodec_set_status(status, ICODEC_OUT_OF_MEMORY, "cannot allocate a CMYK scanline");
            destroy(decoder);
            return NULL;
        }
    }
    return decoder;
}

// Adobe applications store CMYK inverted (255 means no ink) and mark the file
// with an APP14 "Adobe" segment; without that marker the values are taken as
// ordinary ink amounts.
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, size_t width, int inverted) {
    for (size_t x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        unsigned k = inverted ? cmyk[3] : 255u - cmyk[3];
        for (int c = 0; c < 3; c++) {
            unsigned paper = inverted ? cmyk[c] : 255u - cmyk[c];
            rgb[c] = (uint8_t)((paper * k + 127) / 255);
        }
    }
}

int icodec_jpeg_read(icodec_jpeg_decoder *decoder, uint8_t *pixels, icodec_status *status) {
    icodec_set_status(status, ICODEC_OK, "");
    struct jpeg_decompress_struct *const cinfo = &decoder->cinfo;
    decoder->error.status = status;
    if (setjmp(decoder->error.jump)) return 0;

    const size_t stride = (size_t)cinfo->output_width * (cinfo->output_components == 1 ? 1 : 3);
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *row = pixels + stride * cinfo->output_scanline;
        if (decoder->cmyk_row) {
            JSAMPROW source = decoder->cmyk_row;
            jpeg_read_scanlines(cinfo, &source, 1);
            cmyk_to_rgb(decoder->cmyk_row, row, cinfo->output_width, cinfo->saw_Adobe_marker);
        } else {
            JSAMPROW rows[8];
            JDIMENSION count = cinfo->output_height - cinfo->output_scanline;
            if (count > 8) count = 8;
            for (JDIMENSION i = 0; i < count; i++) rows[i] = row + stride * i;
            jpeg_read_scanlines(cinfo, rows, count);
        }
    }
    // Reads on to the EOI marker, so a file cut after its last scan still fails.
    jpeg_finish_decompress(cinfo);
    return 1;
}

void icodec_jpeg_close(icodec_jpeg_decoder *decoder) {
    if (decoder) destroy(decoder);
}
