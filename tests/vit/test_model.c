/* test_model.c — vit_model and vit_session on small ViTs written by the test itself: the
 * forward pass against a naive double-precision ViT, thread counts agreeing, the config and
 * labels reaching the API, and every config or weight mistake a model owner can make giving an
 * error that names the file and the tensor or value. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "st_writer.h"
#include "vit.h"

/* The test model: dim 8, 2 heads, depth 2, 8x8 RGB input in 4x4 patches, mlp 16, 3 classes. */
enum {
    D = 8,
    HEADS = 2,
    DEPTH = 2,
    IMG = 8,
    P = 4,
    GRID = IMG / P,
    NP = GRID * GRID,
    T = NP + 1,
    HID = 16,
    NCLS = 3,
    MAXT = 64
};

typedef struct wt {
    char name[64];
    int ndim;
    int64_t shape[4];
    float *data;
    size_t n;
    int skip; /* left out of the written file */
} wt;

static wt weights[MAXT];
static int num_weights;
static char *dir;
static unsigned rng = 1;

static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return ((float)(rng >> 9) / (float)(1u << 23) - 0.5f) * 0.6f;
}

static void add(const char *name, int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    wt *w = &weights[num_weights++];
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->ndim = ndim;
    w->skip = 0;
    int64_t s[4] = {a, b, c, d};
    w->n = 1;
    for (int i = 0; i < ndim; i++)
        w->shape[i] = s[i], w->n *= (size_t)s[i];
    w->data = malloc(w->n * sizeof(float));
    for (size_t i = 0; i < w->n; i++)
        w->data[i] = frand();
    if (strstr(name, "norm") && strstr(name, "weight"))
        for (size_t i = 0; i < w->n; i++)
            w->data[i] += 1.0f;
}

