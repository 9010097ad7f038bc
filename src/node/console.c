#include "node/console.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>

#include "node/bootwatch.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/util.h"

struct pattern {
    char *name;
    regex_t rx;
    bool fatal;
};

struct kiln_patterns {
    struct pattern *v;
    size_t n, cap;
    /* Every pattern as one alternation "(p1)|(p2)|...": almost every console line matches
     * none, and one pass over it is cheaper than one per pattern. */
    regex_t any;
    bool has_any;
    regex_t *ignore;
    size_t nignore, capignore;
};

static bool compile(struct diags *d, const struct ynode *at, const char *path, const char *re, regex_t *rx)
{
    int rc = regcomp(rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc == 0) return true;
    char err[128];
    regerror(rc, rx, err, sizeof err);
    diag_add(d, at, path, "invalid regular expression \"%s\": %s", re, err);
    return false;
}

/* Groups in the combined expression renumber a back-reference, so none is allowed. */
static bool has_backref(const char *re)
{
    for (const char *c = re; *c; c++)
        if (*c == '\\' && c[1]) {
            if (c[1] >= '1' && c[1] <= '9') return true;
            c++;
        }
    return false;
}

char *patterns_path(const char *override)
{
    return override ? xstrdup(override) : kiln_data_path("console-patterns.yml");
}

struct kiln_patterns *patterns_load(const char *path, char *const *extra, size_t nextra, struct diags *d)
{
    size_t before = d->n;
    struct ynode *root = yaml_load_file(path, d);
    if (!root) return NULL;
    struct kiln_patterns *p = xcalloc(1, sizeof *p);
    struct sbuf any = {0};
    static const char *const keys[] = {"patterns", "ignore", NULL};
    static const char *const pkeys[] = {"name", "regex", "fatal", NULL};
    if (y_expect(d, root, "", YN_MAP) && y_check_keys(d, root, "", keys)) {
        const struct ynode *pats = y_get(root, "patterns");
        if (pats && y_expect(d, pats, "patterns", YN_SEQ))
            for (size_t i = 0; i < pats->n; i++) {
                const struct ynode *it = pats->items[i];
                _cleanup_free_ char *ip = ypath_index("patterns", i);
                if (!y_expect(d, it, ip, YN_MAP) || !y_check_keys(d, it, ip, pkeys)) continue;
                char *name = NULL, *re = NULL;
                bool fatal = false;
                const struct ynode *f = y_get(it, "fatal");
                if (y_str(d, y_get(it, "name"), ip, &name) && y_str(d, y_get(it, "regex"), ip, &re) &&
                    (!f || y_bool(d, f, ip, &fatal))) {
                    struct pattern pat = {.name = name, .fatal = fatal};
                    if (has_backref(re))
                        diag_add(d, it, ip, "\"%s\" has a back-reference, which patterns cannot use "
                                 "(they are matched as one combined expression)", re);
                    else if (compile(d, it, ip, re, &pat.rx)) {
                        *APPEND(p->v, p->n, p->cap) = pat;
                        sbuf_printf(&any, "%s(%s)", any.len ? "|" : "", re);
                        name = NULL;
                    }
                }
                free(name);
                free(re);
            }
        const struct ynode *ign = y_get(root, "ignore");
        char **list = NULL;
        size_t nl = 0;
        if (ign && y_str_list(d, ign, "ignore", &list, &nl))
            for (size_t i = 0; i < nl; i++) {
                regex_t rx;
                if (compile(d, ign, "ignore", list[i], &rx)) *APPEND(p->ignore, p->nignore, p->capignore) = rx;
            }
        strv_free(list, nl);
    }
    for (size_t i = 0; i < nextra; i++) {
        regex_t rx;
        if (compile(d, NULL, "console.ignore", extra[i], &rx)) *APPEND(p->ignore, p->nignore, p->capignore) = rx;
    }
    if (d->n == before && p->n) p->has_any = compile(d, root, "patterns", any.s, &p->any);
    sbuf_free(&any);
    ynode_free(root);
    if (d->n > before) {
        patterns_free(p);
        return NULL;
    }
    return p;
}

