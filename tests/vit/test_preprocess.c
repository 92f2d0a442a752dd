/* test_preprocess.c — frames to network input: the resize/crop geometry timm uses, every pixel
 * format decoding to the same values, identity and exact-downscale cases, bicubic against a
 * naive PyTorch-formula reference, luma for 1-channel models and black padding. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "preprocess.h"

static unsigned rng = 7;

static uint8_t rbyte(void)
{
    rng = rng * 1103515245u + 12345u;
    return (uint8_t)(rng >> 16);
}

static vit_preprocess_params params(int c, int size, float crop, vit_interpolation interp)
{
    vit_preprocess_params p = {
        .channels = c,
        .height = size,
        .width = size,
        .crop_pct = crop,
        .crop_mode = VIT_CROP_CENTER,
        .interpolation = interp,
        .mean = {0.485f, 0.456f, 0.406f},
        .std = {0.229f, 0.224f, 0.225f},
    };
    return p;
}

static float *run(const vit_preprocess_params *p, const vit_frame *f)
{
    vit_preprocess *pre;
    vit_error err;
    ck_assert_int_eq(vit_preprocess_new(p, &pre, &err), 0);
    float *out = malloc(sizeof(float) * p->channels * p->height * p->width);
    ck_assert_msg(vit_preprocess_run(pre, f, out, &err) == 0, "%s", err.message);
    vit_preprocess_free(pre);
    return out;
}

START_TEST(test_geometry_follows_timm)
{
    vit_preprocess_params p = params(3, 224, 0.875f, VIT_INTERP_BICUBIC);
    int rw, rh, left, top;
    vit_preprocess_geometry(&p, 640, 480, &rw, &rh, &left, &top);
    ck_assert_int_eq(rh, 256);
    ck_assert_int_eq(rw, 341);
    ck_assert_int_eq(left, 58);
    ck_assert_int_eq(top, 16); /* round(58.5) is 58, as Python's */
    ;
    vit_preprocess_geometry(&p, 480, 640, &rw, &rh, &left, &top);
    ck_assert_int_eq(rw, 256);
    ck_assert_int_eq(rh, 341);
    ck_assert_int_eq(top, 58);
    p.crop_pct = 0.9f;
    vit_preprocess_geometry(&p, 1000, 1000, &rw, &rh, &left, &top);
    ck_assert_int_eq(rw, 248);
    ck_assert_int_eq(left, 12);
    p.crop_mode = VIT_CROP_SQUASH;
    vit_preprocess_geometry(&p, 640, 480, &rw, &rh, &left, &top);
    ck_assert_int_eq(rw, 248);
    ck_assert_int_eq(rh, 248);
}
END_TEST

/* Fills a frame of format fmt (w x h) whose every pixel is rgb (or, for YUV, Y=rgb[0] with
 * neutral chroma), with padded strides. */
static vit_frame constant_frame(vit_pixel_format fmt, int w, int h, const uint8_t rgb[3],
                                uint8_t *buf)
{
    vit_frame f = {.format = fmt, .width = w, .height = h};
    int bpp = fmt <= VIT_FORMAT_BGR ? 3 : fmt <= VIT_FORMAT_BGRA ? 4 : 1;
    int stride = w * bpp + 5;
    uint8_t order[4];
    switch (fmt) {
    case VIT_FORMAT_RGB:
        memcpy(order, (uint8_t[]){0, 1, 2, 3}, 4);
        break;
    case VIT_FORMAT_BGR:
        memcpy(order, (uint8_t[]){2, 1, 0, 3}, 4);
        break;
    case VIT_FORMAT_RGBX:
    case VIT_FORMAT_RGBA:
        memcpy(order, (uint8_t[]){0, 1, 2, 3}, 4);
        break;
    case VIT_FORMAT_BGRX:
    case VIT_FORMAT_BGRA:
        memcpy(order, (uint8_t[]){2, 1, 0, 3}, 4);
        break;
    case VIT_FORMAT_XRGB:
        memcpy(order, (uint8_t[]){3, 0, 1, 2}, 4);
        break;
    case VIT_FORMAT_XBGR:
        memcpy(order, (uint8_t[]){3, 2, 1, 0}, 4);
        break;
    default:
        memcpy(order, (uint8_t[]){0, 0, 0, 0}, 4);
        break;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < bpp; k++)
                buf[y * stride + x * bpp + k] = bpp == 1        ? rgb[0]
                                                : order[k] == 3 ? 0x55 /* X / alpha: ignored */
                                                                : rgb[order[k]];
    f.planes[0] = buf;
    f.strides[0] = stride;
    uint8_t *chroma = buf + (size_t)stride * h;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    if (fmt == VIT_FORMAT_I420) {
        memset(chroma, 128, (size_t)2 * (cw + 3) * ch);
        f.planes[1] = chroma, f.strides[1] = cw + 3;
        f.planes[2] = chroma + (cw + 3) * ch, f.strides[2] = cw + 3;
    } else if (fmt == VIT_FORMAT_NV12) {
        memset(chroma, 128, (size_t)(2 * cw + 2) * ch);
        f.planes[1] = chroma, f.strides[1] = 2 * cw + 2;
    }
    return f;
}

