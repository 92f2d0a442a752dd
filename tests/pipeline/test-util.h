/* test-util.h — helpers shared by the libvitpipeline tests: scratch folders, files written
 * from strings, fake model folders, and assertions on the collected error text. */
#ifndef VP_TEST_UTIL_H
#define VP_TEST_UTIL_H

#include <glib.h>

#include "vitpipeline.h"

/* A new empty scratch folder (removed by tu_rmtree). */
char *tu_tmpdir(void);
void tu_rmtree(const char *dir);
/* Writes CONTENT to DIR/NAME (parents created); returns the full path (newly allocated). */
char *tu_write(const char *dir, const char *name, const char *content);
/* Copies the folder FROM (recursively) into TO. */
void tu_copy_tree(const char *from, const char *to);
/* The path of tests/pipeline/data/NAME (from $VP_TEST_DATA); newly allocated. */
char *tu_data(const char *name);
/* DIR/NAME becomes a model folder holding a (dummy) model.safetensors. */
void tu_fake_model(const char *dir, const char *name);
/* Loads one pipelines file into a fresh array; returns the error text (NULL on success) and the
 * specs through RET_SPECS when not NULL. */
char *tu_load_file(const char *path, GPtrArray **ret_specs);
/* Asserts that TEXT contains the line "PATH:WHERE_AND_MESSAGE" (WHERE like "3:5: ..."). */
#define tu_assert_error(text, path, line) tu_assert_error_at(__FILE__, __LINE__, text, path, line)
void tu_assert_error_at(const char *file, int at, const char *text, const char *path,
                        const char *line);
/* Number of lines in TEXT. */
guint tu_count_lines(const char *text);

#endif
