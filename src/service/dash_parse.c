/* The dashboard's request parsing: see dash_parse.h. */
#include "service/dash_parse.h"

#include <string.h>

#include "gallery/catalog.h"
#include "util/util.h"

bool kiln_dash_next_ok(const char *next)
{
    size_t n = next ? strlen(next) : 0;
    if (n == 0 || n > 200 || next[0] != '/' || next[1] == '/') return false;
    for (size_t i = 0; i < n; i++) {
        char c = next[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("/_.?=&-", c)))
            return false;
    }
    return true;
}

static bool job_id(const char *p, int64_t *id)
{
    size_t n = strlen(p);
    if (n == 0 || n > 18 || p[0] == '0') return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (p[i] - '0');
    }
    *id = v;
    return true;
}

/* A channel as the store takes one: 1..KILN_STORE_NAME_MAX of [A-Za-z0-9._-], not starting
 * with '.' or '-'. */
static bool channel_ok(const char *s, size_t n)
{
    return n > 0 && n <= KILN_STORE_NAME_MAX && s[0] != '.' && s[0] != '-' &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") >= n;
}

bool kiln_dash_route(const char *url, struct kiln_dash_route *r)
{
    memset(r, 0, sizeof(*r));
    if (!url) return false;
    if (streq(url, "/") || streq(url, "/jobs")) r->page = DASH_JOBS;
    else if (streq(url, "/workers")) r->page = DASH_WORKERS;
    else if (streq(url, "/rollouts")) r->page = DASH_ROLLOUTS;
    else if (startswith(url, "/jobs/")) {
        if (job_id(url + 6, &r->job)) r->page = DASH_JOB;
    } else if (startswith(url, "/rollouts/")) {
        const char *name = url + 10, *slash = strchr(name, '/');
        size_t nl = slash ? (size_t)(slash - name) : 0;
        if (slash && nl <= ROLLOUT_VERSION_MAX && channel_ok(slash + 1, strlen(slash + 1))) {
            memcpy(r->name, name, nl);
            r->name[nl] = 0;
            if (catalog_safe_name(r->name)) {
                snprintf(r->channel, sizeof(r->channel), "%s", slash + 1);
                r->page = DASH_ROLLOUT;
            }
        }
        if (r->page != DASH_ROLLOUT) memset(r, 0, sizeof(*r));
    }
    return r->page != DASH_NONE;
}

void kiln_dash_form_field(struct kiln_dash_form *f, const char *key, const char *data, uint64_t off, size_t size)
{
    bool token = key && streq(key, "token");
    char *dst = token ? f->token : key && streq(key, "next") ? f->next : NULL;
    size_t cap = token ? sizeof f->token : sizeof f->next;
    if (!dst) return;
    unsigned *seen = token ? &f->ntoken : &f->nnext;
    if (off == 0 && ++*seen > 1) f->twice = token ? "token" : "next";
    /* room for the piece and the NUL after it; written that way so no sum can wrap */
    if (off >= cap || size >= cap - off) {
        f->too_big = true;
        dst[0] = 0;
        return;
    }
    memcpy(dst + off, data, size);
    dst[off + size] = 0;
}
