/* The updater's state machine (state.h). */
#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy(char *dst, const char *src, size_t n)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static void event(struct upd_out *o, enum upd_event_type t, enum upd_event_result r, enum upd_error code, const char *prev)
{
    if (o->nevents >= sizeof o->events / sizeof o->events[0]) return;
    struct upd_event *e = &o->events[o->nevents++];
    *e = (struct upd_event){.type = t, .result = r, .code = code};
    copy(e->previous, prev, sizeof e->previous);
}

static void reset(struct upd_out *o)
{
    memset(o, 0, sizeof *o);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

static bool num(const char *v, bool zero_ok, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < 0 || (!zero_ok && n == 0)) return false;
    *out = n;
    return true;
}

int upd_config_apply(const char *text, struct upd_config *c, char **server, char **channel, int *bad_line)
{
    struct upd_config n = *c;
    char *srv = NULL, *ch = NULL, *copy_text = strdup(text ? text : "");
    int r = copy_text ? 0 : -ENOMEM, line = 0;
    for (char *save = NULL, *l = copy_text ? strtok_r(copy_text, "\n", &save) : NULL; l && r == 0; l = strtok_r(NULL, "\n", &save)) {
        line++;
        l = trim(l);
        if (!*l || *l == '#') continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            r = -EINVAL;
            break;
        }
        *eq = 0;
        const char *k = trim(l), *v = trim(eq + 1);
        bool t = !strcmp(v, "true"), f = !strcmp(v, "false");
        if (!strcmp(k, "server") && *v) free(srv), srv = strdup(v);
        else if (!strcmp(k, "channel") && *v) free(ch), ch = strdup(v);
        else if (!strcmp(k, "auto") && (t || f)) n.auto_apply = t;
        else if (!strcmp(k, "reboot") && (t || f)) n.reboot = t;
        else if (!strcmp(k, "interval") && num(v, false, &n.interval_s)) ;
        else if (!strcmp(k, "jitter") && num(v, true, &n.jitter_s)) ;
        else if (!strcmp(k, "backoff_base") && num(v, false, &n.backoff_base_s)) ;
        else if (!strcmp(k, "backoff_max") && num(v, false, &n.backoff_max_s)) ;
        else r = -EINVAL;
    }
    free(copy_text);
    if (r < 0) {
        *bad_line = line;
        free(srv), free(ch);
        return r;
    }
    *c = n;
    if (srv) free(*server), *server = srv;
    if (ch) free(*channel), *channel = ch;
    return 0;
}

bool upd_newer(const char *a, const char *b)
{
    return strverscmp(a, b) > 0;
}

int64_t upd_next_check(const struct upd_config *c, unsigned errors, int64_t now, uint32_t rnd)
{
    int64_t wait = c->interval_s;
    if (errors) {
        wait = c->backoff_base_s;
        for (unsigned i = 1; i < errors && wait < c->backoff_max_s; i++) wait *= 2;
        if (wait > c->backoff_max_s) wait = c->backoff_max_s;
    }
    int64_t jitter = c->jitter_s > 0 ? (int64_t)(rnd % (uint64_t)(c->jitter_s + 1)) : 0;
    return now + wait + jitter;
}

void upd_on_boot(struct upd_state *s, const char *boot_id, const char *running, bool blessed, struct upd_out *out)
{
    reset(out);
    if (s->phase != UPD_INSTALLED || !strcmp(s->boot_id, boot_id)) return;
    if (!strcmp(running, s->pending)) {
        if (!blessed) return; /* the health check has not passed yet: this boot may still fail */
        event(out, UPD_EV_UPDATE_COMPLETE, UPD_RES_SUCCESS_REBOOT, UPD_ERR_NONE, s->previous);
    } else {
        event(out, UPD_EV_UPDATE_COMPLETE, UPD_RES_ERROR, UPD_ERR_ROLLBACK, s->previous);
        copy(s->failed, s->pending, sizeof s->failed);
    }
    s->phase = UPD_IDLE;
    s->pending[0] = s->previous[0] = s->boot_id[0] = 0;
}

void upd_on_timer(const struct upd_state *s, int64_t now, bool force, struct upd_out *out)
{
    reset(out);
    out->action = force || now >= s->next_check ? UPD_ACT_CHECK : UPD_ACT_NONE;
}

