/* kiln build's rootfs progress (image/pkg_progress.c), fed what mmdebstrap --verbose and dnf
 * really printed (tests/data/pkgprogress/, README.md there says how each was captured): the
 * phases in order, the items and counts, the download's bytes, the same whatever pieces the
 * pipe cuts the output into; and hostile lines. */
#include <stdio.h>
#include <string.h>

#include "image/pkg_progress.h"
#include "tap.h"
#include "util/fs.h"
#include "util/util.h"

struct run {
    struct sbuf phases;  /* each phase's text, "|" after each */
    struct sbuf details; /* each live text that differs from the one before, "\n" after each */
    uint64_t dl_last;    /* dl_done when the last package of a download was counted */
    unsigned dl_count;
    struct pkg_progress p;
};

static void note_change(struct run *r, enum pkg_change c)
{
    char t[256];
    if (c == PKG_SAME) return;
    if (c == PKG_PHASE) {
        pkg_progress_phase_text(&r->p, t, sizeof t);
        sbuf_printf(&r->phases, "%s|", t);
    }
    if (r->p.phase == PKG_DOWNLOAD && r->p.dl_count && r->p.dl_count == r->p.npkgs && r->p.dl_count != r->dl_count)
        r->dl_last = r->p.dl_done, r->dl_count = r->p.dl_count;
    pkg_progress_text(&r->p, t, sizeof t);
    const char *prev = r->details.s ? r->details.s + r->details.len - 1 : NULL;
    while (prev && prev > r->details.s && prev[-1] != '\n') prev--;
    size_t tl = strlen(t);
    if (!prev || strncmp(prev, t, tl) || prev[tl] != '\n') sbuf_printf(&r->details, "%s\n", t);
}

static void changed(struct pkg_progress *p, enum pkg_change c, void *ctx)
{
    (void)p;
    note_change(ctx, c);
}

/* Feeds the fixture in pieces of `piece` bytes (0: a line at a time through pkg_progress_line). */
static bool run_fixture(const char *name, size_t piece, struct run *r)
{
    memset(r, 0, sizeof *r);
    _cleanup_free_ char *path = xasprintf("%s/pkgprogress/%s", TEST_DATA_DIR, name);
    char *text = NULL;
    size_t len = 0;
    if (read_file(path, 1 << 20, &text, &len) < 0) return ok(false, "cannot read %s", path);
    for (size_t at = 0; at < len;) {
        size_t n = piece ? (len - at < piece ? len - at : piece) : strcspn(text + at, "\n") + 1;
        if (n > len - at) n = len - at;
        if (piece) pkg_progress_feed(&r->p, text + at, n, changed, r);
        else note_change(r, pkg_progress_line(&r->p, text + at, n - 1));
        at += n;
    }
    free(text);
    return true;
}

static void run_free(struct run *r)
{
    sbuf_free(&r->phases);
    sbuf_free(&r->details);
}