__attribute__((format(printf, 1, 2))) static const float *W(const char *fmt, ...)
{
    char name[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    for (int k = 0; k < num_weights; k++)
        if (!strcmp(weights[k].name, name))
            return weights[k].data;
    ck_abort_msg("test weight %s missing", name);
    return NULL;
}

static wt *find(const char *name)
{
    for (int k = 0; k < num_weights; k++)
        if (!strcmp(weights[k].name, name))
            return &weights[k];
    return NULL;
}

static void make_weights(void)
{
    num_weights = 0;
    add("cls_token", 3, 1, 1, D, 0);
    add("pos_embed", 3, 1, T, D, 0);
    add("patch_embed.proj.weight", 4, D, 3, P, P);
    add("patch_embed.proj.bias", 1, D, 0, 0, 0);
    for (int i = 0; i < DEPTH; i++) {
        static const struct {
            const char *key;
            int ndim;
            int64_t a, b;
        } blk[] = {
            {"norm1.weight", 1, D, 0},        {"norm1.bias", 1, D, 0},
            {"attn.qkv.weight", 2, 3 * D, D}, {"attn.qkv.bias", 1, 3 * D, 0},
            {"attn.proj.weight", 2, D, D},    {"attn.proj.bias", 1, D, 0},
            {"norm2.weight", 1, D, 0},        {"norm2.bias", 1, D, 0},
            {"mlp.fc1.weight", 2, HID, D},    {"mlp.fc1.bias", 1, HID, 0},
            {"mlp.fc2.weight", 2, D, HID},    {"mlp.fc2.bias", 1, D, 0},
        };
        for (size_t k = 0; k < sizeof(blk) / sizeof(blk[0]); k++) {
            char name[64];
            snprintf(name, sizeof(name), "blocks.%d.%s", i, blk[k].key);
            add(name, blk[k].ndim, blk[k].a, blk[k].b, 0, 0);
        }
    }
    add("norm.weight", 1, D, 0, 0, 0);
    add("norm.bias", 1, D, 0, 0, 0);
    add("head.weight", 2, NCLS, D, 0, 0);
    add("head.bias", 1, NCLS, 0, 0, 0);
}

static const char *CONFIG =
    "{\"architecture\": \"vit_test_patch4_8\", \"num_classes\": 3,\n"
    " \"model_args\": {\"num_heads\": 2, \"img_size\": 8},\n"
    " \"pretrained_cfg\": {\"input_size\": [3, 8, 8], \"mean\": [0.5, 0.5, 0.5],\n"
    "   \"std\": [0.5, 0.5, 0.5], \"crop_pct\": 1.0, \"interpolation\": \"bilinear\"},\n"
    " \"label_names\": [\"cat\", \"dog\", \"fox\"]}\n";

static void write_model(const char *config)
{
    tw_tensor t[MAXT];
    int n = 0;
    for (int k = 0; k < num_weights; k++) {
        if (weights[k].skip)
            continue;
        t[n] = (tw_tensor){weights[k].name, "F32",
                           weights[k].ndim, {0},
                           weights[k].data, weights[k].n * sizeof(float)};
        memcpy(t[n].shape, weights[k].shape, sizeof(t[n].shape));
        n++;
    }
    ck_assert_int_eq(tw_write(tw_path(dir, "model.safetensors"), t, n, NULL), 0);
    if (config)
        ck_assert_int_eq(tw_write_text(tw_path(dir, "config.json"), config), 0);
}

static void setup(void)
{
    dir = tw_tempdir();
    make_weights();
}

static void teardown(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
    for (int k = 0; k < num_weights; k++)
        free(weights[k].data);
}

/* ---- naive ViT in double --------------------------------------------------------------- */

static void ln(const double *x, const float *g, const float *b, double *y)
{
    double m = 0, v = 0;
    for (int c = 0; c < D; c++)
        m += x[c];
    m /= D;
    for (int c = 0; c < D; c++)
        v += (x[c] - m) * (x[c] - m);
    v /= D;
    for (int c = 0; c < D; c++)
        y[c] = (x[c] - m) / sqrt(v + 1e-6) * g[c] + b[c];
}

static void lin(const double *x, int in, const float *w, const float *b, int out, double *y)
{
    for (int o = 0; o < out; o++) {
        double s = b ? b[o] : 0;
        for (int i = 0; i < in; i++)
            s += w[o * in + i] * x[i];
        y[o] = s;
    }
}

static void naive_vit(const float *img, double *logits)
{
    static double x[T][D], h[T][D], qkv[T][3 * D], att[T][D], tmp[HID];
    const float *pw = W("patch_embed.proj.weight"), *pb = W("patch_embed.proj.bias");
    for (int c = 0; c < D; c++)
        x[0][c] = W("cls_token")[c];
    for (int p = 0; p < NP; p++)
        for (int o = 0; o < D; o++) {
            double s = pb[o];
            for (int ci = 0; ci < 3; ci++)
                for (int ky = 0; ky < P; ky++)
                    for (int kx = 0; kx < P; kx++)
                        s += pw[((o * 3 + ci) * P + ky) * P + kx] *
                             img[(ci * IMG + (p / GRID) * P + ky) * IMG + (p % GRID) * P + kx];
            x[1 + p][o] = s;
        }
    for (int t = 0; t < T; t++)
        for (int c = 0; c < D; c++)
            x[t][c] += W("pos_embed")[t * D + c];
    for (int l = 0; l < DEPTH; l++) {
        for (int t = 0; t < T; t++) {
            ln(x[t], W("blocks.%d.norm1.weight", l), W("blocks.%d.norm1.bias", l), h[t]);
            lin(h[t], D, W("blocks.%d.attn.qkv.weight", l), W("blocks.%d.attn.qkv.bias", l), 3 * D,
                qkv[t]);
        }
        int d = D / HEADS;
        for (int hh = 0; hh < HEADS; hh++)
            for (int i = 0; i < T; i++) {
                double a[T], mx = -1e300, s = 0;
                for (int j = 0; j < T; j++) {
                    a[j] = 0;
                    for (int k = 0; k < d; k++)
                        a[j] += qkv[i][hh * d + k] * qkv[j][D + hh * d + k];
                    a[j] /= sqrt(d);
                    mx = fmax(mx, a[j]);
                }
                for (int j = 0; j < T; j++)
                    s += (a[j] = exp(a[j] - mx));
                for (int k = 0; k < d; k++) {
                    double acc = 0;
                    for (int j = 0; j < T; j++)
                        acc += a[j] / s * qkv[j][2 * D + hh * d + k];
                    att[i][hh * d + k] = acc;
                }
            }
        for (int t = 0; t < T; t++) {
            double o[D], hid[HID];
            lin(att[t], D, W("blocks.%d.attn.proj.weight", l), W("blocks.%d.attn.proj.bias", l), D,
                o);
            for (int c = 0; c < D; c++)
                x[t][c] += o[c];
            ln(x[t], W("blocks.%d.norm2.weight", l), W("blocks.%d.norm2.bias", l), h[t]);
            lin(h[t], D, W("blocks.%d.mlp.fc1.weight", l), W("blocks.%d.mlp.fc1.bias", l), HID,
                hid);
            for (int k = 0; k < HID; k++)
                tmp[k] = 0.5 * hid[k] * (1 + erf(hid[k] / sqrt(2.0)));
            lin(tmp, HID, W("blocks.%d.mlp.fc2.weight", l), W("blocks.%d.mlp.fc2.bias", l), D, o);
            for (int c = 0; c < D; c++)
                x[t][c] += o[c];
        }
    }
    double f[D];
    ln(x[0], W("norm.weight"), W("norm.bias"), f);
    lin(f, D, W("head.weight"), W("head.bias"), NCLS, logits);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void expect_open_error(int code, const char *frag1, const char *frag2)
{
    vit_model *m = NULL;
    vit_error err = {{0}};
    ck_assert_int_eq(vit_model_open(dir, &m, &err), code);
    ck_assert_ptr_null(m);
    ck_assert_msg(!frag1 || strstr(err.message, frag1), "no '%s' in: %s", frag1, err.message);
    ck_assert_msg(!frag2 || strstr(err.message, frag2), "no '%s' in: %s", frag2, err.message);
}

START_TEST(test_forward_matches_naive_vit)
{
    write_model(CONFIG);
    vit_model *m;
    vit_error err;
    ck_assert_msg(vit_model_open(dir, &m, &err) == 0, "%s", err.message);
    ck_assert_str_eq(vit_model_architecture(m), "vit_test_patch4_8");
    ck_assert_int_eq(vit_model_num_classes(m), NCLS);
    ck_assert_str_eq(vit_model_label(m, 1), "dog");
    ck_assert_ptr_null(vit_model_label(m, 3));
    int c, h, w;
    vit_model_input_size(m, &c, &h, &w);
    ck_assert_int_eq(c, 3);
    ck_assert_int_eq(h, IMG);
    ck_assert_int_eq(w, IMG);
    ck_assert_int_eq(vit_model_num_exits(m), 1);
    ck_assert_double_gt(vit_model_exit_gflops(m, 0), 0.0);
    ck_assert_float_eq(vit_model_default_exit_threshold(m), 1.0f);

    float img[3 * IMG * IMG];
    for (int i = 0; i < 3 * IMG * IMG; i++)
        img[i] = frand() * 3.0f;
    double ref[NCLS];
    naive_vit(img, ref);
    float first[NCLS];
    for (int threads = 1; threads <= 4; threads++) {
        vit_session *s;
        vit_session_options o = {.threads = threads, .exit_threshold = -1};
        ck_assert_int_eq(vit_session_new(m, &o, &s, &err), 0);
        vit_result r;
        ck_assert_int_eq(vit_session_run_tensor(s, img, &r, &err), 0);
        ck_assert_int_eq(r.num_classes, NCLS);
        ck_assert_int_eq(r.exit_index, 0);
        double psum = 0;
        for (int k = 0; k < NCLS; k++) {
            ck_assert_msg(fabs(r.logits[k] - ref[k]) < 1e-4, "threads %d class %d: %f vs %f",
                          threads, k, r.logits[k], ref[k]);
            psum += r.probs[k];
            if (threads == 1)
                first[k] = r.logits[k];
            else
                ck_assert_float_eq_tol(r.logits[k], first[k], 1e-5f);
        }
        ck_assert_double_eq_tol(psum, 1.0, 1e-5);
        int cls[NCLS];
        float p[NCLS];
        ck_assert_int_eq(vit_result_top_k(&r, 5, cls, p), NCLS);
        ck_assert(p[0] >= p[1] && p[1] >= p[2]);
        ck_assert_float_eq(p[0], r.probs[cls[0]]);
        vit_session_free(s);
    }
    vit_model_unref(m);
}
END_TEST

START_TEST(test_session_keeps_model_alive)
{
    write_model(CONFIG);
    vit_model *m;
    vit_session *s;
    ck_assert_int_eq(vit_model_open(dir, &m, NULL), 0);
    ck_assert_int_eq(vit_session_new(m, NULL, &s, NULL), 0);
    m = vit_model_unref(m);
    ck_assert_ptr_null(m);
    uint8_t px[IMG * IMG * 3];
    memset(px, 200, sizeof(px));
    vit_frame f = {.format = VIT_FORMAT_RGB,
                   .width = IMG,
                   .height = IMG,
                   .planes = {px},
                   .strides = {IMG * 3}};
    vit_result r;
    ck_assert_int_eq(vit_session_classify(s, &f, &r, NULL), 0);
    ck_assert_int_eq(r.num_classes, NCLS);
    ck_assert_str_eq(vit_model_label(vit_session_model(s), 0), "cat");
    vit_session_free(s);
}
END_TEST

START_TEST(test_wrong_shape_names_tensor)
{
    wt *q = find("blocks.1.attn.qkv.weight");
    q->shape[1] = D - 1;
    q->n = (size_t)(3 * D) * (D - 1);
    write_model(CONFIG);
    expect_open_error(-EINVAL,
                      "model.safetensors: tensor blocks.1.attn.qkv.weight has shape "
                      "[24,7], expected [24,8]",
                      NULL);
}
END_TEST

START_TEST(test_missing_tensor_names_tensor)
{
    find("blocks.1.mlp.fc2.weight")->skip = 1;
    write_model(CONFIG);
    expect_open_error(-ENOENT, "model.safetensors", "blocks.1.mlp.fc2.weight");
}
END_TEST

START_TEST(test_unused_tensor_is_an_error)
{
    add("blocks.0.attn.extra_scale", 1, D / HEADS, 0, 0, 0);
    write_model(CONFIG);
    expect_open_error(-ENOTSUP, "model.safetensors", "blocks.0.attn.extra_scale");
}
END_TEST

START_TEST(test_unknown_architecture)
{
    write_model("{\"architecture\": \"resnet50\", \"num_classes\": 3}");
    expect_open_error(-ENOTSUP, "config.json", "resnet50");
}
END_TEST

START_TEST(test_bad_config_json_has_line_and_column)
{
    write_model("{\"architecture\": \"vit_test\",\n  \"num_classes\": 3,,\n}");
    expect_open_error(-EINVAL, "config.json:2:", NULL);
}
END_TEST

START_TEST(test_bad_config_values)
{
    write_model("{\"architecture\": \"vit_test\", \"model_args\": {\"num_heads\": 2},"
                " \"pretrained_cfg\": {\"crop_pct\": -1}}");
    expect_open_error(-EINVAL, "config.json", "crop_pct");
    write_model("{\"architecture\": \"vit_test\", \"num_classes\": 5,"
                " \"model_args\": {\"num_heads\": 2}}");
    expect_open_error(-EINVAL, "config.json", "head.weight");
    write_model("{\"architecture\": \"vit_test\", \"model_args\": {\"num_heads\": 3}}");
    expect_open_error(-EINVAL, "config.json", "heads");
    write_model("{\"architecture\": \"vit_test\", \"model_args\": {\"num_heads\": 2},"
                " \"pretrained_cfg\": {\"input_size\": [3, 18, 18]}}");
    expect_open_error(-EINVAL, "config.json", "patch"); /* 18 is not a multiple of 4 */
    write_model("{\"architecture\": \"vit_test\", \"model_args\": {\"num_heads\": 2},"
                " \"label_names\": [\"a\", \"b\"]}");
    expect_open_error(-EINVAL, "config.json", "label");
    write_model("{\"num_classes\": 3}");
    expect_open_error(-EINVAL, "config.json", "architecture");
    write_model("{\"architecture\": \"vit_test\", \"model_args\": {\"num_heads\": 2,"
                " \"act_layer\": \"relu\"}}");
    expect_open_error(-ENOTSUP, "config.json", "relu");
    write_model("{\"architecture\": \"vit_test\", \"model_args\": {\"num_heads\": 2,"
                " \"depht\": 2}}");
    expect_open_error(-EINVAL, "config.json", "did you mean \"depth\"");
    write_model(NULL);
    remove(tw_path(dir, "config.json"));
    expect_open_error(-ENOENT, "config.json", NULL);
}
END_TEST

START_TEST(test_labels_file_and_fallback_names)
{
    write_model("{\"architecture\": \"vit_test_8\", \"model_args\": {\"num_heads\": 2}}");
    vit_model *m;
    vit_error err;
    ck_assert_msg(vit_model_open(dir, &m, &err) == 0, "%s", err.message);
    ck_assert_str_eq(vit_model_label(m, 2), "class 2");
    int c, h, w;
    vit_model_input_size(m, &c, &h, &w); /* from the _8 suffix */
    ck_assert_int_eq(h, 8);
    vit_model_unref(m);
    ck_assert_int_eq(tw_write_text(tw_path(dir, "labels.txt"), "ant\nbee\ncow\n\n"), 0);
    ck_assert_msg(vit_model_open(dir, &m, &err) == 0, "%s", err.message);
    ck_assert_str_eq(vit_model_label(m, 2), "cow");
    vit_model_unref(m);
}
END_TEST

START_TEST(test_single_file_with_metadata_config)
{
    tw_tensor t[MAXT];
    for (int k = 0; k < num_weights; k++) {
        t[k] = (tw_tensor){weights[k].name, "F32",
                           weights[k].ndim, {0},
                           weights[k].data, weights[k].n * sizeof(float)};
        memcpy(t[k].shape, weights[k].shape, sizeof(t[k].shape));
    }
    const char *path = tw_path(dir, "single.safetensors");
    ck_assert_int_eq(tw_write(path, t, num_weights, CONFIG), 0);
    vit_model *m;
    vit_error err;
    ck_assert_msg(vit_model_open(path, &m, &err) == 0, "%s", err.message);
    ck_assert_str_eq(vit_model_label(m, 2), "fox");
    vit_model_unref(m);
    ck_assert_int_eq(tw_write(path, t, num_weights, "{\"architecture\": 7}"), 0);
    ck_assert_int_eq(vit_model_open(path, &m, &err), -EINVAL);
    ck_assert_msg(strstr(err.message, "single.safetensors") && strstr(err.message, "architecture"),
                  "%s", err.message);
}
END_TEST

START_TEST(test_bad_session_and_frame_arguments)
{
    write_model(CONFIG);
    vit_model *m;
    vit_session *s = NULL;
    vit_error err;
    ck_assert_int_eq(vit_model_open(dir, &m, NULL), 0);
    vit_session_options o = {.threads = -3, .exit_threshold = -1};
    ck_assert_int_eq(vit_session_new(m, &o, &s, &err), -EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(vit_session_new(m, NULL, &s, &err), 0);
    uint8_t px[16];
    vit_frame f = {
        .format = VIT_FORMAT_RGB, .width = 4, .height = 1, .planes = {px}, .strides = {8}};
    vit_result r;
    ck_assert_int_eq(vit_session_classify(s, &f, &r, &err), -EINVAL); /* stride < 4*3 */
    ck_assert_ptr_nonnull(strstr(err.message, "stride"));
    f.strides[0] = 12;
    f.width = 0;
    ck_assert_int_eq(vit_session_classify(s, &f, &r, &err), -EINVAL);
    f.width = 4;
    f.format = VIT_FORMAT_I420; /* chroma planes missing */
    ck_assert_int_eq(vit_session_classify(s, &f, &r, &err), -EINVAL);
    vit_session_free(s);
    vit_model_unref(m);
}
END_TEST

typedef struct stream_job {
    vit_model *model;
    const float *img;
    float logits[NCLS];
    int failures;
} stream_job;

static void *stream_main(void *arg)
{
    stream_job *j = arg;
    vit_session *s;
    vit_session_options o = {.threads = 2, .exit_threshold = -1};
    if (vit_session_new(j->model, &o, &s, NULL) < 0) {
        j->failures++;
        return NULL;
    }
    for (int i = 0; i < 50; i++) {
        vit_result r;
        if (vit_session_run_tensor(s, j->img, &r, NULL) < 0) {
            j->failures++;
            continue;
        }
        if (i == 0)
            memcpy(j->logits, r.logits, sizeof(j->logits));
        else if (memcmp(j->logits, r.logits, sizeof(j->logits)))
            j->failures++; /* the same input must give the same answer every time */
    }
    vit_session_free(s);
    return NULL;
}

START_TEST(test_streams_share_one_model)
{
    /* four streams, each its own session (two threads each), on one model at the same time */
    write_model(CONFIG);
    vit_model *m;
    ck_assert_int_eq(vit_model_open(dir, &m, NULL), 0);
    float img[3 * IMG * IMG];
    for (int i = 0; i < 3 * IMG * IMG; i++)
        img[i] = frand();
    double ref[NCLS];
    naive_vit(img, ref);
    stream_job jobs[4];
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (stream_job){.model = m, .img = img};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, stream_main, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(threads[t], NULL);
        ck_assert_int_eq(jobs[t].failures, 0);
        for (int k = 0; k < NCLS; k++)
            ck_assert_double_lt(fabs(jobs[t].logits[k] - ref[k]), 1e-4);
    }
    vit_model_unref(m);
}
END_TEST

static Suite *model_suite(void)
{
    Suite *s = suite_create("vit-model");
    TCase *tc = tcase_create("model");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_forward_matches_naive_vit);
    tcase_add_test(tc, test_session_keeps_model_alive);
    tcase_add_test(tc, test_streams_share_one_model);
    tcase_add_test(tc, test_wrong_shape_names_tensor);
    tcase_add_test(tc, test_missing_tensor_names_tensor);
    tcase_add_test(tc, test_unused_tensor_is_an_error);
    tcase_add_test(tc, test_unknown_architecture);
    tcase_add_test(tc, test_bad_config_json_has_line_and_column);
    tcase_add_test(tc, test_bad_config_values);
    tcase_add_test(tc, test_labels_file_and_fallback_names);
    tcase_add_test(tc, test_single_file_with_metadata_config);
    tcase_add_test(tc, test_bad_session_and_frame_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vt_run_suite(model_suite());
}
