/* mqtt_config.c — the `mqtt:` block of vitd.yaml: where the daemon's MQTT sink connects, what it
 * publishes under which topics, and where it spools events while the broker is away.
 *
 * Every key is checked here, with FILE:LINE:COLUMN errors like the rest of the configuration:
 * the URL (scheme, host, port), names that become topic levels (no MQTT wildcards or empty
 * levels), files that must exist (password, CA, client certificate and key), sizes with K/M/G
 * suffixes. The daemon reads the password file itself at each connection, so the secret never
 * sits in the parsed configuration.
 */
#include <string.h>

#include "vp-private.h"

#define DEFAULT_PORT 1883
#define DEFAULT_TLS_PORT 8883
#define DEFAULT_PREFIX "vitd"
#define DEFAULT_SPOOL_PATH "/var/lib/vitd/mqtt-spool"
#define DEFAULT_SPOOL_MAX_SIZE (64ull << 20)
#define MIN_SPOOL_MAX_SIZE (16ull << 10)
#define MAX_SPOOL_MAX_SIZE (1ull << 40)
#define DEFAULT_STATS_INTERVAL 10
#define MAX_STATS_INTERVAL 86400
#define MAX_NAME_LEN 128

static const char *const mqtt_keys[] = {
    "url",       "client-id", "topic-prefix", "username", "password-file",  "ca-file",
    "cert-file", "key-file",  "qos",          "spool",    "stats-interval", "homeassistant",
    NULL,
};
static const char *const spool_keys[] = {"path", "max-size", NULL};

typedef struct {
    VpMqttConfig *mqtt;
    const yaml_node_t *url_node, *tls_file_node, *cert_node, *key_node;
    guint errors_before;
} MqttState;

void vp_mqtt_config_free(VpMqttConfig *mqtt)
{
    if (!mqtt)
        return;
    g_free(mqtt->url);
    g_free(mqtt->host);
    g_free(mqtt->client_id);
    g_free(mqtt->topic_prefix);
    g_free(mqtt->username);
    g_free(mqtt->password_file);
    g_free(mqtt->ca_file);
    g_free(mqtt->cert_file);
    g_free(mqtt->key_file);
    g_free(mqtt->spool_path);
    g_free(mqtt);
}

VpMqttConfig *vp_mqtt_config_copy(const VpMqttConfig *mqtt)
{
    if (!mqtt)
        return NULL;
    VpMqttConfig *c = g_memdup2(mqtt, sizeof *mqtt);
    c->url = g_strdup(mqtt->url);
    c->host = g_strdup(mqtt->host);
    c->client_id = g_strdup(mqtt->client_id);
    c->topic_prefix = g_strdup(mqtt->topic_prefix);
    c->username = g_strdup(mqtt->username);
    c->password_file = g_strdup(mqtt->password_file);
    c->ca_file = g_strdup(mqtt->ca_file);
    c->cert_file = g_strdup(mqtt->cert_file);
    c->key_file = g_strdup(mqtt->key_file);
    c->spool_path = g_strdup(mqtt->spool_path);
    return c;
}

gboolean vp_mqtt_config_equal(const VpMqttConfig *a, const VpMqttConfig *b)
{
    if (!a || !b)
        return a == b;
    return g_strcmp0(a->url, b->url) == 0 && g_strcmp0(a->client_id, b->client_id) == 0 &&
           g_strcmp0(a->topic_prefix, b->topic_prefix) == 0 &&
           g_strcmp0(a->username, b->username) == 0 &&
           g_strcmp0(a->password_file, b->password_file) == 0 &&
           g_strcmp0(a->ca_file, b->ca_file) == 0 && g_strcmp0(a->cert_file, b->cert_file) == 0 &&
           g_strcmp0(a->key_file, b->key_file) == 0 && a->qos == b->qos &&
           g_strcmp0(a->spool_path, b->spool_path) == 0 && a->spool_max_size == b->spool_max_size &&
           a->stats_interval == b->stats_interval && a->homeassistant == b->homeassistant;
}

/* Splits "mqtt[s]://HOST[:PORT][/]" into MQTT's host, port and tls; FALSE (error added) if
 * it is not such a URL. */