static void test_mmdebstrap(void)
{
    struct run r;
    if (!run_fixture("mmdebstrap-cold.txt", 0, &r)) return;
    is_str(r.phases.s,
           "running the setup hooks|running the sync-in hook|reading the repositories|resolving dependencies|downloading 89 packages, 36.2 MiB|"
           "extracting 89 essential packages|installing 89 essential packages|resolving dependencies|"
           "downloading 68 packages, 85.0 MiB|installing 68 packages|generating the initrd initrd.img-6.1.0-57-amd64|"
           "installing 68 packages|generating the initrd initrd.img-6.1.0-57-amd64|running the customize hooks|"
           "running the sync-out hook|cleaning up|done|",
           "cold: every phase of mmdebstrap, apt and dpkg in order, with the counts and sizes apt announced");
    /* the 89 + 68 "Get:" lines: their sizes add up to what apt said it needed (38.0 MB, 89.1 MB) */
    ok(r.dl_last >= 89100000 * 0.99 && r.dl_last <= 89100000 * 1.01, "cold: the last download's Get: sizes add up to "
       "apt's 89.1 MB: %llu", (unsigned long long)r.dl_last);
    is_int(r.dl_count, 68, "cold: the last download counted its 68 packages");
    has(r.details.s, "reading the repositories: bookworm-security/main amd64 Packages\n", "an index being read");
    has(r.details.s, "downloading 89 packages: libc6 (2/89)\n", "a package being fetched, of how many");
    has(r.details.s, "installing 89 essential packages: unpacking libc6 (2/89)\n", "dpkg unpacking an essential package");
    has(r.details.s, "installing 89 essential packages: setting up libgcc-s1 (", "its :amd64 dropped");
    has(r.details.s, "installing 68 packages: unpacking openssh-server (", "the remaining packages");
    has(r.details.s, "installing 68 packages: setting up openssh-server (", "set up");
    has(r.details.s, "installing 68 packages: processing triggers for libc-bin\n", "dpkg's triggers");
    has(r.details.s, "running the sync-out hook\n", "kiln's hook that keeps the .debs, named");
    ok(!strstr(r.details.s, "diversion"), "dpkg-divert's lines are not packages");
    uint64_t done_at_end = r.p.dl_done;
    is_int(done_at_end, r.p.dl_total, "\"Fetched ...\" completes the download's bytes");
    run_free(&r);

    if (!run_fixture("mmdebstrap-warm.txt", 0, &r)) return;
    is_str(r.phases.s,
           "running the setup hooks|running the sync-in hook|reading the repositories|resolving dependencies|"
           "extracting 89 essential packages|"
           "installing 89 essential packages|resolving dependencies|installing 68 packages|"
           "generating the initrd initrd.img-6.1.0-57-amd64|installing 68 packages|"
           "generating the initrd initrd.img-6.1.0-57-amd64|running the customize hooks|running the sync-out hook|"
           "cleaning up|done|",
           "warm: the .debs in the cache (\"Need to get 0 B/38.0 MB\"): no download phase");
    run_free(&r);
}

static void test_dnf(void)
{
    struct run r;
    if (!run_fixture("dnf-install-http.txt", 0, &r)) return;
    is_str(r.phases.s,
           "reading the repositories|resolving dependencies|downloading 9 packages, 21.0 MiB|checking the transaction|"
           "installing 9 packages|verifying 9 packages|done|",
           "dnf over HTTP: the GPG key fetched after the packages is no phase of its own");
    has(r.details.s, "reading the repositories: kiln-test\n", "the repository's metadata");
    has(r.details.s, "downloading 9 packages: kiln-libs-1.0-1.kiln.x86_64 (7/9)\n", "a package fetched, .rpm dropped");
    has(r.details.s, "installing 9 packages: kiln-libs-1.0-1.kiln.x86_64 (2/9)\n", "rpm installing");
    has(r.details.s, "verifying 9 packages: kiln-rpm-1.0-1.kiln.x86_64 (9/9)\n", "rpm verifying");
    /* 472 kB + 158 kB + 84 kB + 7.9 kB + 7.3 kB + 6.1 kB + 6.9 MB + 33 kB + 13 MB (1024s) */
    ok(r.dl_last > 20 * 1048576 && r.dl_last < 21 * 1048576, "the (k/9) lines' sizes add up to dnf's 21 M: %llu",
       (unsigned long long)r.dl_last);
    run_free(&r);

    if (!run_fixture("dnf-install-file.txt", 0, &r)) return;
    is_str(r.phases.s, "reading the repositories|resolving dependencies|checking the transaction|installing 5 packages|"
                       "verifying 5 packages|done|", "dnf from a file:// repository: nothing to download");
    run_free(&r);

    if (!run_fixture("dnf-remove.txt", 0, &r)) return;
    is_str(r.phases.s, "resolving dependencies|checking the transaction|removing 2 packages|verifying 2 packages|done|",
           "dnf remove");
    has(r.details.s, "removing 2 packages: kiln-init-1.0-1.kiln.noarch (1/2)\n", "rpm erasing");
    run_free(&r);

    if (!run_fixture("dnf-scriptlet.txt", 0, &r)) return;
    has(r.details.s, "installing 1 package: kiln-hook-1.0-1.noarch (1/1)\ninstalling 1 package: scriptlet of "
                     "kiln-hook-1.0-1.noarch\n", "a scriptlet runs within the install, one package is singular");
    run_free(&r);
}

/* The pipe cuts the output anywhere: a byte at a time, in odd pieces, in one piece. */
static void test_pieces(void)
{
    const char *names[] = {"mmdebstrap-cold.txt", "dnf-install-http.txt"};
    const size_t pieces[] = {1, 7, 4096, 1 << 20};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        struct run whole;
        if (!run_fixture(names[i], 0, &whole)) return;
        for (size_t k = 0; k < ARRAY_SIZE(pieces); k++) {
            struct run r;
            run_fixture(names[i], pieces[k], &r);
            _cleanup_free_ char *what = xasprintf("%s in pieces of %zu: the same phases", names[i], pieces[k]);
            is_str(r.phases.s, whole.phases.s, what);
            is_str(r.details.s, whole.details.s, "and the same items");
            run_free(&r);
        }
        run_free(&whole);
    }
}

