/* fuzz-labels.c — any bytes as a labels file, read with vit_labels_read().
 *
 * Contract checked: 0 with count >= 0 strings, none holding a line break or trailing white
 * space (they are dropped), or a negative errno with a message and the outputs untouched.
 * (A NUL byte ends its label early, before the white space is dropped: such inputs skip the
 * white-space check.)
 * Seeds: corpus/labels. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **sentinel = (char **)&sentinel, **labels = sentinel;
    int count = -7;
    vit_error err;

    memset(&err, 0, sizeof(err));
    if (vit_labels_read(fuzz_write("labels.txt", data, size), &labels, &count, &err) < 0) {
        if (labels != sentinel || count != -7 || !err.message[0])
            abort();
        return 0;
    }
    if (count < 0 || (count > 0 && !labels))
        abort();
    int has_nul = memchr(data, '\0', size) != NULL;
    for (int i = 0; i < count; i++) {
        size_t n = strlen(labels[i]);
        if (strchr(labels[i], '\n') || (!has_nul && n && strchr(" \t\r", labels[i][n - 1])))
            abort();
    }
    vit_labels_free(labels, count);
    return 0;
}
