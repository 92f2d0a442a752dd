/* vit-infer — run a libvit model from the command line.
 *
 *   vit-infer MODEL INPUT.npy --logits OUT.npy   logits of an already-normalised CHW tensor
 *   vit-infer MODEL IMAGE [--top-k K]            top-k labels of a PNG / JPEG / PPM / PGM file
 *   vit-infer ... [--precision fp32|bf16|auto]  the session's arithmetic (vit.h)
 *   vit-infer MODEL --bench N [--threads T]      N timed runs on a ready tensor; last line
 *                                                "median_ms: X"
 *   vit-infer MODEL IMAGE --bench N              N timed runs of what an application does per
 *                                                frame: preprocess IMAGE's pixels + infer
 *   vit-infer --list-architectures               every supported architecture name pattern
 *
 * Errors are one line on stderr and a non-zero exit status: 2 for bad usage, 3 when the model's
 * architecture is not supported, 1 for everything else. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/cli.h"
#include "tools/image_load.h"
#include "tools/npy.h"
#include "ops/ops.h"
#include "vit.h"

typedef struct options {
    const char *model, *input, *logits_out;
    int top_k, threads, bench;
    vit_precision precision;
} options;

static void usage(FILE *out)
{
    fputs("Usage: vit-infer [OPTIONS] MODEL [INPUT]\n"
          "Run a vision transformer (a timm-layout folder or a .safetensors file) on INPUT:\n"
          "a float32 CHW .npy tensor already normalised, or a PNG/JPEG/PPM/PGM image.\n"
          "\n"
          "  --logits OUT.npy  write the float32 logits [num_classes] to OUT.npy (with --bench:\n"
          "                    of the last run)\n"
          "  --top-k K         print the K most likely labels (default 5)\n"
          "  --threads T       worker threads (default 1; 0 = every online core)\n"
          "  --precision P     fp32 (default), bf16 (AVX512-BF16 GEMMs, fp32 sums; an error\n"
          "                    on a CPU without it) or auto (bf16 where the CPU has it)\n"
          "  --bench N         time N runs on INPUT (an image includes preprocessing), else\n"
          "                    on a fixed pseudo-random tensor;\n"
          "                    the last line printed is \"median_ms: X\"\n"
          "  --list-architectures  print the config.json architecture names libvit builds\n"
          "                    (glob patterns, one family per line) and exit\n"
          "  -h, --help        show this help\n",
          out);
}

static int fail(const char *msg)
{
    fprintf(stderr, "vit-infer: %s\n", msg);
    return 1;
}

/* Prints a usage error; returns -1 for parse_args to pass on. */
static int usage_error(const char *msg)
{
    fail(msg);
    return -1;
}

static void list_architectures(void)
{
    const char *const *patterns;
    const char *family;
    for (size_t i = 0; (family = vit_architectures(i, &patterns)); i++) {
        printf("%s:", family);
        for (; *patterns; patterns++)
            printf(" %s", *patterns);
        putchar('\n');
    }
}

static int parse_args(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"logits", required_argument, NULL, 'l'},       {"top-k", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 't'},      {"bench", required_argument, NULL, 'b'},
        {"precision", required_argument, NULL, 'p'},    {"help", no_argument, NULL, 'h'},
        {"list-architectures", no_argument, NULL, 'A'}, {NULL, 0, NULL, 0},
    };
    *o = (options){.top_k = 5, .threads = 1};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            o->logits_out = optarg;
            break;
        case 'k':
            if (vit_cli_int(optarg, 1, 1000000, &o->top_k) < 0)
                return usage_error("--top-k needs a positive integer");
            break;
        case 't':
            if (vit_cli_threads("vit-infer", optarg, &o->threads) < 0)
                return -1;
            break;
        case 'p':
            if (vit_cli_precision("vit-infer", optarg, &o->precision) < 0)
                return -1;
            break;
        case 'b':
            if (vit_cli_int(optarg, 1, 1000000, &o->bench) < 0)
                return usage_error("--bench needs a positive integer");
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'A':
            list_architectures();
            exit(0);
        default:
            fprintf(stderr, "Try 'vit-infer --help'.\n");
            return -1;
        }
    }
    if (optind < argc)
        o->model = argv[optind++];
    if (optind < argc)
        o->input = argv[optind++];
    if (!o->model || optind < argc || (!o->input && !o->bench)) {
        fail("expected MODEL and INPUT (or --bench N); try 'vit-infer --help'");
        return -1;
    }
    return 0;
}

static int is_npy(const char *path)
{
    FILE *f = fopen(path, "rbe");
    char magic[6] = {0};
    int yes = f && fread(magic, 1, 6, f) == 6 && !memcmp(magic, "\x93NUMPY", 6);
    if (f)
        fclose(f);
    return yes;
}

/* Loads an .npy input and checks it is the model's [C,H,W] (or [1,C,H,W]). */
static int load_tensor(const vit_model *m, const char *path, float **ret, vit_error *err)
{
    int64_t shape[NPY_MAX_DIMS];
    int ndim, c, h, w;
    float *data;
    int r = vit_npy_read_f32(path, &data, &ndim, shape, err);
    if (r < 0)
        return r;
    vit_model_input_size(m, &c, &h, &w);
    int off = ndim == 4 && shape[0] == 1;
    if (ndim - off != 3 || shape[off] != c || shape[off + 1] != h || shape[off + 2] != w) {
        free(data);
        snprintf(err->message, sizeof(err->message),
                 "%s: input must be float32 [%d,%d,%d] (the model's input size)", path, c, h, w);
        return -EINVAL;
    }
    *ret = data;
    return 0;
}

