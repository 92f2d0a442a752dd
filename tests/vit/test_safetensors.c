/* test_safetensors.c — the safetensors loader accepts well-formed files (F32 in place, F16/BF16
 * converted) and rejects every kind of broken or lying file with an error that names the file
 * and, where there is one, the tensor. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "formats/safetensors.h"
#include "st_writer.h"

static char *dir;

static void setup(void)
{
    dir = tw_tempdir();
    ck_assert_ptr_nonnull(dir);
}

static void teardown(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

/* Opens path expecting failure; checks the message names every given fragment. */
static void expect_reject(const char *path, const char *frag1, const char *frag2)
{
    vit_safetensors *st = NULL;
    vit_error err = {{0}};
    int r = vit_safetensors_open(path, &st, &err);
    ck_assert_int_lt(r, 0);
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(err.message, "model.safetensors"), "no file name in: %s", err.message);
    if (frag1)
        ck_assert_msg(strstr(err.message, frag1), "no '%s' in: %s", frag1, err.message);
    if (frag2)
        ck_assert_msg(strstr(err.message, frag2), "no '%s' in: %s", frag2, err.message);
}

static const char *model_path(void)
{
    return tw_path(dir, "model.safetensors");
}

/* Writes header h padded with spaces to a multiple of 8 bytes (so F32 data stays aligned),
 * then data_len zero bytes. */
static void write_header(const char *h, size_t data_len)
{
    char buf[1024];
    size_t n = (strlen(h) + 7) & ~(size_t)7;
    snprintf(buf, sizeof(buf), "%-*s", (int)n, h);
    ck_assert_int_eq(tw_write_raw(model_path(), n, buf, data_len), 0);
}

START_TEST(test_valid_file_f32_f16_bf16)
{
    float f32[3] = {1.5f, -2.0f, 3.25f};
    uint16_t f16[4] = {0x3c00, 0xc100, 0x0001, 0x7bff}; /* 1, -2.5, 2^-24, 65504 */
    uint16_t bf16[2] = {0x3f80, 0xc0a0};                /* 1, -5 */
    tw_tensor t[] = {
        {"a.weight", "F32", 1, {3}, f32, sizeof(f32)},
        {"b.half", "F16", 2, {2, 2}, f16, sizeof(f16)},
        {"c.brain", "BF16", 1, {2}, bf16, sizeof(bf16)},
        {"d.index", "I64", 1, {1}, NULL, 8},
    };
    ck_assert_int_eq(tw_write(model_path(), t, 4, "{\"x\": 1}"), 0);
    vit_safetensors *st;
    vit_error err;
    ck_assert_int_eq(vit_safetensors_open(model_path(), &st, &err), 0);
    ck_assert_uint_eq(st->num_tensors, 4);
    const float *p;
    ck_assert_int_eq(vit_safetensors_get_f32(st, "a.weight", 1, (int64_t[]){3}, &p, NULL, &err), 0);
    ck_assert_float_eq(p[2], 3.25f);
    ck_assert_int_eq(vit_safetensors_get_f32(st, "b.half", 2, (int64_t[]){2, -1}, &p, NULL, &err),
                     0);
    ck_assert_float_eq(p[0], 1.0f);
    ck_assert_float_eq(p[1], -2.5f);
    ck_assert_float_eq(p[2], 5.9604644775390625e-08f);
    ck_assert_float_eq(p[3], 65504.0f);
    ck_assert_int_eq(vit_safetensors_get_f32(st, "c.brain", 1, (int64_t[]){2}, &p, NULL, &err), 0);
    ck_assert_float_eq(p[1], -5.0f);
    ck_assert_str_eq(vit_safetensors_metadata(st, "config"), "{\"x\": 1}");
    vit_safetensors_unref(st);
}
END_TEST

