/* vitd-mqtt-sink.c — the main-loop half of MQTT. Topics (README.md, "MQTT"), with BASE =
 * <topic-prefix>/<client-id>:
 *   BASE/pipeline/<name>/classification   every event (spooled, QoS 1 by default)
 *   BASE/pipeline/<name>/state            retained, the pipeline's D-Bus properties
 *   BASE/status                           retained "online" / "offline" (also the last will)
 *   BASE/stats                            every stats-interval seconds (QoS 0)
 *   homeassistant/sensor/<id>/config      retained discovery configs, with `homeassistant: true`
 * The state is refreshed on every change and with each stats message, so its counters stay
 * close to the D-Bus properties. */
#include "vitd-mqtt-sink.h"

#include "vitd-log.h"
#include "vitd-mqtt-payload.h"

#include <string.h>

struct _VitdMqttSink {
    VitdManager *manager;
    VitdEvents *events;
    VitdMqttChanged changed;
    gpointer changed_data;
    VpMqttConfig *config; /* client_id filled in; NULL when MQTT is off */
    char *base;           /* <topic-prefix>/<client-id> */
    VitdMqtt *conn;
    guint stats_timer;
};

char *vitd_mqtt_default_client_id(void)
{
    g_autofree char *id = NULL;
    if (g_file_get_contents("/etc/machine-id", &id, NULL, NULL)) {
        g_strstrip(id);
        if (strlen(id) > 0)
            return g_steal_pointer(&id);
    }
    return g_strdup(g_get_host_name());
}

VitdMqttSink *vitd_mqtt_sink_new(VitdManager *m, VitdEvents *ev, VitdMqttChanged changed,
                                 gpointer user_data)
{
    VitdMqttSink *s = g_new0(VitdMqttSink, 1);
    s->manager = m;
    s->events = ev;
    s->changed = changed;
    s->changed_data = user_data;
    return s;
}

static char *pipeline_topic(const VitdMqttSink *s, const char *name, const char *leaf)
{
    return g_strdup_printf("%s/pipeline/%s/%s", s->base, name, leaf);
}

static void publish_state(VitdMqttSink *s, VitdPipeline *p)
{
    const char *name = vitd_pipeline_get_name(p);
    g_autofree char *topic = pipeline_topic(s, name, "state");
    g_autofree char *payload = vitd_mqtt_payload_state(p, vitd_events_get_dropped(s->events, p));
    vitd_mqtt_publish_retained(s->conn, topic, payload);
}

static void publish_discovery(VitdMqttSink *s, VitdPipeline *p, gboolean remove)
{
    const char *name = vitd_pipeline_get_name(p);
    g_autofree char *topic = vitd_mqtt_ha_config_topic(s->config->client_id, name);
    g_autofree char *payload =
        remove ? g_strdup("") : vitd_mqtt_payload_ha_config(s->config->client_id, name, s->base);
    vitd_mqtt_publish_retained(s->conn, topic, payload);
}

void vitd_mqtt_sink_pipeline_changed(VitdMqttSink *s, VitdPipeline *p)
{
    if (!s->conn)
        return;
    publish_state(s, p);
    if (s->config->homeassistant)
        publish_discovery(s, p, FALSE);
}

void vitd_mqtt_sink_pipeline_removed(VitdMqttSink *s, VitdPipeline *p)
{
    if (!s->conn)
        return;
    g_autofree char *topic = pipeline_topic(s, vitd_pipeline_get_name(p), "state");
    vitd_mqtt_publish_retained(s->conn, topic, "");
    if (s->config->homeassistant)
        publish_discovery(s, p, TRUE);
}

void vitd_mqtt_sink_on_event(const VitdEvent *e, gpointer data)
{
    VitdMqttSink *s = data;
    if (!s->conn)
        return;
    g_autofree char *topic = pipeline_topic(s, e->pipeline, "classification");
    g_autofree char *payload = vitd_mqtt_payload_event(e, s->config->client_id);
    vitd_mqtt_publish_event(s->conn, topic, payload);
}

