/* vit-fixture.h — the shared set-up of the vitclassify / vitoverlay element tests.
 *
 * A VitFixture is one vitclassify (named "vit") in a GstHarness, fed fixed caps, not live,
 * posting on a bus of its own; the helpers push test pictures through it and read its
 * `vit-classification` messages back through the element's own contract parser
 * (gstvitclassification.h). A missing plugin or element fails the test with a message saying
 * so instead of crashing. */
#ifndef VIT_FIXTURE_H
#define VIT_FIXTURE_H

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "gstvitclassification.h"
#include "gstvitmeta.h"

/* Random-weight fixtures from tools/make_fixtures.py. */
#define SMALL_MODEL VIT_FIXTURES_DIR "/vit_small_test" /* 3x32x32, 10 labelled classes */
#define GRAY_MODEL VIT_FIXTURES_DIR "/vit_gray_test"   /* 1x28x28, Fashion-MNIST names */
#define DEIT_MODEL VIT_FIXTURES_DIR "/deit_tiny_patch16_224"
#define CASCADE_MODEL VIT_FIXTURES_DIR "/dvt_cascade_fmnist_shape" /* 3 exits, no budgets */
/* The shipped cascade: its config.json has budgets. */
#define BUDGET_MODEL VIT_MODELS_DIR "/fmnist-dvt"
#define NUM_CLASSES 10

typedef struct {
    GstHarness *h;
    GstElement *vit; /* the vitclassify in h (a reference) */
    GstBus *bus;     /* where it posts */
    GstCaps *caps;   /* what the harness feeds */
} VitFixture;

/* video/x-raw of FORMAT at WIDTHxHEIGHT, 30 fps. */
GstCaps *vit_caps_new(const gchar *format, gint width, gint height);
/* The test picture (a gradient with a bright square) in CAPS at PTS, 1/30 s long. */
GstBuffer *vit_picture_new(GstCaps *caps, GstClockTime pts);

/* gst_element_factory_make() that fails the test when FACTORY is not registered. */
GstElement *vit_element_new(const gchar *factory);
/* gst_harness_new_parse() that fails the test when DESC cannot be built. */
GstHarness *vit_harness_new(const gchar *desc);

/* Sets F up as "vitclassify name=vit model=MODEL PROPS" fed CAPS (taken). */
void vit_fixture_setup(VitFixture *f, const gchar *model, const gchar *props, GstCaps *caps);
/* Tears F down; accepts a zeroed or torn-down fixture. */
void vit_fixture_teardown(VitFixture *f);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VitFixture, vit_fixture_teardown)

/* Pushes IN (taken) and returns the buffer that came out (caller unrefs). */
GstBuffer *vit_fixture_push(VitFixture *f, GstBuffer *in);
/* Pushes the test picture at PTS and drops what came out. */
void vit_fixture_push_picture(VitFixture *f, GstClockTime pts);
/* Whether the next element message is a classification: parses it into *RET; FALSE when the
 * bus has none left. */
gboolean vit_fixture_pop(VitFixture *f, GstVitClassification *ret);
/* The next classification, failing the test when there is none. */
void vit_fixture_pop_expect(VitFixture *f, GstVitClassification *ret);
/* A guint64 property of the vitclassify. */
guint64 vit_fixture_get_u64(VitFixture *f, const gchar *property);

/* One test picture through "vitclassify model=SMALL_MODEL PROPS" (RGB 32x32): its message. */
void vit_classify_once(const gchar *props, GstVitClassification *ret);

#endif /* VIT_FIXTURE_H */
