/* test-launch.c — vp_spec_to_launch(): the exact shape of structured descriptions, the edits made
 * to launch: text, and that the output really parses with gst_parse_launch() with every value
 * (paths with spaces, quotes and backslashes) arriving intact.
 *
 * The vitclassify plugin is not needed: a stand-in element with the same properties is
 * registered in-process as "vittestclassify" and substituted for "vitclassify" before parsing.
 * When the plugin is built, meson runs the test a second time against the real element.
 * Links GStreamer core and base only (never gstcheck, which bundles its own Check).
 */
#include <check.h>
#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <string.h>

#include "check-runner.h"
#include "vit.h"
#include "test-util.h"

/* ---- the stand-in element: vitclassify's property names, types and ranges
 * --------------------------------------------------------------- */

typedef struct {
    GstBaseTransform parent;
    char *model;
    guint top_k, interval, threads;
    double exit_threshold, exit_budget;
} FakeVit;
typedef struct {
    GstBaseTransformClass parent_class;
} FakeVitClass;

enum {
    PROP_0,
    PROP_MODEL,
    PROP_TOP_K,
    PROP_INTERVAL,
    PROP_EXIT_THRESHOLD,
    PROP_THREADS,
    PROP_EXIT_BUDGET
};

GType fake_vit_get_type(void);
G_DEFINE_TYPE(FakeVit, fake_vit, GST_TYPE_BASE_TRANSFORM)

