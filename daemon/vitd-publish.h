/* vitd-publish.h — per-pipeline publish policy: which classifications become D-Bus signals
 * (pure logic, unit-tested). */
#pragma once

#include <glib.h>
#include "vitpipeline.h"

typedef struct {
    gboolean emitted_any; /* a signal was emitted since the pipeline object was created */
    char *last_label;     /* top label of the last emitted signal (NULL: none or no labels) */
    gint64 last_emit_us;  /* monotonic time of the last emitted signal */
} VitdPublishState;

/* TRUE when a classification whose top label is TOP_LABEL (NULL when it has no labels) seen at
 * monotonic time NOW_US should be emitted under MODE (MAX_RATE signals/s for max-rate). */
gboolean vitd_publish_should_emit(const VitdPublishState *state, VpPublishMode mode,
                                  double max_rate, const char *top_label, gint64 now_us);
/* Records that an event with TOP_LABEL was emitted at NOW_US (it got a seq and went to every
 * sink, whether or not a sink had to drop it). */
void vitd_publish_note_emitted(VitdPublishState *state, const char *top_label, gint64 now_us);
void vitd_publish_state_clear(VitdPublishState *state);
