/* test_preprocess.c — frames to network input: the resize/crop geometry timm uses, every pixel
 * format decoding to the same values, identity and exact-downscale cases, bicubic against a
 * naive PyTorch-formula reference, luma for 1-channel models and black padding. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "ops/preprocess.h"

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

START_TEST(test_bilinear_halving_uses_triangle_filter)
{
    enum { N = 16 };
    uint8_t px[N * N];
    for (size_t i = 0; i < sizeof(px); i++)
        px[i] = rbyte();
    vit_frame f = {
        .format = VIT_FORMAT_GRAY8, .width = N, .height = N, .planes = {px}, .strides = {N}};
    vit_preprocess_params p = params(3, N / 2, 1.0f, VIT_INTERP_BILINEAR);
    float *out = run(&p, &f);
    /* halving: output d blends source 2d-1 .. 2d+2 as 1:3:3:1, renormalised at the borders */
    double w[N / 2][N];
    memset(w, 0, sizeof(w));
    for (int d = 0; d < N / 2; d++) {
        double sum = 0;
        static const double tri[4] = {1, 3, 3, 1};
        for (int k = 0; k < 4; k++)
            if (2 * d - 1 + k >= 0 && 2 * d - 1 + k < N)
                sum += tri[k];
        for (int k = 0; k < 4; k++)
            if (2 * d - 1 + k >= 0 && 2 * d - 1 + k < N)
                w[d][2 * d - 1 + k] = tri[k] / sum;
    }
    for (int y = 0; y < N / 2; y++)
        for (int x = 0; x < N / 2; x++) {
            double v = 0;
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++)
                    v += w[y][i] * w[x][j] * px[i * N + j];
            ck_assert_float_eq_tol(out[y * (N / 2) + x], (v / 255.0 - p.mean[0]) / p.std[0], 1e-4f);
        }
    free(out);
}
END_TEST

START_TEST(test_checkerboard_does_not_alias)
{
    /* 1-pixel checkerboard shrunk 8x: every output pixel averages many source pixels, so the
     * result is mid-grey, not a moire of black and white samples */
    enum { N = 256, OUT = 32 };
    uint8_t *px = malloc(N * N);
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++)
            px[y * N + x] = ((x + y) & 1) ? 255 : 0;
    vit_frame f = {
        .format = VIT_FORMAT_GRAY8, .width = N, .height = N, .planes = {px}, .strides = {N}};
    for (int interp = VIT_INTERP_BILINEAR; interp <= VIT_INTERP_BICUBIC; interp++) {
        vit_preprocess_params p = params(1, OUT, 1.0f, (vit_interpolation)interp);
        p.mean[0] = 0.0f, p.std[0] = 1.0f;
        float *out = run(&p, &f);
        for (int i = 0; i < OUT * OUT; i++)
            ck_assert_msg(fabsf(out[i] * 255.0f - 127.5f) < 3.0f, "interp %d pixel %d: %f", interp,
                          i, out[i] * 255.0f);
        free(out);
    }
    free(px);
}
END_TEST

/* PIL's / torchvision's antialiased resize of one axis, written out naively in double. */
static double aa_weight(int bicubic, double x)
{
    x = fabs(x);
    if (!bicubic)
        return x < 1 ? 1 - x : 0;
    const double a = -0.5;
    if (x < 1)
        return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

/* Weight of source pixel i for resized position d (in source pixels, rsize resized). */
static double aa_tap(int bicubic, int d, int rsize, int in, int i)
{
    double scale = (double)in / rsize, half = bicubic ? 2 : 1;
    double support = scale >= 1 ? half * scale : half, inv = scale >= 1 ? 1 / scale : 1;
    double center = scale * (d + 0.5);
    int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
    lo = lo < 0 ? 0 : lo;
    hi = hi > in ? in : hi;
    if (i < lo || i >= hi)
        return 0;
    double total = 0;
    for (int j = lo; j < hi; j++)
        total += aa_weight(bicubic, (j - center + 0.5) * inv);
    return aa_weight(bicubic, (i - center + 0.5) * inv) / total;
}

static void check_against_naive(int fw, int fh, int out_size, float crop)
{
    uint8_t *px = malloc((size_t)fw * fh * 3);
    for (int i = 0; i < fw * fh * 3; i++)
        px[i] = rbyte();
    vit_frame f = {
        .format = VIT_FORMAT_RGB, .width = fw, .height = fh, .planes = {px}, .strides = {fw * 3}};
    vit_preprocess_params p = params(3, out_size, crop, VIT_INTERP_BICUBIC);
    float *out = run(&p, &f);
    int rw, rh, left, top;
    vit_preprocess_geometry(&p, fw, fh, &rw, &rh, &left, &top);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < out_size; y++)
            for (int x = 0; x < out_size; x++) {
                double v = 0;
                for (int i = 0; i < fh; i++)
                    for (int j = 0; j < fw; j++)
                        v += aa_tap(1, y + top, rh, fh, i) * aa_tap(1, x + left, rw, fw, j) *
                             px[(i * fw + j) * 3 + c];
                double expect = (v / 255.0 - p.mean[c]) / p.std[c];
                float got = out[(c * out_size + y) * out_size + x];
                ck_assert_msg(fabs(got - expect) < 1e-4, "%dx%d->%d c%d y%d x%d: %f vs %f", fw, fh,
                              out_size, c, y, x, got, expect);
            }
    free(out);
    free(px);
}