START_TEST(test_lookup_errors_name_tensor)
{
    float f32[6] = {0};
    tw_tensor t[] = {
        {"blocks.3.attn.qkv.weight", "F32", 2, {2, 3}, f32, sizeof(f32)},
        {"pos.index", "I64", 1, {1}, NULL, 8},
    };
    ck_assert_int_eq(tw_write(model_path(), t, 2, NULL), 0);
    vit_safetensors *st;
    vit_error err;
    ck_assert_int_eq(vit_safetensors_open(model_path(), &st, &err), 0);
    /* wrong shape: the message a model owner needs */
    ck_assert_int_eq(vit_safetensors_get_f32(st, "blocks.3.attn.qkv.weight", 2, (int64_t[]){2, 4},
                                             NULL, NULL, &err),
                     -EINVAL);
    ck_assert_msg(strstr(err.message, "model.safetensors: tensor blocks.3.attn.qkv.weight has "
                                      "shape [2,3], expected [2,4]"),
                  "%s", err.message);
    /* wrong dtype */
    ck_assert_int_eq(vit_safetensors_get_f32(st, "pos.index", 1, (int64_t[]){1}, NULL, NULL, &err),
                     -EINVAL);
    ck_assert_msg(strstr(err.message, "pos.index") && strstr(err.message, "I64"), "%s",
                  err.message);
    /* missing */
    ck_assert_int_eq(
        vit_safetensors_get_f32(st, "head.weight", 2, (int64_t[]){1, 1}, NULL, NULL, &err),
        -ENOENT);
    ck_assert_msg(strstr(err.message, "model.safetensors") && strstr(err.message, "head.weight"),
                  "%s", err.message);
    vit_safetensors_unref(st);
}
END_TEST

START_TEST(test_reject_truncated_file)
{
    ck_assert_int_eq(tw_write_text(model_path(), "\x10\x00\x00"), 0);
    expect_reject(model_path(), "truncated", NULL);
}
END_TEST

START_TEST(test_reject_header_length_past_eof)
{
    ck_assert_int_eq(tw_write_raw(model_path(), 4096, "{}", 0), 0);
    expect_reject(model_path(), "header length 4096", NULL);
    ck_assert_int_eq(tw_write_raw(model_path(), UINT64_MAX, "{}", 0), 0);
    expect_reject(model_path(), "header length", NULL);
}
END_TEST

START_TEST(test_reject_bad_json)
{
    const char *h = "{\"a\": {\"dtype\": \"F32\",";
    ck_assert_int_eq(tw_write_raw(model_path(), strlen(h), h, 0), 0);
    expect_reject(model_path(), "JSON", NULL);
    h = "[1, 2, 3]";
    ck_assert_int_eq(tw_write_raw(model_path(), strlen(h), h, 0), 0);
    expect_reject(model_path(), "object", NULL);
}
END_TEST

START_TEST(test_reject_offsets_out_of_range)
{
    /* the data section holds 8 bytes; the tensor claims bytes [8, 16) */
    write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8);
    expect_reject(model_path(), "tensor w", "out of range");
    /* a shape larger than the whole file */
    write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
    expect_reject(model_path(), "tensor w", "larger than the file");
    /* begin after end */
    write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8);
    expect_reject(model_path(), "tensor w", NULL);
}
END_TEST

START_TEST(test_reject_size_mismatch)
{
    write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16);
    expect_reject(model_path(), "tensor w", "needs 12 bytes");
}
END_TEST

START_TEST(test_reject_overlap)
{
    const char *h = "{\"first\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"second\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    write_header(h, 16);
    expect_reject(model_path(), "first", "second");
}
END_TEST

START_TEST(test_reject_unknown_dtype)
{
    const char *h = "{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    ck_assert_int_eq(tw_write_raw(model_path(), strlen(h), h, 8), 0);
    expect_reject(model_path(), "tensor w", "Q4_K");
}
END_TEST

