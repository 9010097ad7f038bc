/* kiln run's progress lines (src/report/console.c): each case's start and end, and the RUNNING
 * lines the ticker prints while a case runs, live on a TTY and as plain lines otherwise. The
 * ticker's clock is passed in (console_notifier_tick), so no wall clock decides a result.
 * kiln build's (util/progress.c, cmd/build.c's build_event_show): the live line on a terminal,
 * a line per phase or file elsewhere, on a clock the test sets. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cmd/common.h"
#include "image/build.h"
#include "model/case.h"
#include "report/notifier.h"
#include "tap.h"
#include "util/fs.h"
#include "util/progress.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/util.h"

static int saved = -1;
static char path[] = "/tmp/test_progress-XXXXXX";

static void catch_stdout(void)
{
    fflush(stdout);
    int tmp = mkstemp(path);
    saved = dup(1);
    dup2(tmp, 1);
    close(tmp);
}

static char *caught(void)
{
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    char *text = NULL;
    read_file(path, 1 << 16, &text, NULL);
    unlink(path);
    strcpy(path, "/tmp/test_progress-XXXXXX");
    return text;
}

static double fake_now;
static double fake_clock(void) { return fake_now; }

static char *mem_text(FILE *f, char **buf)
{
    fclose(f);
    return *buf;
}

static void test_progress_line(void)
{
    char b[96];
    const struct { uint64_t v; const char *want; } sizes[] = {
        {0, "0 B"}, {512, "512 B"}, {1536, "1.5 KiB"}, {38000000, "36.2 MiB"}, {2147483648ull, "2.0 GiB"}};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        human_bytes(sizes[i].v, b, sizeof b);
        is_str(b, sizes[i].want, "human_bytes: binary units, one decimal");
    }
    progress_bytes_text(0, 0, 3, b, sizeof b);
    is_str(b, "", "no bytes: nothing to tell");
    progress_bytes_text(1 << 20, 2147483648ull, 0.2, b, sizeof b);
    is_str(b, "1.0 MiB of 2.0 GiB", "no rate in the first half second");
    progress_bytes_text(1 << 30, 2147483648ull, 4, b, sizeof b);
    is_str(b, "1.0 GiB of 2.0 GiB, 256.0 MiB/s", "done of total, the rate over the seconds so far");
    progress_bytes_text(5 << 20, 0, 1, b, sizeof b);
    is_str(b, "5.0 MiB, 5.0 MiB/s", "total not known");

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct progress_line off = {.f = f, .clock = fake_clock};
    progress_live(&off, true, "anything");
    progress_clear(&off);
    is_str(mem_text(f, &buf), "", "off a terminal the live line is never drawn");
    free(buf);

    f = open_memstream(&buf, &len);
    struct progress_line pl = {.f = f, .tty = true, .cols = 20, .clock = fake_clock};
    fake_now = 100;
    progress_live(&pl, false, "0123456789abcdefghijklmnop");
    fake_now = 100.1;
    progress_live(&pl, false, "skipped: too soon");
    progress_live(&pl, true, "forced");
    fake_now = 100.35;
    progress_live(&pl, false, "late enough");
    progress_clear(&pl);
    progress_clear(&pl);
    is_str(mem_text(f, &buf),
           "\r\033[K0123456789abcdefghi" "\r\033[Kforced" "\r\033[Klate enough" "\r\033[K",
           "tty: cut to the width less one, at most five redraws a second unless forced, cleared once");
    free(buf);
}

/* The live line on a terminal narrower than anything kiln prints, and one resized mid-way: a
 * pseudo-terminal whose width the test sets (TIOCSWINSZ, what a resize does before SIGWINCH). */
static void set_cols(int fd, int cols)
{
    struct winsize ws = {.ws_row = 24, .ws_col = (unsigned short)cols};
    ioctl(fd, TIOCSWINSZ, &ws);
}