void patterns_free(struct kiln_patterns *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        regfree(&p->v[i].rx);
    }
    if (p->has_any) regfree(&p->any);
    for (size_t i = 0; i < p->nignore; i++) regfree(&p->ignore[i]);
    free(p->v);
    free(p->ignore);
    free(p);
}

const char *patterns_match(const struct kiln_patterns *p, const char *line, bool *fatal)
{
    if (!p->has_any || regexec(&p->any, line, 0, NULL, 0) != 0) return NULL;
    for (size_t i = 0; i < p->n; i++) {
        if (regexec(&p->v[i].rx, line, 0, NULL, 0) != 0) continue;
        for (size_t j = 0; j < p->nignore; j++)
            if (regexec(&p->ignore[j], line, 0, NULL, 0) == 0) return NULL;
        if (fatal) *fatal = p->v[i].fatal;
        return p->v[i].name;
    }
    return NULL;
}

void console_clean_line(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '\x1b') {
            if (r[1] == '[') {
                r += 2;
                while (*r && !((*r >= '@' && *r <= '~'))) r++;
                if (!*r) break;
            }
            continue;
        }
        if ((unsigned char)*r < 0x20 && *r != '\t') continue;
        *w++ = *r;
    }
    *w = 0;
}

#define TAIL_LINES 200
#define MAX_LINE 4096
#define MAX_EVENTS 10000

struct kiln_console {
    char *path;
    FILE *out;
    const struct kiln_patterns *pats;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    struct console_event *ev;
    size_t nev, capev;
    char *fatal;
    char *tail[TAIL_LINES];
    size_t tailpos;
    double t0;
    atomic_uint_fast64_t bytes;
    struct boot_watch boot; /* since the last console_boot_reset */
};

/* raw is one console line, or its first bytes when the guest wrote more than MAX_LINE. */
static void on_line(struct kiln_console *c, const struct sbuf *raw)
{
    /* cut (at a secret's start when one straddles MAX_LINE), then mask: a cut after masking
     * would miss a secret whose end was dropped and keep its first bytes */
    size_t len = raw->len > MAX_LINE ? secret_cut(raw->s, raw->len, MAX_LINE) : raw->len;
    _cleanup_free_ char *masked = secret_mask_n(raw->s, len);
    if (c->out) {
        fprintf(c->out, "%s\n", masked);
        fflush(c->out);
    }
    console_clean_line(masked);
    /* escape sequences inside a secret no longer split it once removed */
    _cleanup_free_ char *line = secret_mask(masked);
    if (!*line) return;
    bool fatal = false;
    const char *name = patterns_match(c->pats, line, &fatal);
    pthread_mutex_lock(&c->lock);
    boot_watch_line(&c->boot, line, now_s());
    free(c->tail[c->tailpos % TAIL_LINES]);
    c->tail[c->tailpos++ % TAIL_LINES] = xstrdup(line);
    if (name && c->nev < MAX_EVENTS) {
        struct console_event *e = APPEND(c->ev, c->nev, c->capev);
        e->pattern = xstrdup(name);
        e->line = xstrdup(line);
        e->fatal = fatal;
        e->at_s = now_s() - c->t0;
        if (fatal && !c->fatal) c->fatal = xstrdup(line);
    }
    pthread_mutex_unlock(&c->lock);
}

/* A getty's prompt ends without a newline: the line in progress, once the guest pauses, is
 * shown to the boot watch (only; it is logged when its newline comes). */
static void on_pause(struct kiln_console *c, const struct sbuf *partial)
{
    _cleanup_free_ char *line = xstrndup(partial->s, MIN(partial->len, (size_t)MAX_LINE));
    console_clean_line(line);
    if (!*line) return;
    pthread_mutex_lock(&c->lock);
    boot_watch_line(&c->boot, line, now_s());
    pthread_mutex_unlock(&c->lock);
}

