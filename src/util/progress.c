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
    size_t max = (size_t)(p->cols > 0 ? p->cols - 1 : 79);
    _cleanup_free_ char *w = one_line(who), *h = one_line(head), *m = one_line(mid), *t = one_line(tail);
    const char *ell = text_ellipsis();
    size_t wl = strlen(w), hl = strlen(h), ml = strlen(m), el = strlen(ell), nt = count_items(t);
    /* the ladder: {who kept, mid kept, tail items}, richest first; mid may be cut in a rung */
    struct rung {
        bool who, mid;
        size_t items;
    } ladder[] = {{true, true, nt}, {false, true, nt}, {false, true, nt ? 1 : 0}, {false, false, nt ? 1 : 0}, {false, false, 0}};
    size_t use_w = 0, use_m = 0, use_t = 0;
    const char *mark = "";
    bool fits = false;
    for (size_t i = 0; i < ARRAY_SIZE(ladder) && !fits; i++) {
        struct rung r = ladder[i];
        r.mid = r.mid && ml;
        size_t tl = r.items ? items_len(t, r.items) : 0;
        size_t fixed = (r.who ? wl : 0) + hl + (tl ? 2 + tl : 0);
        if (!r.mid) {
            fits = fixed <= max;
            use_w = r.who ? wl : 0, use_m = 0, use_t = tl, mark = "";
        } else if (fixed + 2 + ml <= max) {
            fits = true;
            use_w = r.who ? wl : 0, use_m = ml, use_t = tl, mark = "";
        } else if (fixed + 2 + 6 + el <= max) {
            fits = true;
            use_w = r.who ? wl : 0, use_m = utf8_cut(m, max - fixed - 2 - el), use_t = tl, mark = ell;
        }
    }
    size_t use_h = hl;
    if (!fits) use_h = utf8_cut(h, max); /* head alone is wider than the terminal */
    const char *msep = use_m ? ": " : "", *tsep = use_t && (use_w || use_h || use_m) ? ", " : "";
    uint64_t sum = fnv1a(w, use_w, 14695981039346656037ull);
    sum = fnv1a(h, use_h, fnv1a("\1", 1, sum));
    sum = fnv1a(m, use_m, fnv1a("\1", 1, sum));
    sum = fnv1a(mark, strlen(mark), fnv1a("\1", 1, sum));
    sum = fnv1a(t, use_t, fnv1a("\1", 1, sum));
    if (p->showing && !p->placeholder && sum == p->drawn_hash) return; /* the terminal shows it already */
    fprintf(p->f, "\r\033[K%.*s%.*s%s%.*s%s%s%.*s", (int)use_w, w, (int)use_h, h, msep, (int)use_m, m, mark, tsep,
            (int)use_t, t);
    fflush(p->f);
    p->drawn_at = now;
    p->drawn_hash = sum;
    p->showing = true;
    p->placeholder = false;
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