void vitd_mqtt_sink_get_status(VitdMqttSink *s, VitdMqttStatus *ret)
{
    if (s->conn) {
        vitd_mqtt_get_status(s->conn, ret);
        return;
    }
    *ret = (VitdMqttStatus){VITD_MQTT_DISABLED, 0, 0, g_strdup("")};
}

static gboolean stats_tick(gpointer data)
{
    VitdMqttSink *s = data;
    g_autoptr(GPtrArray) list = vitd_manager_list(s->manager);
    for (guint i = 0; i < list->len; i++)
        publish_state(s, list->pdata[i]);
    VitdMqttStatus status = {0};
    vitd_mqtt_get_status(s->conn, &status);
    g_autofree char *topic = g_strdup_printf("%s/stats", s->base);
    g_autofree char *payload =
        vitd_mqtt_payload_stats(s->config->client_id, list, s->events, &status);
    vitd_mqtt_status_clear(&status);
    vitd_mqtt_publish_volatile(s->conn, topic, payload);
    return G_SOURCE_CONTINUE;
}

/* Stops the connection and forgets the settings (MQTT off). */
static void stop(VitdMqttSink *s)
{
    if (s->stats_timer)
        g_source_remove(s->stats_timer);
    s->stats_timer = 0;
    s->conn = vitd_mqtt_free(s->conn);
    g_clear_pointer(&s->config, vp_mqtt_config_free);
    g_clear_pointer(&s->base, g_free);
}

/* Publishes the retained state of every pipeline (at start, and after the names changed). */
static void publish_all_states(VitdMqttSink *s)
{
    g_autoptr(GPtrArray) list = vitd_manager_list(s->manager);
    for (guint i = 0; i < list->len; i++)
        vitd_mqtt_sink_pipeline_changed(s, list->pdata[i]);
}

static int start(VitdMqttSink *s, VpMqttConfig *config)
{
    s->config = config;
    s->base = g_strdup_printf("%s/%s", config->topic_prefix, config->client_id);
    g_autofree char *status_topic = g_strdup_printf("%s/status", s->base);
    int r = vitd_mqtt_new(config, status_topic, s->changed, s->changed_data, &s->conn);
    if (r < 0) {
        stop(s);
        return r;
    }
    vitd_log_info("MQTT: publishing to %s under %s/, spool %s", config->url, s->base,
                  config->spool_path);
    if (config->stats_interval > 0)
        s->stats_timer = g_timeout_add_seconds((guint)config->stats_interval, stats_tick, s);
    publish_all_states(s);
    return 0;
}

void vitd_mqtt_sink_apply(VitdMqttSink *s, const VpMqttConfig *config)
{
    g_autoptr(VpMqttConfig) wanted = vp_mqtt_config_copy(config);
    if (wanted && !wanted->client_id)
        wanted->client_id = vitd_mqtt_default_client_id();
    if (vp_mqtt_config_equal(wanted, s->config))
        return;
    gboolean same_topics = wanted && s->config && s->conn &&
                           strcmp(wanted->topic_prefix, s->config->topic_prefix) == 0 &&
                           strcmp(wanted->client_id, s->config->client_id) == 0 &&
                           wanted->homeassistant == s->config->homeassistant &&
                           wanted->stats_interval == s->config->stats_interval;
    if (same_topics) { /* only the connection changed: reconnect, keep queue and spool */
        vitd_log_info("MQTT: settings changed, reconnecting to %s", wanted->url);
        vitd_mqtt_reconfigure(s->conn, wanted);
        vp_mqtt_config_free(s->config);
        s->config = g_steal_pointer(&wanted);
        return;
    }
    gboolean was_on = s->config != NULL;
    stop(s);
    if (wanted)
        start(s, g_steal_pointer(&wanted));
    if (s->changed && (was_on || s->config))
        s->changed(s->changed_data);
}

VitdMqttSink *vitd_mqtt_sink_free(VitdMqttSink *s)
{
    if (!s)
        return NULL;
    stop(s);
    g_free(s);
    return NULL;
}
