/* vitd-mqtt-payload.c — builds the MQTT payloads with jansson. The event payload uses the field
 * names of `vitctl monitor --json`, so one parser reads both; numbers keep jansson's default
 * precision (17 digits), so a score on MQTT is the very double of the D-Bus signal. */
#include "vitd-mqtt-payload.h"

#include <jansson.h>

static char *dump(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    char *copy = g_strdup(text ? text : "{}");
    free(text);
    return copy;
}

static json_t *labels_json(const VitdClassification *c)
{
    json_t *labels = json_array();
    for (guint i = 0; i < c->n_labels; i++)
        json_array_append_new(
            labels, json_pack("{s:s, s:f}", "label", c->labels[i], "score", c->scores[i]));
    return labels;
}

char *vitd_mqtt_payload_event(const VitdEvent *e, const char *box)
{
    const VitdClassification *c = e->c;
    return dump(json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:i, s:I}", "box", box,
                          "pipeline", e->pipeline, "stream", e->stream, "seq", (json_int_t)e->seq,
                          "frame", (json_int_t)c->frame, "pts_ns", (json_int_t)c->pts_ns,
                          "realtime_us", (json_int_t)e->realtime_us, "labels", labels_json(c),
                          "exit", (int)MIN(c->exit, G_MAXUINT16), "latency_us",
                          (json_int_t)MIN(c->latency_us, (guint64)G_MAXUINT32)));
}

static json_t *exit_counts_json(VitdPipeline *p)
{
    guint n = 0;
    const guint64 *counts = vitd_pipeline_get_exit_counts(p, &n);
    json_t *a = json_array();
    for (guint i = 0; i < n; i++)
        json_array_append_new(a, json_integer((json_int_t)counts[i]));
    return a;
}

char *vitd_mqtt_payload_state(VitdPipeline *p, guint64 events_dropped)
{
    const VpPipelineSpec *spec = vitd_pipeline_get_spec(p);
    VitdPipelineCounters c = vitd_pipeline_get_counters(p);
    const char *source = spec->source ? spec->source : spec->launch ? spec->launch : "";
    return dump(json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:s, s:f, s:f, s:o, s:I}", "Name",
        vitd_pipeline_get_name(p), "State",
        vitd_pipeline_state_to_string(vitd_pipeline_get_state(p)), "Model",
        spec->model ? spec->model : "", "Source", source, "FramesSeen", (json_int_t)c.frames_seen,
        "FramesClassified", (json_int_t)c.frames_classified, "FramesDropped",
        (json_int_t)c.frames_dropped, "Restarts", (int)vitd_pipeline_get_restarts(p), "LastError",
        vitd_pipeline_get_last_error(p), "Fps", c.fps, "LatencyMs", c.latency_ms, "ExitCounts",
        exit_counts_json(p), "EventsDropped", (json_int_t)events_dropped));
}

static json_t *pipeline_stats_json(VitdPipeline *p, VitdEvents *ev)
{
    VitdPipelineCounters c = vitd_pipeline_get_counters(p);
    return json_pack("{s:s, s:f, s:f, s:I, s:I, s:I, s:I, s:o}", "state",
                     vitd_pipeline_state_to_string(vitd_pipeline_get_state(p)), "fps", c.fps,
                     "latency_ms", c.latency_ms, "frames_seen", (json_int_t)c.frames_seen,
                     "frames_classified", (json_int_t)c.frames_classified, "frames_dropped",
                     (json_int_t)c.frames_dropped, "events_dropped",
                     (json_int_t)vitd_events_get_dropped(ev, p), "exit_counts",
                     exit_counts_json(p));
}

char *vitd_mqtt_payload_stats(const char *box, GPtrArray *pipelines, VitdEvents *ev,
                              const VitdMqttStatus *status)
{
    json_t *per = json_object();
    for (guint i = 0; i < pipelines->len; i++)
        json_object_set_new(per, vitd_pipeline_get_name(pipelines->pdata[i]),
                            pipeline_stats_json(pipelines->pdata[i], ev));
    json_t *mqtt =
        json_pack("{s:s, s:I, s:I}", "state", vitd_mqtt_state_to_string(status->state), "spooled",
                  (json_int_t)status->spooled, "dropped", (json_int_t)status->dropped);
    return dump(json_pack("{s:s, s:I, s:o, s:o}", "box", box, "realtime_us",
                          (json_int_t)g_get_real_time(), "mqtt", mqtt, "pipelines", per));
}

static char *object_id(const char *box, const char *name)
{
    char *id = g_strdup_printf("%s_%s", box, name);
    for (char *c = id; *c; c++)
        if (!g_ascii_isalnum(*c) && *c != '_' && *c != '-')
            *c = '_';
    return id;
}

char *vitd_mqtt_ha_config_topic(const char *box, const char *name)
{
    g_autofree char *id = object_id(box, name);
    return g_strdup_printf("homeassistant/sensor/%s/config", id);
}

char *vitd_mqtt_payload_ha_config(const char *box, const char *name, const char *base)
{
    g_autofree char *id = object_id(box, name);
    g_autofree char *device_id = object_id("vitd", box);
    g_autofree char *state_topic = g_strdup_printf("%s/pipeline/%s/classification", base, name);
    g_autofree char *avail_topic = g_strdup_printf("%s/status", base);
    g_autofree char *device_name = g_strdup_printf("vitd %s", box);
    json_t *device = json_pack("{s:[s], s:s, s:s, s:s}", "identifiers", device_id, "name",
                               device_name, "manufacturer", "vitd", "sw_version", VITD_VERSION);
    return dump(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "name", name,
                          "unique_id", id, "state_topic", state_topic, "value_template",
                          "{{ value_json.labels[0].label if value_json.labels else '' }}",
                          "json_attributes_topic", state_topic, "availability_topic", avail_topic,
                          "payload_available", "online", "payload_not_available", "offline", "icon",
                          "mdi:eye", "device", device));
}