static gboolean parse_url(VpYamlFile *file, VpErrors *errs, yaml_node_t *node, const char *url,
                          VpMqttConfig *mqtt)
{
    const char *rest;
    if (g_str_has_prefix(url, "mqtt://")) {
        mqtt->tls = FALSE;
        rest = url + strlen("mqtt://");
    } else if (g_str_has_prefix(url, "mqtts://")) {
        mqtt->tls = TRUE;
        rest = url + strlen("mqtts://");
    } else {
        vp_yaml_error(file, errs, node, "'url' must start with mqtt:// or mqtts://, got '%s'", url);
        return FALSE;
    }
    if (strchr(rest, '@')) {
        vp_yaml_error(file, errs, node,
                      "'url' must not carry credentials: use 'username' and 'password-file'");
        return FALSE;
    }
    g_autofree char *hostport = g_strndup(rest, strcspn(rest, "/"));
    const char *tail = rest + strlen(hostport);
    if (*tail && strcmp(tail, "/") != 0) {
        vp_yaml_error(file, errs, node,
                      "'url' must not have a path (topics come from "
                      "'topic-prefix'), got '%s'",
                      url);
        return FALSE;
    }
    char *colon = hostport[0] == '[' ? strstr(hostport, "]:") : strrchr(hostport, ':');
    if (colon && hostport[0] == '[')
        colon++;
    int port = mqtt->tls ? DEFAULT_TLS_PORT : DEFAULT_PORT;
    if (colon) {
        guint64 n = 0;
        if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &n, NULL)) {
            vp_yaml_error(file, errs, node, "'url' has a bad port '%s' (1 to 65535)", colon + 1);
            return FALSE;
        }
        port = (int)n;
        *colon = '\0';
    }
    char *host = hostport;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        host++;
    }
    if (!host[0]) {
        vp_yaml_error(file, errs, node, "'url' has no host, got '%s'", url);
        return FALSE;
    }
    mqtt->host = g_strdup(host);
    mqtt->port = port;
    return TRUE;
}

/* A name that becomes one or more topic levels: printable, no wildcards, no empty level. */
static gboolean check_topic_name(VpYamlFile *file, VpErrors *errs, const char *key,
                                 yaml_node_t *node, const char *v, gboolean slashes)
{
    const char *why = NULL;
    if (strlen(v) > MAX_NAME_LEN)
        why = "is too long (128 characters at most)";
    else if (strpbrk(v, "+#"))
        why = "must not contain the MQTT wildcards '+' or '#'";
    else if (!slashes && strchr(v, '/'))
        why = "must not contain '/'";
    else if (slashes && (v[0] == '/' || v[strlen(v) - 1] == '/' || strstr(v, "//")))
        why = "must not start or end with '/' or have an empty level '//'";
    for (const char *c = v; !why && *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == ' ')
            why = "must not contain spaces or control characters";
    if (why)
        vp_yaml_error(file, errs, node, "'%s' %s", key, why);
    return why == NULL;
}

/* Reads a file path into *SLOT (resolved against the file's folder) if it names a regular
 * file. */
static void parse_file_path(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                            char **slot)
{
    const char *text;
    if (!vp_yaml_get_string(file, errs, key, value, &text))
        return;
    g_autofree char *path = vp_resolve_path(file->dir, text);
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        vp_yaml_error(file, errs, value, "'%s': '%s' %s", key, path,
                      g_file_test(path, G_FILE_TEST_EXISTS) ? "is not a regular file"
                                                            : "does not exist");
        return;
    }
    g_free(*slot);
    *slot = g_steal_pointer(&path);
}

/* "64M", "512K", "1G", "100000": a size in bytes (K, M, G are powers of 1024). */
static gboolean parse_size(const char *v, guint64 *ret)
{
    char *end = NULL;
    if (!v || !g_ascii_isdigit(v[0]))
        return FALSE;
    guint64 n = g_ascii_strtoull(v, &end, 10);
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end == 'B' || (*end == 'i' && end[1] == 'B'))
        end += *end == 'B' ? 1 : 2;
    if (*end || n > (MAX_SPOOL_MAX_SIZE >> shift))
        return FALSE;
    *ret = n << shift;
    return TRUE;
}

static void spool_pair(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *key_node,
                       yaml_node_t *value, void *user_data)
{
    VpMqttConfig *mqtt = user_data;
    const char *text;
    guint64 size = 0;

    if (strcmp(key, "path") == 0) {
        if (vp_yaml_get_string(file, errs, key, value, &text)) {
            g_free(mqtt->spool_path);
            mqtt->spool_path = vp_resolve_path(file->dir, text);
        }
    } else if (strcmp(key, "max-size") == 0) {
        if (parse_size(vp_yaml_scalar(value), &size) && size >= MIN_SPOOL_MAX_SIZE) {
            mqtt->spool_max_size = size;
        } else {
            g_autofree char *shown = vp_yaml_show(value);
            vp_yaml_error(file, errs, value,
                          "'max-size' must be a size from 16K to 1024G (K, M, G suffixes), got %s",
                          shown);
        }
    } else {
        vp_yaml_unknown_key(file, errs, key_node, key, spool_keys);
    }
}

static void parse_spool(VpYamlFile *file, VpErrors *errs, yaml_node_t *value, VpMqttConfig *mqtt)
{
    if (value->type == YAML_MAPPING_NODE)
        vp_yaml_mapping_foreach(file, errs, value, spool_pair, mqtt);
    else
        vp_yaml_error(file, errs, value,
                      "'spool' must be a mapping {path: DIR, max-size: SIZE}, "
                      "got %s",
                      vp_yaml_kind(value));
}

