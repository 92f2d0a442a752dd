/* test_stem.c — ViTs that tokenize with a conv stem (3x3 conv + ReLU before the patch conv,
 * tools/train/vit_model.PatchEmbed) against the training code's own logits.
 *
 * On the fixtures tools/train/dvt_fixture.py writes from vit_model.py (vit_fmnist_stem_train:
 * the trained shape with 2 blocks, 14x14 tokens over 32 stem channels; _p7_train: 4x4 tokens
 * over 5) and the tools/ref one (vit_stem_test, RGB): the logits with one, two and three
 * threads, the GFLOPs the training code wrote into config.json (vit_model.vit_macs, stem
 * included), and that running allocates nothing. The cascade's stems are in test_dvt.c. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc_count.h"
#include "check_main.h"
#include "tools/npy.h"
#include "vit.h"

#ifndef VIT_FIXTURES_DIR
#error "VIT_FIXTURES_DIR must name the generated fixtures"
#endif

static const char *const fixtures[] = {"vit_fmnist_stem_train", "vit_fmnist_stem_p7_train",
                                       "vit_stem_test"};
#define NUM_FIXTURES ((int)(sizeof(fixtures) / sizeof(fixtures[0])))

typedef struct fixture {
    char path[512];
    vit_model *model;
    float *input, *logits;
    int classes;
} fixture;

static void fixture_open(fixture *f, int i)
{
    vit_error err = {{0}};
    char p[600];
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    snprintf(f->path, sizeof(f->path), "%s/%s", VIT_FIXTURES_DIR, fixtures[i]);
    ck_assert_msg(vit_model_open(f->path, &f->model, &err) == 0, "%s", err.message);
    snprintf(p, sizeof(p), "%s/input.npy", f->path);
    ck_assert_msg(vit_npy_read_f32(p, &f->input, &ndim, shape, &err) == 0, "%s", err.message);
    snprintf(p, sizeof(p), "%s/logits.npy", f->path);
    ck_assert_msg(vit_npy_read_f32(p, &f->logits, &ndim, shape, &err) == 0, "%s", err.message);
    f->classes = vit_model_num_classes(f->model);
    ck_assert_int_eq(ndim, 1);
    ck_assert_int_eq(shape[0], f->classes);
}

static void fixture_close(fixture *f)
{
    vit_model_unref(f->model);
    free(f->input);
    free(f->logits);
}

static vit_session *session(fixture *f, int threads)
{
    vit_error err = {{0}};
    vit_session *s;
    vit_session_options o = {.threads = threads, .exit_threshold = -1.0f};
    ck_assert_msg(vit_session_new(f->model, &o, &s, &err) == 0, "%s", err.message);
    return s;
}

/* PyTorch's logits (float64 over the stored weights) with 1, 2 and 3 threads, repeatedly. */
START_TEST(test_logits_match_pytorch)
{
    fixture f;
    fixture_open(&f, _i / 3);
    vit_session *s = session(&f, 1 + _i % 3);
    double scale = 0.0;
    for (int c = 0; c < f.classes; c++)
        scale = fmax(scale, fabs(f.logits[c]));
    for (int rep = 0; rep < 20; rep++) {
        vit_error err = {{0}};
        vit_result r;
        ck_assert_msg(vit_session_run_tensor(s, f.input, &r, &err) == 0, "%s", err.message);
        double diff = 0.0;
        for (int c = 0; c < f.classes; c++)
            diff = fmax(diff, fabs(r.logits[c] - f.logits[c]));
        ck_assert_msg(diff <= 1e-4 * scale, "%s, %d threads, run %d: max|diff| %g (scale %g)",
                      f.path, 1 + _i % 3, rep, diff, scale);
    }
    vit_session_free(s);
    fixture_close(&f);
}
END_TEST

/* The cost a result reports is what the training code computed (config.json "gflops"; the
 * two vit_model.py fixtures: the tools/ref one states no cost). */
START_TEST(test_gflops_match_training_code)
{
    fixture f;
    fixture_open(&f, _i);
    char p[600];
    snprintf(p, sizeof(p), "%s/config.json", f.path);
    json_t *cfg = json_load_file(p, 0, NULL);
    ck_assert_ptr_nonnull(cfg);
    json_t *g = json_object_get(cfg, "gflops");
    ck_assert_msg(json_is_number(g), "%s: config.json has no gflops", f.path);
    double want = json_number_value(g);
    ck_assert_double_eq_tol(vit_model_exit_gflops(f.model, 0), want, 1e-9 * want);
    vit_session *s = session(&f, 1);
    vit_result r;
    ck_assert_int_eq(vit_session_run_tensor(s, f.input, &r, NULL), 0);
    ck_assert_double_eq_tol(r.gflops, want, 1e-9 * want);
    vit_session_free(s);
    json_decref(cfg);
    fixture_close(&f);
}
END_TEST

/* The stem works in the session's arena: frames allocate nothing, with 1 and 2 threads. */
START_TEST(test_run_never_allocates)
{
    fixture f;
    fixture_open(&f, _i / 2);
    vit_session *s = session(&f, 1 + _i % 2);
    vit_result r;
    ck_assert_int_eq(vit_session_run_tensor(s, f.input, &r, NULL), 0);
    int failed = 0; /* no Check assertion inside: Check itself allocates to record them */
    vt_alloc_count_start();
    for (int i = 0; i < 5; i++)
        failed |= vit_session_run_tensor(s, f.input, &r, NULL) < 0;
    long allocations = vt_alloc_count_stop();
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(allocations, 0);
    vit_session_free(s);
    fixture_close(&f);
}
END_TEST

static Suite *stem_suite(void)
{
    Suite *s = suite_create("stem");
    TCase *tc = tcase_create("vit");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_logits_match_pytorch, 0, 3 * NUM_FIXTURES);
    tcase_add_loop_test(tc, test_gflops_match_training_code, 0, 2);
    tcase_add_loop_test(tc, test_run_never_allocates, 0, 2 * NUM_FIXTURES);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/%s/logits.npy", VIT_FIXTURES_DIR, fixtures[0]);
    if (access(p, R_OK) != 0) {
        printf("SKIP: no conv-stem fixtures in %s\n", VIT_FIXTURES_DIR);
        return 77;
    }
    return vt_run_suite(stem_suite());
}
