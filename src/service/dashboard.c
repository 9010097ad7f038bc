/* The service's dashboard: see dashboard.h. */
#include "service/dashboard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/req.h"
#include "service/api.h"
#include "util/html.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/util.h"

#define COOKIE "kiln_session"
#define FORM_MAX 4096               /* a sign-in form's body */
#define RESULTS_MAX (16 << 20)      /* a job's results.json read for its page */
#define TREND_RESULTS_MAX (4 << 20) /* an earlier job's, read for the trend */
#define PERF_MAX (4 << 20)          /* one case's perf.json */
#define CONSOLE_TAIL (64 * 1024)    /* console bytes a job page shows */
#define LIST_JOBS 200               /* jobs on the jobs page */
#define TREND_JOBS 20               /* earlier jobs a trend goes back */
#define TREND_ROWS 60               /* metrics a trend table shows */
#define PLOT_CASES 200              /* cases plotted / whose perf.json is read */
#define PLOT_POINTS 2000            /* points of one line (more are thinned) */

struct session {
    unsigned char id[32];
    int64_t expires_ms, created_ms;
    bool link; /* a one-time sign-in link, not yet used */
    struct kiln_tenant t;
};

/* An address's failed sign-ins in the window that began with the first of them. */
struct auth_fails {
    char addr[64];
    int64_t since_ms;
    int n;
};

struct kiln_dash {
    struct kiln_dash_env env;
    pthread_mutex_t lock;
    struct session *s;
    size_t n;
    struct auth_fails fails[KILN_DASH_AUTH_ADDRS];
    char *csp;
};

static const char css[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}"
    "header{background:#263238;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}"
    "header a{color:#fff;text-decoration:none;font-weight:600}header form{margin:0 0 0 auto}"
    "main{padding:12px 16px;max-width:1200px}h1{font-size:20px;margin:8px 0}h2{font-size:16px;margin:20px 0 6px}"
    "table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 14px}"
    "th,td{border-bottom:1px solid #e0e0e0;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#eceff1;font-weight:600}"
    ".passed{color:#1b5e20}.failed{color:#b71c1c;font-weight:600}.incomplete,.attempted{color:#e65100}"
    ".skipped,.cancelled,.muted{color:#616161}.flaky{color:#8d6e00}.err{color:#b71c1c}"
    ".reason{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px;word-break:break-word}"
    "pre.console{background:#111;color:#ddd;padding:8px;max-height:480px;overflow:auto;font-size:12px;"
    "white-space:pre-wrap;word-break:break-all}"
    ".num{text-align:right;font-variant-numeric:tabular-nums}"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dl.facts dt{font-weight:600}"
    "dl.facts dd{margin:0}svg{background:#fff;border:1px solid #e0e0e0;max-width:100%;height:auto}"
    "svg text{font:11px system-ui,sans-serif;fill:#333}td svg{border:0;background:none}"
    "nav.filter a{margin-right:10px}form.login{background:#fff;padding:16px;max-width:420px;border:1px solid #e0e0e0}"
    "form.login input[type=password]{width:100%;box-sizing:border-box;margin:6px 0 10px}";

/* Follows the console stream while the job runs (the page already shows its first bytes). */
static const char console_js[] =
    "(function(){var p=document.getElementById('console');if(!p||!window.fetch||!window.TextDecoder)return;"
    "var skip=parseInt(p.getAttribute('data-offset'),10)||0,seen=0,dec=new TextDecoder(),"
    "st=document.getElementById('console-state');"
    "fetch(p.getAttribute('data-src'),{credentials:'same-origin'}).then(function(r){"
    "if(!r.ok||!r.body)return;var rd=r.body.getReader();if(st)st.textContent='following the console live';"
    "function pump(){return rd.read().then(function(x){"
    "if(x.done){if(st)st.textContent='the job ended: reload the page for its results';return;}"
    "var c=x.value,b=c.length;if(seen+b<=skip){seen+=b;return pump();}"
    "if(seen<skip)c=c.subarray(skip-seen);seen+=b;"
    "p.appendChild(document.createTextNode(dec.decode(c,{stream:true})));p.scrollTop=p.scrollHeight;return pump();});}"
    "return pump();});})();";

static int64_t wall_ms(const struct kiln_dash *d)
{
    if (d->env.now_ms) return d->env.now_ms();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *sha256_b64(const char *s)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), md);
    return base64_encode(md, sizeof md);
}

struct kiln_dash *kiln_dash_new(const struct kiln_dash_env *env)
{
    struct kiln_dash *d = xcalloc(1, sizeof(*d));
    d->env = *env;
    pthread_mutex_init(&d->lock, NULL);
    _cleanup_free_ char *hs = sha256_b64(css), *hj = sha256_b64(console_js);
    d->csp = xasprintf("default-src 'none'; style-src 'sha256-%s'; script-src 'sha256-%s'; img-src 'self' data:; "
                       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                       hs, hj);
    return d;
}

void kiln_dash_free(struct kiln_dash *d)
{
    if (!d) return;
    OPENSSL_cleanse(d->s, d->n * sizeof(*d->s));
    free(d->s);
    pthread_mutex_destroy(&d->lock);
    free(d->csp);
    free(d);
}

bool kiln_dash_owns(const char *url) { return url && url[0] == '/' && !startswith(url, "/api/") && !streq(url, "/api"); }

char *kiln_dash_image_name(const struct kiln_job *j)
{
    json_t *sp = j->spec ? json_loads(j->spec, 0, NULL) : NULL;
    const char *n = json_string_value(json_object_get(sp, "image_name"));
    char *out = NULL;
    if (n && *n) out = xstrdup(n);
    else if (j->gallery_ref && *j->gallery_ref) out = xstrndup(j->gallery_ref, strcspn(j->gallery_ref, "@"));
    else if (j->image_digest) out = xasprintf("sha256:%.12s", j->image_digest);
    else out = xstrdup("?");
    json_decref(sp);
    return out;
}

/* ---- sessions ---- */

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static bool unhex(const char *s, unsigned char *b, size_t n)
{
    if (!s || strlen(s) != 2 * n) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
            else return false;
        }
        b[i] = (unsigned char)v;
    }
    return true;
}

/* Drops expired entries; the lock is held. */
static void prune(struct kiln_dash *d, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->s[i].expires_ms > now) d->s[k++] = d->s[i];
    OPENSSL_cleanse(d->s + k, (d->n - k) * sizeof(*d->s));
    d->n = k;
}

/* A new session or link for t, its id hex in idhex (65 bytes): the per-tenant bounds of
 * dashboard.h, then the table's (its last KILN_DASH_ADMIN_RESERVE slots for the admin). */
static int session_add(struct kiln_dash *d, const struct kiln_tenant *t, bool link, char idhex[65], int64_t *expires)
{
    struct session s = {.link = link, .t = *t};
    if (RAND_bytes(s.id, sizeof s.id) != 1) return -EIO;
    pthread_mutex_lock(&d->lock);
    int64_t now = wall_ms(d);
    prune(d, now);
    size_t mine = 0, oldest = SIZE_MAX;
    for (size_t i = 0; i < d->n; i++)
        if (d->s[i].t.id == t->id && d->s[i].link == link) {
            mine++;
            if (oldest == SIZE_MAX || d->s[i].created_ms < d->s[oldest].created_ms) oldest = i;
        }
    if (!link && mine >= KILN_DASH_TENANT_SESSIONS) {
        d->s[oldest].expires_ms = 0;
        prune(d, now);
    }
    int r = 0;
    if (link && mine >= KILN_DASH_TENANT_LINKS) r = -EUSERS;
    else if (d->n >= (t->admin ? KILN_DASH_SESSIONS_MAX : KILN_DASH_SESSIONS_MAX - KILN_DASH_ADMIN_RESERVE)) r = -ENOSPC;
    else {
        s.created_ms = now;
        s.expires_ms = now + (link ? KILN_DASH_LINK_MS : KILN_DASH_SESSION_MS);
        if (expires) *expires = s.expires_ms;
        d->s = xrealloc(d->s, (d->n + 1) * sizeof(*d->s));
        d->s[d->n++] = s;
        hex(s.id, sizeof s.id, idhex);
    }
    pthread_mutex_unlock(&d->lock);
    OPENSSL_cleanse(&s, sizeof s);
    return r;
}

/* Finds the live entry with id (link or session as asked); a link is used up. */
static int session_take(struct kiln_dash *d, const char *idhex, bool link, struct kiln_tenant *t)
{
    unsigned char id[32];
    if (!unhex(idhex, id, sizeof id)) return -EACCES;
    int r = -EACCES;
    pthread_mutex_lock(&d->lock);
    int64_t now = wall_ms(d);
    for (size_t i = 0; i < d->n; i++) {
        struct session *s = &d->s[i];
        /* every entry is compared in full, in constant time */
        if (CRYPTO_memcmp(s->id, id, sizeof id) == 0 && s->link == link && s->expires_ms > now && r < 0) {
            *t = s->t;
            r = 0;
            if (link) s->expires_ms = 0; /* once */
        }
    }
    prune(d, now);
    pthread_mutex_unlock(&d->lock);
    return r;
}

static void session_drop(struct kiln_dash *d, const char *idhex)
{
    unsigned char id[32];
    if (!unhex(idhex, id, sizeof id)) return;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n; i++)
        if (CRYPTO_memcmp(d->s[i].id, id, sizeof id) == 0 && !d->s[i].link) d->s[i].expires_ms = 0;
    prune(d, wall_ms(d));
    pthread_mutex_unlock(&d->lock);
}

int kiln_dash_session(struct kiln_dash *d, struct MHD_Connection *c, struct kiln_tenant *t)
{
    const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
    return v ? session_take(d, v, false, t) : -EACCES;
}

int kiln_dash_session_open(struct kiln_dash *d, const struct kiln_tenant *t, char idhex[65])
{
    return session_add(d, t, false, idhex, NULL);
}

int kiln_dash_session_check(struct kiln_dash *d, const char *idhex, struct kiln_tenant *t)
{
    return session_take(d, idhex, false, t);
}

/* ---- failed sign-ins per address ---- */

/* The address's entry (the lock is held): its own, else a free or lapsed one, else the one
 * whose window began first, made its own; NULL only with create false. */
static struct auth_fails *fails_of(struct kiln_dash *d, const char *addr, int64_t now, bool create)
{
    struct auth_fails *free_one = NULL, *stalest = &d->fails[0];
    for (size_t i = 0; i < KILN_DASH_AUTH_ADDRS; i++) {
        struct auth_fails *f = &d->fails[i];
        bool lapsed = !f->addr[0] || now - f->since_ms >= KILN_DASH_AUTH_WINDOW_MS;
        if (f->addr[0] && streq(f->addr, addr)) {
            if (lapsed) f->n = 0, f->since_ms = now;
            return f;
        }
        if (lapsed && !free_one) free_one = f;
        if (f->since_ms < stalest->since_ms) stalest = f;
    }
    if (!create) return NULL;
    struct auth_fails *f = free_one ? free_one : stalest;
    snprintf(f->addr, sizeof f->addr, "%s", addr);
    f->since_ms = now;
    f->n = 0;
    return f;
}