void upd_on_check(struct upd_state *s, const struct upd_config *c, const char *running, const char *offered, int64_t now,
                  uint32_t rnd, struct upd_out *out)
{
    reset(out);
    s->errors = 0;
    s->next_check = upd_next_check(c, 0, now, rnd);
    /* an installed update waits for its boot; an offer of what runs, an older version or the
     * one that failed here is not taken; auto: false never applies anything */
    if (!offered || !*offered || s->phase == UPD_INSTALLED || !c->auto_apply) return;
    if (!upd_newer(offered, running) || !strcmp(offered, s->failed)) return;
    out->action = UPD_ACT_INSTALL;
    copy(out->version, offered, sizeof out->version);
}

void upd_on_check_failed(struct upd_state *s, const struct upd_config *c, int64_t now, uint32_t rnd, struct upd_out *out)
{
    reset(out);
    s->errors++;
    s->next_check = upd_next_check(c, s->errors, now, rnd);
}

void upd_on_install(struct upd_state *s, const struct upd_config *c, const char *running, const char *version,
                    enum upd_error code, const char *boot_id, int64_t now, uint32_t rnd, struct upd_out *out)
{
    reset(out);
    if (code != UPD_ERR_NONE) {
        event(out, UPD_EV_UPDATE_COMPLETE, UPD_RES_ERROR, code, running);
        s->errors++;
        s->next_check = upd_next_check(c, s->errors, now, rnd);
        /* a payload that failed verification is not retried until the server offers another */
        if (code == UPD_ERR_SIGNATURE || code == UPD_ERR_VERITY || code == UPD_ERR_DIGEST || code == UPD_ERR_MANIFEST)
            copy(s->failed, version, sizeof s->failed);
        return;
    }
    event(out, UPD_EV_INSTALLED, UPD_RES_SUCCESS, UPD_ERR_NONE, running);
    s->phase = UPD_INSTALLED;
    s->errors = 0;
    copy(s->pending, version, sizeof s->pending);
    copy(s->previous, running, sizeof s->previous);
    copy(s->boot_id, boot_id, sizeof s->boot_id);
    if (c->reboot) out->action = UPD_ACT_REBOOT;
}

char *upd_state_format(const struct upd_state *s)
{
    char *text = NULL;
    if (asprintf(&text, "phase=%s\npending=%s\nprevious=%s\nfailed=%s\nboot_id=%s\nerrors=%u\nnext_check=%lld\n",
                 s->phase == UPD_INSTALLED ? "installed" : "idle", s->pending, s->previous, s->failed, s->boot_id,
                 s->errors, (long long)s->next_check) < 0)
        return NULL;
    return text;
}

/* One "key=value" value into a fixed field: too long is an error, not a cut. */
static int set_str(char *dst, size_t n, const char *v, size_t len)
{
    if (len >= n) return -EINVAL;
    memcpy(dst, v, len);
    dst[len] = 0;
    return 0;
}

int upd_state_parse(const char *text, struct upd_state *s)
{
    memset(s, 0, sizeof *s);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (end == p) {
            p = nl ? nl + 1 : end;
            continue;
        }
        if (!eq) return -EINVAL;
        size_t kl = (size_t)(eq - p), vl = (size_t)(end - eq - 1);
        const char *v = eq + 1;
        char num[24];
        int r = 0;
#define KEY(k) (kl == strlen(k) && !memcmp(p, k, kl))
        if (KEY("phase")) {
            if (vl == 4 && !memcmp(v, "idle", 4)) s->phase = UPD_IDLE;
            else if (vl == 9 && !memcmp(v, "installed", 9)) s->phase = UPD_INSTALLED;
            else r = -EINVAL;
        } else if (KEY("pending")) r = set_str(s->pending, sizeof s->pending, v, vl);
        else if (KEY("previous")) r = set_str(s->previous, sizeof s->previous, v, vl);
        else if (KEY("failed")) r = set_str(s->failed, sizeof s->failed, v, vl);
        else if (KEY("boot_id")) r = set_str(s->boot_id, sizeof s->boot_id, v, vl);
        else if (KEY("errors") || KEY("next_check")) {
            char *e;
            r = set_str(num, sizeof num, v, vl);
            long long n = r ? 0 : strtoll(num, &e, 10);
            if (r == 0 && (!vl || *e || n < 0)) r = -EINVAL;
            if (r == 0 && KEY("errors")) s->errors = n > 1000 ? 1000 : (unsigned)n;
            else if (r == 0) s->next_check = n;
        } else r = -EINVAL;
#undef KEY
        if (r < 0) return r;
        p = nl ? nl + 1 : end;
    }
    return 0;
}
