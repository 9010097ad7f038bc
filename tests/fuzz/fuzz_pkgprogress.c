#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "image/pkg_progress.h"

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

/* Any bytes as a package manager's output (mmdebstrap, apt, dpkg, dnf: package names come from
 * the repositories): followed, in any pieces, never a crash, an out-of-bounds read or text that
 * could drive a terminal. */
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
    return 0;
}
