/* vit-eval — accuracy, throughput and cost of a libvit model on an IDX image set.
 *
 *   vit-eval MODEL --images IDX[.gz] --labels IDX[.gz] [--exit-threshold T | --budget G]
 *            [--threads N] [--limit N] [--json]
 *
 * Every image goes through vit_session_classify as a GRAY8 (or RGB) frame, preprocessing
 * included, exactly as the GStreamer element feeds frames. Prints top-1 accuracy, frames/s
 * (wall time of the classify loop; also per CPU-second of the process, steadier on a shared
 * machine), mean GFLOPs per frame (the answering exit's cumulative
 * cost) and the histogram of answering exits; --json prints one JSON object instead.
 * Errors are one line on stderr: exit status 2 for bad usage, 3 for an unsupported
 * architecture, 1 for everything else. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/cli.h"
#include "tools/idx.h"
#include "vit.h"

typedef struct options {
    const char *model, *images, *labels;
    double exit_threshold, budget; /* < 0: not given */
    int threads, json;
    int64_t limit;
    vit_precision precision;
} options;

typedef struct eval_result {
    int64_t images, correct;
    double seconds, cpu_seconds, gflops_sum;
    int64_t exit_counts[16];
    int budget; /* index used, -1 for none */
    float thresholds[16];
} eval_result;

static void usage(FILE *out)
{
    fputs("Usage: vit-eval MODEL --images IDX[.gz] --labels IDX[.gz] [OPTIONS]\n"
          "Classify every image of an IDX file (MNIST / Fashion-MNIST format) and report top-1\n"
          "accuracy, frames/s, mean GFLOPs per frame and which exits answered.\n"
          "\n"
          "  --images FILE        IDX images (uint8 [N, H, W] or [N, H, W, 3]), gzip or plain\n"
          "  --labels FILE        IDX labels (uint8 [N])\n"
          "  --exit-threshold T   cascades: one confidence threshold for every exit\n"
          "  --budget G           cascades: the model's budget with the largest expected mean\n"
          "                       GFLOPs not above G (else its cheapest)\n"
          "  --threads N          worker threads (default 1; 0 = every online core)\n"
          "  --precision P        fp32 (default), bf16 or auto (vit-infer --help)\n"
          "  --limit N            only the first N images\n"
          "  --json               print one JSON object\n"
          "  -h, --help           show this help\n",
          out);
}

static int fail(const char *msg)
{
    fprintf(stderr, "vit-eval: %s\n", msg);
    return -1;
}

static int parse_args(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"images", required_argument, NULL, 'i'},
        {"labels", required_argument, NULL, 'l'},
        {"exit-threshold", required_argument, NULL, 'e'},
        {"budget", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'},
        {"limit", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"precision", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (options){.exit_threshold = -1.0, .budget = -1.0, .threads = 1};
    double v;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->images = optarg;
            break;
        case 'l':
            o->labels = optarg;
            break;
        case 'e':
            if (vit_cli_number(optarg, 0.0, 1e6, &o->exit_threshold) < 0)
                return fail("--exit-threshold needs a number >= 0");
            break;
        case 'b':
            if (vit_cli_number(optarg, 0.0, 1e9, &o->budget) < 0)
                return fail("--budget needs a number of GFLOPs >= 0");
            break;
        case 't':
            if (vit_cli_threads("vit-eval", optarg, &o->threads) < 0)
                return -1;
            break;
        case 'n':
            if (vit_cli_number(optarg, 1, 1e12, &v) < 0 || v != floor(v))
                return fail("--limit needs a positive integer");
            o->limit = (int64_t)v;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'p':
            if (vit_cli_precision("vit-eval", optarg, &o->precision) < 0)
                return -1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            fprintf(stderr, "Try 'vit-eval --help'.\n");
            return -1;
        }
    }
    if (optind < argc)
        o->model = argv[optind++];
    if (!o->model || optind < argc || !o->images || !o->labels)
        return fail("expected MODEL, --images and --labels; try 'vit-eval --help'");
    if (o->exit_threshold >= 0.0 && o->budget >= 0.0)
        return fail("--exit-threshold and --budget exclude each other");
    return 0;
}

