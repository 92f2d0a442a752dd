/* test_dvt.c — the dvt_cascade family against the PyTorch cascade (tools/train/dvt.py).
 *
 * On the fixtures of tools/train/dvt_fixture.py (random cascades, two with conv stems, whose
 * reuse paths are all non-zero; exit_logits.npy holds every exit's logits, computed in float64):
 * each exit's logits when it is made to answer, the exit a threshold sends each input to, the
 * cost reported with it, the budget mode's choice, errors on bad cascade configs, and that
 * running allocates nothing. One, two and three threads. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_count.h"
#include "check-runner.h"
#include "tools/npy.h"
#include "vit.h"

#ifndef VIT_FIXTURES_DIR
#error "VIT_FIXTURES_DIR must name the generated fixtures"
#endif

/* The last two tokenize with conv stems (every exit 32 channels; 8, none and 12). */
static const char *const fixtures[] = {"dvt_cascade_fmnist_shape", "dvt_cascade_uneven",
                                       "dvt_cascade_fmnist_stem", "dvt_cascade_stem_mixed"};
#define NUM_FIXTURES ((int)(sizeof(fixtures) / sizeof(fixtures[0])))

typedef struct fixture {
    char path[512];
    vit_model *model;
    float *input, *exit_logits; /* [C*H*W], [K * classes] */
    int exits, classes;
} fixture;

static void fixture_open_at(fixture *f, const char *model_path, const char *data_dir)
{
    vit_error err = {{0}};
    char p[600];
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    snprintf(f->path, sizeof(f->path), "%s", model_path);
    ck_assert_msg(vit_model_open(model_path, &f->model, &err) == 0, "%s", err.message);
    snprintf(p, sizeof(p), "%s/input.npy", data_dir);
    ck_assert_msg(vit_npy_read_f32(p, &f->input, &ndim, shape, &err) == 0, "%s", err.message);
    snprintf(p, sizeof(p), "%s/exit_logits.npy", data_dir);
    ck_assert_msg(vit_npy_read_f32(p, &f->exit_logits, &ndim, shape, &err) == 0, "%s", err.message);
    f->exits = vit_model_num_exits(f->model);
    f->classes = vit_model_num_classes(f->model);
    ck_assert_int_eq(ndim, 2);
    ck_assert_int_eq(shape[0], f->exits);
    ck_assert_int_eq(shape[1], f->classes);
}

static void fixture_open(fixture *f, int i)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", VIT_FIXTURES_DIR, fixtures[i]);
    fixture_open_at(f, dir, dir);
}

static void fixture_close(fixture *f)
{
    vit_model_unref(f->model);
    free(f->input);
    free(f->exit_logits);
}

static double max_prob(const float *logits, int n)
{
    double mx = logits[0], sum = 0.0;
    for (int i = 1; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < n; i++)
        sum += exp((double)logits[i] - mx);
    return 1.0 / sum;
}

static vit_session *session(fixture *f, int threads)
{
    vit_error err = {{0}};
    vit_session *s;
    vit_session_options o = {.threads = threads, .exit_threshold = -1.0f};
    ck_assert_msg(vit_session_new(f->model, &o, &s, &err) == 0, "%s", err.message);
    return s;
}

static void run(vit_session *s, fixture *f, vit_result *r)
{
    vit_error err = {{0}};
    ck_assert_msg(vit_session_run_tensor(s, f->input, r, &err) == 0, "%s", err.message);
}

/* Every exit, made to answer (thresholds above 1 before it, 0 at it), gives PyTorch's logits. */
START_TEST(test_exit_logits_match_pytorch)
{
    fixture f;
    fixture_open(&f, _i / 2);
    ck_assert_int_eq(f.exits, 3);
    vit_session *s = session(&f, 1 + _i % 2);
    for (int k = 0; k < f.exits; k++) {
        float th[8];
        for (int j = 0; j < f.exits; j++)
            th[j] = j < k ? 2.0f : 0.0f;
        vit_error err = {{0}};
        ck_assert_msg(vit_session_set_exit_thresholds(s, th, f.exits, &err) == 0, "%s",
                      err.message);
        vit_result r;
        run(s, &f, &r);
        ck_assert_int_eq(r.exit_index, k);
        const float *want = f.exit_logits + (size_t)k * f.classes;
        double scale = 0.0, diff = 0.0;
        for (int c = 0; c < f.classes; c++) {
            scale = fmax(scale, fabs(want[c]));
            diff = fmax(diff, fabs(r.logits[c] - want[c]));
        }
        ck_assert_msg(diff <= 1e-4 * scale, "%s exit %d: max|diff| %g (scale %g)", f.path, k, diff,
                      scale);
        ck_assert_double_eq_tol(r.gflops, vit_model_exit_gflops(f.model, k), 1e-12);
    }
    vit_session_free(s);
    fixture_close(&f);
}
END_TEST