static void *scan(void *arg)
{
    struct kiln_console *c = arg;
    int fd = -1;
    struct sbuf line = {0};
    char buf[8192];
    size_t paused_len = 0; /* the line in progress was shown to the boot watch at this length */
    for (;;) {
        bool stopping = c->stop;
        if (fd < 0) fd = open(c->path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
        if (n > 0) {
            atomic_fetch_add(&c->bytes, (uint_fast64_t)n);
            /* past MAX_LINE, as many bytes as the longest secret: enough to see whether one
             * straddles the cut */
            size_t keep = MAX_LINE + secret_max_len();
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                    if (line.s) on_line(c, &line);
                    line.len = 0;
                    if (line.s) line.s[0] = 0;
                } else if (line.len < keep) {
                    sbuf_append(&line, &buf[i], 1);
                }
            }
            continue;
        }
        if (stopping) break;
        if (line.len && line.len != paused_len) on_pause(c, &line);
        paused_len = line.len;
        sleep_ms(50);
    }
    if (line.len) on_line(c, &line);
    sbuf_free(&line);
    if (fd >= 0) close(fd);
    return NULL;
}

struct kiln_console *console_start(const char *raw, const char *out, const struct kiln_patterns *p)
{
    struct kiln_console *c = xcalloc(1, sizeof *c);
    c->path = xstrdup(raw);
    c->out = out ? secret_fopen(out, false, 0644) : NULL;
    c->pats = p;
    c->t0 = now_s();
    boot_watch_init(&c->boot);
    pthread_mutex_init(&c->lock, NULL);
    if (pthread_create(&c->thread, NULL, scan, c) != 0) {
        free(c->path);
        free(c);
        return NULL;
    }
    return c;
}

void console_stop(struct kiln_console *c)
{
    if (!c) return;
    c->stop = true;
    pthread_join(c->thread, NULL);
    console_events_free(c->ev, c->nev);
    boot_watch_free(&c->boot);
    for (size_t i = 0; i < TAIL_LINES; i++) free(c->tail[i]);
    free(c->fatal);
    free(c->path);
    if (c->out) fclose(c->out);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

uint64_t console_mark(struct kiln_console *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t m = c->nev;
    pthread_mutex_unlock(&c->lock);
    return m;
}

size_t console_events(struct kiln_console *c, uint64_t mark, struct console_event **out)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->nev > mark ? c->nev - (size_t)mark : 0;
    struct console_event *v = xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        const struct console_event *e = &c->ev[mark + i];
        v[i] = *e;
        v[i].pattern = xstrdup(e->pattern);
        v[i].line = xstrdup(e->line);
    }
    pthread_mutex_unlock(&c->lock);
    *out = v;
    return n;
}

void console_events_free(struct console_event *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].pattern);
        free(v[i].line);
    }
    free(v);
}

const char *console_fatal(struct kiln_console *c)
{
    pthread_mutex_lock(&c->lock);
    const char *f = c->fatal;
    pthread_mutex_unlock(&c->lock);
    return f;
}

void console_clear_fatal(struct kiln_console *c)
{
    pthread_mutex_lock(&c->lock);
    free(c->fatal);
    c->fatal = NULL;
    pthread_mutex_unlock(&c->lock);
}

uint64_t console_bytes(struct kiln_console *c)
{
    return atomic_load(&c->bytes);
}

uint64_t console_lines(struct kiln_console *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t n = c->tailpos;
    pthread_mutex_unlock(&c->lock);
    return n;
}

char *console_tail(struct kiln_console *c, int n)
{
    struct sbuf b = {0};
    pthread_mutex_lock(&c->lock);
    size_t have = MIN(c->tailpos, (size_t)TAIL_LINES);
    size_t take = MIN(have, (size_t)n);
    for (size_t i = c->tailpos - take; i < c->tailpos; i++) {
        sbuf_puts(&b, c->tail[i % TAIL_LINES]);
        sbuf_puts(&b, "\n");
    }
    pthread_mutex_unlock(&c->lock);
    return sbuf_steal(&b);
}

void console_boot_reset(struct kiln_console *c)
{
    pthread_mutex_lock(&c->lock);
    boot_watch_free(&c->boot);
    pthread_mutex_unlock(&c->lock);
}

bool console_booted_unreachable(struct kiln_console *c, double grace_s, int nic_up, char **reterr)
{
    pthread_mutex_lock(&c->lock);
    bool r = boot_watch_unreachable(&c->boot, now_s(), grace_s, nic_up, reterr);
    pthread_mutex_unlock(&c->lock);
    return r;
}