static int load_data(const options *o, vit_idx *images, vit_idx *labels, vit_error *err)
{
    int r = vit_idx_read(o->images, o->limit, images, err);
    if (r == 0)
        r = vit_idx_read(o->labels, o->limit, labels, err);
    if (r < 0)
        return r;
    int rgb = images->ndim == 4 && images->dims[3] == 3;
    if (images->ndim != 3 && !rgb) {
        snprintf(err->message, sizeof(err->message),
                 "%s: images must be [N, H, W] or "
                 "[N, H, W, 3]",
                 o->images);
        return -EINVAL;
    }
    if (labels->ndim != 1 || labels->dims[0] != images->dims[0]) {
        snprintf(err->message, sizeof(err->message), "%s: %lld labels for %lld images in %s",
                 o->labels, (long long)labels->dims[0], (long long)images->dims[0], o->images);
        return -EINVAL;
    }
    return 0;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Applies --exit-threshold / --budget and records the thresholds each exit uses. */
static int set_policy(const options *o, const vit_model *m, vit_session *s, eval_result *res,
                      vit_error *err)
{
    int exits = vit_model_num_exits(m);
    res->budget = -1;
    if (o->budget >= 0.0) {
        int b = vit_session_set_budget(s, o->budget, err);
        if (b < 0)
            return b;
        res->budget = b;
    } else if (o->exit_threshold >= 0.0) {
        vit_session_set_exit_threshold(s, (float)o->exit_threshold);
    }
    for (int k = 0; k < exits && k < 16; k++)
        res->thresholds[k] = k == exits - 1 ? 0.0f
                             : o->exit_threshold >= 0.0
                                 ? (float)o->exit_threshold
                                 : vit_model_exit_threshold(m, res->budget, k);
    return 0;
}

static int evaluate(vit_session *s, const vit_idx *images, const vit_idx *labels, eval_result *res,
                    vit_error *err)
{
    int rgb = images->ndim == 4;
    vit_frame frame = {
        .format = rgb ? VIT_FORMAT_RGB : VIT_FORMAT_GRAY8,
        .width = (int)images->dims[2],
        .height = (int)images->dims[1],
        .strides = {(int)images->dims[2] * (rgb ? 3 : 1)},
    };
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int64_t i = 0; i < images->dims[0]; i++) {
        frame.planes[0] = images->data + i * images->item_bytes;
        vit_result r;
        int cls;
        int rc = vit_session_classify(s, &frame, &r, err);
        if (rc < 0)
            return rc;
        vit_result_top_k(&r, 1, &cls, NULL);
        res->correct += cls == labels->data[i];
        res->gflops_sum += r.gflops;
        if (r.exit_index >= 0 && r.exit_index < 16)
            res->exit_counts[r.exit_index]++;
    }
    res->seconds = clock_s(CLOCK_MONOTONIC) - t0;
    res->cpu_seconds = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    res->images = images->dims[0];
    return 0;
}