bool kiln_dash_auth_allowed(struct kiln_dash *d, const char *addr, int *retry_s)
{
    pthread_mutex_lock(&d->lock);
    int64_t now = wall_ms(d);
    struct auth_fails *f = fails_of(d, addr, now, false);
    bool ok = !f || f->n < KILN_DASH_AUTH_FAILS;
    if (!ok && retry_s) *retry_s = (int)((f->since_ms + KILN_DASH_AUTH_WINDOW_MS - now + 999) / 1000);
    pthread_mutex_unlock(&d->lock);
    return ok;
}

void kiln_dash_auth_failed(struct kiln_dash *d, const char *addr)
{
    pthread_mutex_lock(&d->lock);
    struct auth_fails *f = fails_of(d, addr, wall_ms(d), true);
    if (f->n < INT_MAX) f->n++;
    pthread_mutex_unlock(&d->lock);
}

struct query_names {
    const char *v[KILN_API_QUERY_MAX + 1];
    size_t n;
};

static enum MHD_Result query_name(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct query_names *q = cls;
    (void)kind, (void)value;
    if (q->n < ARRAY_SIZE(q->v)) q->v[q->n++] = key ? key : "";
    return q->n < ARRAY_SIZE(q->v) ? MHD_YES : MHD_NO;
}

int kiln_dash_query_check(struct MHD_Connection *c, const char *const *known, char **field, char **reterr)
{
    struct query_names q = {.n = 0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_name, &q);
    return kiln_api_query_check(q.v, q.n, known, field, reterr);
}

void kiln_dash_client_addr(struct MHD_Connection *c, char out[64])
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(out, 64, "?");
    if (sa && sa->sa_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 64);
    else if (sa && sa->sa_family == AF_INET6) inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 64);
}

int kiln_dash_link_mint(struct kiln_dash *d, const struct kiln_tenant *t, char **path, int64_t *expires_ms)
{
    char idhex[65];
    int r = session_add(d, t, true, idhex, expires_ms);
    if (r == 0) *path = xasprintf("/login/%s", idhex);
    OPENSSL_cleanse(idhex, sizeof idhex);
    return r;
}

/* ---- responses ---- */

struct dreq {
    struct MHD_PostProcessor *pp;
    struct kiln_dash_form f;
};

void kiln_dash_state_free(void *state)
{
    struct dreq *q = state;
    if (!q) return;
    if (q->pp) MHD_destroy_post_processor(q->pp);
    OPENSSL_cleanse(q->f.token, sizeof q->f.token);
    free(q);
}

/* The path for the log: a sign-in link's nonce is a credential until used. */
static const char *log_path(const char *url) { return startswith(url, "/login/") ? "/login/(link)" : url; }

/* An answer; with close the connection is closed after it (a request whose framing was
 * refused: where its body ends is unknown). */
static enum MHD_Result respond_ex(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                  unsigned status, char *html, size_t len, const char *location, const char *cookie,
                                  const char *who, bool close)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, html ? html : (char *)"", html ? MHD_RESPMEM_MUST_FREE
                                                                                                 : MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(resp, "Content-Security-Policy", d->csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    /* a sign-in link's URL never travels on as a Referer */
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (location) MHD_add_response_header(resp, "Location", location);
    if (cookie) MHD_add_response_header(resp, "Set-Cookie", cookie);
    if (status == 429) MHD_add_response_header(resp, "Retry-After", "60");
    if (status == 503) MHD_add_response_header(resp, "Retry-After", "30");
    if (close) MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    log_info("%s %s -> %u%s%s", method, log_path(url), status, who ? " tenant " : "", who ? who : "");
    return r;
}

static enum MHD_Result respond(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                               unsigned status, char *html, size_t len, const char *location, const char *cookie,
                               const char *who)
{
    return respond_ex(d, c, method, url, status, html, len, location, cookie, who, false);
}

static enum MHD_Result redirect(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                const char *to, const char *cookie, const char *who)
{
    return respond(d, c, method, url, 303, NULL, 0, to, cookie, who);
}

/* The page frame: header with navigation and who is signed in, a <main> to fill. */
static bool rollouts_visible(const struct kiln_dash *d, const struct kiln_tenant *t);

static xmlNodePtr frame(const struct kiln_dash *d, struct kh_page *p, const char *title, const struct kiln_tenant *t)
{
    _cleanup_free_ char *full = xasprintf("%s · kiln", title);
    kh_page_init(p, full, css);
    xmlNodePtr h = kh_el(p->body, "header", NULL);
    kh_link(h, "/", "kiln");
    if (t) {
        kh_link(h, "/", "Jobs");
        kh_link(h, "/workers", "Workers");
        if (d->env.gallery && rollouts_visible(d, t)) kh_link(h, "/rollouts", "Rollouts");
        xmlNodePtr f = kh_el(h, "form", NULL);
        kh_attr(f, "method", "post");
        kh_attr(f, "action", "/logout");
        kh_textf(f, "%s%s ", t->name, t->admin ? " (admin)" : "");
        xmlNodePtr b = kh_el(f, "button", "Sign out");
        kh_attr(b, "type", "submit");
    }
    return kh_el(p->body, "main", NULL);
}

static enum MHD_Result send_page(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                 unsigned status, struct kh_page *p, const char *cookie, const char *who)
{
    size_t len = 0;
    char *html = kh_page_finish(p, &len);
    return respond(d, c, method, url, html ? status : 500, html, html ? len : 0, NULL, cookie, who);
}

static enum MHD_Result message(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                               unsigned status, const struct kiln_tenant *t, const char *title, const char *text)
{
    struct kh_page p;
    xmlNodePtr m = frame(d, &p, title, t);
    kh_el(m, "h1", title);
    kh_el(m, "p", text);
    return send_page(d, c, method, url, status, &p, NULL, t ? t->name : NULL);
}

enum MHD_Result kiln_dash_refuse(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                 unsigned status, const char *why)
{
    struct kh_page p;
    xmlNodePtr m = frame(d, &p, "Bad request", NULL);
    kh_el(m, "h1", "Bad request");
    kh_el(m, "p", why);
    size_t len = 0;
    char *html = kh_page_finish(&p, &len);
    return respond_ex(d, c, method, url, html ? status : 500, html, html ? len : 0, NULL, NULL, NULL, true);
}

/* A page for a database failure: 503 (Retry-After) when it passes with time (busy, locked,
 * unreachable: kiln_store_transient), else 500; the database's words stay in the log. */
static enum MHD_Result db_failed(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                 const struct kiln_tenant *t, int rc)
{
    if (kiln_store_transient(rc))
        return message(d, c, method, url, 503, t, "Database busy", "The server's database is busy or unreachable; try again later.");
    return message(d, c, method, url, 500, t, "Database failure", "The server's database failed; try again later.");
}

static void format_ms(char buf[32], int64_t ms)
{
    if (ms <= 0) snprintf(buf, 32, "-");
    else format_utc(buf, ms / 1000);
}

static void format_dur(char *buf, size_t sz, double s)
{
    if (s < 0) snprintf(buf, sz, "-");
    else if (s < 60) snprintf(buf, sz, "%.1f s", s);
    else if (s < 3600) snprintf(buf, sz, "%d min %02d s", (int)s / 60, (int)s % 60);
    else snprintf(buf, sz, "%d h %02d min", (int)s / 3600, (int)s % 3600 / 60);
}

static double job_seconds(const struct kiln_job *j, int64_t now)
{
    if (!j->started_ms) return -1;
    int64_t end = j->finished_ms ? j->finished_ms : now;
    return (double)(end - j->started_ms) / 1000.0;
}

static xmlNodePtr cell_class(xmlNodePtr tr, const char *text, const char *cls)
{
    xmlNodePtr td = kh_el(tr, "td", text);
    if (cls && *cls) kh_attr(td, "class", cls);
    return td;
}

static void head_row(xmlNodePtr table, const char *const *names)
{
    xmlNodePtr tr = kh_el(kh_el(table, "thead", NULL), "tr", NULL);
    for (; *names; names++) kh_el(tr, "th", *names);
}

/* ---- reading a job's files ---- */

/* The file rel beneath the job's directory (a worker wrote it: links out are refused), at
 * most max bytes; NULL when absent, too big or not a regular file. */
static char *job_file(struct kiln_dash *d, int64_t id, const char *rel, size_t max, size_t *len)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)id);
    _cleanup_free_ char *dir = path_join(d->env.jobs_dir, n);
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return NULL;
    int fd = inroot_open_beneath(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    close(dfd);
    if (fd < 0) return NULL;
    struct stat sb;
    char *buf = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (size_t)sb.st_size <= max) {
        buf = xmalloc((size_t)sb.st_size + 1);
        size_t got = 0;
        while (got < (size_t)sb.st_size) {
            ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        buf[got] = 0;
        if (len) *len = got;
    }
    close(fd);
    return buf;
}

static bool job_has(struct kiln_dash *d, int64_t id, const char *rel)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)id);
    _cleanup_free_ char *dir = path_join(d->env.jobs_dir, n);
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return false;
    int fd = inroot_open_beneath(dfd, rel, O_PATH | O_CLOEXEC);
    close(dfd);
    struct stat sb;
    bool ok = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    if (fd >= 0) close(fd);
    return ok;
}

static json_t *job_json_file(struct kiln_dash *d, int64_t id, const char *rel, size_t max)
{
    if (!rel || !kiln_api_path_ok(rel)) return NULL;
    size_t len = 0;
    char *text = job_file(d, id, rel, max, &len);
    json_t *j = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(text);
    return j;
}

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static double jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* "2026-11-21T08:30:00Z" as seconds, or NAN. */
static double parse_utc(const char *s)
{
    struct tm tm = {0};
    const char *e = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    return e && !*e ? (double)timegm(&tm) : NAN;
}

/* ---- SVG ---- */

static const char *status_color(const char *st)
{
    if (!st) return "#9e9e9e";
    if (streq(st, "passed")) return "#43a047";
    if (streq(st, "failed")) return "#e53935";
    if (streq(st, "flaky")) return "#fbc02d";
    if (streq(st, "attempted")) return "#fb8c00";
    return "#9e9e9e";
}

static xmlNodePtr svg_new(xmlNodePtr parent, int w, int h, const char *label)
{
    xmlNodePtr s = kh_el(parent, "svg", NULL);
    kh_attr(s, "xmlns", "http://www.w3.org/2000/svg");
    kh_attrf(s, "viewBox", "0 0 %d %d", w, h);
    kh_attrf(s, "width", "%d", w);
    kh_attrf(s, "height", "%d", h);
    kh_attr(s, "role", "img");
    kh_attr(s, "aria-label", label);
    kh_el(s, "title", label);
    return s;
}

static xmlNodePtr svg_text(xmlNodePtr s, double x, double y, const char *anchor, const char *text)
{
    xmlNodePtr t = kh_el(s, "text", text);
    kh_attrf(t, "x", "%.1f", x);
    kh_attrf(t, "y", "%.1f", y);
    if (anchor) kh_attr(t, "text-anchor", anchor);
    return t;
}

static void svg_line(xmlNodePtr s, double x1, double y1, double x2, double y2, const char *color)
{
    xmlNodePtr l = kh_el(s, "line", NULL);
    kh_attrf(l, "x1", "%.1f", x1);
    kh_attrf(l, "y1", "%.1f", y1);
    kh_attrf(l, "x2", "%.1f", x2);
    kh_attrf(l, "y2", "%.1f", y2);
    kh_attr(l, "stroke", color);
}