/* Keys whose value is a plain string that becomes (part of) a topic, or the user name. */
static void parse_name(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                       char **slot, gboolean is_topic, gboolean slashes)
{
    const char *text;
    if (!vp_yaml_get_string(file, errs, key, value, &text))
        return;
    if (is_topic && !check_topic_name(file, errs, key, value, text, slashes))
        return;
    g_free(*slot);
    *slot = g_strdup(text);
}

static void mqtt_pair(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *key_node,
                      yaml_node_t *value, void *user_data)
{
    MqttState *st = user_data;
    VpMqttConfig *mqtt = st->mqtt;
    const char *text;

    if (strcmp(key, "url") == 0) {
        st->url_node = value;
        if (vp_yaml_get_string(file, errs, key, value, &text) &&
            parse_url(file, errs, value, text, mqtt))
            mqtt->url = g_strdup(text);
    } else if (strcmp(key, "client-id") == 0) {
        parse_name(file, errs, key, value, &mqtt->client_id, TRUE, FALSE);
    } else if (strcmp(key, "topic-prefix") == 0) {
        parse_name(file, errs, key, value, &mqtt->topic_prefix, TRUE, TRUE);
    } else if (strcmp(key, "username") == 0) {
        parse_name(file, errs, key, value, &mqtt->username, FALSE, FALSE);
    } else if (strcmp(key, "password-file") == 0) {
        parse_file_path(file, errs, key, value, &mqtt->password_file);
    } else if (strcmp(key, "ca-file") == 0) {
        st->tls_file_node = value;
        parse_file_path(file, errs, key, value, &mqtt->ca_file);
    } else if (strcmp(key, "cert-file") == 0) {
        st->tls_file_node = st->cert_node = value;
        parse_file_path(file, errs, key, value, &mqtt->cert_file);
    } else if (strcmp(key, "key-file") == 0) {
        st->tls_file_node = st->key_node = value;
        parse_file_path(file, errs, key, value, &mqtt->key_file);
    } else if (strcmp(key, "qos") == 0) {
        vp_yaml_get_int(file, errs, key, value, 0, 1, &mqtt->qos);
    } else if (strcmp(key, "spool") == 0) {
        parse_spool(file, errs, value, mqtt);
    } else if (strcmp(key, "stats-interval") == 0) {
        vp_yaml_get_int(file, errs, key, value, 0, MAX_STATS_INTERVAL, &mqtt->stats_interval);
    } else if (strcmp(key, "homeassistant") == 0) {
        vp_yaml_get_bool(file, errs, key, value, &mqtt->homeassistant);
    } else {
        vp_yaml_unknown_key(file, errs, key_node, key, mqtt_keys);
    }
}

/* The checks that involve several keys, once every key was read. */
static void check_combination(VpYamlFile *file, VpErrors *errs, yaml_node_t *mapping,
                              const MqttState *st)
{
    const VpMqttConfig *mqtt = st->mqtt;
    if (!st->url_node)
        vp_yaml_error(file, errs, mapping, "'mqtt' needs a 'url' (mqtt://HOST[:PORT])");
    else if (mqtt->url && !mqtt->tls && st->tls_file_node)
        vp_yaml_error(file, errs, st->tls_file_node,
                      "TLS files need an mqtts:// url, but 'url' is '%s'", mqtt->url);
    if (!st->cert_node != !st->key_node)
        vp_yaml_error(file, errs, st->cert_node ? st->cert_node : st->key_node,
                      "'cert-file' and 'key-file' go together (a client certificate and its key)");
    if (mqtt->password_file && !mqtt->username)
        vp_yaml_error(file, errs, mapping, "'password-file' needs a 'username'");
}

VpMqttConfig *vp_mqtt_config_parse(VpYamlFile *file, VpErrors *errs, yaml_node_t *value)
{
    if (value->type != YAML_MAPPING_NODE) {
        vp_yaml_error(file, errs, value, "'mqtt' must be a mapping with at least a 'url', got %s",
                      vp_yaml_kind(value));
        return NULL;
    }
    VpMqttConfig *mqtt = g_new0(VpMqttConfig, 1);
    mqtt->topic_prefix = g_strdup(DEFAULT_PREFIX);
    mqtt->qos = 1;
    mqtt->spool_path = g_strdup(DEFAULT_SPOOL_PATH);
    mqtt->spool_max_size = DEFAULT_SPOOL_MAX_SIZE;
    mqtt->stats_interval = DEFAULT_STATS_INTERVAL;

    MqttState st = {.mqtt = mqtt, .errors_before = errs->count};
    vp_yaml_mapping_foreach(file, errs, value, mqtt_pair, &st);
    check_combination(file, errs, value, &st);
    if (errs->count != st.errors_before) {
        vp_mqtt_config_free(mqtt);
        return NULL;
    }
    return mqtt;
}