/* What the terminal got: reads master until want bytes came or a second passed with none. */
static char *pty_read(int master, size_t want)
{
    struct sbuf b = {0};
    char buf[512];
    struct pollfd p = {.fd = master, .events = POLLIN};
    while (b.len < want && poll(&p, 1, 1000) > 0) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;
        sbuf_append(&b, buf, (size_t)n);
    }
    if (!b.s) sbuf_puts(&b, "");
    return sbuf_steal(&b);
}

static void test_progress_width(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct progress_line one = {.f = f, .tty = true, .cols = 1, .clock = fake_clock};
    progress_live(&one, true, "kiln build: [1/7] rootfs 3 s: reading the repositories");
    one.cols = 2;
    progress_live(&one, true, "kiln build");
    is_str(mem_text(f, &buf), "\r\033[K" "\r\033[Kk", "1 column: nothing but the clearing (a line would wrap); 2: one character");
    free(buf);

    f = open_memstream(&buf, &len);
    struct progress_line pl = {.f = f, .tty = true, .cols = 200, .clock = fake_clock};
    progress_live(&pl, true, "unpacking \033]0;owned\007 (1)\nnext \033[2J\t\xff");
    is_str(mem_text(f, &buf), "\r\033[Kunpacking \\x1b]0;owned\\x07 (1)\\x0anext \\x1b[2J \\xff",
           "whatever the text holds, one line with its control bytes escaped, a tab a space (it moves past the width)");
    free(buf);

    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
        ok(false, "no pseudo-terminal: %s", strerror(errno));
        if (master >= 0) close(master);
        return;
    }
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    FILE *tty = slave >= 0 ? fdopen(slave, "w") : NULL;
    if (!tty) {
        ok(false, "cannot open the pseudo-terminal's other end: %s", strerror(errno));
        if (slave >= 0) close(slave);
        close(master);
        return;
    }
    set_cols(slave, 30);
    struct progress_line live = {.f = tty, .tty = true, .cols = progress_term_cols(slave), .follow_width = true,
                                 .clock = fake_clock};
    is_int(live.cols, 30, "the width of the terminal");
    const char *text = "kiln build: [6/7] outputs 12 s: writing t-1.0.0.qcow2, 1.0 GiB of 2.0 GiB";
    progress_live(&live, true, text);
    char *got = pty_read(master, 4 + 29);
    is_str(got, "\r\033[Kkiln build: [6/7] outputs 12 ", "cut to 29 columns");
    free(got);
    set_cols(slave, 12);
    progress_live(&live, true, text);
    got = pty_read(master, 4 + 11);
    is_str(got, "\r\033[Kkiln build:", "the terminal made narrower mid-way: the next line fits it (11 columns)");
    free(got);
    fclose(tty);
    close(master);
}

/* kiln build on a terminal and off it: the same events, the live line against plain lines */
/* a live line only on a terminal whose TERM can take it: TERM=dumb (an editor's shell) or no
 * TERM gets plain lines, as apt and dnf do (a new user saw ESC[K drawn under TERM=dumb) */
static void test_live_ok(void)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    ok(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0, "a pseudo-terminal");
    int slave = master >= 0 ? open(ptsname(master), O_RDWR | O_NOCTTY) : -1;
    const char *term0 = getenv("TERM");
    _cleanup_free_ char *keep = term0 ? xstrdup(term0) : NULL;
    setenv("TERM", "xterm-256color", 1);
    ok(slave >= 0 && progress_live_ok(slave), "a terminal with TERM=xterm-256color: live");
    setenv("TERM", "dumb", 1);
    ok(!progress_live_ok(slave), "TERM=dumb: plain lines");
    setenv("TERM", "", 1);
    ok(!progress_live_ok(slave), "TERM empty: plain lines");
    unsetenv("TERM");
    ok(!progress_live_ok(slave), "no TERM: plain lines");
    int p[2];
    setenv("TERM", "xterm", 1);
    ok(pipe(p) == 0 && !progress_live_ok(p[1]), "a pipe: plain lines whatever TERM says");
    close(p[0]), close(p[1]);
    if (keep) setenv("TERM", keep, 1);
    else unsetenv("TERM");
    if (slave >= 0) close(slave);
    if (master >= 0) close(master);
}