/* Thresholds between and around the exits' confidences send the input where PyTorch's
 * probabilities say: the first exit whose top probability reaches the threshold. */
START_TEST(test_exit_decisions_match_pytorch)
{
    fixture f;
    fixture_open(&f, _i / 2);
    vit_session *s = session(&f, 1 + _i % 2);
    double conf[8], cand[32];
    int n = 0;
    for (int k = 0; k < f.exits; k++)
        conf[k] = max_prob(f.exit_logits + (size_t)k * f.classes, f.classes);
    cand[n++] = 0.0;
    cand[n++] = 1.5;
    for (int a = 0; a < f.exits; a++) {
        cand[n++] = conf[a] - 1e-3;
        cand[n++] = conf[a] + 1e-3;
    }
    int seen[8] = {0};
    for (int i = 0; i < n; i++) {
        int want = f.exits - 1;
        for (int k = f.exits - 2; k >= 0; k--)
            if (conf[k] >= cand[i])
                want = k;
        vit_session_set_exit_threshold(s, (float)cand[i]);
        vit_result r;
        run(s, &f, &r);
        ck_assert_msg(r.exit_index == want, "%s threshold %g: exit %d, PyTorch says %d", f.path,
                      cand[i], r.exit_index, want);
        const float *lg = f.exit_logits + (size_t)want * f.classes;
        int best = 0, got;
        for (int c = 1; c < f.classes; c++)
            best = lg[c] > lg[best] ? c : best;
        vit_result_top_k(&r, 1, &got, NULL);
        ck_assert_int_eq(got, best);
        seen[want] = 1;
    }
    double earlier = 0.0; /* exit k is reachable when it is more confident than all before */
    for (int k = 0; k < f.exits; k++) {
        ck_assert_msg(seen[k] || (k < f.exits - 1 && conf[k] <= earlier + 2e-3),
                      "%s: no threshold reached exit %d", f.path, k);
        earlier = fmax(earlier, conf[k]);
    }
    vit_session_free(s);
    fixture_close(&f);
}
END_TEST

/* Splitting rows over threads changes nothing: many runs with 2 and 3 threads give the
 * one-thread logits of every exit (a race between threads' rows would show up here). */
START_TEST(test_threads_agree)
{
    fixture f;
    fixture_open(&f, _i);
    vit_session *one = session(&f, 1), *many[2] = {session(&f, 2), session(&f, 3)};
    for (int k = 0; k < f.exits; k++) {
        float th[8];
        for (int j = 0; j < f.exits; j++)
            th[j] = j < k ? 2.0f : 0.0f;
        vit_error err = {{0}};
        vit_session *all[3] = {one, many[0], many[1]};
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(vit_session_set_exit_thresholds(all[i], th, f.exits, &err), 0);
        vit_result want, got;
        run(one, &f, &want);
        for (int rep = 0; rep < 60; rep++) {
            run(many[rep % 2], &f, &got);
            ck_assert_int_eq(got.exit_index, k);
            for (int c = 0; c < f.classes; c++)
                ck_assert_msg(fabsf(got.logits[c] - want.logits[c]) <= 1e-5f,
                              "%s exit %d, %d threads, run %d: logit %d %g vs %g", f.path, k,
                              2 + rep % 2, rep, c, got.logits[c], want.logits[c]);
        }
    }
    vit_session_free(one);
    vit_session_free(many[0]);
    vit_session_free(many[1]);
    fixture_close(&f);
}
END_TEST

/* Running frames allocates nothing: every exit and every reuse path works in the arena. */
START_TEST(test_run_never_allocates)
{
    fixture f;
    fixture_open(&f, _i / 2);
    vit_session *s = session(&f, 1 + _i % 2);
    vit_result r;
    vit_session_set_exit_threshold(s, 1.5f);
    run(s, &f, &r); /* a first run may fault pages in; it must not allocate either */
    int failed = 0; /* no Check assertion inside: Check itself allocates to record them */
    vt_alloc_count_start();
    for (int i = 0; i < 5; i++)
        failed |= vit_session_run_tensor(s, f.input, &r, NULL) < 0;
    long allocations = vt_alloc_count_stop();
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(r.exit_index, f.exits - 1);
    ck_assert_int_eq(allocations, 0);
    vit_session_free(s);
    fixture_close(&f);
}
END_TEST