static int cmp_double(const void *a, const void *b);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One run: on the tensor when there is one, else on the frame (preprocessing included). */
static int run_once(vit_session *s, const float *input, const vit_frame *frame, vit_result *res,
                    vit_error *err)
{
    return input ? vit_session_run_tensor(s, input, res, err)
                 : vit_session_classify(s, frame, res, err);
}

/* Times o->bench runs; *res is the last run's result. */
static int bench(vit_session *s, const float *input, const vit_frame *frame, const options *o,
                 vit_result *res, vit_error *err)
{
    const vit_model *m = vit_session_model(s);
    int r = run_once(s, input, frame, res, err); /* warm-up */
    double *ms = calloc((size_t)o->bench, sizeof(double));
    double *cpu = calloc((size_t)o->bench, sizeof(double));
    if (!ms || !cpu) {
        free(ms);
        free(cpu);
        return -ENOMEM;
    }
    for (int i = 0; r == 0 && i < o->bench; i++) {
        double t0 = now_ms(), c0 = cpu_ms();
        r = run_once(s, input, frame, res, err);
        ms[i] = now_ms() - t0;
        cpu[i] = cpu_ms() - c0;
    }
    if (r == 0) {
        double cpu_med = median(cpu, o->bench), cpu_min = cpu[0]; /* median() sorted cpu */
        qsort(ms, (size_t)o->bench, sizeof(double), cmp_double);
        double sum = 0;
        for (int i = 0; i < o->bench; i++)
            sum += ms[i];
        printf("model: %s (%s)\n", vit_model_path(m), vit_model_architecture(m));
        printf("threads: %d\ngemm: %s\nprecision: %s\nruns: %d\ngflops: %.3f\n", o->threads,
               vit_gemm_backend(), vit_precision_name(vit_session_precision(s)), o->bench,
               res->gflops);
        printf("min_ms: %.3f\nmean_ms: %.3f\nmax_ms: %.3f\n", ms[0], sum / o->bench,
               ms[o->bench - 1]);
        /* CPU time of all threads per run: robust to other load on the machine */
        printf("min_cpu_ms: %.3f\nmedian_cpu_ms: %.3f\n", cpu_min, cpu_med);
        printf("median_ms: %.3f\n", median(ms, o->bench));
    }
    free(ms);
    free(cpu);
    return r;
}

static void print_top_k(const vit_model *m, const vit_result *res, int k)
{
    int *cls = malloc((size_t)k * sizeof(int));
    float *p = malloc((size_t)k * sizeof(float));
    if (!cls || !p) {
        free(cls);
        free(p);
        return;
    }
    int n = vit_result_top_k(res, k, cls, p);
    for (int i = 0; i < n; i++)
        printf("%.4f  %4d  %s\n", p[i], cls[i], vit_model_label(m, cls[i]));
    free(cls);
    free(p);
}

static int run(const options *o, vit_error *err)
{
    vit_model *m = NULL;
    vit_session *s = NULL;
    float *tensor = NULL;
    vit_image img = {0};
    vit_result res;
    int r = vit_model_open(o->model, &m, err);
    vit_session_options so = {
        .threads = o->threads, .exit_threshold = -1.0f, .precision = o->precision};
    if (r == 0)
        r = vit_session_new(m, &so, &s, err);
    if (r == 0 && o->input && is_npy(o->input))
        r = load_tensor(m, o->input, &tensor, err);
    else if (r == 0 && o->input)
        r = vit_image_load(o->input, &img, err);
    if (r == 0 && o->bench) {
        int c, h, w;
        vit_model_input_size(m, &c, &h, &w);
        if (!tensor && !img.pixels && !(tensor = malloc((size_t)c * h * w * sizeof(float))))
            r = -ENOMEM;
        for (size_t i = 0; r == 0 && !o->input && i < (size_t)c * h * w; i++)
            tensor[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        if (r == 0)
            r = bench(s, tensor, &img.frame, o, &res, err);
    } else if (r == 0) {
        r = tensor ? vit_session_run_tensor(s, tensor, &res, err)
                   : vit_session_classify(s, &img.frame, &res, err);
        if (r == 0 && !tensor)
            print_top_k(m, &res, o->top_k);
    }
    if (r == 0 && o->logits_out) /* with --bench: the last run's */
        r = vit_npy_write_f32(o->logits_out, res.logits, 1, (int64_t[]){res.num_classes}, err);
    if (r == -ENOMEM && !err->message[0])
        snprintf(err->message, sizeof(err->message), "out of memory");
    vit_image_clear(&img);
    free(tensor);
    vit_session_free(s);
    vit_model_unref(m);
    return r;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    vit_error err = {{0}};
    int r = run(&o, &err);
    if (r < 0) {
        fail(err.message);
        return r == -ENOTSUP ? 3 : 1;
    }
    return 0;
}
