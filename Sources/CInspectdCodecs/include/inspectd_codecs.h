// Memory-to-memory JPEG and PNG codecs for InspectdImage.
//
// libjpeg and libpng report errors by longjmp, which must never cross Swift
// frames; every function here catches them with its own setjmp and turns them
// into an icodec_status. No function prints or exits.
#ifndef INSPECTD_CODECS_H
#define INSPECTD_CODECS_H

#include <stddef.h>
#include <stdint.h>

typedef enum icodec_result {
    ICODEC_OK = 0,
    ICODEC_TRUNCATED,
    ICODEC_CORRUPT,
    ICODEC_TOO_LARGE,
    ICODEC_UNSUPPORTED,
    ICODEC_OUT_OF_MEMORY,
} icodec_result;

#define ICODEC_MESSAGE_CAPACITY 256

typedef struct icodec_status {
    icodec_result result;
    char message[ICODEC_MESSAGE_CAPACITY];
} icodec_status;

// What a decoder will produce; filled in even when opening fails with
// ICODEC_TOO_LARGE so the caller can report the declared size.
typedef struct icodec_header {
    uint32_t width;
    uint32_t height;
    uint32_t channels; // 1 (grey), 3 (RGB) or 4 (RGBA)
} icodec_header;

// Decoding is split in two so the caller allocates the pixel buffer itself,
// after the header has been checked against its pixel limit:
// open (reads the header, rejects images above max_pixels), read, close.
// A failed open returns NULL and leaves nothing to close; after a failed read
// the decoder must still be closed.

typedef struct icodec_jpeg_decoder icodec_jpeg_decoder;

icodec_jpeg_decoder *icodec_jpeg_open(const uint8_t *data, size_t size, uint64_t max_pixels,
                                      icodec_header *header, icodec_status *status);
// Writes width * height * channels bytes, rows top to bottom, no padding.
// Grey stays grey; YCbCr and RGB become RGB; CMYK and YCCK become RGB.
int icodec_jpeg_read(icodec_jpeg_decoder *decoder, uint8_t *pixels, icodec_status *status);
void icodec_jpeg_close(icodec_jpeg_decoder *decoder);

typedef struct icodec_png_decoder icodec_png_decoder;

icodec_png_decoder *icodec_png_open(const uint8_t *data, size_t size, uint64_t max_pixels,
                                    icodec_header *header, icodec_status *status);
// Palette becomes RGB (RGBA with tRNS); grey with alpha or tRNS becomes RGBA;
// 16-bit samples are scaled to 8 bits; interlaced images are deinterlaced.
int icodec_png_read(icodec_png_decoder *decoder, uint8_t *pixels, icodec_status *status);
void icodec_png_close(icodec_png_decoder *decoder);

typedef enum icodec_jpeg_storage {
    // Grey stays grey, RGB is stored as YCbCr, CMYK as CMYK.
    ICODEC_JPEG_STORE_NATURAL = 0,
    // CMYK input stored as YCCK, as Photoshop does.
    ICODEC_JPEG_STORE_YCCK,
} icodec_jpeg_storage;

// components: 1 (grey), 3 (RGB) or 4 (CMYK, Adobe convention: 255 = no ink).
// On success *out is a malloc'd buffer of *out_size bytes for icodec_free.
int icodec_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t components,
                       icodec_jpeg_storage storage, int quality, int progressive,
                       uint8_t **out, size_t *out_size, icodec_status *status);

// channels: 1 (grey), 3 (RGB) or 4 (RGBA), 8 bits per sample.
int icodec_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t channels,
                      int compression_level, uint8_t **out, size_t *out_size, icodec_status *status);

void icodec_free(void *buffer);

#endif