/* The model's GFLOPs per exit are those tools/train/dvt.py wrote into config.json. */
START_TEST(test_exit_gflops_match_config)
{
    fixture f;
    fixture_open(&f, _i);
    char p[600];
    snprintf(p, sizeof(p), "%s/config.json", f.path);
    json_t *cfg = json_load_file(p, 0, NULL);
    ck_assert_ptr_nonnull(cfg);
    json_t *g = json_object_get(cfg, "exit_gflops");
    ck_assert_int_eq((int)json_array_size(g), f.exits);
    for (int k = 0; k < f.exits; k++) {
        double want = json_number_value(json_array_get(g, (size_t)k));
        ck_assert_double_eq_tol(vit_model_exit_gflops(f.model, k), want, 1e-9 * want);
        if (k > 0)
            ck_assert(vit_model_exit_gflops(f.model, k) > vit_model_exit_gflops(f.model, k - 1));
    }
    json_decref(cfg);
    fixture_close(&f);
}
END_TEST

/* A copy of fixture 0 (weights symlinked) whose config.json was edited by edit(). */
static void edited_fixture(char *dir, size_t size, void (*edit)(json_t *cfg))
{
    char src[512], p[700], q[700];
    snprintf(src, sizeof(src), "%s/%s", VIT_FIXTURES_DIR, fixtures[0]);
    snprintf(dir, size, "/tmp/test-dvt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/model.safetensors", src);
    snprintf(q, sizeof(q), "%s/model.safetensors", dir);
    ck_assert_int_eq(symlink(p, q), 0);
    snprintf(p, sizeof(p), "%s/config.json", src);
    json_t *cfg = json_load_file(p, 0, NULL);
    ck_assert_ptr_nonnull(cfg);
    edit(cfg);
    snprintf(q, sizeof(q), "%s/config.json", dir);
    ck_assert_int_eq(json_dump_file(cfg, q, JSON_INDENT(1)), 0);
    json_decref(cfg);
}

static void remove_fixture(const char *dir)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/model.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/config.json", dir);
    unlink(p);
    rmdir(dir);
}

/* Budgets: "all to exit 2" (costliest), "all to exit 0", "all to exit 1", with their costs. */
static void add_budgets(json_t *cfg)
{
    json_t *b = json_array();
    static const double th[3][3] = {{2, 2, 0}, {0, 0, 0}, {2, 0, 0}};
    static const double cost[3] = {0.18, 0.007, 0.036};
    for (int i = 0; i < 3; i++)
        json_array_append_new(b,
                              json_pack("{s:[f,f,f], s:f, s:f}", "thresholds", th[i][0], th[i][1],
                                        th[i][2], "val_mean_gflops", cost[i], "q", 1.0));
    json_object_set_new(cfg, "budgets", b);
    json_object_set_new(cfg, "exit_thresholds", json_pack("[f,f,f]", 0.0, 2.0, 0.0));
}