/* A short number: 3 significant digits. */
static void num(char *buf, size_t sz, double v)
{
    if (!isfinite(v)) snprintf(buf, sz, "-");
    else if (fabs(v) >= 100 || v == floor(v)) snprintf(buf, sz, "%.0f", v);
    else if (fabs(v) >= 10) snprintf(buf, sz, "%.1f", v);
    else snprintf(buf, sz, "%.2f", v);
}

struct casebar {
    const char *name, *status;
    double seconds;
};

/* Case durations: one bar a case, coloured by status, its length in seconds. */
static void plot_durations(xmlNodePtr parent, const struct casebar *b, size_t n)
{
    const int W = 760, L = 230, R = 70, row = 18, top = 6;
    int h = top * 2 + row * (int)n + 14;
    double max = 0;
    for (size_t i = 0; i < n; i++) max = MAX(max, b[i].seconds);
    if (max <= 0) max = 1;
    xmlNodePtr s = svg_new(parent, W, h, "case durations (s)");
    for (size_t i = 0; i < n; i++) {
        double y = top + row * (double)i;
        double w = (W - L - R) * (isfinite(b[i].seconds) ? b[i].seconds : 0) / max;
        xmlNodePtr g = kh_el(s, "g", NULL);
        kh_elf(g, "title", "%s: %s, %.1f s", b[i].name, b[i].status ? b[i].status : "?", b[i].seconds);
        svg_text(g, L - 6, y + 13, "end", b[i].name);
        xmlNodePtr r = kh_el(g, "rect", NULL);
        kh_attrf(r, "x", "%d", L);
        kh_attrf(r, "y", "%.1f", y + 3);
        kh_attrf(r, "width", "%.1f", MAX(w, 1.0));
        kh_attr(r, "height", "12");
        kh_attr(r, "fill", status_color(b[i].status));
        char v[32];
        num(v, sizeof v, b[i].seconds);
        svg_text(g, L + MAX(w, 1.0) + 4, y + 13, NULL, v);
    }
    svg_line(s, L, top, L, top + row * (double)n, "#999");
    char m[32];
    num(m, sizeof m, max);
    svg_text(s, W - R, h - 4, "end", m);
    svg_text(s, L, h - 4, "start", "0 s");
}

struct series {
    char *label;
    double *x, *y;
    size_t n;
};

static void series_add(struct series *s, double x, double y)
{
    if (!isfinite(x) || !isfinite(y) || s->n >= PLOT_POINTS * 4) return;
    s->x = xrealloc(s->x, (s->n + 1) * sizeof(double));
    s->y = xrealloc(s->y, (s->n + 1) * sizeof(double));
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}

static void series_free(struct series *s, size_t n)
{
    for (size_t i = 0; i < n; i++) free(s[i].label), free(s[i].x), free(s[i].y);
    free(s);
}

static const char *const palette[] = {"#1e88e5", "#8e24aa", "#00897b", "#f4511e", "#6d4c41", "#3949ab"};

/* Lines over a time axis of xmax s (since the run's first case), with case boundaries
 * (marks, the case names in their tooltips). */
static void plot_lines(xmlNodePtr parent, const char *label, const char *unit, const struct series *ss, size_t ns,
                       double xmax, const double *marks, const char *const *mark_names, size_t nmarks)
{
    const int W = 760, H = 180, L = 56, R = 12, T = 12, B = 26;
    double ymax = 0;
    for (size_t i = 0; i < ns; i++)
        for (size_t k = 0; k < ss[i].n; k++) ymax = MAX(ymax, ss[i].y[k]);
    if (xmax <= 0) xmax = 1;
    if (ymax <= 0) ymax = 1;
    ymax *= 1.08;
    xmlNodePtr s = svg_new(parent, W, H, label);
    double pw = W - L - R, ph = H - T - B;
    svg_line(s, L, T, L, T + ph, "#999");
    svg_line(s, L, T + ph, L + pw, T + ph, "#999");
    for (size_t i = 0; i < nmarks; i++) {
        double x = L + pw * marks[i] / xmax;
        xmlNodePtr g = kh_el(s, "g", NULL);
        kh_el(g, "title", mark_names[i]);
        xmlNodePtr l = kh_el(g, "line", NULL);
        kh_attrf(l, "x1", "%.1f", x);
        kh_attrf(l, "x2", "%.1f", x);
        kh_attrf(l, "y1", "%d", T);
        kh_attrf(l, "y2", "%.1f", T + ph);
        kh_attr(l, "stroke", "#e0e0e0");
    }
    for (size_t i = 0; i < ns; i++) {
        if (!ss[i].n) continue;
        struct sbuf pts = {0};
        size_t step = ss[i].n > PLOT_POINTS ? (ss[i].n + PLOT_POINTS - 1) / PLOT_POINTS : 1;
        for (size_t k = 0; k < ss[i].n; k += step)
            sbuf_printf(&pts, "%s%.1f,%.1f", pts.len ? " " : "", L + pw * ss[i].x[k] / xmax, T + ph - ph * ss[i].y[k] / ymax);
        xmlNodePtr g = kh_el(s, "g", NULL);
        kh_el(g, "title", ss[i].label);
        xmlNodePtr pl = kh_el(g, "polyline", NULL);
        kh_attr(pl, "points", pts.s ? pts.s : "");
        kh_attr(pl, "fill", "none");
        kh_attr(pl, "stroke", palette[i % ARRAY_SIZE(palette)]);
        kh_attr(pl, "stroke-width", "1.5");
        sbuf_free(&pts);
    }
    char v[32];
    num(v, sizeof v, ymax);
    svg_text(s, L - 4, T + 10, "end", v);
    svg_text(s, L - 4, T + ph, "end", "0");
    _cleanup_free_ char *u = xasprintf("%s", unit);
    svg_text(s, 4, T + ph / 2, "start", u);
    num(v, sizeof v, xmax);
    _cleanup_free_ char *xl = xasprintf("%s s", v);
    svg_text(s, L + pw, H - 8, "end", xl);
    svg_text(s, L, H - 8, "start", "0 s");
}

/* A sparkline of values (NAN: that job lacks it); the last is this job's, marked. */
static void sparkline(xmlNodePtr parent, const double *v, const int64_t *ids, size_t n, const char *unit)
{
    const int W = 180, H = 34, P = 4;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) lo = MIN(lo, v[i]), hi = MAX(hi, v[i]);
    if (!isfinite(lo)) return;
    if (hi - lo < 1e-9) hi = lo + 1, lo = lo - 1;
    xmlNodePtr s = svg_new(parent, W, H, "trend over the earlier jobs");
    struct sbuf pts = {0};
    double step = n > 1 ? (double)(W - 2 * P) / (double)(n - 1) : 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        double x = P + step * (double)i, y = H - P - (H - 2 * P) * (v[i] - lo) / (hi - lo);
        sbuf_printf(&pts, "%s%.1f,%.1f", pts.len ? " " : "", x, y);
        xmlNodePtr c = kh_el(s, "circle", NULL);
        kh_attrf(c, "cx", "%.1f", x);
        kh_attrf(c, "cy", "%.1f", y);
        kh_attr(c, "r", i + 1 == n ? "3" : "1.5");
        kh_attr(c, "fill", i + 1 == n ? "#e53935" : "#1e88e5");
        char nv[32];
        num(nv, sizeof nv, v[i]);
        kh_elf(c, "title", "job %lld: %s %s", (long long)ids[i], nv, unit);
    }
    xmlNodePtr pl = kh_el(s, "polyline", NULL);
    kh_attr(pl, "points", pts.s ? pts.s : "");
    kh_attr(pl, "fill", "none");
    kh_attr(pl, "stroke", "#1e88e5");
    sbuf_free(&pts);
}

/* ---- pages ---- */

static void job_row(xmlNodePtr tb, const struct kiln_job *j, int64_t now)
{
    xmlNodePtr tr = kh_el(tb, "tr", NULL);
    char id[32];
    snprintf(id, sizeof id, "/jobs/%lld", (long long)j->id);
    kh_link(kh_el(tr, "td", NULL), id, id + 6);
    cell_class(tr, kiln_job_state_name(j->state), j->state == JOB_CANCELLED ? "cancelled" : NULL);
    const char *res = kiln_job_result_name(j->result);
    cell_class(tr, *res ? res : "-", res);
    kh_el(tr, "td", j->tenant);
    _cleanup_free_ char *name = kiln_dash_image_name(j);
    xmlNodePtr im = kh_el(tr, "td", name);
    if (j->image_digest) kh_attr(im, "title", j->image_digest);
    if (j->queue_position > 0) kh_elf(tr, "td", "%ld", j->queue_position);
    else kh_el(tr, "td", "-");
    kh_el(tr, "td", *j->worker ? j->worker : "-");
    char dur[48], when[32];
    format_dur(dur, sizeof dur, job_seconds(j, now));
    xmlNodePtr d = kh_el(tr, "td", dur);
    kh_attr(d, "class", "num");
    format_ms(when, j->created_ms);
    kh_el(tr, "td", when);
}

static enum MHD_Result page_jobs(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                 const struct kiln_tenant *t, int64_t scope)
{
    const char *sq = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
    int state = sq && *sq ? kiln_job_state_parse(sq) : -1;
    if (sq && *sq && state < 0) return message(d, c, method, url, 400, t, "No such state", "state must be a job state");
    struct kiln_api_list q;
    char *field = NULL, *why = NULL;
    if (kiln_api_parse_list(NULL, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "before"), &q, &field, &why) < 0) {
        _cleanup_free_ char *msg = xasprintf("%s %s", field, why);
        free(field);
        free(why);
        return message(d, c, method, url, 400, t, "Bad request", msg);
    }
    int dbrc = -EIO;
    struct kiln_store *st = d->env.store_get(d->env.ctx, &dbrc);
    if (!st) return db_failed(d, c, method, url, t, dbrc);
    struct kiln_job *v = NULL;
    size_t n = 0;
    char *err = NULL;
    int rc = kiln_store_job_list(st, scope, state, q.before, LIST_JOBS, &v, &n, &err);
    d->env.store_put(d->env.ctx, st);
    if (rc < 0) {
        log_error("kiln serve: dashboard: %s", err ? err : strerror(-rc));
        free(err);
        return db_failed(d, c, method, url, t, rc);
    }
    struct kh_page p;
    xmlNodePtr m = frame(d, &p, "Jobs", t);
    kh_el(m, "h1", state >= 0 ? kiln_job_state_name(state) : "Jobs");
    xmlNodePtr f = kh_el(m, "nav", NULL);
    kh_attr(f, "class", "filter");
    kh_link(f, "/", "all");
    for (int s = 0; s < JOB_STATE_COUNT; s++) {
        _cleanup_free_ char *h = xasprintf("/?state=%s", kiln_job_state_name(s));
        kh_link(f, h, kiln_job_state_name(s));
    }
    if (!n) kh_el(m, "p", "No jobs yet: submit one with kiln submit.");
    else {
        xmlNodePtr tbl = kh_el(m, "table", NULL);
        kh_attr(tbl, "id", "jobs");
        static const char *const h[] = {"Job", "State", "Result", "Tenant", "Image", "Queue position", "Worker", "Duration",
                                        "Submitted (UTC)", NULL};
        head_row(tbl, h);
        xmlNodePtr tb = kh_el(tbl, "tbody", NULL);
        int64_t now = wall_ms(d);
        for (size_t i = 0; i < n; i++) job_row(tb, &v[i], now);
        if (n == LIST_JOBS) {
            /* the next page goes on below this one's last job */
            _cleanup_free_ char *older = xasprintf("/jobs?before=%lld%s%s", (long long)v[n - 1].id, state >= 0 ? "&state=" : "",
                                                   state >= 0 ? kiln_job_state_name(state) : "");
            xmlNodePtr more = kh_el(m, "p", NULL);
            kh_attr(kh_link(more, older, "Older jobs"), "id", "older");
        }
    }
    kiln_jobs_free(v, n);
    return send_page(d, c, method, url, 200, &p, NULL, t->name);
}