START_TEST(test_reject_huge_shape)
{
    /* 2^32 x 2^32 floats would overflow 64-bit byte counts */
    const char *h = "{\"big\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                    "\"data_offsets\":[0,8]}}";
    ck_assert_int_eq(tw_write_raw(model_path(), strlen(h), h, 8), 0);
    expect_reject(model_path(), "tensor big", NULL);
    h = "{\"neg\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}";
    ck_assert_int_eq(tw_write_raw(model_path(), strlen(h), h, 8), 0);
    expect_reject(model_path(), "tensor neg", NULL);
    h = "{\"deep\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}";
    ck_assert_int_eq(tw_write_raw(model_path(), strlen(h), h, 8), 0);
    expect_reject(model_path(), "tensor deep", "dimensions");
}
END_TEST

START_TEST(test_reject_misaligned_f32)
{
    /* 56-byte header: data starts at byte 64; offset 1 puts the floats at byte 65 */
    char h[57];
    snprintf(h, sizeof(h), "%-56s",
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]}}");
    ck_assert_int_eq(tw_write_raw(model_path(), 56, h, 8), 0);
    expect_reject(model_path(), "tensor w", "aligned");
}
END_TEST

START_TEST(test_reject_malformed_entries)
{
    const char *h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}";
    ck_assert_int_eq(tw_write_raw(model_path(), strlen(h), h, 8), 0);
    expect_reject(model_path(), "tensor w", "data_offsets");
    h = "{\"__metadata__\":{\"config\":5}}";
    ck_assert_int_eq(tw_write_raw(model_path(), strlen(h), h, 0), 0);
    expect_reject(model_path(), "__metadata__", NULL);
    h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    ck_assert_int_eq(tw_write_raw(model_path(), strlen(h), h, 8), 0);
    expect_reject(model_path(), NULL, NULL); /* duplicate key */
}
END_TEST

START_TEST(test_missing_file)
{
    vit_safetensors *st = NULL;
    vit_error err;
    ck_assert_int_eq(vit_safetensors_open(model_path(), &st, &err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err.message, "model.safetensors"));
}
END_TEST

/* The bytes of a file, opened from memory, give what the file gives; a reference keeps them
 * alive after the opener lets go; a refusal names the same thing. */
START_TEST(test_open_memory_matches_file)
{
    float f32[3] = {1.5f, -2.0f, 3.25f};
    uint16_t bf16[2] = {0x3f80, 0xc0a0};
    tw_tensor t[] = {
        {"a.weight", "F32", 1, {3}, f32, sizeof(f32)},
        {"c.brain", "BF16", 1, {2}, bf16, sizeof(bf16)},
    };
    ck_assert_int_eq(tw_write(model_path(), t, 2, "{\"x\": 1}"), 0);
    FILE *f = fopen(model_path(), "rb");
    unsigned char bytes[4096];
    size_t n = fread(bytes, 1, sizeof(bytes), f);
    fclose(f);

    vit_safetensors *st, *held;
    vit_error err;
    ck_assert_int_eq(vit_safetensors_open_memory("mem/model.safetensors", bytes, n, &st, &err), 0);
    memset(bytes, 0, n); /* the bytes were copied */
    ck_assert_str_eq(st->path, "mem/model.safetensors");
    ck_assert_uint_eq(st->num_tensors, 2);
    ck_assert_str_eq(vit_safetensors_metadata(st, "config"), "{\"x\": 1}");
    held = vit_safetensors_ref(st);
    ck_assert_ptr_null(vit_safetensors_unref(st));
    const float *p;
    ck_assert_int_eq(vit_safetensors_get_f32(held, "a.weight", 1, (int64_t[]){3}, &p, NULL, &err),
                     0);
    ck_assert_float_eq(p[2], 3.25f);
    ck_assert_int_eq(vit_safetensors_get_f32(held, "c.brain", 1, (int64_t[]){2}, &p, NULL, &err),
                     0);
    ck_assert_float_eq(p[1], -5.0f);
    ck_assert_ptr_null(vit_safetensors_unref(held));

    st = NULL;
    ck_assert_int_eq(
        vit_safetensors_open_memory("mem/model.safetensors", "\x10\x00\x00", 3, &st, &err),
        -EINVAL);
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(err.message, "mem/model.safetensors: truncated file (3 bytes"), "%s",
                  err.message);
}
END_TEST

