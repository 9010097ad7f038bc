#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/progress.h"
#include "util/utf8.h"

static double zero_clock(void) { return 0; }

/* The next part of data: up to the next NUL (the last part runs to the end); NULL when data ran
 * out, so NULL parts are tried too. */
static char *part(const uint8_t **data, size_t *size)
{
    if (!*size) return NULL;
    const uint8_t *nul = memchr(*data, 0, *size);
    size_t n = nul ? (size_t)(nul - *data) : *size;
    char *p = strndup((const char *)*data, n);
    *data += nul ? n + 1 : n;
    *size -= nul ? n + 1 : n;
    return p;
}

/* Any bytes as kiln build's live line in parts (progress_live_parts: who, head, mid, tail,
 * separated by NUL bytes; the first byte picks the width, 0 to 127, and the ellipsis's locale):
 * drawn, it is "\r\033[K" and at most cols - 1 bytes (79 when the width is not known) of
 * well-formed UTF-8 without a control character (C0, DEL, C1), with head whole when it fits;
 * progress_fit with another separator before mid (a stage's closing line) as wide and clean. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) return 0;
    bool keep_who = size & 1; /* the input's length picks it */
    int cols = data[0] & 0x7f;
    setenv("LC_ALL", data[0] & 0x80 ? "C.UTF-8" : "C", 1);
    data++, size--;
    char *who = part(&data, &size), *head = part(&data, &size), *mid = part(&data, &size), *tail = part(&data, &size);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        struct progress_line pl = {.f = f, .tty = true, .cols = cols, .clock = zero_clock};
        progress_live_parts(&pl, true, who, head, mid, tail);
        fclose(f);
        size_t max = cols > 0 ? (size_t)cols - 1 : 79;
        if (len < 4 || memcmp(buf, "\r\033[K", 4) || len - 4 > max) __builtin_trap();
        for (size_t i = 4; i < len;) {
            uint32_t cp = 0;
            size_t k = utf8_decode(buf + i, len - i, &cp);
            if (!k || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) __builtin_trap();
            i += k;
        }
        if (head) {
            char *e = utf8_escape_controls(head, strlen(head), false);
            for (char *t = e; (t = strchr(t, '\t'));) *t = ' ';
            if (strlen(e) <= max && !memmem(buf + 4, len - 4, e, strlen(e))) __builtin_trap();
            free(e);
        }
        free(buf);
    }
    /* a closing line's fit (mid after two spaces, who kept or not): as wide, as clean */
    size_t max = cols > 0 ? (size_t)cols - 1 : 79;
    char *line = progress_fit(max, who, keep_who, head, "  ", mid, tail);
    size_t n = strlen(line);
    if (n > max) __builtin_trap();
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t k = utf8_decode(line + i, n - i, &cp);
        if (!k || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) __builtin_trap();
        i += k;
    }
    free(line);
    free(who), free(head), free(mid), free(tail);
    return 0;
}
