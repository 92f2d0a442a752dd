/* vitd-publish.c — the `publish:` policy of a pipeline.
 *
 * every-frame emits each classification; on-change emits when the top label differs from the
 * last emitted one (the first classification always goes out); max-rate N emits when at least
 * 1/N s passed since the last emitted signal. Only signals actually sent update the state, so a
 * signal dropped under back-pressure does not hide a label change from subscribers. */
#include "vitd-publish.h"

gboolean vitd_publish_should_emit(const VitdPublishState *state, VpPublishMode mode,
                                  double max_rate, const char *top_label, gint64 now_us)
{
    switch (mode) {
    case VP_PUBLISH_ON_CHANGE:
        return !state->emitted_any || g_strcmp0(state->last_label, top_label) != 0;
    case VP_PUBLISH_MAX_RATE:
        if (!(max_rate > 0.0))
            return FALSE;
        if (!state->emitted_any)
            return TRUE;
        return (double)(now_us - state->last_emit_us) >= 1e6 / max_rate;
    case VP_PUBLISH_EVERY_FRAME:
    default:
        return TRUE;
    }
}

void vitd_publish_note_emitted(VitdPublishState *state, const char *top_label, gint64 now_us)
{
    if (g_strcmp0(state->last_label, top_label) != 0) {
        g_free(state->last_label);
        state->last_label = g_strdup(top_label);
    }
    state->emitted_any = TRUE;
    state->last_emit_us = now_us;
}

void vitd_publish_state_clear(VitdPublishState *state)
{
    g_clear_pointer(&state->last_label, g_free);
    state->emitted_any = FALSE;
    state->last_emit_us = 0;
}
