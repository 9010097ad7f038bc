#include "ext/common.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "node/node.h"
#include "platform/platform.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/secret.h"
#include "util/strv.h"
#include "util/utf8.h"
#include "util/util.h"

/* "node boot local remote" keys of directories already unpacked */
static struct strset uploaded = STRSET_INIT;

int ext_upload_dir(struct kiln_case_ctx *t, const char *local_dir, const char *remote)
{
    struct kiln_node *n = t->node;
    _cleanup_free_ char *key = xasprintf("%s %s %s %s", n->name, n->boot_id ? n->boot_id : "?", local_dir, remote);
    /* the node's list of leftovers too: a ready machine keeps its boot id from one environment
     * to the next, but the last one's end removed what was unpacked (node_remove_leftovers) */
    if (strset_contains(&uploaded, key) && strv_find(&n->leftovers, remote)) return 0;
    /* in the run's work dir: swept with it when kiln is killed */
    _cleanup_free_ char *tarpath = xasprintf("%s/ext-%p.tar", t->plat->work_dir, (void *)t);
    char *argv[] = {"tar", "-C", (char *)local_dir, "--owner=0", "--group=0", "-cf", tarpath, ".", NULL};
    _cleanup_free_ char *out = NULL;
    int r = proc_run(argv, 300000, &out);
    char *data = NULL;
    size_t len = 0;
    if (r != 0 || read_file(tarpath, 1u << 30, &data, &len) < 0) {
        unlink(tarpath);
        return case_fail(t, "cannot pack %s: %s", local_dir, out && *out ? strstrip(out) : "tar failed");
    }
    unlink(tarpath);
    _cleanup_free_ char *q = shell_quote(remote);
    _cleanup_free_ char *cmd = xasprintf("rm -rf %s && mkdir -p %s && tar -C %s -xf - && chmod 755 %s", q, q, q, q);
    struct kiln_exec e;
    r = node_exec_input(n, cmd, data, len, case_time_left(t), &e, 64 * 1024);
    free(data);
    int st = e.status;
    _cleanup_free_ char *err = e.err ? xstrdup(e.err) : NULL;
    kiln_exec_free(&e);
    if (r < 0 || st != 0)
        return case_fail(t, "cannot upload %s to %s:%s: %s", local_dir, n->name, remote, err && *err ? strstrip(err) : strerror(r < 0 ? -r : EIO));
    strset_intern(&uploaded, key);
    node_leave_leftover(n, remote); /* a machine that outlives the run gets it removed at the end */
    return 0;
}

void ext_upload_forget(void)
{
    strset_clear(&uploaded);
}

char *ext_last_lines(const char *text, int count)
{
    if (!text) return xstrdup("");
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n') len--;
    size_t start = len;
    for (int nl = 0; start > 0; start--)
        if (text[start - 1] == '\n' && ++nl == count) break;
    char *s = xstrndup(text + start, len - start);
    for (char *p = s; *p; p++)
        if (*p == '\n') *p = '|';
    return s;
}

void ext_save_output(struct kiln_case_ctx *t, const char *subdir, const char *name, const char *out, const char *err)
{
    _cleanup_free_ char *dir = path_join(t->dir, subdir);
    mkdir_p(dir, 0755);
    _cleanup_free_ char *clean = xstrdup(name);
    for (char *p = clean; *p; p++)
        if (*p == '/') *p = '_';
    _cleanup_free_ char *file = xasprintf("%s/%s.log", dir, clean);
    _cleanup_free_ char *text = xasprintf("%s%s%s", out ? out : "", err && *err ? "\n--- stderr ---\n" : "", err ? err : "");
    secret_write_file(file, text, strlen(text), 0644);
}

int ext_run_test(struct kiln_case_ctx *t, const char *cmd, int limit_s, const char *sub, const char *subdir,
                 const char *name, struct kiln_exec *e)
{
    int r = node_exec(t->node, cmd, limit_s, e);
    if (r < 0 && !e->timed_out) {
        kiln_exec_free(e);
        ext_add_subtest(t, sub, ST_FAILED, 0, "lost the node while running it");
        return r;
    }
    ext_save_output(t, subdir, name, e->out, e->err);
    return 0;
}

void ext_add_subtests(struct kiln_case_ctx *t, struct kiln_subtest *subs, size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++) {
        if (prefix) {
            char *name = xasprintf("%s%s", prefix, subs[i].name);
            free(subs[i].name);
            subs[i].name = name;
        }
        *APPEND(t->res->subtests, t->res->nsubtests, t->res->capsubtests) = subs[i];
    }
    free(subs);
}

void ext_add_subtest(struct kiln_case_ctx *t, const char *name, int status, double duration_s, const char *reason)
{
    *APPEND(t->res->subtests, t->res->nsubtests, t->res->capsubtests) = (struct kiln_subtest){
        .name = xstrdup(name), .status = status, .duration_s = duration_s, .reason = reason ? xstrdup(reason) : NULL};
}

char *ext_subtests_verdict(const struct kiln_subtest *v, size_t n)
{
    size_t failed = 0;
    struct sbuf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (v[i].status != ST_FAILED || failed++ >= 5) continue;
        sbuf_printf(&b, "%s%s", failed > 1 ? ", " : "", v[i].name);
        if (v[i].reason && *v[i].reason) {
            /* the first line of the reason, short: the case's reason stays one line */
            size_t k = strcspn(v[i].reason, "\r\n");
            _cleanup_free_ char *first = xstrndup(v[i].reason, k);
            size_t cut = utf8_cut(first, 100);
            sbuf_printf(&b, " (%.*s%s)", (int)cut, first, first[cut] || v[i].reason[k] ? "…" : "");
        }
    }
    char *why = failed ? xasprintf("%zu of %zu subtests failed: %s%s", failed, n, b.s, failed > 5 ? ", ..." : "") : NULL;
    sbuf_free(&b);
    return why;
}

int ext_judge_subtests(struct kiln_case_ctx *t)
{
    _cleanup_free_ char *why = ext_subtests_verdict(t->res->subtests, t->res->nsubtests);
    return why ? case_fail(t, "%s", why) : CASE_PASS;
}

int ext_suite_load(struct ext_suite *s, char *const *names, size_t n, long priority, const char *rb_path,
                   struct diags *d)
{
    size_t before = d->n;
    s->tags[0] = s->prefix;
    for (size_t i = 0; i < n; i++) {
        struct ext_case *e = xcalloc(1, sizeof *e);
        e->name = xstrdup(names[i]);
        e->case_name = xasprintf("%s.%s", s->prefix, names[i]);
        e->description = s->describe(names[i]);
        e->c = (struct kiln_case){.name = e->case_name, .description = e->description, .area = s->area,
                                  .category = "community", .priority = (int)priority, .timeout_s = s->timeout_s,
                                  .tags = s->tags, .run = s->run, .data = e};
        if (registry_find(e->case_name)) diag_add_at(d, rb_path, 0, 0, s->key, "%s is listed twice", names[i]);
        *APPEND(s->cases.v, s->cases.n, s->cases.cap) = e;
        registry_add(&e->c);
    }
    return d->n > before ? -EINVAL : 0;
}

void ext_cases_free(struct ext_cases *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->v[i]->name);
        free(list->v[i]->case_name);
        free(list->v[i]->description);
        free(list->v[i]);
    }
    free(list->v);
    *list = (struct ext_cases){0};
}
