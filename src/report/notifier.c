#include "report/notifier.h"

#include "util/fs.h"
#include "util/secret.h"
#include "util/util.h"

const struct kiln_notifier *notifier_by_name(const char *name)
{
    static const struct kiln_notifier *const all[] = {&notifier_console, &notifier_json, &notifier_junit,
                                                      &notifier_html};
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        if (streq(all[i]->name, name)) return all[i];
    return NULL;
}

void notifiers_add(struct kiln_notifiers *ns, const struct kiln_notifier *n, void *self)
{
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i] == n) return;
    if (ns->n == ARRAY_SIZE(ns->v)) return;
    ns->v[ns->n] = n;
    ns->self[ns->n++] = self;
}

void notifiers_run_started(struct kiln_notifiers *ns, const struct kiln_results *r)
{
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i]->run_started) ns->v[i]->run_started(ns->self[i], r);
}

void notifiers_case_started(struct kiln_notifiers *ns, const struct kiln_results *r, const struct kiln_result *c)
{
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i]->case_started) ns->v[i]->case_started(ns->self[i], r, c);
}

void notifiers_case_finished(struct kiln_notifiers *ns, const struct kiln_results *r, const struct kiln_result *c,
                             size_t done)
{
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i]->case_finished) ns->v[i]->case_finished(ns->self[i], r, c, done);
}

int notifiers_run_finished(struct kiln_notifiers *ns, const struct kiln_results *r, char **reterr)
{
    int rc = 0;
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i]->run_finished) {
            _cleanup_free_ char *why = NULL;
            int k = ns->v[i]->run_finished(ns->self[i], r, &why);
            if (k < 0) err_appendf(reterr, 0, "%s%s", rc < 0 ? "; " : "", why ? why : strerror(-k));
            if (k < 0 && rc == 0) rc = k;
        }
    return rc;
}

int report_write(const struct kiln_results *r, const char *name, struct sbuf *b, char **reterr)
{
    _cleanup_free_ char *path = path_join(r->dir, name);
    /* every notifier masks each value before it serialises it */
    int rc = secret_write_structured(path, b->s ? b->s : "", b->len, 0644);
    sbuf_free(b);
    if (rc < 0) return err_setf(reterr, rc, "cannot write %s: %s", path, strerror(-rc));
    return 0;
}