/* A terminal narrower than the line: "kiln build: " gives way, then the name (cut in its middle,
 * an ellipsis, its end kept), the rate, the name, the bytes; the stage and its seconds stay to
 * the last (new users on 45 columns saw "kiln bu, 373.6 MiB ..." and "kiln build: [6/7] outputs
 * 2 s: wrote debi..."); the same line is not drawn twice (a new user saw identical frames
 * redrawn ten times a second) */
static void test_parts(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct progress_line pl = {.f = f, .tty = true, .cols = 100, .clock = fake_clock};
    const char *who = "kiln build: ", *head = "[6/7] outputs 3 s", *name = "writing debian-server-1.0.0.qcow2";
    const char *tail = "1.2 GiB of 2.0 GiB, 300.0 MiB/s";
    setenv("LC_ALL", "C", 1);
    const int cols[] = {100, 81, 61, 46, 25, 10};
    for (size_t i = 0; i < ARRAY_SIZE(cols); i++) {
        pl.cols = cols[i];
        progress_live_parts(&pl, true, who, head, name, tail);
    }
    progress_live_parts(&pl, true, who, head, name, tail);
    fake_now += 1;
    progress_live_parts(&pl, false, who, head, name, tail);
    pl.cols = 40;
    progress_live_parts(&pl, true, who, head, NULL, NULL);
    setenv("LC_ALL", "C.UTF-8", 1);
    pl.cols = 61;
    progress_live_parts(&pl, true, who, head, name, tail);
    is_str(mem_text(f, &buf),
           "\r\033[Kkiln build: [6/7] outputs 3 s: writing debian-server-1.0.0.qcow2, 1.2 GiB of 2.0 GiB, 300.0 MiB/s"
           "\r\033[K[6/7] outputs 3 s: writing debian-se....0.qcow2, 1.2 GiB of 2.0 GiB, 300.0 MiB/s"
           "\r\033[K[6/7] outputs 3 s: writing debi....qcow2, 1.2 GiB of 2.0 GiB"
           "\r\033[K[6/7] outputs 3 s, 1.2 GiB of 2.0 GiB"
           "\r\033[K[6/7] outputs 3 s"
           "\r\033[K[6/7] out"
           "\r\033[Kkiln build: [6/7] outputs 3 s"
           "\r\033[K[6/7] outputs 3 s: writing debi\u2026.qcow2, 1.2 GiB of 2.0 GiB",
           "99 columns: all of it; 80: no \"kiln build: \", the name cut in its middle (\"...\" in the C locale, the "
           "extension kept); 60: no rate; 45: no name; 24: the stage and its seconds; 9: they cut; the same line twice "
           "drawn once; no name or bytes: \"kiln build: \" kept; a UTF-8 locale's ellipsis");
    free(buf);
}