static void print_json(const options *o, const vit_model *m, const eval_result *res)
{
    int exits = vit_model_num_exits(m);
    json_t *counts = json_array(), *gflops = json_array(), *th = json_array();
    for (int k = 0; k < exits && k < 16; k++) {
        json_array_append_new(counts, json_integer(res->exit_counts[k]));
        json_array_append_new(gflops, json_real(vit_model_exit_gflops(m, k)));
        json_array_append_new(th, json_real(res->thresholds[k]));
    }
    json_t *budget = res->budget < 0
                         ? json_null()
                         : json_pack("{s:i, s:f}", "index", res->budget, "expected_gflops",
                                     vit_model_budget_gflops(m, res->budget));
    json_t *root = json_pack(
        "{s:s, s:s, s:i, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:o, s:o, s:o, s:o, s:i, s:s}",
        "model", o->model, "architecture", vit_model_architecture(m), "exits", exits, "images",
        (json_int_t)res->images, "correct", (json_int_t)res->correct, "accuracy",
        res->images ? (double)res->correct / (double)res->images : 0.0, "seconds", res->seconds,
        "frames_per_second", res->seconds > 0 ? (double)res->images / res->seconds : 0.0,
        "cpu_seconds", res->cpu_seconds, "frames_per_cpu_second",
        res->cpu_seconds > 0 ? (double)res->images / res->cpu_seconds : 0.0, "mean_gflops",
        res->images ? res->gflops_sum / (double)res->images : 0.0, "exit_counts", counts,
        "exit_gflops", gflops, "exit_thresholds", th, "budget", budget, "threads", o->threads,
        "precision", vit_precision_name(o->precision));
    char *text = json_dumps(root, JSON_COMPACT);
    puts(text ? text : "{}");
    free(text);
    json_decref(root);
}

static void print_text(const options *o, const vit_model *m, const eval_result *res)
{
    int exits = vit_model_num_exits(m);
    double n = res->images ? (double)res->images : 1.0;
    printf("model: %s (%s, %d exit%s), %lld images, %d thread%s, %s\n", o->model,
           vit_model_architecture(m), exits, exits == 1 ? "" : "s", (long long)res->images,
           o->threads, o->threads == 1 ? "" : "s", vit_precision_name(o->precision));
    if (exits > 1) {
        printf("exit thresholds:");
        for (int k = 0; k < exits && k < 16; k++)
            printf(" %.6g", res->thresholds[k]);
        if (res->budget >= 0)
            printf("  (budget %d, expected %.6f GFLOPs)", res->budget,
                   vit_model_budget_gflops(m, res->budget));
        printf("\n");
    }
    printf("accuracy: %.2f%% (%lld/%lld)\n", 100.0 * (double)res->correct / n,
           (long long)res->correct, (long long)res->images);
    printf("frames/s: %.1f (%.3f s; %.1f frames per CPU-second)\n",
           res->seconds > 0 ? (double)res->images / res->seconds : 0.0, res->seconds,
           res->cpu_seconds > 0 ? (double)res->images / res->cpu_seconds : 0.0);
    printf("mean GFLOPs per frame: %.6f\n", res->gflops_sum / n);
    printf("exits:");
    for (int k = 0; k < exits && k < 16; k++)
        printf("  %d: %lld (%.1f%%, %.6f GFLOPs)", k, (long long)res->exit_counts[k],
               100.0 * (double)res->exit_counts[k] / n, vit_model_exit_gflops(m, k));
    printf("\n");
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    vit_error err = {{0}};
    vit_model *m = NULL;
    vit_session *s = NULL;
    vit_idx images = {0}, labels = {0};
    eval_result res = {0};
    int r = vit_model_open(o.model, &m, &err);
    vit_session_options so = {
        .threads = o.threads, .exit_threshold = -1.0f, .precision = o.precision};
    if (r == 0)
        r = vit_session_new(m, &so, &s, &err);
    if (r == 0)
        o.precision = vit_session_precision(s); /* auto resolved, for the report */
    if (r == 0)
        r = set_policy(&o, m, s, &res, &err);
    if (r == 0)
        r = load_data(&o, &images, &labels, &err);
    if (r == 0)
        r = evaluate(s, &images, &labels, &res, &err);
    if (r == 0 && o.json)
        print_json(&o, m, &res);
    else if (r == 0)
        print_text(&o, m, &res);
    if (r < 0)
        fprintf(stderr, "vit-eval: %s\n", err.message[0] ? err.message : strerror(-r));
    vit_idx_clear(&images);
    vit_idx_clear(&labels);
    vit_session_free(s);
    vit_model_unref(m);
    return r == 0 ? 0 : r == -ENOTSUP ? 3 : 1;
}
