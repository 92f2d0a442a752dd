/* gstvitclassification.h — the `vit-classification` message of vitclassify, read back.
 *
 * The bus contract between the element and its readers (vitd, applications watching the bus):
 * the names (vitclassify-names.h) and a parser that turns the message's GstStructure into a
 * plain C struct, so no reader spells a field name or walks a GstValueArray itself.
 *
 *   const GstStructure *s = gst_message_get_structure (msg);
 *   g_auto (GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;
 *   if (gst_vit_classification_parse (s, &c) && c.n_classes > 0)
 *     g_print ("frame %" G_GUINT64_FORMAT ": %s %.2f\n", c.frame, c.labels[0], c.scores[0]);
 *
 * Link vitcontract (a static library built in plugins/gst) for the parser. */
#ifndef GST_VIT_CLASSIFICATION_H
#define GST_VIT_CLASSIFICATION_H

#include <gst/gst.h>

#include "vitclassify-names.h"

G_BEGIN_DECLS

/* One classified frame, owning copies of everything it holds. */
typedef struct {
    guint64 frame;             /* index of the frame in the stream since start or flush */
    GstClockTime timestamp;    /* the buffer's PTS, or GST_CLOCK_TIME_NONE */
    GstClockTime stream_time;  /* PTS in stream time, or GST_CLOCK_TIME_NONE */
    GstClockTime running_time; /* PTS in running time, or GST_CLOCK_TIME_NONE */
    GstClockTime duration;     /* the buffer's duration, or GST_CLOCK_TIME_NONE */
    guint n_classes;           /* length of labels, scores and class_ids */
    gchar **labels;            /* [n_classes] most probable first, NULL-terminated */
    gdouble *scores;           /* [n_classes] softmax probability of each label */
    gint *class_ids;           /* [n_classes] index in the model's output; -1 if not given */
    guint exit;                /* exit of a cascade that answered; 0 for single networks */
    guint64 latency_us;        /* wall time of the inference call, microseconds */
} GstVitClassification;

#define GST_VIT_CLASSIFICATION_INIT                                                                \
    {                                                                                              \
        0                                                                                          \
    }

/* Fills *RET from S when S is a `vit-classification` structure and returns TRUE; otherwise
 * returns FALSE and leaves *RET alone. Missing fields read as 0 (frame, exit, latency) or
 * GST_CLOCK_TIME_NONE (times); numbers of another numeric type are converted. Labels and
 * scores are paired: n_classes is the shorter of the two lists. Free with _clear(). */
gboolean gst_vit_classification_parse(const GstStructure *s, GstVitClassification *ret);

/* Frees what _parse() allocated and zeroes C. Accepts a zeroed struct. */
void gst_vit_classification_clear(GstVitClassification *c);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(GstVitClassification, gst_vit_classification_clear)

G_END_DECLS

#endif /* GST_VIT_CLASSIFICATION_H */
