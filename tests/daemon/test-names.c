/* test-names.c — pipeline names <-> D-Bus object paths (daemon/vitd-names.c): every name the
 * config accepts ([A-Za-z0-9_-]+) must give a valid, distinct path that decodes back. */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <systemd/sd-bus.h>

#include "check-runner.h"
#include "vitd-names.h"

START_TEST(test_plain_name)
{
    char *path = vitd_pipeline_path("door");
    ck_assert_str_eq(path, "/org/vitd1/pipeline/door");
    free(path);
}
END_TEST

START_TEST(test_dash_and_underscore_are_escaped_and_distinct)
{
    char *a = vitd_pipeline_path("front-door");
    char *b = vitd_pipeline_path("front_door");
    ck_assert(sd_bus_object_path_is_valid(a));
    ck_assert(sd_bus_object_path_is_valid(b));
    ck_assert_str_ne(a, b);
    char *na = vitd_pipeline_name_from_path(a), *nb = vitd_pipeline_name_from_path(b);
    ck_assert_str_eq(na, "front-door");
    ck_assert_str_eq(nb, "front_door");
    free(a), free(b), free(na), free(nb);
}
END_TEST

START_TEST(test_leading_digit_round_trips)
{
    char *path = vitd_pipeline_path("0cam");
    ck_assert(sd_bus_object_path_is_valid(path));
    char *name = vitd_pipeline_name_from_path(path);
    ck_assert_str_eq(name, "0cam");
    free(path), free(name);
}
END_TEST

START_TEST(test_foreign_paths_are_not_pipelines)
{
    ck_assert_ptr_null(vitd_pipeline_name_from_path("/org/vitd1"));
    ck_assert_ptr_null(vitd_pipeline_name_from_path("/org/vitd1/pipeline"));
    ck_assert_ptr_null(vitd_pipeline_name_from_path("/org/vitd1/pipeline/a/b"));
    ck_assert_ptr_null(vitd_pipeline_name_from_path("/org/other/door"));
}
END_TEST

START_TEST(test_long_names_are_shortened_for_messages)
{
    char *s = vitd_name_shorten("door");
    ck_assert_str_eq(s, "door");
    free(s);
    size_t n = 10 * 1024 * 1024;
    char *huge = malloc(n + 1);
    memset(huge, 'x', n);
    huge[n] = '\0';
    s = vitd_name_shorten(huge);
    ck_assert_uint_eq(strlen(s), VITD_NAME_SHOWN_MAX + strlen("\u2026"));
    ck_assert(g_str_has_suffix(s, "\u2026"));
    free(s);
    /* never cut inside a UTF-8 character: 63 bytes of 'x' then 2-byte characters */
    memset(huge, 'x', 63);
    for (size_t i = 63; i + 1 < 200; i += 2)
        memcpy(huge + i, "\u00e9", 2);
    huge[199] = '\0';
    s = vitd_name_shorten(huge);
    ck_assert(g_utf8_validate(s, -1, NULL));
    free(s);
    free(huge);
}
END_TEST

static Suite *names_suite(void)
{
    const TTest *const tests[] = {
        test_plain_name,
        test_dash_and_underscore_are_escaped_and_distinct,
        test_leading_digit_round_trips,
        test_foreign_paths_are_not_pipelines,
        test_long_names_are_shortened_for_messages,
    };
    return check_runner_suite("names", "paths", tests, CHECK_RUNNER_N(tests));
}

int main(void)
{
    const CheckSuiteMaker suites[] = {names_suite};
    return check_runner_run(suites, CHECK_RUNNER_N(suites));
}