START_TEST(test_every_format_constant_colour)
{
    static const vit_pixel_format fmts[] = {
        VIT_FORMAT_RGB,   VIT_FORMAT_BGR,  VIT_FORMAT_RGBX, VIT_FORMAT_BGRX,
        VIT_FORMAT_XRGB,  VIT_FORMAT_XBGR, VIT_FORMAT_RGBA, VIT_FORMAT_BGRA,
        VIT_FORMAT_GRAY8, VIT_FORMAT_I420, VIT_FORMAT_NV12,
    };
    uint8_t *buf = malloc(64 * 1024);
    const uint8_t rgb[3] = {200, 100, 30};
    vit_preprocess_params p = params(3, 16, 0.875f, VIT_INTERP_BICUBIC);
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        vit_frame f = constant_frame(fmts[i], 37, 23, rgb, buf); /* odd sizes on purpose */
        float *out = run(&p, &f);
        float expect[3];
        for (int c = 0; c < 3; c++) {
            float v = fmts[i] == VIT_FORMAT_GRAY8  ? rgb[0]
                      : fmts[i] >= VIT_FORMAT_I420 ? 1.164383f * (rgb[0] - 16.0f)
                                                   : rgb[c];
            expect[c] = (v / 255.0f - p.mean[c]) / p.std[c];
        }
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 16 * 16; k++)
                ck_assert_msg(fabsf(out[c * 256 + k] - expect[c]) < 1e-4f,
                              "format %d channel %d: %f vs %f", (int)fmts[i], c, out[c * 256 + k],
                              expect[c]);
        free(out);
    }
    free(buf);
}
END_TEST

START_TEST(test_identity_size_copies_pixels)
{
    enum { N = 8 };
    uint8_t px[N * N * 3];
    for (size_t i = 0; i < sizeof(px); i++)
        px[i] = rbyte();
    vit_frame f = {
        .format = VIT_FORMAT_RGB, .width = N, .height = N, .planes = {px}, .strides = {N * 3}};
    for (int interp = VIT_INTERP_BILINEAR; interp <= VIT_INTERP_NEAREST; interp++) {
        vit_preprocess_params p = params(3, N, 1.0f, (vit_interpolation)interp);
        float *out = run(&p, &f);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < N; y++)
                for (int x = 0; x < N; x++) {
                    float expect = (px[(y * N + x) * 3 + c] / 255.0f - p.mean[c]) / p.std[c];
                    ck_assert_float_eq_tol(out[(c * N + y) * N + x], expect, 1e-5f);
                }
        free(out);
    }
}
END_TEST

START_TEST(test_bilinear_half_size_averages_blocks)
{
    enum { N = 16 };
    uint8_t px[N * N];
    for (size_t i = 0; i < sizeof(px); i++)
        px[i] = rbyte();
    vit_frame f = {
        .format = VIT_FORMAT_GRAY8, .width = N, .height = N, .planes = {px}, .strides = {N}};
    vit_preprocess_params p = params(3, N / 2, 1.0f, VIT_INTERP_BILINEAR);
    float *out = run(&p, &f);
    for (int y = 0; y < N / 2; y++)
        for (int x = 0; x < N / 2; x++) {
            float avg = (px[2 * y * N + 2 * x] + px[2 * y * N + 2 * x + 1] +
                         px[(2 * y + 1) * N + 2 * x] + px[(2 * y + 1) * N + 2 * x + 1]) /
                        4.0f;
            ck_assert_float_eq_tol(out[y * (N / 2) + x], (avg / 255.0f - p.mean[0]) / p.std[0],
                                   1e-4f);
        }
    free(out);
}
END_TEST

/* PyTorch's upsample_bicubic2d (align_corners=False, A=-0.75), written out directly. */
static double cubic(double x)
{
    const double A = -0.75;
    x = fabs(x);
    if (x <= 1)
        return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2)
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
}