static enum MHD_Result page_workers(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                    const struct kiln_tenant *t, int64_t scope)
{
    int dbrc = -EIO;
    struct kiln_store *st = d->env.store_get(d->env.ctx, &dbrc);
    if (!st) return db_failed(d, c, method, url, t, dbrc);
    struct kiln_worker *w = NULL;
    size_t nw = 0;
    struct kiln_job *jobs[3] = {0};
    size_t nj[3] = {0};
    char *err = NULL;
    int rc = kiln_store_worker_list(st, &w, &nw, &err);
    static const enum kiln_job_state held[3] = {JOB_ASSIGNED, JOB_RUNNING, JOB_UPLOADING};
    for (int k = 0; k < 3 && rc == 0; k++) rc = kiln_store_job_list(st, scope, (int)held[k], 0, KILN_STORE_LIST_MAX, &jobs[k], &nj[k], &err);
    d->env.store_put(d->env.ctx, st);
    if (rc < 0) {
        log_error("kiln serve: dashboard: %s", err ? err : strerror(-rc));
        free(err);
        free(w);
        for (int k = 0; k < 3; k++) kiln_jobs_free(jobs[k], nj[k]);
        return db_failed(d, c, method, url, t, rc);
    }
    struct kh_page p;
    xmlNodePtr m = frame(d, &p, "Workers", t);
    kh_el(m, "h1", "Workers");
    if (!nw) kh_el(m, "p", "No workers: add one with kiln worker add.");
    else {
        xmlNodePtr tbl = kh_el(m, "table", NULL);
        kh_attr(tbl, "id", "workers");
        static const char *const h[] = {"Worker", "Offers", "Slots", "Running", "Current jobs", "Last heartbeat (UTC)", NULL};
        head_row(tbl, h);
        xmlNodePtr tb = kh_el(tbl, "tbody", NULL);
        int64_t now = wall_ms(d);
        for (size_t i = 0; i < nw; i++) {
            xmlNodePtr tr = kh_el(tb, "tr", NULL);
            kh_el(tr, "td", w[i].name);
            char feats[128];
            kiln_features_format(w[i].caps.features, feats, sizeof feats);
            kh_elf(tr, "td", "%s %s, %d cpu, %d MiB%s%s", *w[i].caps.accel ? w[i].caps.accel : "-", *w[i].caps.arch ? w[i].caps.arch : "-",
                   w[i].caps.cpus, w[i].caps.memory_mb, *feats ? ", " : "", feats);
            kh_attr(kh_elf(tr, "td", "%d", w[i].slots), "class", "num");
            kh_attr(kh_elf(tr, "td", "%d", w[i].running), "class", "num");
            xmlNodePtr cj = kh_el(tr, "td", NULL);
            int shown = 0;
            for (int k = 0; k < 3; k++)
                for (size_t x = 0; x < nj[k]; x++)
                    if (jobs[k][x].worker_id == w[i].id) {
                        char href[32];
                        snprintf(href, sizeof href, "/jobs/%lld", (long long)jobs[k][x].id);
                        if (shown++) kh_text(cj, ", ");
                        kh_link(cj, href, href + 6);
                        kh_textf(cj, " (%s)", kiln_job_state_name(jobs[k][x].state));
                    }
            /* another tenant's jobs are counted, never named */
            if (w[i].running > shown) kh_textf(cj, "%s%d of other tenants", shown ? "; " : "", w[i].running - shown);
            if (!w[i].running && !shown) kh_text(cj, "-");
            char hb[32];
            format_ms(hb, w[i].last_heartbeat_ms);
            xmlNodePtr td = kh_el(tr, "td", hb);
            if (w[i].last_heartbeat_ms) kh_textf(td, " (%lld s ago)", (long long)((now - w[i].last_heartbeat_ms) / 1000));
        }
    }
    free(w);
    for (int k = 0; k < 3; k++) kiln_jobs_free(jobs[k], nj[k]);
    return send_page(d, c, method, url, 200, &p, NULL, t->name);
}

static void fact(xmlNodePtr dl, const char *k, const char *v, const char *cls)
{
    kh_el(dl, "dt", k);
    xmlNodePtr dd = kh_el(dl, "dd", v);
    if (cls && *cls) kh_attr(dd, "class", cls);
}

/* What a trend table row follows: a name and a value per job (earlier ones, then this). */
struct trend {
    char *name, *unit;
    double *v;
};

static struct trend *trend_find(struct trend **t, size_t *n, size_t njobs, const char *name, const char *unit)
{
    for (size_t i = 0; i < *n; i++)
        if (streq((*t)[i].name, name)) return &(*t)[i];
    if (*n >= TREND_ROWS) return NULL;
    *t = xrealloc(*t, (*n + 1) * sizeof(**t));
    struct trend *x = &(*t)[(*n)++];
    x->name = xstrdup(name);
    x->unit = xstrdup(unit ? unit : "");
    x->v = xmalloc(njobs * sizeof(double));
    for (size_t k = 0; k < njobs; k++) x->v[k] = NAN;
    return x;
}

/* One job's figures into column k of the trend: each case's duration, its metrics, and its
 * VM's peak RSS and CPU time (perf.json). */
static void trend_job(struct kiln_dash *d, int64_t id, size_t k, size_t njobs, struct trend **t, size_t *n)
{
    json_t *res = job_json_file(d, id, "results.json", TREND_RESULTS_MAX);
    json_t *cs = json_object_get(res, "cases"), *x;
    size_t i;
    json_array_foreach(cs, i, x) {
        if (i >= PLOT_CASES) break;
        const char *cn = jstr(x, "name");
        if (!cn) continue;
        _cleanup_free_ char *dn = xasprintf("%s: duration", cn);
        struct trend *tr = trend_find(t, n, njobs, dn, "s");
        if (tr) tr->v[k] = jnum(x, "duration_s");
        json_t *m;
        size_t mi;
        json_array_foreach(json_object_get(x, "metrics"), mi, m) {
            const char *mn = jstr(m, "name");
            if (!mn) continue;
            _cleanup_free_ char *nm = xasprintf("%s: %s", cn, mn);
            if ((tr = trend_find(t, n, njobs, nm, jstr(m, "unit")))) tr->v[k] = jnum(m, "value");
        }
        json_t *perf = job_json_file(d, id, jstr(x, "perf"), PERF_MAX);
        double rss = NAN, cpu = NAN;
        const char *node;
        json_t *h;
        json_object_foreach(json_object_get(perf, "host"), node, h) {
            double r = jnum(h, "rss_max_kib"), c = jnum(h, "cpu_s");
            if (isfinite(r)) rss = isfinite(rss) ? MAX(rss, r / 1024) : r / 1024;
            if (isfinite(c)) cpu = isfinite(cpu) ? cpu + c : c;
        }
        json_decref(perf);
        _cleanup_free_ char *rn = xasprintf("%s: VM peak RSS", cn), *cn2 = xasprintf("%s: VM CPU time", cn);
        if (isfinite(rss) && (tr = trend_find(t, n, njobs, rn, "MiB"))) tr->v[k] = rss;
        if (isfinite(cpu) && (tr = trend_find(t, n, njobs, cn2, "s"))) tr->v[k] = cpu;
    }
    json_decref(res);
}

static void section_trend(struct kiln_dash *d, struct kiln_store *st, xmlNodePtr m, const struct kiln_job *j)
{
    _cleanup_free_ char *name = kiln_dash_image_name(j);
    kh_el(m, "h2", "Trend over earlier jobs of this image");
    struct kiln_job *v = NULL;
    size_t n = 0;
    char *err = NULL;
    /* the job's own tenant's jobs, whoever looks (the admin sees a tenant's trend, not a mix) */
    if (kiln_store_job_list(st, j->tenant_id, JOB_DONE, 0, KILN_STORE_LIST_MAX, &v, &n, &err) < 0) {
        log_error("kiln serve: dashboard: %s", err ? err : "listing jobs");
        free(err);
        kh_el(m, "p", "The earlier jobs could not be read.");
        return;
    }
    int64_t ids[TREND_JOBS + 1];
    size_t nids = 0;
    /* newest first: keep the TREND_JOBS latest earlier ones, then put them oldest first */
    for (size_t i = 0; i < n && nids < TREND_JOBS; i++) {
        if (v[i].id >= j->id || v[i].result == RESULT_INCOMPLETE) continue;
        _cleanup_free_ char *in = kiln_dash_image_name(&v[i]);
        if (streq(in, name)) ids[nids++] = v[i].id;
    }
    kiln_jobs_free(v, n);
    for (size_t i = 0; i < nids / 2; i++) {
        int64_t tmp = ids[i];
        ids[i] = ids[nids - 1 - i];
        ids[nids - 1 - i] = tmp;
    }
    ids[nids++] = j->id;
    struct trend *t = NULL;
    size_t nt = 0;
    for (size_t k = 0; k < nids; k++) trend_job(d, ids[k], k, nids, &t, &nt);
    kh_elf(m, "p", "Image %s: %zu earlier job(s) of tenant %s; the last point (red) is this job.", name, nids - 1, j->tenant);
    if (nt) {
        xmlNodePtr tbl = kh_el(m, "table", NULL);
        kh_attr(tbl, "id", "trend");
        static const char *const h[] = {"Metric", "Trend", "This job", "Earlier (min to max)", NULL};
        head_row(tbl, h);
        xmlNodePtr tb = kh_el(tbl, "tbody", NULL);
        for (size_t i = 0; i < nt; i++) {
            xmlNodePtr tr = kh_el(tb, "tr", NULL);
            kh_el(tr, "td", t[i].name);
            sparkline(kh_el(tr, "td", NULL), t[i].v, ids, nids, t[i].unit);
            char a[32], lo[32], hi[32];
            num(a, sizeof a, t[i].v[nids - 1]);
            kh_attr(kh_elf(tr, "td", "%s %s", a, t[i].unit), "class", "num");
            double l = INFINITY, u = -INFINITY;
            for (size_t k = 0; k + 1 < nids; k++)
                if (isfinite(t[i].v[k])) l = MIN(l, t[i].v[k]), u = MAX(u, t[i].v[k]);
            num(lo, sizeof lo, l);
            num(hi, sizeof hi, u);
            if (isfinite(l)) kh_attr(kh_elf(tr, "td", "%s to %s %s", lo, hi, t[i].unit), "class", "num");
            else kh_el(tr, "td", "-");
        }
    }
    for (size_t i = 0; i < nt; i++) free(t[i].name), free(t[i].unit), free(t[i].v);
    free(t);
}

/* One node's samples of a case (perf.json's host.NODE.samples) as CPU and RSS series on the
 * run's time line, the case starting at `at` s. CPU is the change of the process's CPU time
 * between two samples of the same process: a guest reboot restarts the VM's process (a new
 * pid, its CPU time from 0), which is a break in the line, not a negative rate. */