static void test_build_lines(void)
{
    const struct build_event ev[] = {
        {.kind = BUILD_STAGE_BEGIN, .stage = "rootfs", .index = 1, .count = 7},
        {.kind = BUILD_PROGRESS, .stage = "rootfs", .step = true, .text = "reading the repositories"},
        {.kind = BUILD_PROGRESS, .stage = "rootfs", .text = "reading the repositories: bookworm InRelease"},
        {.kind = BUILD_PROGRESS, .stage = "rootfs", .step = true, .text = "downloading 89 packages, 36.2 MiB"},
        {.kind = BUILD_PROGRESS, .stage = "rootfs", .text = "downloading 89 packages: libc6 (2/89)", .done = 3 << 20,
         .total = 38000000, .seconds = 2},
        {.kind = BUILD_WARNING, .stage = "rootfs", .text = "something"},
        {.kind = BUILD_PROGRESS, .stage = "rootfs", .text = "installing 89 essential packages: unpacking bash (8/89)"},
        {.kind = BUILD_STAGE_END, .stage = "rootfs", .index = 1, .count = 7, .seconds = 12.5, .text = "(new tree)"},
    };
    const double at[] = {10, 10.5, 10.6, 11, 12.4, 12.5, 13, 22.5};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct build_live tty = {.pl = {.f = f, .tty = true, .cols = 200, .clock = fake_clock}};
    for (size_t i = 0; i < ARRAY_SIZE(ev); i++) fake_now = at[i], build_event_show(&tty, &ev[i], NULL);
    is_str(mem_text(f, &buf),
           "\r\033[Kkiln build: [1/7] rootfs ..."
           "\r\033[Kkiln build: [1/7] rootfs 0 s: reading the repositories"
           /* 0.1 s later: not drawn; a step always is */
           "\r\033[Kkiln build: [1/7] rootfs 1 s: downloading 89 packages, 36.2 MiB"
           "\r\033[Kkiln build: [1/7] rootfs 2 s: downloading 89 packages: libc6 (2/89), 3.0 MiB of 36.2 MiB, 1.5 MiB/s"
           "\r\033[Kkiln build: rootfs: warning: something\n"
           "\r\033[Kkiln build: [1/7] rootfs 3 s: installing 89 essential packages: unpacking bash (8/89)"
           "\r\033[Kkiln build: [1/7] rootfs        12.5 s  (new tree)\n",
           "terminal: a stage is one line, in place, from its start to its closing line; any other line clears it first");
    free(buf);

    /* a stage's first news 50 ms after its start is drawn (a 0.2 s qcow2 write was never seen) */
    f = open_memstream(&buf, &len);
    struct build_live quick = {.pl = {.f = f, .tty = true, .cols = 200, .clock = fake_clock}};
    fake_now = 50;
    build_event_show(&quick, &(struct build_event){.kind = BUILD_STAGE_BEGIN, .stage = "outputs", .index = 6, .count = 7}, NULL);
    fake_now = 50.05;
    build_event_show(&quick, &(struct build_event){.kind = BUILD_PROGRESS, .stage = "outputs", .text = "writing t.qcow2",
                                                   .total = 1 << 20}, NULL);
    is_str(mem_text(f, &buf), "\r\033[Kkiln build: [6/7] outputs ...\r\033[Kkiln build: [6/7] outputs 0 s: writing t.qcow2, 0 B of 1.0 MiB",
           "the stage's opening words give way to its first news at once");
    free(buf);

    /* on 20 columns the opening words keep the stage, as its news does ("kiln build: [3/7] r") */
    f = open_memstream(&buf, &len);
    struct build_live opening = {.pl = {.f = f, .tty = true, .cols = 20, .clock = fake_clock}};
    fake_now = 60;
    build_event_show(&opening, &(struct build_event){.kind = BUILD_STAGE_BEGIN, .stage = "root-fs", .index = 3, .count = 7}, NULL);
    fake_now = 61.5;
    build_event_show(&opening, &(struct build_event){.kind = BUILD_PROGRESS, .stage = "root-fs", .step = true,
                                                    .text = "running mke2fs"}, NULL);
    is_str(mem_text(f, &buf), "\r\033[K[3/7] root-fs ...\r\033[K[3/7] root-fs 1 s",
           "narrow terminal: 'kiln build: ' gives way before the stage's name, from the stage's first words");
    free(buf);

    /* a closing line on a narrow terminal is one line too: its note cut in the middle, then
     * "kiln build: " gone (a new user saw a 118-column rootfs line wrap on 100 columns) */
    f = open_memstream(&buf, &len);
    setenv("LC_ALL", "C", 1);
    struct build_live narrow = {.pl = {.f = f, .tty = true, .cols = 61, .clock = fake_clock}};
    const struct build_event end = {.kind = BUILD_STAGE_END, .stage = "rootfs", .index = 1, .count = 7, .seconds = 2,
                                    .text = "(cached tree 7c36479177e2107e0294e005f76b55e4; repositories 0.2 s, copy 1.8 s)"};
    build_event_show(&narrow, &end, NULL);
    narrow.pl.cols = 30;
    build_event_show(&narrow, &end, NULL);
    is_str(mem_text(f, &buf),
           "kiln build: [1/7] rootfs         2.0 s  (cached tree....8 s)\n"
           "[1/7] rootfs         2.0 s\n",
           "closing lines fitted: 60 columns, the note cut in its middle, \"kiln build: \" kept; 29, the stage and its time");
    setenv("LC_ALL", "C.UTF-8", 1);
    free(buf);

    f = open_memstream(&buf, &len);
    struct build_live plain = {.pl = {.f = f, .clock = fake_clock}};
    for (size_t i = 0; i < ARRAY_SIZE(ev); i++) fake_now = at[i], build_event_show(&plain, &ev[i], NULL);
    char *text = mem_text(f, &buf);
    is_str(text,
           "kiln build: [1/7] rootfs ...\n"
           "kiln build: [1/7] rootfs 0 s: reading the repositories\n"
           "kiln build: [1/7] rootfs 1 s: downloading 89 packages, 36.2 MiB\n"
           "kiln build: rootfs: warning: something\n"
           "kiln build: [1/7] rootfs        12.5 s  (new tree)\n",
           "elsewhere: a line per step with the stage's seconds so far, the live updates left out");
    ok(!strchr(text, '\r') && !strchr(text, '\033'), "no carriage return or escape off a terminal");
    free(buf);
}