START_TEST(test_budget_mode)
{
    char dir[64];
    edited_fixture(dir, sizeof(dir), add_budgets);
    fixture f;
    char data[512];
    snprintf(data, sizeof(data), "%s/%s", VIT_FIXTURES_DIR, fixtures[0]);
    fixture_open_at(&f, dir, data);
    ck_assert_int_eq(vit_model_num_budgets(f.model), 3);
    ck_assert_double_eq_tol(vit_model_budget_gflops(f.model, 2), 0.036, 1e-12);
    ck_assert_float_eq(vit_model_exit_threshold(f.model, 0, 1), 2.0f);
    ck_assert_float_eq(vit_model_exit_threshold(f.model, -1, 1), 2.0f);
    ck_assert_float_eq(vit_model_exit_threshold(f.model, 0, 2), 0.0f);
    vit_session *s = session(&f, 1);
    vit_result r;
    vit_error err = {{0}};
    /* the model default (exit_thresholds [0, 2, 0]) sends everything to exit 0 */
    run(s, &f, &r);
    ck_assert_int_eq(r.exit_index, 0);
    static const struct {
        double target;
        int budget, exit_index;
    } cases[] = {
        {1.0, 0, 2}, {0.18, 0, 2}, {0.1, 2, 1}, {0.036, 2, 1}, {0.02, 1, 0}, {0.001, 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int b = vit_session_set_budget(s, cases[i].target, &err);
        ck_assert_msg(b == cases[i].budget, "target %g: budget %d, expected %d", cases[i].target, b,
                      cases[i].budget);
        run(s, &f, &r);
        ck_assert_int_eq(r.exit_index, cases[i].exit_index);
    }
    ck_assert_int_eq(vit_session_set_budget(s, NAN, &err), -EINVAL);
    ck_assert_int_eq(vit_session_set_budget(s, -1.0, &err), -EINVAL);
    /* back to one threshold for all exits, then to the model's defaults */
    vit_session_set_exit_threshold(s, 1.5f);
    run(s, &f, &r);
    ck_assert_int_eq(r.exit_index, 2);
    vit_session_set_exit_threshold(s, -1.0f);
    run(s, &f, &r);
    ck_assert_int_eq(r.exit_index, 0);
    vit_session_free(s);
    fixture_close(&f);
    remove_fixture(dir);
}
END_TEST

START_TEST(test_no_budgets)
{
    fixture f;
    fixture_open(&f, 0);
    vit_session *s = session(&f, 1);
    vit_error err = {{0}};
    ck_assert_int_eq(vit_model_num_budgets(f.model), 0);
    ck_assert_int_eq(vit_session_set_budget(s, 0.1, &err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err.message, "budgets"));
    float th[2] = {0.5f, 0.5f};
    ck_assert_int_eq(vit_session_set_exit_thresholds(s, th, 2, &err), -EINVAL);
    vit_session_free(s);
    fixture_close(&f);
}
END_TEST

static void bad_thresholds(json_t *cfg)
{
    json_object_set_new(cfg, "exit_thresholds", json_pack("[f,f]", 0.5, 0.0));
}

static void bad_exit_args(json_t *cfg)
{
    json_t *e = json_array_get(json_object_get(json_object_get(cfg, "model_args"), "exits"), 1);
    json_object_set_new(e, "depth", json_integer(5));
}

static void bad_budget(json_t *cfg)
{
    json_object_set_new(cfg, "budgets", json_pack("[{s:[f,f,f]}]", "thresholds", 1.0, 1.0, 0.0));
}

static void no_exits(json_t *cfg)
{
    json_object_del(json_object_get(cfg, "model_args"), "exits");
}

/* A config that does not describe the weights fails at open with a message naming the fault. */
START_TEST(test_bad_configs)
{
    static void (*const edits[])(json_t *) = {bad_thresholds, bad_exit_args, bad_budget, no_exits};
    static const char *const words[] = {"exit_thresholds", "exits.1.blocks.4", "budgets[0]",
                                        "model_args.exits"};
    char dir[64];
    edited_fixture(dir, sizeof(dir), edits[_i]);
    vit_model *m = NULL;
    vit_error err = {{0}};
    int r = vit_model_open(dir, &m, &err);
    ck_assert_msg(r == -EINVAL || r == -ENOTSUP || r == -ENOENT, "open returned %d", r);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.message, words[_i]) != NULL, "message \"%s\" lacks \"%s\"",
                  err.message, words[_i]);
    remove_fixture(dir);
}
END_TEST

static Suite *dvt_suite(void)
{
    Suite *s = suite_create("dvt");
    TCase *tc = tcase_create("cascade");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_exit_logits_match_pytorch, 0, 2 * NUM_FIXTURES);
    tcase_add_loop_test(tc, test_exit_decisions_match_pytorch, 0, 2 * NUM_FIXTURES);
    tcase_add_loop_test(tc, test_threads_agree, 0, NUM_FIXTURES);
    tcase_add_loop_test(tc, test_run_never_allocates, 0, 2 * NUM_FIXTURES);
    tcase_add_loop_test(tc, test_exit_gflops_match_config, 0, NUM_FIXTURES);
    tcase_add_test(tc, test_budget_mode);
    tcase_add_test(tc, test_no_budgets);
    tcase_add_loop_test(tc, test_bad_configs, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/%s/exit_logits.npy", VIT_FIXTURES_DIR, fixtures[0]);
    if (access(p, R_OK) != 0) {
        printf("SKIP: no DVT fixtures in %s\n", VIT_FIXTURES_DIR);
        return 77;
    }
    return check_runner_run_suite(dvt_suite());
}
