/* vitclassify-names.h — the names that tie vitclassify to its readers, as plain #defines.
 *
 * No GStreamer or GLib here, so code that only writes or checks pipeline descriptions (the
 * YAML layer in pipeline/) can use the same spelling as the element and the daemon. What the
 * fields hold is documented in gstvitclassification.h and in vitclassify's element doc. */
#ifndef VIT_CLASSIFY_NAMES_H
#define VIT_CLASSIFY_NAMES_H

/* The name vitd gives its one vitclassify element in every pipeline, and finds it by. */
#define VIT_CLASSIFY_ELEMENT_NAME "vit"

/* The element message vitclassify posts for every classified frame. */
#define VIT_CLASSIFICATION_MESSAGE "vit-classification"

/* Its fields, in the order the element sets them. */
#define VIT_CLASSIFICATION_FIELD_FRAME "frame"               /* guint64 */
#define VIT_CLASSIFICATION_FIELD_TIMESTAMP "timestamp"       /* guint64 (GstClockTime) */
#define VIT_CLASSIFICATION_FIELD_STREAM_TIME "stream-time"   /* guint64 (GstClockTime) */
#define VIT_CLASSIFICATION_FIELD_RUNNING_TIME "running-time" /* guint64 (GstClockTime) */
#define VIT_CLASSIFICATION_FIELD_DURATION "duration"         /* guint64 (GstClockTime) */
#define VIT_CLASSIFICATION_FIELD_LABELS "labels"             /* GstValueArray of gchararray */
#define VIT_CLASSIFICATION_FIELD_SCORES "scores"             /* GstValueArray of gdouble */
#define VIT_CLASSIFICATION_FIELD_CLASS_IDS "class-ids"       /* GstValueArray of gint */
#define VIT_CLASSIFICATION_FIELD_EXIT "exit"                 /* guint */
#define VIT_CLASSIFICATION_FIELD_LATENCY_US "latency-us"     /* guint64 */

#endif /* VIT_CLASSIFY_NAMES_H */