/* "→" and "…" only where the locale says UTF-8: LC_ALL over LC_CTYPE over LANG, the first set */
static void test_locale(void)
{
    const struct { const char *all, *ctype, *lang; bool utf8; } c[] = {
        {NULL, NULL, NULL, false}, {NULL, NULL, "C", false}, {NULL, NULL, "C.UTF-8", true},
        {NULL, NULL, "en_US.utf8", true}, {NULL, NULL, "de_DE.UTF-8@euro", true}, {NULL, NULL, "en_US.ISO-8859-1", false},
        {"C", NULL, "en_US.UTF-8", false}, {"", "C.UTF-8", "C", true}, {NULL, "POSIX", "en_US.UTF-8", false},
        {NULL, NULL, "en_US.UTF-8x", false},
    };
    for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
        const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"}, *v[] = {c[i].all, c[i].ctype, c[i].lang};
        for (int k = 0; k < 3; k++)
            if (v[k]) setenv(names[k], v[k], 1);
            else unsetenv(names[k]);
        ok(locale_utf8() == c[i].utf8, "LC_ALL=%s LC_CTYPE=%s LANG=%s: %s", c[i].all ? c[i].all : "-",
           c[i].ctype ? c[i].ctype : "-", c[i].lang ? c[i].lang : "-", c[i].utf8 ? "UTF-8" : "not UTF-8");
        is_str(text_arrow(), c[i].utf8 ? "\u2192" : "->", "the arrow for it");
        is_str(text_ellipsis(), c[i].utf8 ? "\u2026" : "...", "the ellipsis for it");
    }
    unsetenv("LC_CTYPE"), unsetenv("LANG");
    setenv("LC_ALL", "C.UTF-8", 1);
}

/* What progress_live_parts drew for one set of parts, checked: "\r\033[K", then at most cols - 1
 * bytes (79 when the width is not known) of well-formed UTF-8 with no control character (C0,
 * DEL, C1), and head whole whenever it fits alone. NULL when it holds, else what broke. */
static const char *parts_broken(int cols, const char *who, const char *head, const char *mid, const char *tail)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct progress_line pl = {.f = f, .tty = true, .cols = cols, .clock = fake_clock};
    progress_live_parts(&pl, true, who, head, mid, tail);
    fclose(f);
    const char *why = NULL;
    size_t max = cols > 0 ? (size_t)cols - 1 : 79;
    if (len < 4 || memcmp(buf, "\r\033[K", 4)) why = "no \\r\\033[K first";
    const char *s = buf + 4;
    size_t n = len >= 4 ? len - 4 : 0;
    if (!why && n > max) why = "wider than the terminal";
    for (size_t i = 0; !why && i < n;) {
        uint32_t cp = 0;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k) why = "a character split (or ill-formed UTF-8)";
        else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) why = "a control character";
        i += k ? k : 1;
    }
    if (!why && head) {
        char *e = utf8_escape_controls(head, strlen(head), false);
        for (char *t = e; (t = strchr(t, '\t'));) *t = ' ';
        if (strlen(e) <= max && !memmem(s, n, e, strlen(e))) why = "head lost though it fits";
        free(e);
    }
    free(buf);
    return why;
}

