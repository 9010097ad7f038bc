#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/pkg_progress.h"
#include "util/progress.h"

static void check(const struct pkg_progress *p)
{
    char t[512];
    pkg_progress_text(p, t, sizeof t);
    /* what reaches the terminal is printable ASCII, bounded */
    for (const char *c = t; *c; c++)
        if (*c < 0x20 || *c > 0x7e) __builtin_trap();
    if (strlen(p->item) >= PKG_TEXT_MAX || strlen(p->what) >= PKG_TEXT_MAX || p->len >= PKG_LINE_MAX) __builtin_trap();
    if (p->phase > PKG_DONE) __builtin_trap();
}

static void changed(struct pkg_progress *p, enum pkg_change c, void *ctx)
{
    (void)c, (void)ctx;
    check(p);
}

static double zero_clock(void) { return 0; }

/* text drawn as the live line on a terminal cols wide: "\r\033[K", then at most cols - 1 bytes
 * (79 when the width is not known) with no control byte, whatever text held */
static void draw(const char *text, int cols)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return;
    struct progress_line pl = {.f = f, .tty = true, .cols = cols, .clock = zero_clock};
    progress_live(&pl, true, text);
    fclose(f);
    size_t max = cols > 0 ? (size_t)cols - 1 : 79;
    if (len < 4 || memcmp(buf, "\r\033[K", 4) || len - 4 > max) __builtin_trap();
    for (size_t i = 4; i < len; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) __builtin_trap();
    free(buf);
}

/* Any bytes as a package manager's output (mmdebstrap, apt, dpkg, dnf: package names come from
 * the repositories): followed, in any pieces, never a crash, an out-of-bounds read or text that
 * could drive a terminal; and any bytes drawn as kiln build's live line stay one line of the
 * terminal's width (the first byte picks the width, 0 to 3 among them). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pkg_progress p = {0};
    size_t half = size / 2;
    pkg_progress_feed(&p, (const char *)data, half, changed, NULL);
    pkg_progress_feed(&p, (const char *)data + half, size - half, changed, NULL);
    check(&p);
    struct pkg_progress q = {0};
    pkg_progress_line(&q, (const char *)data, size);
    check(&q);
    char t[512];
    pkg_progress_text(&p, t, sizeof t);
    int cols = size ? data[0] % 128 : 0;
    draw(t, cols);
    char *raw = strndup((const char *)data, size);
    if (raw) draw(raw, cols);
    free(raw);
    return 0;
}
