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

void progress_live(struct progress_line *p, bool force, const char *text)
{
    if (!p->tty) return;
    double now = p->clock ? p->clock() : now_s();
    double gap = p->min_gap_s > 0 ? p->min_gap_s : 0.2;
    if (!force && p->showing && now - p->drawn_at < gap) return;
    if (p->follow_width) {
        int cols = progress_term_cols(fileno(p->f));
        if (cols > 0) p->cols = cols;
    }
    size_t max = (size_t)(p->cols > 0 ? p->cols - 1 : 79);
    /* one line whatever text holds: a newline or an escape sequence would leave the line's
     * start or drive the terminal, a tab move past its width */
    _cleanup_free_ char *safe = utf8_escape_controls(text, strlen(text), false);
    for (char *t = safe; (t = strchr(t, '\t'));) *t = ' ';
    /* a line longer than the terminal wraps, and "\r\033[K" would clear only its last row */
    size_t len = utf8_cut(safe, max);
    fprintf(p->f, "\r\033[K%.*s", (int)len, safe);
    fflush(p->f);
    p->drawn_at = now;
    p->showing = true;
}

void progress_clear(struct progress_line *p)
{
    if (!p->tty || !p->showing) return;
    fputs("\r\033[K", p->f);
    p->showing = false;
}