/* Every width kiln could meet at its narrowest (0: not known, 1: nothing fits) against parts
 * with a multi-byte character at each cut point, ill-formed UTF-8, control bytes, tails without
 * ", " or with it at an end, "" and NULL: nothing wider than cols - 1, no character split, no
 * control byte through, head whole when it fits. */
static void test_parts_hostile(void)
{
    const char *v[] = {NULL, "", "a", "\xc3\xa9", "ab\xe2\x82\xac", "kiln build: ", "[6/7] outputs 12 s",
                       "a\xe2\x82", "\xff\xfe\xc0\xaf", "x\ny\tz\033[2J\033]0;t\007", "\xc2\x85nel\xc2\x9b",
                       "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
                       "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", "debian-\xe2\x82\xac-server-1.0.0.qcow2",
                       ", ", ", a", "a, ", "1.2 GiB of 2.0 GiB, 300.0 MiB/s", "\xe2\x82\xac, \xf0\x9f\x98\x80, \xc3\xa9",
                       ", , , ", "\x7f\x01", "abc\xed\xa0\x80"};
    /* who and head from a few of them (each is cut whole or kept whole), mid and tail from all */
    const size_t whos[] = {0, 1, 4, 8}, heads[] = {0, 1, 3, 6, 7, 9, 11, 12};
    const int cols[] = {0, 1, 2, 3, 5, 8, 13, 25, 46};
    const char *locales[] = {"C", "C.UTF-8"};
    size_t nv = ARRAY_SIZE(v), checked = 0, broken = 0;
    char first[512] = "";
    for (size_t l = 0; l < ARRAY_SIZE(locales); l++) {
        setenv("LC_ALL", locales[l], 1);
        for (size_t c = 0; c < ARRAY_SIZE(cols); c++)
            for (size_t a = 0; a < ARRAY_SIZE(whos); a++)
                for (size_t b = 0; b < ARRAY_SIZE(heads); b++)
                    for (size_t m = 0; m < nv; m++)
                        for (size_t t = 0; t < nv; t++) {
                            const char *why = parts_broken(cols[c], v[whos[a]], v[heads[b]], v[m], v[t]);
                            checked++;
                            if (why && !broken++)
                                snprintf(first, sizeof first, "%s: %s, %d columns, parts %zu %zu %zu %zu", why,
                                         locales[l], cols[c], whos[a], heads[b], m, t);
                        }
    }
    setenv("LC_ALL", "C", 1);
    ok(broken == 0, "hostile parts: %zu lines drawn, %zu broken%s%s", checked, broken, broken ? "; first: " : "", first);
}