/* Mutates a valid file at random (header bytes flipped, digits changed, truncation) many times:
 * every open either fails with a message or yields tensors whose data lie inside the file. */
START_TEST(test_mutated_files_never_crash)
{
    float f32[6] = {1, 2, 3, 4, 5, 6};
    uint16_t f16[4] = {0x3c00, 0x4000, 0x4200, 0x4400};
    tw_tensor t[] = {
        {"blocks.0.attn.qkv.weight", "F32", 2, {2, 3}, f32, sizeof(f32)},
        {"blocks.0.norm1.bias", "F16", 1, {4}, f16, sizeof(f16)},
    };
    ck_assert_int_eq(tw_write(model_path(), t, 2, "{\"architecture\": \"vit_x\"}"), 0);
    FILE *f = fopen(model_path(), "rb");
    unsigned char orig[4096];
    size_t n = fread(orig, 1, sizeof(orig), f);
    fclose(f);
    unsigned rng = 99;
    int opened = 0;
    for (int iter = 0; iter < 1000; iter++) {
        unsigned char buf[4096];
        memcpy(buf, orig, n);
        size_t len = n;
        int edits = 1 + iter % 3;
        for (int e = 0; e < edits; e++) {
            rng = rng * 1103515245u + 12345u;
            size_t pos = (rng >> 8) % (n - 24); /* mostly the header */
            rng = rng * 1103515245u + 12345u;
            unsigned char v = (unsigned char)(rng >> 16);
            if (buf[pos] >= '0' && buf[pos] <= '9')
                v = (unsigned char)('0' + v % 10); /* keep it JSON-ish: change a number */
            buf[pos] = v;
        }
        if (iter % 7 == 0)
            len = (rng >> 4) % n;
        f = fopen(model_path(), "wb");
        fwrite(buf, 1, len, f);
        fclose(f);
        vit_safetensors *st = NULL;
        vit_error err = {{0}};
        if (vit_safetensors_open(model_path(), &st, &err) < 0) {
            ck_assert_msg(err.message[0] != 0, "failure without a message");
            continue;
        }
        opened++;
        for (size_t i = 0; i < st->num_tensors; i++) {
            const vit_st_tensor *tt = &st->tensors[i];
            ck_assert(tt->end <= st->size && tt->begin <= tt->end);
            volatile float sink = 0;
            for (int64_t k = 0; tt->f32 && k < tt->numel; k++)
                sink += tt->f32[k];
            (void)sink;
        }
        vit_safetensors_unref(st);
    }
    ck_assert_int_gt(opened, 0); /* some mutations (e.g. in padding) still load */
}
END_TEST

static Suite *st_suite(void)
{
    Suite *s = suite_create("vit-safetensors");
    TCase *tc = tcase_create("loader");
    tcase_set_timeout(tc, 60); /* the mutation test writes a thousand files */
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_valid_file_f32_f16_bf16);
    tcase_add_test(tc, test_lookup_errors_name_tensor);
    tcase_add_test(tc, test_reject_truncated_file);
    tcase_add_test(tc, test_reject_header_length_past_eof);
    tcase_add_test(tc, test_reject_bad_json);
    tcase_add_test(tc, test_reject_offsets_out_of_range);
    tcase_add_test(tc, test_reject_size_mismatch);
    tcase_add_test(tc, test_reject_overlap);
    tcase_add_test(tc, test_reject_unknown_dtype);
    tcase_add_test(tc, test_reject_huge_shape);
    tcase_add_test(tc, test_reject_misaligned_f32);
    tcase_add_test(tc, test_reject_malformed_entries);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_open_memory_matches_file);
    tcase_add_test(tc, test_mutated_files_never_crash);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vt_run_suite(st_suite());
}