static void perf_series(json_t *samples, double at, struct series *cpu, struct series *rss)
{
    json_t *smp, *prev = NULL;
    size_t k;
    json_array_foreach(samples, k, smp) {
        double t = jnum(smp, "t");
        series_add(rss, at + t, jnum(smp, "rss_kib") / 1024);
        bool same = prev && json_integer_value(json_object_get(smp, "pid")) == json_integer_value(json_object_get(prev, "pid"));
        if (same) {
            double dt = t - jnum(prev, "t"), dc = jnum(smp, "cpu_s") - jnum(prev, "cpu_s");
            if (dt > 0.05 && dc >= 0) series_add(cpu, at + t, 100 * dc / dt);
        }
        prev = smp;
    }
}

static void section_perf(struct kiln_dash *d, xmlNodePtr m, int64_t id, json_t *cases)
{
    struct series *cpu = NULL, *rss = NULL;
    size_t ns = 0;
    double *marks = NULL, run0 = NAN, offset = 0, end = 0;
    char **mark_names = NULL;
    size_t nm = 0, i;
    json_t *x;
    json_array_foreach(cases, i, x) {
        if (i >= PLOT_CASES) break;
        double started = parse_utc(jstr(x, "started"));
        if (isfinite(started) && !isfinite(run0)) run0 = started;
        /* the case's place on the run's time line: its start, else after the one before */
        double at = isfinite(started) && isfinite(run0) ? started - run0 : offset;
        double dur = jnum(x, "duration_s");
        offset = at + (isfinite(dur) ? dur : 0);
        json_t *perf = job_json_file(d, id, jstr(x, "perf"), PERF_MAX);
        const char *node;
        json_t *h;
        bool any = false;
        json_object_foreach(json_object_get(perf, "host"), node, h) {
            json_t *samples = json_object_get(h, "samples");
            if (!json_array_size(samples)) continue;
            any = true;
            cpu = xrealloc(cpu, (ns + 1) * sizeof(*cpu));
            rss = xrealloc(rss, (ns + 1) * sizeof(*rss));
            cpu[ns] = (struct series){.label = xasprintf("%s on %s: VM CPU %%", jstr(x, "name"), node)};
            rss[ns] = (struct series){.label = xasprintf("%s on %s: VM RSS MiB", jstr(x, "name"), node)};
            perf_series(samples, at, &cpu[ns], &rss[ns]);
            ns++;
        }
        json_decref(perf);
        if (any) {
            marks = xrealloc(marks, (nm + 1) * sizeof(double));
            mark_names = xrealloc(mark_names, (nm + 1) * sizeof(char *));
            marks[nm] = at;
            mark_names[nm++] = xasprintf("%s starts", jstr(x, "name") ? jstr(x, "name") : "?");
            end = MAX(end, offset);
        }
    }
    kh_el(m, "h2", "The VM over time (host side, perf.json)");
    if (!ns) kh_el(m, "p", "No performance samples (the job has not run a case, or ran on no VM).");
    else {
        /* both plots on one time axis, to the end of the last case sampled (or its last
         * sample, should that come later) */
        double xmax = end;
        for (size_t k = 0; k < ns; k++) {
            if (rss[k].n) xmax = MAX(xmax, rss[k].x[rss[k].n - 1]);
            if (cpu[k].n) xmax = MAX(xmax, cpu[k].x[cpu[k].n - 1]);
        }
        plot_lines(m, "VM CPU (% of one host CPU) over the run", "CPU %", cpu, ns, xmax, marks, (const char *const *)mark_names, nm);
        plot_lines(m, "VM resident memory (MiB) over the run", "RSS MiB", rss, ns, xmax, marks, (const char *const *)mark_names, nm);
    }
    series_free(cpu, ns);
    series_free(rss, ns);
    strv_free(mark_names, nm);
    free(marks);
}

static void section_console(struct kiln_dash *d, xmlNodePtr m, const struct kiln_job *j)
{
    char href[64];
    snprintf(href, sizeof href, "/api/v1/jobs/%lld/console", (long long)j->id);
    bool live = j->state != JOB_DONE && j->state != JOB_CANCELLED;
    kh_el(m, "h2", "Console");
    size_t len = 0;
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)j->id);
    _cleanup_free_ char *dir = path_join(d->env.jobs_dir, n), *path = path_join(dir, "console.log");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat sb;
    char *buf = NULL;
    off_t size = 0, from = 0;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        size = sb.st_size;
        from = size > CONSOLE_TAIL ? size - CONSOLE_TAIL : 0;
        buf = xmalloc(CONSOLE_TAIL);
        ssize_t r = pread(fd, buf, (size_t)(size - from), from);
        len = r > 0 ? (size_t)r : 0;
    }
    if (fd >= 0) close(fd);
    xmlNodePtr p = kh_el(m, "p", NULL);
    xmlNodePtr st = kh_el(p, "span", live ? "The job is running: reload the page for more, or open " : "");
    kh_attr(st, "id", "console-state");
    kh_link(p, href, live ? "the live console stream" : "the whole console");
    if (from > 0) kh_textf(p, " (the last %d KiB of %lld KiB are below)", CONSOLE_TAIL / 1024, (long long)size / 1024);
    xmlNodePtr pre = kh_el(m, "pre", NULL);
    kh_attr(pre, "class", "console");
    kh_attr(pre, "id", "console");
    kh_textn(pre, buf, len);
    free(buf);
    if (live) {
        kh_attr(pre, "data-src", href);
        kh_attrf(pre, "data-offset", "%lld", (long long)(from + (off_t)len));
        kh_code(m, "script", console_js);
    }
}

static void section_facts(xmlNodePtr m, const struct kiln_job *j, const char *name, int64_t now)
{
    xmlNodePtr dl = kh_el(m, "dl", NULL);
    kh_attr(dl, "class", "facts");
    const char *res = kiln_job_result_name(j->result);
    fact(dl, "State", kiln_job_state_name(j->state), NULL);
    fact(dl, "Result", *res ? res : "-", res);
    if (j->reason) fact(dl, "Reason", j->reason, "reason");
    fact(dl, "Tenant", j->tenant, NULL);
    fact(dl, "Image", name, NULL);
    if (j->image_digest) fact(dl, "Digest", j->image_digest, "reason");
    if (j->queue_position > 0) {
        char qp[32];
        snprintf(qp, sizeof qp, "%ld", j->queue_position);
        fact(dl, "Queue position", qp, NULL);
    }
    fact(dl, "Worker", *j->worker ? j->worker : "-", NULL);
    char dur[48], when[32];
    format_dur(dur, sizeof dur, job_seconds(j, now));
    fact(dl, "Duration", dur, NULL);
    format_ms(when, j->created_ms);
    fact(dl, "Submitted (UTC)", when, NULL);
    if (j->publish_channel) {
        /* what became of the publish, as the API's publish.state and reason say it */
        fact(dl, "Publish to", j->publish_channel, NULL);
        const char *ps = *j->publish_state ? j->publish_state : "pending";
        fact(dl, "Publish", ps, streq(ps, "published") ? "passed" : streq(ps, "refused") ? "failed" : NULL);
        if (j->publish_reason) fact(dl, "Publish reason", j->publish_reason, "reason");
    }
}

static void section_attempts(xmlNodePtr m, const struct kiln_attempt *at, size_t na, int64_t now)
{
    kh_el(m, "h2", "Attempts");
    xmlNodePtr tbl = kh_el(m, "table", NULL);
    kh_attr(tbl, "id", "attempts");
    static const char *const ha[] = {"Attempt", "Worker", "Started (UTC)", "Duration", "Result", "Reason", NULL};
    head_row(tbl, ha);
    xmlNodePtr tb = kh_el(tbl, "tbody", NULL);
    char dur[48], when[32];
    for (size_t i = 0; i < na; i++) {
        xmlNodePtr tr = kh_el(tb, "tr", NULL);
        kh_elf(tr, "td", "%d", at[i].attempt);
        kh_el(tr, "td", at[i].worker);
        format_ms(when, at[i].started_ms);
        kh_el(tr, "td", when);
        format_dur(dur, sizeof dur, (double)((at[i].ended_ms ? at[i].ended_ms : now) - at[i].started_ms) / 1000.0);
        kh_attr(kh_el(tr, "td", dur), "class", "num");
        const char *ar = kiln_job_result_name(at[i].result);
        cell_class(tr, *ar ? ar : at[i].ended_ms ? "-" : "running", ar);
        cell_class(tr, at[i].reason ? at[i].reason : "", "reason");
    }
    if (!na) kh_el(m, "p", "Not started yet.");
}

/* One case's row: name, status, duration, reason, links to its files, its metrics. */
static void case_row(xmlNodePtr tb, json_t *x, const char *base)
{
    const char *cn = jstr(x, "name"), *cst = jstr(x, "status");
    char dur[48];
    xmlNodePtr tr = kh_el(tb, "tr", NULL);
    xmlNodePtr td = kh_el(tr, "td", cn ? cn : "?");
    if (jstr(x, "area")) kh_attr(td, "title", jstr(x, "area"));
    cell_class(tr, cst ? cst : "?", cst);
    format_dur(dur, sizeof dur, jnum(x, "duration_s"));
    kh_attr(kh_el(tr, "td", dur), "class", "num");
    cell_class(tr, jstr(x, "reason") ? jstr(x, "reason") : "", "reason");
    xmlNodePtr files = kh_el(tr, "td", NULL);
    const char *links[][2] = {{"log", jstr(x, "log")}, {"perf", jstr(x, "perf")}};
    for (size_t k = 0; k < ARRAY_SIZE(links); k++) {
        if (!links[k][1] || !kiln_api_path_ok(links[k][1])) continue;
        _cleanup_free_ char *e = kh_url_escape(links[k][1], 1), *href = xasprintf("%s%s", base, e);
        if (k) kh_text(files, " ");
        kh_link(files, href, links[k][0]);
    }
    json_t *mm;
    size_t mi;
    json_array_foreach(json_object_get(x, "metrics"), mi, mm) {
        char v[32];
        num(v, sizeof v, jnum(mm, "value"));
        xmlNodePtr sub = kh_el(td, "div", NULL);
        kh_attr(sub, "class", "muted");
        kh_textf(sub, "%s = %s %s", jstr(mm, "name") ? jstr(mm, "name") : "?", v, jstr(mm, "unit") ? jstr(mm, "unit") : "");
    }
}

static void section_cases(xmlNodePtr m, json_t *cases, const struct kiln_job *j, const char *base)
{
    kh_el(m, "h2", "Cases");
    if (!json_array_size(cases)) {
        kh_el(m, "p", j->state == JOB_DONE ? "The job reported no cases." : "No results yet.");
        return;
    }
    xmlNodePtr tbl = kh_el(m, "table", NULL);
    kh_attr(tbl, "id", "cases");
    static const char *const hc[] = {"Case", "Status", "Duration", "Reason", "Files", NULL};
    head_row(tbl, hc);
    xmlNodePtr tb = kh_el(tbl, "tbody", NULL);
    size_t nb = MIN(json_array_size(cases), (size_t)PLOT_CASES);
    struct casebar *bars = xcalloc(nb ? nb : 1, sizeof(*bars));
    size_t i;
    json_t *x;
    json_array_foreach(cases, i, x) {
        case_row(tb, x, base);
        const char *cn = jstr(x, "name");
        if (i < nb) bars[i] = (struct casebar){.name = cn ? cn : "?", .status = jstr(x, "status"), .seconds = jnum(x, "duration_s")};
    }
    kh_el(m, "h2", "Case durations");
    plot_durations(m, bars, nb);
    free(bars);
}