/* Package names come from the repositories: nothing of a line reaches the terminal but
 * printable ASCII, a line has a bound, and near misses change nothing. */
static void test_hostile(void)
{
    struct pkg_progress p = {0};
    const char evil[] = "Unpacking \033]0;owned\007x\033[2J (1.0) ...\n";
    is_int(pkg_progress_feed(&p, evil, strlen(evil), NULL, NULL), PKG_PHASE, "an unpack line starts the install");
    char t[256];
    pkg_progress_text(&p, t, sizeof t);
    is_str(t, "installing packages: unpacking ?]0;owned?x?[2J (1)", "escape sequences and controls become '?'");

    struct sbuf big = {0};
    sbuf_puts(&big, "Setting up ");
    for (int i = 0; i < 10000; i++) sbuf_puts(&big, "a");
    sbuf_puts(&big, " (1) ...\nSetting up b (1) ...\n");
    is_int(pkg_progress_feed(&p, big.s, big.len, NULL, NULL), PKG_DETAIL, "a 10000-byte line is cut, the next one read");
    pkg_progress_text(&p, t, sizeof t);
    is_str(t, "installing packages: setting up b (1)", "the line after it is whole (the cut one, with no version, counts for nothing)");
    ok(strlen(p.item) < PKG_TEXT_MAX, "items are bounded");
    sbuf_free(&big);

    struct pkg_progress q = {0};
    const char *const nothing[] = {
        "Removing 'diversion of /bin/sh to /bin/sh.distrib by dash'", "Get:", "Get:1", "Need to get 0 B/38.0 MB of archives.",
        "  Installing       : x 0/1", "  Installing       : x 2/1", "  Installing       : x 1/1x", "(1/2):", "Total 1 MB/s | 2 MB",
        "dracut: Generating", "I: running", "Setting up", "Setting up x", "Unpacking x",
    };
    for (size_t i = 0; i < ARRAY_SIZE(nothing); i++) {
        enum pkg_change c = pkg_progress_line(&q, nothing[i], strlen(nothing[i]));
        _cleanup_free_ char *what = xasprintf("changes nothing: \"%s\"", nothing[i]);
        is_int(c, PKG_SAME, what);
    }
    is_int(pkg_progress_line(&q, "Unpacking x (1)\0 ...", 20), PKG_PHASE, "a NUL ends the line");
    is_int(q.phase, PKG_INSTALL, "and what came before it counts");

    /* apt's own progress bar (on a terminal: "\r" and no newline), invalid UTF-8 in a name */
    struct pkg_progress r = {0};
    const char bar[] = "\r0% [Working]\r33% [1 libc6 1 kB/2759 kB]\rUnpacking lib\xc3\x41\xff (1) ...\r"
                       "Setting up lib\xe2\x82 (1) ...";
    is_int(pkg_progress_feed(&r, bar, sizeof bar - 1, NULL, NULL), PKG_PHASE, "lines ended by \\r alone are lines");
    pkg_progress_text(&r, t, sizeof t);
    is_str(t, "installing packages: unpacking lib?A? (1)", "ill-formed UTF-8 becomes '?'");
    is_int(r.len, strlen("Setting up lib\xe2\x82 (1) ..."), "a line cut off by the exit waits, unread");

    /* 10 MB with no newline, in the pipe's 16 KiB reads: the partial line stays bounded */
    static char chunk[16384];
    memset(chunk, 'x', sizeof chunk);
    struct pkg_progress m = {0};
    for (int i = 0; i < 640; i++) pkg_progress_feed(&m, chunk, sizeof chunk, NULL, NULL);
    is_int(m.len, PKG_LINE_MAX - 1, "10 MB without a newline: PKG_LINE_MAX - 1 bytes kept");
    is_int(pkg_progress_feed(&m, "\nSetting up y (1) ...\n", 22, NULL, NULL), PKG_PHASE, "the next line is read whole");
}

int main(void)
{
    test_mmdebstrap();
    test_dnf();
    test_pieces();
    test_hostile();
    return tap_done();
}