/* I420 and NV12 frames with varying luma and chroma against a naive reference: every source
 * pixel converted to RGB (BT.601 limited range, chroma at (x/2, y/2)), then resampled. */
static void check_yuv_against_naive(vit_pixel_format fmt)
{
    enum { FW = 23, FH = 17, OUT = 8, CW = (FW + 1) / 2, CH = (FH + 1) / 2 };
    uint8_t yp[FH * FW], up[CH * CW], vp[CH * CW], uv[CH * CW * 2];
    for (int i = 0; i < FH * FW; i++)
        yp[i] = (uint8_t)(16 + rbyte() % 220);
    for (int i = 0; i < CH * CW; i++) {
        up[i] = uv[2 * i] = (uint8_t)(100 + rbyte() % 56);
        vp[i] = uv[2 * i + 1] = (uint8_t)(100 + rbyte() % 56);
    }
    vit_frame f = {.format = fmt, .width = FW, .height = FH, .planes = {yp}, .strides = {FW}};
    if (fmt == VIT_FORMAT_I420)
        f.planes[1] = up, f.planes[2] = vp, f.strides[1] = f.strides[2] = CW;
    else
        f.planes[1] = uv, f.strides[1] = 2 * CW;
    vit_preprocess_params p = params(3, OUT, 0.875f, VIT_INTERP_BICUBIC);
    float *out = run(&p, &f);
    int rw, rh, left, top;
    vit_preprocess_geometry(&p, FW, FH, &rw, &rh, &left, &top);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < OUT; y++)
            for (int x = 0; x < OUT; x++) {
                double v = 0;
                for (int i = 0; i < FH; i++)
                    for (int j = 0; j < FW; j++) {
                        double Y = 1.164383 * (yp[i * FW + j] - 16.0);
                        double U = up[(i / 2) * CW + j / 2] - 128.0;
                        double V = vp[(i / 2) * CW + j / 2] - 128.0;
                        double rgb[3] = {Y + 1.596027 * V, Y - 0.391762 * U - 0.812968 * V,
                                         Y + 2.017232 * U};
                        v +=
                            aa_tap(1, y + top, rh, FH, i) * aa_tap(1, x + left, rw, FW, j) * rgb[c];
                    }
                double expect = (v / 255.0 - p.mean[c]) / p.std[c];
                float got = out[(c * OUT + y) * OUT + x];
                ck_assert_msg(fabs(got - expect) < 2e-4, "format %d c%d y%d x%d: %f vs %f",
                              (int)fmt, c, y, x, got, expect);
            }
    free(out);
}

START_TEST(test_yuv_matches_reference)
{
    check_yuv_against_naive(VIT_FORMAT_I420);
    check_yuv_against_naive(VIT_FORMAT_NV12);
}
END_TEST

START_TEST(test_bicubic_matches_reference)
{
    check_against_naive(29, 20, 8, 0.875f); /* shrink: the filter widens with the scale */
    check_against_naive(5, 4, 8, 0.875f);   /* enlarge: plain bicubic, a = -0.5 */
    int rw, rh, left, top;
    vit_preprocess_params p = params(3, 8, 0.875f, VIT_INTERP_BICUBIC);
    vit_preprocess_geometry(&p, 29, 20, &rw, &rh, &left, &top);
    ck_assert_int_eq(rh, 9); /* floor(8 / 0.875) */
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
    tcase_add_test(tc, test_bilinear_halving_uses_triangle_filter);
    tcase_add_test(tc, test_checkerboard_does_not_alias);
    tcase_add_test(tc, test_bicubic_matches_reference);
    tcase_add_test(tc, test_yuv_matches_reference);
    tcase_add_test(tc, test_one_channel_model_gets_luma);
    tcase_add_test(tc, test_crop_larger_than_image_pads_black);
    tcase_add_test(tc, test_frame_size_change_refills_tables);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vt_run_suite(pre_suite());
}
