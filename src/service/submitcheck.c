/* kiln serve's look at a submission: see submitcheck.h. */
#include "service/submitcheck.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/select.h"
#include "runbook/runbook.h"
#include "util/fs.h"
#include "util/secret.h"
#include "util/util.h"

/* The diagnostics as kiln check prints them, each file named by its base name. */
static void diags_line(const struct diags *d, char **reterr)
{
    struct sbuf b = {0};
    for (size_t i = 0; i < d->n; i++) {
        if (i == 5) {
            sbuf_printf(&b, "; ... and %zu more", d->n - i);
            break;
        }
        const struct diag *g = &d->v[i];
        const char *base = strrchr(g->file, '/') ? strrchr(g->file, '/') + 1 : g->file;
        sbuf_printf(&b, "%s%s", i ? "; " : "", base);
        if (g->line > 0) sbuf_printf(&b, ":%d:%d", g->line, g->col);
        sbuf_printf(&b, ": %s%s%s", g->path && *g->path ? g->path : "", g->path && *g->path ? ": " : "", g->msg);
    }
    /* the tenant's own secret variables too: a key spelt like one is named in its message */
    _cleanup_free_ char *masked = secret_mask(b.s ? b.s : "the runbook does not load");
    err_setf(reterr, 0, "%s", masked);
    sbuf_free(&b);
}

int kiln_runbook_check(const char *text, size_t len, const char *tmpdir, char **reterr)
{
    _cleanup_free_ char *tmpl = path_join(tmpdir, "runbook-XXXXXX");
    if (!mkdtemp(tmpl)) {
        int e = errno;
        return err_setf(reterr, -e, "cannot make a directory in %s: %s", tmpdir, strerror(e));
    }
    /* the platform is the service's (the worker adds its own): appended, so the tenant's lines
     * keep their numbers; after a document end marker ("...") it would start a second document */
    size_t keep = len;
    while (keep && (text[keep - 1] == '\n' || text[keep - 1] == ' ' || text[keep - 1] == '\r')) keep--;
    if (keep >= 3 && !memcmp(text + keep - 3, "...", 3) && (keep == 3 || text[keep - 4] == '\n')) len = keep - 3;
    _cleanup_free_ char *path = path_join(tmpl, "runbook.yml"),
                        *full = xasprintf("%.*s\nplatform: {type: qemu, qemu: {image: disk.qcow2}}\n", (int)len, text);
    int r = write_file_atomic(path, full, strlen(full), 0600);
    if (r < 0) {
        err_setf(reterr, 0, "cannot write %s: %s", path, strerror(-r));
        rm_rf(tmpl);
        return r;
    }
    struct diags d = {0}, warn = {0};
    struct kiln_runbook *rb = NULL;
    /* the runbook's secret variables are registered while it is checked, and only then */
    static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&one);
    size_t mark = secret_mark();
    r = runbook_load_warn(path, NULL, 0, &rb, &d, &warn);
    if (r == 0 && !d.n) {
        struct kiln_selected *sel = NULL;
        size_t n = select_cases(rb, &sel);
        free(sel);
        if (!n) diag_add_at(&d, path, 0, 0, "testcase", "the criteria select no case (see `kiln list`)");
    }
    if (d.n) {
        diags_line(&d, reterr);
        r = -EINVAL;
    } else if (r < 0) {
        err_setf(reterr, 0, "the runbook does not load: %s", strerror(-r));
        r = -EINVAL;
    }
    secret_release(mark);
    pthread_mutex_unlock(&one);
    runbook_free(rb);
    diags_free(&d);
    diags_free(&warn);
    rm_rf(tmpl);
    return r;
}
