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

void progress_live_parts(struct progress_line *p, bool force, const char *head, const char *mid, const char *tail)
{
    if (!p->tty) return;
    double now = p->clock ? p->clock() : now_s();
    double gap = p->min_gap_s > 0 ? p->min_gap_s : 0.2;
    if (!force && p->showing && now - p->drawn_at < gap) return;
    if (p->follow_width) {
        int cols = progress_term_cols(fileno(p->f));
        if (cols > 0) p->cols = cols;
    }
    /* a line longer than the terminal wraps, and "\r\033[K" would clear only its last row; bytes
     * stand for columns (a character is at least one byte, and no wider than its bytes) */
    size_t max = (size_t)(p->cols > 0 ? p->cols - 1 : 79);
    _cleanup_free_ char *h = one_line(head), *m = one_line(mid), *t = one_line(tail);
    size_t hl = strlen(h), ml = strlen(m), tl = strlen(t);
    const char *mark = "";
    if (hl + ml + tl > max) {
        const char *ell = text_ellipsis();
        size_t el = strlen(ell);
        if (hl + tl + el + 1 <= max) {
            ml = utf8_cut(m, max - hl - tl - el);
            mark = ell;
        } else {
            ml = 0;
            if (tl >= max) hl = 0, tl = utf8_cut(t, max);
            else hl = utf8_cut(h, max - tl);
        }
    }
    uint64_t sum = fnv1a(h, hl, 14695981039346656037ull);
    sum = fnv1a(m, ml, fnv1a("\1", 1, sum));
    sum = fnv1a(mark, strlen(mark), fnv1a("\1", 1, sum));
    sum = fnv1a(t, tl, fnv1a("\1", 1, sum));
    if (p->showing && sum == p->drawn_hash) return; /* the terminal shows it already */
    fprintf(p->f, "\r\033[K%.*s%.*s%s%.*s", (int)hl, h, (int)ml, m, mark, (int)tl, t);
    fflush(p->f);
    p->drawn_at = now;
    p->drawn_hash = sum;
    p->showing = true;
}

void progress_live(struct progress_line *p, bool force, const char *text)
{
    progress_live_parts(p, force, text, NULL, NULL); /* cut at the right, as a terminal would */
}

void progress_clear(struct progress_line *p)
{
    if (!p->tty || !p->showing) return;
    fputs("\r\033[K", p->f);
    p->showing = false;
}