int main(void)
{
    test_locale();
    test_progress_line();
    test_progress_width();
    test_parts();
    test_parts_hostile();
    test_live_ok();
    test_build_lines();

    struct kiln_result cases[2] = {
        {.id = "smoke", .started = 1000012, .status = ST_RUNNING},
        {.id = "verify_long", .started = 1000075, .status = ST_RUNNING},
    };
    struct kiln_results r = {.name = "demo", .dir = "runs/demo-1", .started = 1000000, .v = cases, .n = 2};

    /* plain lines (a pipe or file, or several cases at once): a start line with the time into
     * the run, a RUNNING line every every_s while it runs, the end line with its duration */
    struct console_notifier cn = {.out = stdout, .total = 2, .every_s = 60};
    pthread_mutex_init(&cn.lock, NULL);
    catch_stdout();
    double t0 = now_s();
    notifier_console.case_started(&cn, &r, &cases[0]);
    notifier_console.case_started(&cn, &r, &cases[1]);
    console_notifier_tick(&cn, t0 + 30);  /* nothing due yet */
    console_notifier_tick(&cn, t0 + 61.5); /* a minute: both */
    console_notifier_tick(&cn, t0 + 62);  /* not again within the minute */
    cases[0].status = ST_PASSED, cases[0].duration_s = 65.25;
    notifier_console.case_finished(&cn, &r, &cases[0], 1);
    console_notifier_tick(&cn, t0 + 185.5); /* two periods late: one line, the next due at 240 */
    console_notifier_tick(&cn, t0 + 200);
    cases[1].status = ST_FAILED, cases[1].duration_s = 190, cases[1].reason = "timed out\nmore";
    notifier_console.case_finished(&cn, &r, &cases[1], 2);
    char *text = caught();
    /* the ticks fall mid-second: the moment between t0 and each case's start (as the notifier
     * took it) cannot move a whole second */
    is_str(text,
           "  STARTED   smoke (12s into the run)\n"
           "  STARTED   verify_long (1m15s into the run)\n"
           "  RUNNING   smoke for 1m01s\n"
           "  RUNNING   verify_long for 1m01s\n"
           "[1/2] PASSED    smoke                               65.2s\n"
           "  RUNNING   verify_long for 3m05s\n"
           "[2/2] FAILED    verify_long                        190.0s  timed out\n",
           "plain: start, a RUNNING line a minute, the end with its duration");
    is_int(cn.nrunning, 0, "no case is left running");
    free(text);

    /* live (a TTY, one case at a time): the RUNNING line is rewritten in place every tick, and the
     * end line replaces it */
    struct console_notifier live = {.out = stdout, .tty = true, .live = true, .total = 1, .every_s = 60};
    pthread_mutex_init(&live.lock, NULL);
    cases[0].status = ST_RUNNING;
    catch_stdout();
    t0 = now_s();
    notifier_console.case_started(&live, &r, &cases[0]);
    console_notifier_tick(&live, t0 + 1.5);
    console_notifier_tick(&live, t0 + 2.5);
    cases[0].status = ST_PASSED, cases[0].duration_s = 2.75;
    notifier_console.case_finished(&live, &r, &cases[0], 1);
    text = caught();
    is_str(text,
           "  RUNNING   smoke ..."
           "\r\033[K  RUNNING   smoke ... 1s"
           "\r\033[K  RUNNING   smoke ... 2s"
           "\r\033[K[1/1] \033[32mPASSED   \033[0m smoke                                2.8s\n",
           "live: one line, its elapsed time ticking, then the end line");
    free(text);
    /* a pass with a skipped subtest names it: the part it did not check */
    struct kiln_subtest parts[2] = {
        {.name = "secure_boot_on", .status = ST_PASSED, .reason = "SecureBoot=1"},
        {.name = "unsigned_kernel_refused", .status = ST_SKIPPED, .reason = "no unsigned kernel was offered\nmore"},
    };
    struct kiln_result sb = {.id = "verify_secure_boot_enforced", .status = ST_PASSED, .duration_s = 3,
                             .subtests = parts, .nsubtests = 2};
    catch_stdout();
    notifier_console.case_finished(&cn, &r, &sb, 2);
    text = caught();
    is_str(text,
           "[2/2] PASSED    verify_secure_boot_enforced          3.0s  1 of 2 subtests skipped: "
           "unsigned_kernel_refused (no unsigned kernel was offered)\n",
           "a pass with a skipped subtest says which and why on its line");
    free(text);
    parts[1].status = ST_PASSED;
    catch_stdout();
    notifier_console.case_finished(&cn, &r, &sb, 2);
    text = caught();
    is_str(text, "[2/2] PASSED    verify_secure_boot_enforced          3.0s\n", "a full pass says nothing more");
    free(text);
    free(cn.running);
    free(live.running);
    return tap_done();
}
