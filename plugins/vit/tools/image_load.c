/* image_load.c — decode a still image for vit-infer: PNG through libpng's simplified API, JPEG
 * through libjpeg (errors caught with setjmp, never exit()), binary PPM (P6) / PGM (P5) by
 * hand. Sizes are bounded before any buffer is allocated. */
#include "tools/image_load.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
/* jpeglib.h needs FILE declared first */
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_SIDE 16384

static void set_frame(vit_image *img, vit_pixel_format fmt, int w, int h, int bpp)
{
    img->frame = (vit_frame){.format = fmt, .width = w, .height = h};
    img->frame.planes[0] = img->pixels;
    img->frame.strides[0] = w * bpp;
}

static int load_png(const char *path, vit_image *img, vit_error *err)
{
    png_image png;
    memset(&png, 0, sizeof(png));
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&png, path))
        return vit_errorf(err, -EINVAL, "%s: %s", path, png.message);
    if (png.width < 1 || png.height < 1 || png.width > MAX_SIDE || png.height > MAX_SIDE) {
        png_image_free(&png);
        return vit_errorf(err, -EINVAL, "%s: image size %ux%u out of range", path, png.width,
                          png.height);
    }
    int gray = !(png.format & PNG_FORMAT_FLAG_COLOR);
    png.format = gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    img->pixels = malloc(PNG_IMAGE_SIZE(png));
    if (!img->pixels) {
        png_image_free(&png);
        return vit_errorf(err, -ENOMEM, "%s: out of memory", path);
    }
    if (!png_image_finish_read(&png, NULL, img->pixels, 0, NULL)) {
        free(img->pixels);
        img->pixels = NULL;
        return vit_errorf(err, -EINVAL, "%s: %s", path, png.message);
    }
    set_frame(img, gray ? VIT_FORMAT_GRAY8 : VIT_FORMAT_RGB, (int)png.width, (int)png.height,
              gray ? 1 : 3);
    return 0;
}

typedef struct jpeg_error_state {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char text[JMSG_LENGTH_MAX];
} jpeg_error_state;

static void jpeg_error_exit(j_common_ptr cinfo)
{
    jpeg_error_state *st = (jpeg_error_state *)cinfo->err;
    st->mgr.format_message(cinfo, st->text);
    longjmp(st->jump, 1);
}

/* Warnings (level -1: corrupt or truncated data, which libjpeg papers over with grey) are kept
 * and turned into an error after decoding; trace messages are dropped. */
static void jpeg_keep_warning(j_common_ptr cinfo, int level)
{
    jpeg_error_state *st = (jpeg_error_state *)cinfo->err;
    if (level < 0 && st->mgr.num_warnings++ == 0)
        st->mgr.format_message(cinfo, st->text);
}

static int load_jpeg(const char *path, FILE *f, vit_image *img, vit_error *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_error_state jerr;
    uint8_t *volatile pixels = NULL;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_error_exit;
    jerr.mgr.emit_message = jpeg_keep_warning;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return vit_errorf(err, -EINVAL, "%s: %s", path, jerr.text);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    int gray = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, bpp = cinfo.output_components;
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE || (bpp != 1 && bpp != 3)) {
        jpeg_destroy_decompress(&cinfo);
        return vit_errorf(err, -EINVAL, "%s: unsupported JPEG (%dx%d, %d components)", path, w, h,
                          bpp);
    }
    pixels = malloc((size_t)w * h * bpp);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        return vit_errorf(err, -ENOMEM, "%s: out of memory", path);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * w * bpp;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (jerr.mgr.num_warnings) {
        free(pixels);
        return vit_errorf(err, -EINVAL, "%s: corrupt JPEG: %s", path, jerr.text);
    }
    img->pixels = pixels;
    set_frame(img, bpp == 1 ? VIT_FORMAT_GRAY8 : VIT_FORMAT_RGB, w, h, bpp);
    return 0;
}

/* Next decimal field of a PNM header, skipping whitespace and # comments. */
static int pnm_field(FILE *f, int *ret)
{
    int c, v = 0, digits = 0;
    while ((c = fgetc(f)) != EOF) {
        if (c == '#') {
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
        } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            break;
        }
    }
    while (c >= '0' && c <= '9' && v < 1000000) {
        v = v * 10 + (c - '0');
        digits++;
        c = fgetc(f);
    }
    if (!digits || (c != ' ' && c != '\t' && c != '\r' && c != '\n'))
        return -EINVAL;
    *ret = v;
    return 0;
}

static int load_pnm(const char *path, FILE *f, int color, vit_image *img, vit_error *err)
{
    int w, h, maxval;
    if (pnm_field(f, &w) < 0 || pnm_field(f, &h) < 0 || pnm_field(f, &maxval) < 0)
        return vit_errorf(err, -EINVAL, "%s: malformed P%c header", path, color ? '6' : '5');
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE || maxval < 1 || maxval > 255)
        return vit_errorf(err, -EINVAL, "%s: unsupported PNM (%dx%d, maxval %d)", path, w, h,
                          maxval);
    int bpp = color ? 3 : 1;
    size_t n = (size_t)w * h * bpp;
    img->pixels = malloc(n);
    if (!img->pixels)
        return vit_errorf(err, -ENOMEM, "%s: out of memory", path);
    if (fread(img->pixels, 1, n, f) != n) {
        free(img->pixels);
        img->pixels = NULL;
        return vit_errorf(err, -EINVAL, "%s: truncated pixel data", path);
    }
    if (maxval != 255)
        for (size_t i = 0; i < n; i++)
            img->pixels[i] = (uint8_t)((img->pixels[i] * 255 + maxval / 2) / maxval);
    set_frame(img, color ? VIT_FORMAT_RGB : VIT_FORMAT_GRAY8, w, h, bpp);
    return 0;
}

int vit_image_load(const char *path, vit_image *ret_image, vit_error *err)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        int r = -errno;
        return vit_errorf(err, r, "%s: %s", path, strerror(-r));
    }
    unsigned char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    vit_image img = {0};
    int r;
    if (got >= 4 && !memcmp(magic, "\x89PNG", 4)) {
        r = load_png(path, &img, err);
    } else if (got >= 2 && magic[0] == 0xff && magic[1] == 0xd8) {
        rewind(f);
        r = load_jpeg(path, f, &img, err);
    } else if (got >= 3 && magic[0] == 'P' && (magic[1] == '5' || magic[1] == '6')) {
        fseek(f, 2, SEEK_SET);
        r = load_pnm(path, f, magic[1] == '6', &img, err);
    } else {
        r = vit_errorf(err, -EINVAL, "%s: not a PNG, JPEG, PPM (P6) or PGM (P5) image", path);
    }
    fclose(f);
    if (r == 0)
        *ret_image = img;
    return r;
}

void vit_image_clear(vit_image *image)
{
    free(image->pixels);
    memset(image, 0, sizeof(*image));
}
