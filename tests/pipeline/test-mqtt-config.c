/* test-mqtt-config.c — the `mqtt:` block of vitd.yaml (pipeline/mqtt_config.c): defaults, every
 * key read, and a FILE:LINE:COLUMN error for each kind of mistake. */
#include <check.h>
#include <string.h>

#include "check-runner.h"
#include "test-util.h"

static char *dir;    /* scratch folder with an empty pipelines.d */
static char *config; /* DIR/vitd.yaml */

static void setup(void)
{
    dir = tu_tmpdir();
    g_free(tu_write(dir, "pipelines.d/.keep", ""));
    g_free(tu_write(dir, "ca.pem", "x"));
    g_free(tu_write(dir, "mqtt.pass", "secret\n"));
    config = g_build_filename(dir, "vitd.yaml", NULL);
}

static void teardown(void)
{
    tu_rmtree(dir);
    g_free(dir);
    g_free(config);
}

static VpConfig *load_ok(const char *yaml)
{
    g_free(tu_write(dir, "vitd.yaml", yaml));
    GError *error = NULL;
    VpConfig *c = vp_config_load(config, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    return c;
}

START_TEST(test_defaults)
{
    VpConfig *c = load_ok("mqtt:\n  url: mqtt://broker.lan\n");
    ck_assert_ptr_nonnull(c->mqtt);
    ck_assert_str_eq(c->mqtt->host, "broker.lan");
    ck_assert_int_eq(c->mqtt->port, 1883);
    ck_assert(!c->mqtt->tls);
    ck_assert_ptr_null(c->mqtt->client_id);
    ck_assert_str_eq(c->mqtt->topic_prefix, "vitd");
    ck_assert_int_eq(c->mqtt->qos, 1);
    ck_assert_str_eq(c->mqtt->spool_path, "/var/lib/vitd/mqtt-spool");
    ck_assert_uint_eq(c->mqtt->spool_max_size, 64u << 20);
    ck_assert_int_eq(c->mqtt->stats_interval, 10);
    ck_assert(!c->mqtt->homeassistant);
    vp_config_free(c);

    c = load_ok("bus: session\n");
    ck_assert_ptr_null(c->mqtt); /* no block: MQTT off */
    vp_config_free(c);
}
END_TEST

START_TEST(test_every_key)
{
    VpConfig *c = load_ok("mqtt:\n"
                          "  url: mqtts://[::1]:8884\n"
                          "  client-id: box-17\n"
                          "  topic-prefix: site/a\n"
                          "  username: u\n"
                          "  password-file: mqtt.pass\n"
                          "  ca-file: ca.pem\n"
                          "  qos: 0\n"
                          "  spool: {path: spool, max-size: 2M}\n"
                          "  stats-interval: 0\n"
                          "  homeassistant: true\n");
    const VpMqttConfig *m = c->mqtt;
    ck_assert_str_eq(m->host, "::1");
    ck_assert_int_eq(m->port, 8884);
    ck_assert(m->tls);
    ck_assert_str_eq(m->client_id, "box-17");
    ck_assert_str_eq(m->topic_prefix, "site/a");
    ck_assert_str_eq(m->username, "u");
    ck_assert(g_str_has_prefix(m->password_file, dir));
    ck_assert(g_str_has_suffix(m->ca_file, "/ca.pem"));
    ck_assert_int_eq(m->qos, 0);
    ck_assert(g_str_has_suffix(m->spool_path, "/spool"));
    ck_assert_uint_eq(m->spool_max_size, 2u << 20);
    ck_assert_int_eq(m->stats_interval, 0);
    ck_assert(m->homeassistant);
    VpMqttConfig *copy = vp_mqtt_config_copy(m);
    ck_assert(vp_mqtt_config_equal(copy, m));
    copy->qos = 1;
    ck_assert(!vp_mqtt_config_equal(copy, m));
    vp_mqtt_config_free(copy);
    vp_config_free(c);
}
END_TEST

START_TEST(test_errors)
{
    static const char *const cases[][2] = {
        {"mqtt:\n  url: http://x\n", "2:8: 'url' must start with mqtt:// or mqtts://, got "
                                     "'http://x'"},
        {"mqtt:\n  url: mqtt://x:99999\n", "2:8: 'url' has a bad port '99999' (1 to 65535)"},
        {"mqtt:\n  url: mqtt://u:p@x\n", "2:8: 'url' must not carry credentials: use "
                                         "'username' and 'password-file'"},
        {"mqtt:\n  client-id: a\n", "2:3: 'mqtt' needs a 'url' (mqtt://HOST[:PORT])"},
        {"mqtt:\n  url: mqtt://x\n  qos: 2\n", "3:8: 'qos' must be an integer from 0 to 1, got "
                                               "'2'"},
        {"mqtt:\n  url: mqtt://x\n  topic-prefix: a/+/b\n",
         "3:17: 'topic-prefix' must not contain the MQTT wildcards '+' or '#'"},
        {"mqtt:\n  url: mqtt://x\n  client-id: a/b\n", "3:14: 'client-id' must not contain "
                                                       "'/'"},
        {"mqtt:\n  url: mqtt://x\n  ca-file: ca.pem\n", "3:12: TLS files need an mqtts:// url, "
                                                        "but 'url' is 'mqtt://x'"},
        {"mqtt:\n  url: mqtts://x\n  ca-file: nope.pem\n", "does not exist"},
        {"mqtt:\n  url: mqtt://x\n  password-file: mqtt.pass\n", "2:3: 'password-file' needs a "
                                                                 "'username'"},
        {"mqtt:\n  url: mqtt://x\n  spool: {max-size: 1K}\n",
         "3:21: 'max-size' must be a size "
         "from 16K to 1024G (K, M, G suffixes), got '1K'"},
        {"mqtt:\n  url: mqtt://x\n  spool: {pth: /x}\n", "3:11: unknown key 'pth' (did you mean "
                                                         "'path'?)"},
        {"mqtt:\n  url: mqtt://x\n  qso: 1\n", "3:3: unknown key 'qso' (did you mean 'qos'?)"},
        {"mqtt: mqtt://x\n", "1:7: 'mqtt' must be a mapping with at least a 'url', got a "
                             "string"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_free(tu_write(dir, "vitd.yaml", cases[i][0]));
        GError *error = NULL;
        VpConfig *c = vp_config_load(config, &error);
        ck_assert_msg(c == NULL, "case %zu should fail", i);
        ck_assert_msg(strstr(error->message, cases[i][1]) != NULL, "case %zu: got '%s', want '%s'",
                      i, error->message, cases[i][1]);
        if (strchr(cases[i][1], ':') && g_ascii_isdigit(cases[i][1][0]))
            tu_assert_error(error->message, config, cases[i][1]);
        g_error_free(error);
    }
}
END_TEST

static Suite *mqtt_config_suite(void)
{
    Suite *s = suite_create("mqtt-config");
    TCase *tc = tcase_create("mqtt-config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_every_key);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const CheckSuiteMaker makers[] = {mqtt_config_suite};
    return check_runner_run(makers, CHECK_RUNNER_N(makers));
}