static void section_artifacts(struct kiln_dash *d, xmlNodePtr m, int64_t id, const char *base)
{
    kh_el(m, "h2", "Artifacts");
    xmlNodePtr ul = kh_el(m, "ul", NULL);
    static const char *const arts[] = {"results.json", "report.html", "junit.xml", "kiln.log", "console.log",
                                       "archive.tar.zst", "archive.tar.zst.minisig"};
    for (size_t i = 0; i < ARRAY_SIZE(arts); i++) {
        if (!job_has(d, id, arts[i])) continue;
        _cleanup_free_ char *href = xasprintf("%s%s", base, arts[i]);
        kh_link(kh_el(ul, "li", NULL), href, arts[i]);
    }
    if (!ul->children) kh_el(ul, "li", "none yet");
}

int kiln_dash_job_page(struct kiln_dash *d, struct kiln_store *st, const struct kiln_tenant *viewer, int64_t id, char **html,
                       size_t *len, char **reterr)
{
    int64_t scope = viewer->admin ? KILN_SCOPE_ALL : viewer->id;
    struct kiln_job j = {0};
    struct kiln_attempt *at = NULL;
    size_t na = 0;
    int rc = kiln_store_job_get(st, scope, id, &j, reterr);
    if (rc == 0) rc = kiln_store_job_attempts(st, scope, id, &at, &na, reterr);
    if (rc < 0) return kiln_job_clear(&j), rc;
    int64_t now = wall_ms(d);
    struct kh_page p;
    _cleanup_free_ char *title = xasprintf("Job %lld", (long long)j.id), *name = kiln_dash_image_name(&j);
    xmlNodePtr m = frame(d, &p, title, viewer);
    kh_el(m, "h1", title);
    section_facts(m, &j, name, now);
    section_attempts(m, at, na, now);
    char base[64];
    snprintf(base, sizeof base, "/api/v1/jobs/%lld/artifacts/", (long long)id);
    json_t *results = job_json_file(d, id, "results.json", RESULTS_MAX);
    json_t *cases = json_object_get(results, "cases");
    section_cases(m, cases, &j, base);
    section_perf(d, m, id, cases);
    json_decref(results);
    section_trend(d, st, m, &j);
    section_console(d, m, &j);
    section_artifacts(d, m, id, base);
    kiln_attempts_free(at, na);
    kiln_job_clear(&j);
    *html = kh_page_finish(&p, len);
    return *html ? 0 : -ENOMEM;
}

static enum MHD_Result page_job(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                const struct kiln_tenant *t, int64_t id)
{
    int dbrc = -EIO;
    struct kiln_store *st = d->env.store_get(d->env.ctx, &dbrc);
    if (!st) return db_failed(d, c, method, url, t, dbrc);
    char *html = NULL, *err = NULL;
    size_t len = 0;
    int rc = kiln_dash_job_page(d, st, t, id, &html, &len, &err);
    d->env.store_put(d->env.ctx, st);
    if (rc == -ENOENT) {
        free(err);
        /* another tenant's job reads as one that does not exist */
        return message(d, c, method, url, 404, t, "Not found", "No such job.");
    }
    if (rc < 0) {
        log_error("kiln serve: dashboard: job %lld: %s", (long long)id, err ? err : strerror(-rc));
        free(err);
        return db_failed(d, c, method, url, t, rc);
    }
    return respond(d, c, method, url, 200, html, len, NULL, NULL, t->name);
}

/* ---- rollouts (the update server's, docs/updates.md) ---- */

/* Rollouts carry no tenant in the store: they steer the update server, whose gallery (kiln
 * serve --gallery) is the operator's. The admin sees every rollout; a tenant sees them only
 * when that gallery is the tenant's own self-service gallery (DATA/galleries/TENANT, which the
 * operator may serve), i.e. when the versions rolled out are the tenant's. */
static bool rollouts_visible(const struct kiln_dash *d, const struct kiln_tenant *t)
{
    if (t->admin) return true;
    if (!d->env.gallery || !d->env.data) return false;
    _cleanup_free_ char *mine = xasprintf("%s/galleries/%s", d->env.data, t->name);
    _cleanup_free_ char *a = realpath(d->env.gallery, NULL), *b = realpath(mine, NULL);
    return a && b && streq(a, b);
}

static const char *event_name(int type)
{
    switch (type) {
    case OMAHA_EVENT_DOWNLOAD_COMPLETE: return "download complete";
    case OMAHA_EVENT_INSTALL_COMPLETE: return "install complete";
    case OMAHA_EVENT_UPDATE_COMPLETE: return "update complete";
    case OMAHA_EVENT_DOWNLOAD_STARTED: return "download started";
    case OMAHA_EVENT_DOWNLOAD_FINISHED: return "download finished";
    case OMAHA_EVENT_UPDATE_INSTALLED: return "update installed";
    default: return "event";
    }
}

static void format_pct(char *buf, size_t sz, int permyriad)
{
    snprintf(buf, sz, "%d.%02d %%", permyriad / 100, permyriad % 100);
}

/* The ramp over time: the percentage each set left (a step line, 0-100 % on the left), the
 * paused spans shaded, the machines granted the target so far (a line on its own scale, the
 * right) and each failure as a red tick on the time axis. */
/* The ramp plot's frame: the plot area (left, top, width, height) over times t0..t1. */
struct ramp_axes {
    double L, T, pw, ph;
    int64_t t0, t1;
};

static double ramp_x(const struct ramp_axes *ax, int64_t t) { return ax->L + ax->pw * (double)(t - ax->t0) / (double)(ax->t1 - ax->t0); }
static double ramp_y(const struct ramp_axes *ax, double share) { return ax->T + ax->ph - ax->ph * share; }

/* Paused spans, drawn first, under the lines. */
static void ramp_paused(xmlNodePtr svg, const struct ramp_axes *ax, const struct kiln_rollout_status *s)
{
    for (size_t i = 0; i < s->nramp; i++) {
        if (!s->ramp[i].paused) continue;
        int64_t end = i + 1 < s->nramp ? s->ramp[i + 1].at_ms : ax->t1;
        xmlNodePtr g = kh_el(svg, "g", NULL);
        char a[32], b[32];
        format_ms(a, s->ramp[i].at_ms);
        format_ms(b, end);
        kh_elf(g, "title", "paused from %s to %s", a, i + 1 < s->nramp ? b : "now");
        xmlNodePtr r = kh_el(g, "rect", NULL);
        kh_attrf(r, "x", "%.1f", ramp_x(ax, s->ramp[i].at_ms));
        kh_attrf(r, "y", "%.0f", ax->T);
        kh_attrf(r, "width", "%.1f", MAX(ramp_x(ax, end) - ramp_x(ax, s->ramp[i].at_ms), 1.0));
        kh_attrf(r, "height", "%.1f", ax->ph);
        kh_attr(r, "fill", "#ffcdd2");
        kh_attr(r, "class", "paused-span");
    }
}

/* The percentage: a step at each set, a dot (with its title) at each. */
static void ramp_steps(xmlNodePtr svg, const struct ramp_axes *ax, const struct kiln_rollout_status *s)
{
    if (!s->nramp) return;
    struct sbuf pts = {0};
    for (size_t i = 0; i < s->nramp; i++) {
        double x = ramp_x(ax, s->ramp[i].at_ms);
        if (i) sbuf_printf(&pts, " %.1f,%.1f", x, ramp_y(ax, s->ramp[i - 1].permyriad / 10000.0));
        sbuf_printf(&pts, "%s%.1f,%.1f", i ? " " : "", x, ramp_y(ax, s->ramp[i].permyriad / 10000.0));
    }
    sbuf_printf(&pts, " %.1f,%.1f", ramp_x(ax, ax->t1), ramp_y(ax, s->ramp[s->nramp - 1].permyriad / 10000.0));
    xmlNodePtr g = kh_el(svg, "g", NULL);
    kh_el(g, "title", "ramp (% of machines)");
    xmlNodePtr pl = kh_el(g, "polyline", NULL);
    kh_attr(pl, "points", pts.s);
    kh_attr(pl, "fill", "none");
    kh_attr(pl, "stroke", palette[0]);
    kh_attr(pl, "stroke-width", "2");
    sbuf_free(&pts);
    for (size_t i = 0; i < s->nramp; i++) {
        xmlNodePtr c = kh_el(svg, "circle", NULL);
        kh_attrf(c, "cx", "%.1f", ramp_x(ax, s->ramp[i].at_ms));
        kh_attrf(c, "cy", "%.1f", ramp_y(ax, s->ramp[i].permyriad / 10000.0));
        kh_attr(c, "r", "3");
        kh_attr(c, "fill", palette[0]);
        char when[32], pct[24];
        format_ms(when, s->ramp[i].at_ms);
        format_pct(pct, sizeof pct, s->ramp[i].permyriad);
        kh_elf(c, "title", "%s: %s at %s%s", when, s->ramp[i].target, pct, s->ramp[i].paused ? ", paused" : "");
    }
}

/* Machines granted the target, cumulative. */
static void ramp_granted(xmlNodePtr svg, const struct ramp_axes *ax, const struct kiln_rollout_status *s)
{
    size_t ng = s->ngranted;
    if (!ng) return;
    struct sbuf pts = {0};
    size_t step = ng > PLOT_POINTS ? (ng + PLOT_POINTS - 1) / PLOT_POINTS : 1;
    sbuf_printf(&pts, "%.1f,%.1f", ramp_x(ax, s->granted_ms[0]), ax->T + ax->ph);
    for (size_t i = 0; i < ng; i += step)
        sbuf_printf(&pts, " %.1f,%.1f", ramp_x(ax, s->granted_ms[i]), ramp_y(ax, (double)(i + 1) / (double)ng));
    sbuf_printf(&pts, " %.1f,%.1f %.1f,%.1f", ramp_x(ax, s->granted_ms[ng - 1]), ax->T, ramp_x(ax, ax->t1), ax->T);
    xmlNodePtr g = kh_el(svg, "g", NULL);
    kh_elf(g, "title", "machines granted %s: %zu", s->rollout.p.target, ng);
    xmlNodePtr pl = kh_el(g, "polyline", NULL);
    kh_attr(pl, "points", pts.s);
    kh_attr(pl, "fill", "none");
    kh_attr(pl, "stroke", palette[2]);
    kh_attr(pl, "stroke-width", "1.5");
    sbuf_free(&pts);
}