START_TEST(test_bicubic_matches_reference)
{
    enum { FW = 29, FH = 20, OUT = 8 };
    uint8_t px[FW * FH * 3];
    for (size_t i = 0; i < sizeof(px); i++)
        px[i] = rbyte();
    vit_frame f = {
        .format = VIT_FORMAT_RGB, .width = FW, .height = FH, .planes = {px}, .strides = {FW * 3}};
    vit_preprocess_params p = params(3, OUT, 0.875f, VIT_INTERP_BICUBIC);
    float *out = run(&p, &f);
    int rw, rh, left, top;
    vit_preprocess_geometry(&p, FW, FH, &rw, &rh, &left, &top);
    ck_assert_int_eq(rh, 9); /* floor(8 / 0.875) */
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < OUT; y++)
            for (int x = 0; x < OUT; x++) {
                double sy = (y + top + 0.5) * FH / rh - 0.5, sx = (x + left + 0.5) * FW / rw - 0.5;
                int y0 = (int)floor(sy), x0 = (int)floor(sx);
                double v = 0;
                for (int i = -1; i <= 2; i++)
                    for (int j = -1; j <= 2; j++) {
                        int yy = y0 + i < 0 ? 0 : y0 + i >= FH ? FH - 1 : y0 + i;
                        int xx = x0 + j < 0 ? 0 : x0 + j >= FW ? FW - 1 : x0 + j;
                        v += cubic(sy - (y0 + i)) * cubic(sx - (x0 + j)) *
                             px[(yy * FW + xx) * 3 + c];
                    }
                double expect = (v / 255.0 - p.mean[c]) / p.std[c];
                ck_assert_msg(fabs(out[(c * OUT + y) * OUT + x] - expect) < 1e-4,
                              "c%d y%d x%d: %f vs %f", c, y, x, out[(c * OUT + y) * OUT + x],
                              expect);
            }
    free(out);
}
END_TEST

START_TEST(test_one_channel_model_gets_luma)
{
    const uint8_t rgb[3] = {10, 200, 90};
    uint8_t buf[4096];
    vit_frame f = constant_frame(VIT_FORMAT_BGRX, 12, 9, rgb, buf);
    vit_preprocess_params p = params(1, 4, 0.9f, VIT_INTERP_BILINEAR);
    p.mean[0] = 0.25f, p.std[0] = 0.5f;
    float *out = run(&p, &f);
    float luma = 0.299f * 10 + 0.587f * 200 + 0.114f * 90;
    for (int k = 0; k < 16; k++)
        ck_assert_float_eq_tol(out[k], (luma / 255.0f - 0.25f) / 0.5f, 1e-4f);
    free(out);
}
END_TEST

START_TEST(test_crop_larger_than_image_pads_black)
{
    const uint8_t rgb[3] = {255, 255, 255};
    uint8_t buf[4096];
    vit_frame f = constant_frame(VIT_FORMAT_RGB, 10, 10, rgb, buf);
    vit_preprocess_params p = params(3, 8, 2.0f, VIT_INTERP_BILINEAR); /* resized to 4x4 */
    float *out = run(&p, &f);
    ck_assert_float_eq_tol(out[0], -p.mean[0] / p.std[0], 1e-5f);              /* corner: pad */
    ck_assert_float_eq_tol(out[4 * 8 + 4], (1 - p.mean[0]) / p.std[0], 1e-4f); /* centre */
    free(out);
}
END_TEST

START_TEST(test_frame_size_change_refills_tables)
{
    uint8_t buf[64 * 1024];
    vit_preprocess *pre;
    vit_preprocess_params p = params(3, 8, 0.875f, VIT_INTERP_BICUBIC);
    ck_assert_int_eq(vit_preprocess_new(&p, &pre, NULL), 0);
    float out[3 * 64];
    const uint8_t grey[3] = {128, 128, 128};
    for (int w = 9; w < 60; w += 7) {
        vit_frame f = constant_frame(VIT_FORMAT_RGB, w, 70 - w, grey, buf);
        ck_assert_int_eq(vit_preprocess_run(pre, &f, out, NULL), 0);
        ck_assert_float_eq_tol(out[63], (128 / 255.0f - p.mean[0]) / p.std[0], 1e-4f);
    }
    vit_preprocess_free(pre);
}
END_TEST

static Suite *pre_suite(void)
{
    Suite *s = suite_create("vit-preprocess");
    TCase *tc = tcase_create("preprocess");
    tcase_add_test(tc, test_geometry_follows_timm);
    tcase_add_test(tc, test_every_format_constant_colour);
    tcase_add_test(tc, test_identity_size_copies_pixels);
    tcase_add_test(tc, test_bilinear_half_size_averages_blocks);
    tcase_add_test(tc, test_bicubic_matches_reference);
    tcase_add_test(tc, test_one_channel_model_gets_luma);
    tcase_add_test(tc, test_crop_larger_than_image_pads_black);
    tcase_add_test(tc, test_frame_size_change_refills_tables);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pre_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