static void fake_vit_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
    FakeVit *self = (FakeVit *)object;

    switch (id) {
    case PROP_MODEL:
        g_free(self->model);
        self->model = g_value_dup_string(value);
        break;
    case PROP_TOP_K:
        self->top_k = g_value_get_uint(value);
        break;
    case PROP_INTERVAL:
        self->interval = g_value_get_uint(value);
        break;
    case PROP_EXIT_THRESHOLD:
        self->exit_threshold = g_value_get_double(value);
        break;
    case PROP_EXIT_BUDGET:
        self->exit_budget = g_value_get_double(value);
        break;
    case PROP_THREADS:
        self->threads = g_value_get_uint(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void fake_vit_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
    FakeVit *self = (FakeVit *)object;

    switch (id) {
    case PROP_MODEL:
        g_value_set_string(value, self->model);
        break;
    case PROP_TOP_K:
        g_value_set_uint(value, self->top_k);
        break;
    case PROP_INTERVAL:
        g_value_set_uint(value, self->interval);
        break;
    case PROP_EXIT_THRESHOLD:
        g_value_set_double(value, self->exit_threshold);
        break;
    case PROP_EXIT_BUDGET:
        g_value_set_double(value, self->exit_budget);
        break;
    case PROP_THREADS:
        g_value_set_uint(value, self->threads);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void fake_vit_finalize(GObject *object)
{
    g_free(((FakeVit *)object)->model);
    G_OBJECT_CLASS(fake_vit_parent_class)->finalize(object);
}

static void fake_vit_class_init(FakeVitClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    static GstStaticPadTemplate sink =
        GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
    static GstStaticPadTemplate src =
        GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

    gobject_class->set_property = fake_vit_set_property;
    gobject_class->get_property = fake_vit_get_property;
    gobject_class->finalize = fake_vit_finalize;
    g_object_class_install_property(gobject_class, PROP_MODEL,
                                    g_param_spec_string("model", "", "", NULL, G_PARAM_READWRITE));
    g_object_class_install_property(
        gobject_class, PROP_TOP_K,
        g_param_spec_uint("top-k", "", "", 1, G_MAXINT, 5, G_PARAM_READWRITE));
    g_object_class_install_property(
        gobject_class, PROP_INTERVAL,
        g_param_spec_uint("interval", "", "", 1, G_MAXUINT, 1, G_PARAM_READWRITE));
    g_object_class_install_property(
        gobject_class, PROP_EXIT_THRESHOLD,
        g_param_spec_double("exit-threshold", "", "", -1, 1, -1, G_PARAM_READWRITE));
    g_object_class_install_property(
        gobject_class, PROP_EXIT_BUDGET,
        g_param_spec_double("exit-budget", "", "", 0, G_MAXDOUBLE, 0, G_PARAM_READWRITE));
    g_object_class_install_property(
        gobject_class, PROP_THREADS,
        g_param_spec_uint("threads", "", "", 0, 1024, 0, G_PARAM_READWRITE));
    gst_element_class_add_static_pad_template(element_class, &sink);
    gst_element_class_add_static_pad_template(element_class, &src);
    gst_element_class_set_static_metadata(element_class, "test stand-in", "Filter", "stand-in",
                                          "vitd");
}

static void fake_vit_init(FakeVit *self)
{
    self->top_k = 5;
    self->interval = 1;
    self->exit_threshold = -1;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static VpPipelineSpec *structured(const char *source, const char *model)
{
    VpPipelineSpec *s = g_new0(VpPipelineSpec, 1);

    s->name = g_strdup("cam");
    s->source = g_strdup(source);
    s->model = g_strdup(model);
    s->top_k = 3;
    s->interval = 2;
    s->early_exit = 0.8;
    s->threads = 2;
    s->realtime = TRUE;
    return s;
}

static VpPipelineSpec *raw(const char *launch, const char *model)
{
    VpPipelineSpec *s = g_new0(VpPipelineSpec, 1);

    s->name = g_strdup("raw");
    s->launch = g_strdup(launch);
    s->model = g_strdup(model);
    return s;
}

/* With VP_REAL_VITCLASSIFY set (meson does so when the plugin is built), descriptions are
 * parsed with the real element from GST_PLUGIN_PATH instead of the stand-in, which checks the
 * property names, types and ranges against the element itself. */
static gboolean use_real_element(void)
{
    return g_getenv("VP_REAL_VITCLASSIFY") != NULL;
}

/* Parses DESCRIPTION (the stand-in in place of vitclassify unless the real one is used);
 * fails the test on any error. */
static GstElement *parse(const char *description)
{
    char **parts = g_strsplit(description, "vitclassify", -1);
    char *text = use_real_element() ? g_strdup(description) : g_strjoinv("vittestclassify", parts);
    GError *error = NULL;
    GstElement *pipeline = gst_parse_launch_full(text, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);

    ck_assert_msg(pipeline != NULL && error == NULL, "gst_parse_launch(%s): %s", text,
                  error ? error->message : "?");
    g_strfreev(parts);
    g_free(text);
    return pipeline;
}

typedef struct {
    char *model;
    guint top_k, interval, threads;
    double exit_threshold, exit_budget;
} VitProps;

/* The properties of the element named "vit" in PIPELINE. */
static VitProps vit_props(GstElement *pipeline)
{
    GstElement *vit = gst_bin_get_by_name(GST_BIN(pipeline), "vit");
    GstElementFactory *factory;
    VitProps p = {0};

    ck_assert_msg(vit != NULL, "no element named vit");
    factory = gst_element_get_factory(vit);
    ck_assert_str_eq(GST_OBJECT_NAME(factory),
                     use_real_element() ? "vitclassify" : "vittestclassify");
    g_object_get(vit, "model", &p.model, "top-k", &p.top_k, "interval", &p.interval,
                 "exit-threshold", &p.exit_threshold, "threads", &p.threads, "exit-budget",
                 &p.exit_budget, NULL);
    gst_object_unref(vit);
    return p;
}

static gboolean have(const char *factory)
{
    GstElementFactory *f = gst_element_factory_find(factory);

    if (f)
        gst_object_unref(f);
    return f != NULL;
}

/* ---- tests -------------------------------------------------------------------------------- */

START_TEST(test_structured_shapes)
{
    static const char *const cases[][2] = {
        {"test:ball",
         "videotestsrc is-live=true pattern=ball ! vitclassify name=vit model=\"/m/tiny\" "
         "top-k=3 interval=2 exit-threshold=0.8 threads=2 ! fakesink name=sink sync=true "
         "qos=true"},
        {"v4l2:/dev/video0",
         "v4l2src device=\"/dev/video0\" ! videoconvert ! vitclassify name=vit "
         "model=\"/m/tiny\" top-k=3 interval=2 exit-threshold=0.8 threads=2 ! fakesink "
         "name=sink sync=true qos=true"},
        {"rtsp://cam/stream1",
         "uridecodebin uri=\"rtsp://cam/stream1\" ! videoconvert ! vitclassify name=vit "
         "model=\"/m/tiny\" top-k=3 interval=2 exit-threshold=0.8 threads=2 ! fakesink "
         "name=sink sync=true qos=true"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        VpPipelineSpec *s = structured(cases[i][0], "/m/tiny");
        char *text = vp_spec_to_launch(s);
        ck_assert_str_eq(text, cases[i][1]);
        g_free(text);
        vp_pipeline_spec_free(s);
    }
}
END_TEST

START_TEST(test_structured_options)
{
    VpPipelineSpec *s = structured("file:///v/a%20b.mp4", "/m/tiny");
    char *text;

    s->early_exit = -1; /* model default: no property at all */
    s->realtime = FALSE;
    s->precision = VIT_PRECISION_AUTO;
    text = vp_spec_to_launch(s);
    ck_assert_str_eq(text, "uridecodebin uri=\"file:///v/a%20b.mp4\" ! videoconvert ! "
                           "vitclassify name=vit model=\"/m/tiny\" top-k=3 interval=2 threads=2 "
                           "precision=auto ! fakesink name=sink sync=false");
    g_free(text);
    vp_pipeline_spec_free(s);
}
END_TEST

/* `early-exit: {budget-gflops: G}` becomes exit-budget=G, which the element accepts. */
START_TEST(test_structured_exit_budget)
{
    VpPipelineSpec *s = structured("test:ball", "/m/tiny");
    char *text;
    GstElement *pipeline;
    VitProps vit;

    s->early_exit = -1;
    s->exit_budget = 0.05;
    text = vp_spec_to_launch(s);
    ck_assert_str_eq(text, "videotestsrc is-live=true pattern=ball ! vitclassify name=vit "
                           "model=\"/m/tiny\" top-k=3 interval=2 exit-budget=0.05 threads=2 ! "
                           "fakesink name=sink sync=true qos=true");
    pipeline = parse(text);
    vit = vit_props(pipeline);
    ck_assert_double_eq_tol(vit.exit_budget, 0.05, 1e-9);
    ck_assert_double_eq_tol(vit.exit_threshold, -1, 1e-9);
    g_free(vit.model);
    gst_object_unref(pipeline);
    g_free(text);
    vp_pipeline_spec_free(s);
}
END_TEST

START_TEST(test_launch_text_edits)
{
    static const char *const cases[][3] = {
        /* launch text, spec model, expected */
        {"videotestsrc ! vitclassify model=/m/a top-k=1 ! fakesink", "/m/a",
         "videotestsrc ! vitclassify name=vit model=/m/a top-k=1 ! fakesink"},
        {"videotestsrc ! vitclassify name=vit model=/m/a ! fakesink", "/m/a",
         "videotestsrc ! vitclassify name=vit model=/m/a ! fakesink"},
        {"videotestsrc ! vitclassify name = other model=/m/a ! fakesink", "/m/a",
         "videotestsrc ! vitclassify name = vit model=/m/a ! fakesink"},
        {"videotestsrc ! vitclassify model=models/a ! fakesink", "/etc/vitd/models/a",
         "videotestsrc ! vitclassify name=vit model=\"/etc/vitd/models/a\" ! fakesink"},
        {"videotestsrc ! vitclassify model=\"my models/a\" ! fakesink", "/etc/my models/a",
         "videotestsrc ! vitclassify name=vit model=\"/etc/my models/a\" ! fakesink"},
        {"videotestsrc ! \"video/x-raw,format=RGB\" ! vitclassify\n  model=/m/a", "/m/a",
         "videotestsrc ! \"video/x-raw,format=RGB\" ! vitclassify name=vit\n  model=/m/a"},
        /* Found by tests/fuzz: an edit followed at once by '!' must not swallow it. */
        {"videotestsrc ! vitclassify!fakesink", "/m/a",
         "videotestsrc ! vitclassify name=vit !fakesink"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        VpPipelineSpec *s = raw(cases[i][0], cases[i][1]);
        char *text = vp_spec_to_launch(s);
        ck_assert_str_eq(text, cases[i][2]);
        g_free(text);
        vp_pipeline_spec_free(s);
    }
}
END_TEST

START_TEST(test_parses_with_awkward_paths)
{
    const char *model = "/tmp/my models/\"odd\" \\name";
    VpPipelineSpec *s = structured("test:smpte", model);
    char *text = vp_spec_to_launch(s);
    GstElement *pipeline = parse(text);
    VitProps vit = vit_props(pipeline);
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    gboolean sync;

    ck_assert_str_eq(vit.model, model);
    ck_assert_uint_eq(vit.top_k, 3);
    ck_assert_uint_eq(vit.interval, 2);
    ck_assert_double_eq_tol(vit.exit_threshold, 0.8, 1e-9);
    ck_assert_uint_eq(vit.threads, 2);
    g_free(vit.model);
    ck_assert_ptr_nonnull(sink);
    g_object_get(sink, "sync", &sync, NULL);
    ck_assert(sync);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
    g_free(text);
    vp_pipeline_spec_free(s);

    /* A raw launch with a relative model: the absolute path arrives intact. */
    s = raw("videotestsrc num-buffers=1 ! vitclassify model=\"rel/x\" ! fakesink", model);
    text = vp_spec_to_launch(s);
    pipeline = parse(text);
    vit = vit_props(pipeline);
    ck_assert_str_eq(vit.model, model);
    g_free(vit.model);
    gst_object_unref(pipeline);
    g_free(text);
    vp_pipeline_spec_free(s);
}
END_TEST

START_TEST(test_sources_parse)
{
    const char *sources[] = {"file:///srv/my%20videos/a.mp4", "rtsp://10.0.0.2/s",
                             "https://example.com/a.mp4", "v4l2:/dev/video7"};

    for (size_t i = 0; i < G_N_ELEMENTS(sources); i++) {
        VpPipelineSpec *s = structured(sources[i], "/m/tiny");
        char *text = vp_spec_to_launch(s);
        const char *factory = g_str_has_prefix(sources[i], "v4l2:") ? "v4l2src" : "uridecodebin";
        GstElement *pipeline, *source = NULL;
        char *value = NULL;

        if (!have(factory)) { /* plugin package not installed: shape is checked elsewhere */
            g_free(text);
            vp_pipeline_spec_free(s);
            continue;
        }
        pipeline = parse(text);
        g_free(vit_props(pipeline).model);
        GstIterator *it = gst_bin_iterate_sources(GST_BIN(pipeline));
        GValue item = G_VALUE_INIT;
        if (gst_iterator_next(it, &item) == GST_ITERATOR_OK)
            source = g_value_dup_object(&item);
        g_value_unset(&item);
        gst_iterator_free(it);
        ck_assert_ptr_nonnull(source);
        if (strcmp(factory, "v4l2src") == 0) {
            g_object_get(source, "device", &value, NULL);
            ck_assert_str_eq(value, "/dev/video7");
        } else {
            g_object_get(source, "uri", &value, NULL);
            ck_assert_str_eq(value, sources[i]);
        }
        g_free(value);
        gst_object_unref(source);
        gst_object_unref(pipeline);
        g_free(text);
        vp_pipeline_spec_free(s);
    }
}
END_TEST

/* The pattern list in source.c is hard-coded: it must match the installed videotestsrc both
 * ways (every accepted name parses; every name videotestsrc knows is accepted). */
START_TEST(test_test_patterns_match_videotestsrc)
{
    GstElement *src = gst_element_factory_make("videotestsrc", NULL);
    GParamSpec *pspec;
    GEnumClass *patterns;
    char *dir = tu_tmpdir();

    ck_assert_ptr_nonnull(src);
    tu_fake_model(dir, "m");
    pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(src), "pattern");
    patterns = g_type_class_ref(pspec->value_type);
    for (guint i = 0; i < patterns->n_values; i++) {
        const char *nick = patterns->values[i].value_nick;
        char *yaml =
            g_strdup_printf("pipelines:\n  - {name: a, source: 'test:%s', model: m}\n", nick);
        char *path = tu_write(dir, "p.yaml", yaml);
        GPtrArray *specs;
        char *err = tu_load_file(path, &specs);

        ck_assert_msg(err == NULL, "pattern %s refused: %s", nick, err);
        char *text = vp_spec_to_launch(g_ptr_array_index(specs, 0));
        gst_object_unref(parse(text));
        g_free(text);
        g_ptr_array_free(specs, TRUE);
        g_free(path);
        g_free(yaml);
    }
    g_type_class_unref(patterns);
    gst_object_unref(src);
    tu_rmtree(dir);
    g_free(dir);
}
END_TEST

static Suite *launch_suite(void)
{
    Suite *s = suite_create("launch");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_structured_shapes);
    tcase_add_test(tc, test_structured_options);
    tcase_add_test(tc, test_structured_exit_budget);
    tcase_add_test(tc, test_launch_text_edits);
    tcase_add_test(tc, test_parses_with_awkward_paths);
    tcase_add_test(tc, test_sources_parse);
    tcase_add_test(tc, test_test_patterns_match_videotestsrc);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    const CheckSuiteMaker suites[] = {launch_suite};

    gst_init(&argc, &argv);
    gst_element_register(NULL, "vittestclassify", GST_RANK_NONE, fake_vit_get_type());
    return check_runner_run(suites, CHECK_RUNNER_N(suites));
}