static void ramp_failures(xmlNodePtr svg, const struct ramp_axes *ax, const struct kiln_rollout_status *s)
{
    for (size_t i = 0; i < s->nfailures; i++) {
        double x = ramp_x(ax, s->failures[i].at_ms);
        xmlNodePtr g = kh_el(svg, "g", NULL);
        char when[32];
        format_ms(when, s->failures[i].at_ms);
        if (s->failures[i].has_errorcode)
            kh_elf(g, "title", "%s: machine %s failed (%s), error code %lld", when, s->failures[i].machine_id,
                   event_name(s->failures[i].type), (long long)s->failures[i].errorcode);
        else kh_elf(g, "title", "%s: machine %s failed (%s)", when, s->failures[i].machine_id, event_name(s->failures[i].type));
        xmlNodePtr l = kh_el(g, "line", NULL);
        kh_attrf(l, "x1", "%.1f", x);
        kh_attrf(l, "x2", "%.1f", x);
        kh_attrf(l, "y1", "%.1f", ax->T + ax->ph - 10);
        kh_attrf(l, "y2", "%.1f", ax->T + ax->ph);
        kh_attr(l, "stroke", "#e53935");
        kh_attr(l, "stroke-width", "2");
        kh_attr(l, "class", "failure-mark");
    }
}

static void plot_ramp(xmlNodePtr parent, const struct kiln_rollout_status *s, int64_t now)
{
    const int W = 760, H = 220, L = 56, R = 56, T = 14, B = 40;
    struct ramp_axes ax = {.L = L, .T = T, .pw = W - L - R, .ph = H - T - B, .t1 = now};
    ax.t0 = s->nramp ? s->ramp[0].at_ms : s->rollout.set_ms;
    for (size_t i = 0; i < s->nfailures; i++) ax.t0 = MIN(ax.t0, s->failures[i].at_ms);
    if (s->ngranted) ax.t0 = MIN(ax.t0, s->granted_ms[0]);
    if (ax.t1 <= ax.t0) ax.t1 = ax.t0 + 1000;
    xmlNodePtr svg = svg_new(parent, W, H, "rollout ramp over time");
    ramp_paused(svg, &ax, s);
    svg_line(svg, L, T, L, T + ax.ph, "#999");
    svg_line(svg, L, T + ax.ph, L + ax.pw, T + ax.ph, "#999");
    svg_line(svg, L + ax.pw, T, L + ax.pw, T + ax.ph, "#999");
    ramp_steps(svg, &ax, s);
    ramp_granted(svg, &ax, s);
    ramp_failures(svg, &ax, s);
    svg_text(svg, L - 4, T + 10, "end", "100 %");
    svg_text(svg, L - 4, T + ax.ph, "end", "0 %");
    char n[32];
    snprintf(n, sizeof n, "%zu", s->ngranted);
    svg_text(svg, L + ax.pw + 4, T + 10, "start", n);
    svg_text(svg, L + ax.pw + 4, T + ax.ph, "start", "0");
    svg_text(svg, L + ax.pw + 4, T + ax.ph / 2, "start", "granted");
    char a[32], b[32];
    format_ms(a, ax.t0);
    format_ms(b, ax.t1);
    svg_text(svg, L, H - 22, "start", a);
    svg_text(svg, L + ax.pw, H - 22, "end", b);
    svg_text(svg, L, H - 6, "start", "blue: ramp %, green: machines granted the target, red: failures, pink: paused");
}

static void rollout_facts(xmlNodePtr m, const struct kiln_rollout_status *s)
{
    const struct rollout_policy *p = &s->rollout.p;
    xmlNodePtr dl = kh_el(m, "dl", NULL);
    kh_attr(dl, "class", "facts");
    kh_attr(dl, "id", "rollout");
    char pct[24], when[32], buf[256];
    fact(dl, "Target", p->target, NULL);
    format_pct(pct, sizeof pct, p->permyriad);
    fact(dl, "Ramp", pct, NULL);
    fact(dl, "State", !p->enabled ? "updates disabled" : p->paused ? "paused" : "rolling out", p->paused || !p->enabled ? "failed" : "passed");
    if (p->paused) {
        fact(dl, "Paused because", p->pause_reason[0] ? p->pause_reason : "by hand", "reason");
        kh_attr(dl->last, "id", "pause-reason");
    }
    snprintf(buf, sizeof buf, "%d per %lld s, %d in flight, pause after %d failures (0: none)", p->max_per_period,
             (long long)(p->period_ms / 1000), p->max_inflight, p->pause_after_failures);
    fact(dl, "Limits", buf, NULL);
    for (size_t i = 0; i < p->nfloors; i++) fact(dl, "Floor", p->floors[i], NULL);
    for (size_t i = 0; i < p->npins; i++) {
        snprintf(buf, sizeof buf, "group %s -> %s", p->pins[i].group, p->pins[i].version);
        fact(dl, "Pin", buf, NULL);
    }
    format_ms(when, s->rollout.set_ms);
    fact(dl, "Target set (UTC)", when, NULL);
    snprintf(buf, sizeof buf, "%d", s->machines);
    fact(dl, "Machines", buf, NULL);
    snprintf(buf, sizeof buf, "%d", s->inflight);
    fact(dl, "In flight", buf, NULL);
}

static void rollout_versions(xmlNodePtr m, const struct kiln_rollout_status *s)
{
    kh_el(m, "h2", "Machines per version");
    if (!s->nversions) {
        kh_el(m, "p", "No machine has checked in yet.");
        return;
    }
    xmlNodePtr tbl = kh_el(m, "table", NULL);
    kh_attr(tbl, "id", "versions");
    static const char *const h[] = {"Version", "Machines", "Share", NULL};
    head_row(tbl, h);
    xmlNodePtr tb = kh_el(tbl, "tbody", NULL);
    for (size_t i = 0; i < s->nversions; i++) {
        xmlNodePtr tr = kh_el(tb, "tr", NULL);
        xmlNodePtr td = kh_el(tr, "td", s->versions[i].version[0] ? s->versions[i].version : "(not reported)");
        if (streq(s->versions[i].version, s->rollout.p.target)) kh_text(td, " (target)");
        kh_attr(kh_elf(tr, "td", "%d", s->versions[i].machines), "class", "num");
        kh_attr(kh_elf(tr, "td", "%.1f %%", s->machines ? 100.0 * s->versions[i].machines / s->machines : 0.0), "class", "num");
    }
}

static void rollout_failures(xmlNodePtr m, const struct kiln_rollout_status *s)
{
    kh_el(m, "h2", "Failures");
    if (!s->nfailures) {
        kh_el(m, "p", "No failure reported since the target was set.");
        return;
    }
    kh_elf(m, "p", "%zu failure event(s) since the target was set%s.", s->nfailures, s->nfailures == 100 ? " (the newest 100 shown)" : "");
    xmlNodePtr tbl = kh_el(m, "table", NULL);
    kh_attr(tbl, "id", "failures");
    static const char *const h[] = {"When (UTC)", "Machine", "Running", "Granted", "Event", "Error code", NULL};
    head_row(tbl, h);
    xmlNodePtr tb = kh_el(tbl, "tbody", NULL);
    char when[32];
    for (size_t i = 0; i < s->nfailures; i++) {
        const struct kiln_update_failure *x = &s->failures[i];
        xmlNodePtr tr = kh_el(tb, "tr", NULL);
        format_ms(when, x->at_ms);
        kh_el(tr, "td", when);
        kh_el(tr, "td", x->machine_id);
        kh_el(tr, "td", x->version[0] ? x->version : "-");
        kh_el(tr, "td", x->target[0] ? x->target : "-");
        kh_elf(tr, "td", "%s (%d)", event_name(x->type), x->type);
        xmlNodePtr ec = x->has_errorcode ? kh_elf(tr, "td", "%lld", (long long)x->errorcode) : kh_el(tr, "td", "-");
        kh_attr(ec, "class", "failed errorcode");
    }
}

static void rollout_history(xmlNodePtr m, const struct kiln_rollout_status *s)
{
    kh_el(m, "h2", "History");
    xmlNodePtr tbl = kh_el(m, "table", NULL);
    kh_attr(tbl, "id", "history");
    static const char *const hh[] = {"When (UTC)", "What", NULL};
    head_row(tbl, hh);
    xmlNodePtr tb = kh_el(tbl, "tbody", NULL);
    char when[32];
    for (size_t i = 0; i < s->nlog; i++) {
        xmlNodePtr tr = kh_el(tb, "tr", NULL);
        format_ms(when, s->log[i].at_ms);
        kh_el(tr, "td", when);
        cell_class(tr, s->log[i].what, "reason");
    }
}

int kiln_dash_rollout_page(struct kiln_dash *d, struct kiln_store *st, const struct kiln_tenant *viewer, const char *name,
                           const char *channel, char **html, size_t *len, char **reterr)
{
    if (!rollouts_visible(d, viewer)) return -ENOENT;
    struct kiln_rollout_status s;
    int rc = kiln_store_rollout_status(st, name, channel, &s, reterr);
    if (rc < 0) return rc;
    if (!s.has_rollout) {
        kiln_rollout_status_free(&s);
        return -ENOENT;
    }
    struct kh_page pg;
    _cleanup_free_ char *title = xasprintf("Rollout %s %s", name, channel);
    xmlNodePtr m = frame(d, &pg, title, viewer);
    kh_el(m, "h1", title);
    rollout_facts(m, &s);
    rollout_versions(m, &s);
    kh_el(m, "h2", "Ramp over time");
    plot_ramp(m, &s, wall_ms(d));
    rollout_failures(m, &s);
    rollout_history(m, &s);
    kiln_rollout_status_free(&s);
    *html = kh_page_finish(&pg, len);
    return *html ? 0 : -ENOMEM;
}

static enum MHD_Result page_rollout(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                    const struct kiln_tenant *t, const char *name, const char *channel)
{
    int dbrc = -EIO;
    struct kiln_store *st = d->env.store_get(d->env.ctx, &dbrc);
    if (!st) return db_failed(d, c, method, url, t, dbrc);
    char *html = NULL, *err = NULL;
    size_t len = 0;
    int rc = kiln_dash_rollout_page(d, st, t, name, channel, &html, &len, &err);
    d->env.store_put(d->env.ctx, st);
    if (rc == -ENOENT) {
        free(err);
        return message(d, c, method, url, 404, t, "Not found", "No such rollout.");
    }
    if (rc < 0) {
        log_error("kiln serve: dashboard: rollout %s %s: %s", name, channel, err ? err : strerror(-rc));
        free(err);
        return db_failed(d, c, method, url, t, rc);
    }
    return respond(d, c, method, url, 200, html, len, NULL, NULL, t->name);
}

