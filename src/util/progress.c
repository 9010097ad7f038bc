/* Progress lines: a live line on a terminal, whole lines elsewhere (util/progress.h). */
#include "util/progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/util.h"

void human_bytes(uint64_t v, char *buf, size_t n)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)v;
    size_t i = 0;
    while (x >= 1024 && i + 1 < ARRAY_SIZE(u)) x /= 1024, i++;
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", x, u[i]);
}

void progress_bytes_text(uint64_t done, uint64_t total, double seconds, char *buf, size_t n)
{
    char d[32], t[32], r[32];
    if (!done && !total) {
        snprintf(buf, n, "%s", "");
        return;
    }
    human_bytes(done, d, sizeof d);
    human_bytes(total, t, sizeof t);
    bool rate = done > 0 && seconds >= 0.5;
    if (rate) human_bytes((uint64_t)((double)done / seconds), r, sizeof r);
    snprintf(buf, n, "%s%s%s%s%s%s", d, total ? " of " : "", total ? t : "", rate ? ", " : "", rate ? r : "",
             rate ? "/s" : "");
}

bool progress_live_ok(int fd)
{
    const char *term = getenv("TERM");
    return isatty(fd) && term && *term && strcmp(term, "dumb") != 0;
}

int progress_term_cols(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0) return 0;
    return ws.ws_col;
}

/* text made safe for one line: control bytes escaped (a newline or an escape sequence would leave
 * the line's start or drive the terminal), a tab a space (it would move past the width) */
static char *one_line(const char *text)
{
    char *safe = utf8_escape_controls(text ? text : "", text ? strlen(text) : 0, false);
    for (char *t = safe; (t = strchr(t, '\t'));) *t = ' ';
    return safe;
}

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

/* The bytes of the first n (>= 1) items of a ", "-separated list. */
static size_t items_len(const char *list, size_t n)
{
    const char *c = list;
    for (size_t i = 0;; i++) {
        const char *next = strstr(c, ", ");
        if (!next) return strlen(list);
        if (i + 1 == n) return (size_t)(next - list);
        c = next + 2;
    }
}

static size_t count_items(const char *list)
{
    if (!*list) return 0;
    size_t n = 1;
    for (const char *c = list; (c = strstr(c, ", ")); c += 2) n++;
    return n;
}

/* mid in at most room bytes: its start, the ellipsis, and its end (a file name's extension, a
 * package's "(24/68)"), both cut on character boundaries, into out. */
static void cut_middle(struct sbuf *out, const char *m, size_t ml, size_t room, const char *ell)
{
    size_t el = strlen(ell), keep = room - el, end = MIN((size_t)10, keep / 3), start = utf8_cut(m, keep - end);
    size_t from = ml - end;
    while (from < ml && ((unsigned char)m[from] & 0xC0) == 0x80) from++; /* not inside a character */
    sbuf_printf(out, "%.*s%s%s", (int)start, m, ell, m + from);
}

char *progress_fit(size_t max, const char *who, bool keep_who, const char *head, const char *mid_sep, const char *mid,
                   const char *tail)
{
    _cleanup_free_ char *w = one_line(who), *h = one_line(head), *m = one_line(mid), *t = one_line(tail);
    const char *ell = text_ellipsis(), *ms = mid_sep ? mid_sep : ": ";
    size_t wl = strlen(w), hl = strlen(h), ml = strlen(m), el = strlen(ell), sl = strlen(ms), nt = count_items(t);
    /* the ladder, richest first: {who kept, mid: 2 whole / 1 cut / 0 none, tail items} */
    struct rung {
        bool who;
        int mid;
        size_t items;
    };
    const struct rung live[] = {{true, 2, nt}, {false, 2, nt}, {false, 1, nt}, {false, 1, nt ? 1 : 0}, {false, 0, nt ? 1 : 0},
                                {false, 0, 0}},
                      kept[] = {{true, 2, nt}, {true, 1, nt}, {true, 1, nt ? 1 : 0}, {true, 0, nt ? 1 : 0}, {true, 0, 0},
                                {false, 0, 0}};
    const struct rung *ladder = keep_who ? kept : live;
    struct sbuf out = {0};
    for (size_t i = 0; i < ARRAY_SIZE(live); i++) {
        struct rung r = ladder[i];
        if (!ml) r.mid = 0; /* nothing to show or cut */
        size_t tl = r.items ? items_len(t, r.items) : 0;
        size_t fixed = (r.who ? wl : 0) + hl + (tl ? 2 + tl : 0);
        size_t room = max >= fixed + sl ? max - fixed - sl : 0; /* for mid */
        if (r.mid == 2 ? ml > room : r.mid == 1 ? room < MIN(ml, 6 + el) : fixed > max) continue;
        sbuf_printf(&out, "%.*s%s", r.who ? (int)wl : 0, w, h);
        if (r.mid) sbuf_puts(&out, ms);
        if (r.mid && ml <= room) sbuf_puts(&out, m);
        else if (r.mid) cut_middle(&out, m, ml, room, ell);
        if (tl) sbuf_printf(&out, "%s%.*s", hl || r.mid || r.who ? ", " : "", (int)tl, t);
        return sbuf_steal(&out);
    }
    sbuf_printf(&out, "%.*s", (int)utf8_cut(h, max), h); /* head alone is wider than the terminal */
    return sbuf_steal(&out);
}

void progress_live_parts(struct progress_line *p, bool force, const char *who, const char *head, const char *mid,
                         const char *tail)
{
    if (!p->tty) return;
    double now = p->clock ? p->clock() : now_s();
    double gap = p->min_gap_s > 0 ? p->min_gap_s : 0.2;
    if (!force && !p->placeholder && p->showing && now - p->drawn_at < gap) return;
    if (p->follow_width) {
        int cols = progress_term_cols(fileno(p->f));
        if (cols > 0) p->cols = cols;
    }
    /* a line longer than the terminal wraps, and "\r\033[K" would clear only its last row */
    _cleanup_free_ char *line = progress_fit(progress_max(p), who, false, head, NULL, mid, tail);
    uint64_t sum = fnv1a(line, strlen(line), 14695981039346656037ull);
    if (p->showing && !p->placeholder && sum == p->drawn_hash) return; /* the terminal shows it already */
    fprintf(p->f, "\r\033[K%s", line);
    fflush(p->f);
    p->drawn_at = now;
    p->drawn_hash = sum;
    p->showing = true;
    p->placeholder = false;
}

size_t progress_max(const struct progress_line *p)
{
    return (size_t)(p->cols > 0 ? p->cols - 1 : 79);
}

void progress_live(struct progress_line *p, bool force, const char *text)
{
    progress_live_parts(p, force, NULL, text, NULL, NULL); /* cut at the right, as a terminal would */
}

void progress_clear(struct progress_line *p)
{
    if (!p->tty || !p->showing) return;
    fputs("\r\033[K", p->f);
    p->showing = false;
}
