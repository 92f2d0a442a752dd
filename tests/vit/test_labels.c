/* test_labels.c — vit_labels_read (formats/labels.c): line handling (an empty middle line is a
 * label, trailing blank lines and DOS line ends are dropped) and the files it refuses without
 * blocking or reading them: a directory, a FIFO, a device, a missing path, a sparse file past
 * the size cap; and lines that are not UTF-8 or hold a NUL, refused with their line number. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-runner.h"
#include "vit.h"

/* A fresh temporary folder; path = "<dir>/<name>". */
static void temp_path(char *dir, size_t dir_size, char *path, size_t path_size, const char *name)
{
    snprintf(dir, dir_size, "%s/vit-labels-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, path_size, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* vit_labels_read on path must fail with code and a message starting "<path>: " and holding
 * what. */
static void expect_error(const char *path, int code, const char *what)
{
    char **labels = NULL;
    int n = -1;
    vit_error err = {{0}};
    ck_assert_int_eq(vit_labels_read(path, &labels, &n, &err), code);
    ck_assert_int_eq(strncmp(err.message, path, strlen(path)), 0);
    ck_assert_msg(strstr(err.message, what), "message \"%s\" lacks \"%s\"", err.message, what);
    ck_assert_ptr_null(labels);
    ck_assert_int_eq(n, -1);
}

START_TEST(test_lines)
{
    char dir[256], path[300];
    temp_path(dir, sizeof(dir), path, sizeof(path), "labels.txt");
    write_file(path, "cat\n\n  dog  \t\nbird\n\n \n\n");
    char **labels;
    int n;
    vit_error err = {{0}};
    ck_assert_int_eq(vit_labels_read(path, &labels, &n, &err), 0);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(labels[0], "cat");
    ck_assert_str_eq(labels[1], ""); /* an empty line in the middle is a label */
    ck_assert_str_eq(labels[2], "  dog");
    ck_assert_str_eq(labels[3], "bird");
    ck_assert_ptr_null(vit_labels_free(labels, n));
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_crlf_and_no_final_newline)
{
    char dir[256], path[300];
    temp_path(dir, sizeof(dir), path, sizeof(path), "labels.txt");
    write_file(path, "tench\r\ngoldfish\r\n\r\nshark");
    char **labels;
    int n;
    vit_error err = {{0}};
    ck_assert_int_eq(vit_labels_read(path, &labels, &n, &err), 0);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(labels[0], "tench");
    ck_assert_str_eq(labels[1], "goldfish");
    ck_assert_str_eq(labels[2], "");
    ck_assert_str_eq(labels[3], "shark");
    vit_labels_free(labels, n);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_empty_file)
{
    char dir[256], path[300];
    temp_path(dir, sizeof(dir), path, sizeof(path), "labels.txt");
    write_file(path, "\n\r\n");
    char **labels;
    int n = -1;
    vit_error err = {{0}};
    ck_assert_int_eq(vit_labels_read(path, &labels, &n, &err), 0);
    ck_assert_int_eq(n, 0);
    vit_labels_free(labels, n);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_directory)
{
    char dir[256], path[300];
    temp_path(dir, sizeof(dir), path, sizeof(path), "sub");
    ck_assert_int_eq(mkdir(path, 0700), 0);
    expect_error(path, -EINVAL, "not a regular file");
    rmdir(path);
    rmdir(dir);
}
END_TEST

/* No writer ever opens the FIFO: a reader that waited for one would hang until the timeout. */
START_TEST(test_fifo_does_not_block)
{
    char dir[256], path[300];
    temp_path(dir, sizeof(dir), path, sizeof(path), "fifo");
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    expect_error(path, -EINVAL, "not a regular file");
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_device)
{
    expect_error("/dev/zero", -EINVAL, "not a regular file");
}
END_TEST

START_TEST(test_missing)
{
    char dir[256], path[300];
    temp_path(dir, sizeof(dir), path, sizeof(path), "absent.txt");
    expect_error(path, -ENOENT, strerror(ENOENT));
    rmdir(dir);
}
END_TEST

/* A sparse file one byte past 64 MiB: refused from its size, before any read. */
START_TEST(test_oversize)
{
    char dir[256], path[300];
    temp_path(dir, sizeof(dir), path, sizeof(path), "huge.txt");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, ((off_t)64 << 20) + 1), 0);
    ck_assert_int_eq(close(fd), 0);
    expect_error(path, -EFBIG, "MiB");
    /* exactly 64 MiB is within the cap: read, and then refused for what it holds (NULs) */
    ck_assert_int_eq(truncate(path, (off_t)64 << 20), 0);
    expect_error(path, -EINVAL, "huge.txt:1: label contains a NUL byte");
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Multi-byte UTF-8 up to U+10FFFF is a label; anything RFC 3629 forbids is refused at its line. */
START_TEST(test_utf8)
{
    static const struct {
        const char *line;
        const char *problem; /* NULL: accepted */
    } cases[] = {
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x88 \xf4\x8f\xbf\xbf", NULL},
        {"caf\xe9", "is not valid UTF-8"},          /* Latin-1 */
        {"\xc0\xaf", "is not valid UTF-8"},         /* overlong '/' */
        {"\xe0\x80\xaf", "is not valid UTF-8"},     /* overlong, 3 bytes */
        {"\xed\xa0\x80", "is not valid UTF-8"},     /* a UTF-16 surrogate */
        {"\xf4\x90\x80\x80", "is not valid UTF-8"}, /* above U+10FFFF */
        {"ok \xe2\x82", "is not valid UTF-8"},      /* cut short */
        {"\x80", "is not valid UTF-8"},             /* a lone continuation byte */
    };
    char dir[256], path[300], text[128], want[360];
    temp_path(dir, sizeof(dir), path, sizeof(path), "labels.txt");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), "first\nsecond\n%s\nlast\n", cases[i].line);
        write_file(path, text);
        if (cases[i].problem) {
            snprintf(want, sizeof(want), "%s:3: label %s", path, cases[i].problem);
            expect_error(path, -EINVAL, want);
            continue;
        }
        char **labels;
        int n;
        vit_error err = {{0}};
        ck_assert_int_eq(vit_labels_read(path, &labels, &n, &err), 0);
        ck_assert_int_eq(n, 4);
        ck_assert_str_eq(labels[2], cases[i].line);
        vit_labels_free(labels, n);
    }
    /* a NUL inside a line (fputs cannot write one) */
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite("a\nb\0c\n", 1, 6, f), 6);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(want, sizeof(want), "%s:2: label contains a NUL byte", path);
    expect_error(path, -EINVAL, want);
    unlink(path);
    rmdir(dir);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        test_lines,
        test_crlf_and_no_final_newline,
        test_empty_file,
        test_directory,
        test_fifo_does_not_block,
        test_device,
        test_missing,
        test_oversize,
        test_utf8,
    };
    return check_runner_run_suite(
        check_runner_suite("vit-labels", "labels", tests, CHECK_RUNNER_N(tests)));
}