int kiln_dash_rollouts_page(struct kiln_dash *d, struct kiln_store *st, const struct kiln_tenant *viewer, char **html, size_t *len,
                            char **reterr)
{
    struct kiln_rollout *ro = NULL;
    size_t n = 0;
    bool visible = rollouts_visible(d, viewer);
    int rc = visible ? kiln_store_rollout_list(st, &ro, &n, reterr) : 0;
    if (rc < 0) return rc;
    struct kh_page pg;
    xmlNodePtr m = frame(d, &pg, "Rollouts", viewer);
    kh_el(m, "h1", "Rollouts");
    if (!d->env.gallery) kh_el(m, "p", "This server answers no update checks (kiln serve --gallery DIR); rollouts set with kiln rollout "
                                       "take effect on a server that does.");
    if (!visible) kh_el(m, "p", "Rollouts steer the update server's gallery, which is not yours: the admin sees them.");
    else if (!n) kh_el(m, "p", "No rollouts: set one with kiln rollout set.");
    else {
        xmlNodePtr tbl = kh_el(m, "table", NULL);
        kh_attr(tbl, "id", "rollouts");
        static const char *const h[] = {"Image", "Channel", "Target", "Ramp", "State", "Machines", "In flight", "Failures", "Target set (UTC)", NULL};
        head_row(tbl, h);
        xmlNodePtr tb = kh_el(tbl, "tbody", NULL);
        for (size_t i = 0; i < n && rc == 0; i++) {
            struct kiln_rollout_status s;
            if ((rc = kiln_store_rollout_status(st, ro[i].name, ro[i].channel, &s, reterr)) < 0) break;
            const struct rollout_policy *p = &ro[i].p;
            xmlNodePtr tr = kh_el(tb, "tr", NULL);
            _cleanup_free_ char *en = kh_url_escape(ro[i].name, 0), *ec = kh_url_escape(ro[i].channel, 0);
            _cleanup_free_ char *href = xasprintf("/rollouts/%s/%s", en, ec);
            kh_link(kh_el(tr, "td", NULL), href, ro[i].name);
            kh_el(tr, "td", ro[i].channel);
            kh_el(tr, "td", p->target);
            char pct[24], when[32];
            format_pct(pct, sizeof pct, p->permyriad);
            kh_attr(kh_el(tr, "td", pct), "class", "num");
            xmlNodePtr stc = kh_el(tr, "td", !p->enabled ? "disabled" : p->paused ? "paused: " : "rolling out");
            if (p->paused) {
                kh_text(stc, p->pause_reason[0] ? p->pause_reason : "by hand");
                kh_attr(stc, "class", "failed");
            }
            kh_attr(kh_elf(tr, "td", "%d", s.machines), "class", "num");
            kh_attr(kh_elf(tr, "td", "%d", s.inflight), "class", "num");
            kh_attr(kh_elf(tr, "td", "%zu", s.nfailures), "class", "num");
            format_ms(when, ro[i].set_ms);
            kh_el(tr, "td", when);
            kiln_rollout_status_free(&s);
        }
    }
    free(ro);
    if (rc < 0) {
        kh_page_free(&pg);
        return rc;
    }
    *html = kh_page_finish(&pg, len);
    return *html ? 0 : -ENOMEM;
}

static enum MHD_Result page_rollouts(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                     const struct kiln_tenant *t)
{
    int dbrc = -EIO;
    struct kiln_store *st = d->env.store_get(d->env.ctx, &dbrc);
    if (!st) return db_failed(d, c, method, url, t, dbrc);
    char *html = NULL, *err = NULL;
    size_t len = 0;
    int rc = kiln_dash_rollouts_page(d, st, t, &html, &len, &err);
    d->env.store_put(d->env.ctx, st);
    if (rc < 0) {
        log_error("kiln serve: dashboard: rollouts: %s", err ? err : strerror(-rc));
        free(err);
        return db_failed(d, c, method, url, t, rc);
    }
    return respond(d, c, method, url, 200, html, len, NULL, NULL, t->name);
}

static enum MHD_Result page_login(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                  unsigned status, const char *next, const char *error)
{
    struct kh_page p;
    xmlNodePtr m = frame(d, &p, "Sign in", NULL);
    kh_el(m, "h1", "Sign in");
    if (error) kh_attr(kh_el(m, "p", error), "class", "err");
    xmlNodePtr f = kh_el(m, "form", NULL);
    kh_attr(f, "class", "login");
    kh_attr(f, "method", "post");
    kh_attr(f, "action", "/login");
    xmlNodePtr l = kh_el(f, "label", "Your tenant's API token (kt_..., from kiln tenant add)");
    kh_attr(l, "for", "token");
    xmlNodePtr in = kh_el(f, "input", NULL);
    kh_attr(in, "type", "password");
    kh_attr(in, "id", "token");
    kh_attr(in, "name", "token");
    kh_attr(in, "autocomplete", "off");
    kh_attr(in, "required", "required");
    xmlNodePtr nx = kh_el(f, "input", NULL);
    kh_attr(nx, "type", "hidden");
    kh_attr(nx, "name", "next");
    kh_attr(nx, "value", next && kiln_dash_next_ok(next) ? next : "/");
    kh_attr(kh_el(f, "button", "Sign in"), "type", "submit");
    kh_el(m, "p",
          "The token is checked once; the browser then holds a session cookie (8 hours), never the token. "
          "A one-time sign-in link comes from POST /api/v1/login-links.");
    return send_page(d, c, method, url, status, &p, NULL, NULL);
}

static enum MHD_Result post_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                  const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size)
{
    struct dreq *q = cls;
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    kiln_dash_form_field(&q->f, key, data, off, size);
    return MHD_YES;
}

/* A form POST must come from a page of this site: when the browser says where it comes from
 * (Origin), it must be this host. SameSite=Strict keeps the cookie off cross-site requests. */
static bool same_origin(struct MHD_Connection *c)
{
    const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!o) return true;
    if (!h) return false;
    const char *rest = startswith(o, "http://") ? o + 7 : startswith(o, "https://") ? o + 8 : NULL;
    return rest && streq(rest, h);
}

static char *session_cookie(const char *idhex)
{
    return xasprintf(COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld", idhex,
                     (long long)(KILN_DASH_SESSION_MS / 1000));
}

static enum MHD_Result sign_in(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                               const struct kiln_tenant *t, const char *next)
{
    char idhex[65];
    if (kiln_dash_session_open(d, t, idhex) < 0)
        return message(d, c, method, url, 503, NULL, "Too many sessions", "The server holds too many sessions; try again later.");
    char *cookie = session_cookie(idhex);
    OPENSSL_cleanse(idhex, sizeof idhex);
    log_info("kiln serve: dashboard: tenant %s signed in", t->name);
    enum MHD_Result r = redirect(d, c, method, url, next && kiln_dash_next_ok(next) ? next : "/", cookie, t->name);
    OPENSSL_cleanse(cookie, strlen(cookie));
    free(cookie);
    return r;
}

/* POST /login: the sign-in form (same origin, urlencoded, each field once) with a tenant's
 * token; a wrong token counts against the address. */
static enum MHD_Result login_post(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                  struct dreq *q, const char *addr)
{
    if (!same_origin(c)) return message(d, c, method, url, 403, NULL, "Refused", "The form was sent from another site.");
    if (!q->pp || q->f.too_big)
        return page_login(d, c, method, url, 400, NULL, "Send the form as application/x-www-form-urlencoded, under 4 KiB.");
    if (q->f.twice) {
        OPENSSL_cleanse(q->f.token, sizeof q->f.token);
        _cleanup_free_ char *text = xasprintf("The form holds %s twice: give it once.", q->f.twice);
        return page_login(d, c, method, url, 400, NULL, text);
    }
    struct kiln_tenant t;
    int rc = -EIO;
    struct kiln_store *st = startswith(q->f.token, "kt_") ? d->env.store_get(d->env.ctx, &rc) : NULL;
    char *err = NULL;
    if (!startswith(q->f.token, "kt_")) rc = -EACCES;
    else if (st) rc = kiln_store_tenant_auth(st, q->f.token, &t, &err);
    d->env.store_put(d->env.ctx, st);
    free(err);
    OPENSSL_cleanse(q->f.token, sizeof q->f.token);
    if (rc == -EACCES) {
        kiln_dash_auth_failed(d, addr);
        return page_login(d, c, method, url, 401, q->f.next, "That is not a tenant's API token.");
    }
    if (rc < 0) return db_failed(d, c, method, url, NULL, rc);
    return sign_in(d, c, method, url, &t, q->f.next);
}

enum MHD_Result kiln_dash_handle(struct kiln_dash *d, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *upload, size_t *upload_size, void **state)
{
    struct dreq *q = *state;
    bool post = streq(method, "POST");
    if (!q) {
        q = xcalloc(1, sizeof(*q));
        *state = q;
        if (post && streq(url, "/login")) q->pp = MHD_create_post_processor(c, 1024, post_field, q);
        return MHD_YES;
    }
    if (*upload_size) {
        q->f.body += *upload_size;
        if (q->f.body > FORM_MAX) q->f.too_big = true;
        else if (q->pp && MHD_post_process(q->pp, upload, *upload_size) != MHD_YES) q->f.too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    bool get = streq(method, "GET") || streq(method, "HEAD");
    /* a parameter given twice (?state=done&state=queued) is refused as the API refuses it */
    char *qfield = NULL, *qwhy = NULL;
    if (kiln_dash_query_check(c, NULL, &qfield, &qwhy) < 0) {
        OPENSSL_cleanse(q->f.token, sizeof q->f.token);
        _cleanup_free_ char *text = xasprintf("%s.", qwhy);
        free(qfield);
        free(qwhy);
        return message(d, c, method, url, 400, NULL, "Bad request", text);
    }
    char addr[64];
    int retry_s = 0;
    bool signing_in = (post && streq(url, "/login")) || (get && startswith(url, "/login/"));
    if (signing_in) kiln_dash_client_addr(c, addr);
    if (signing_in && !kiln_dash_auth_allowed(d, addr, &retry_s)) {
        OPENSSL_cleanse(q->f.token, sizeof q->f.token);
        _cleanup_free_ char *why = xasprintf("This address had %d failed sign-ins within %lld s; try again in %d s.",
                                             KILN_DASH_AUTH_FAILS, KILN_DASH_AUTH_WINDOW_MS / 1000, retry_s);
        return message(d, c, method, url, 429, NULL, "Too many failed sign-ins", why);
    }
    if (post && streq(url, "/login")) return login_post(d, c, method, url, q, addr);
    if (get && startswith(url, "/login/")) {
        struct kiln_tenant t;
        const char *next = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "next");
        if (session_take(d, url + 7, true, &t) < 0) {
            kiln_dash_auth_failed(d, addr);
            return page_login(d, c, method, url, 401, next, "That sign-in link is used up, expired or unknown: sign in with the token.");
        }
        return sign_in(d, c, method, url, &t, next);
    }
    if (get && streq(url, "/login")) return page_login(d, c, method, url, 200, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "next"), NULL);
    if (post && streq(url, "/logout")) {
        if (!same_origin(c)) return message(d, c, method, url, 403, NULL, "Refused", "The form was sent from another site.");
        const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
        if (v) session_drop(d, v);
        return redirect(d, c, method, url, "/login", COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", NULL);
    }
    struct kiln_dash_route rt;
    if (!kiln_dash_route(url, &rt)) return message(d, c, method, url, 404, NULL, "Not found", "No such page.");
    if (!get) return message(d, c, method, url, 405, NULL, "Method not allowed", "This page is only read (GET).");
    struct kiln_tenant t;
    if (kiln_dash_session(d, c, &t) < 0) {
        const char *qs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
        _cleanup_free_ char *next = qs && kiln_job_state_parse(qs) >= 0 ? xasprintf("%s?state=%s", url, qs) : xstrdup(url);
        _cleanup_free_ char *e = kh_url_escape(next, 1), *to = xasprintf("/login?next=%s", e);
        return redirect(d, c, method, url, to, NULL, NULL);
    }
    int64_t scope = t.admin ? KILN_SCOPE_ALL : t.id;
    switch (rt.page) {
    case DASH_JOBS: return page_jobs(d, c, method, url, &t, scope);
    case DASH_WORKERS: return page_workers(d, c, method, url, &t, scope);
    case DASH_ROLLOUTS: return page_rollouts(d, c, method, url, &t);
    case DASH_ROLLOUT: return page_rollout(d, c, method, url, &t, rt.name, rt.channel);
    default: return page_job(d, c, method, url, &t, rt.job);
    }
}
