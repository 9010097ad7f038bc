#include "cmd/common.h"
#include "core/select.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ext/ext.h"
#include "service/store.h"
#include "util/fs.h"
#include "util/secret.h"
#include "util/util.h"
#include "util/yaml.h"

int cmd_take_var(int argc, char **argv, int *i, struct cmd_vars *vars)
{
    const char *a = argv[*i], *val = NULL;
    if (streq(a, "-v") || streq(a, "--variable")) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "kiln: %s needs NAME=VALUE\n", a);
            return -1;
        }
        val = argv[++*i];
    } else if (startswith(a, "--variable=")) {
        val = a + strlen("--variable=");
    } else if (startswith(a, "-v") && a[2]) {
        val = a + 2;
    } else {
        return 0;
    }
    struct kiln_var v;
    if (runbook_parse_cli_var(val, &v) < 0) {
        /* a malformed secret is not registered yet: do not echo it */
        fprintf(stderr, "kiln: -v %s: the form is -v name=value, or -v s:name=value for a secret (a name is letters, "
                        "digits, _ - .)\n",
                startswith(val, "s:") ? "s:..." : val);
        return -1;
    }
    *APPEND(vars->v, vars->n, vars->cap) = v;
    return 1;
}

static void print_diags_as(const struct diags *d, const char *label)
{
    FILE *err = secret_fwrap(stderr);
    if (!err) {
        fprintf(stderr, "kiln: %zu %s(s); cannot print them with secrets masked: %s\n", d->n, label ? label : "error",
                strerror(errno));
        return;
    }
    diags_print_as(d, label, err);
    fclose(err);
}

void cmd_print_diags(const struct diags *d)
{
    print_diags_as(d, NULL);
}

void cmd_vars_free(struct cmd_vars *vars)
{
    for (size_t i = 0; i < vars->n; i++) {
        free(vars->v[i].name);
        free(vars->v[i].value);
    }
    free(vars->v);
}

struct kiln_runbook *cmd_load_runbook(const char *path, const struct cmd_vars *vars)
{
    struct diags d = {0}, warn = {0};
    struct kiln_runbook *rb = NULL;
    int r = runbook_load_warn(path, vars->v, vars->n, &rb, &d, &warn);
    /* what kiln leaves out is said before the errors and also when the runbook loads */
    if (warn.n) print_diags_as(&warn, "warning");
    diags_free(&warn);
    if (r < 0 || ext_load(rb, &d) < 0 || d.n) {
        cmd_print_diags(&d);
        fprintf(stderr, "kiln: %zu error(s) in %s; see docs/runbook.md for the keys\n", d.n, path);
        diags_free(&d);
        runbook_free(rb);
        return NULL;
    }
    diags_free(&d);
    return rb;
}

int cmd_store_open(const char *verb, const char *data, const char *db, bool create, struct kiln_store **st)
{
    if (!db) db = getenv("KILN_DB");
    _cleanup_free_ char *url = NULL;
    if (db && *db) {
        url = xstrdup(db);
    } else if (data) {
        if (create) {
            int r = mkdir_p(data, 0700);
            if (r < 0) {
                fprintf(stderr, "kiln %s: cannot create %s: %s\n", verb, data, strerror(-r));
                return r;
            }
        }
        url = xasprintf("sqlite:%s/kiln.db", data);
    } else {
        fprintf(stderr, "kiln %s: say where the service keeps its state: --data DIR or --db URL\n", verb);
        return -EINVAL;
    }
    char *err = NULL;
    struct kiln_store_opts o = {.existing = !create};
    int r = kiln_store_open(url, &o, st, &err);
    if (r == -ENOENT && !create) {
        /* a mistyped --data must not make a second, empty service that the real one never reads */
        if (db && *db)
            fprintf(stderr, "kiln %s: no kiln database at the --db URL%s (%s): create it with `kiln serve --init --db URL`, or "
                            "check the URL\n", verb, getenv("KILN_DB") == db ? " from $KILN_DB" : "", err);
        else
            fprintf(stderr, "kiln %s: no kiln database in %s: create it with `kiln serve --init --data %s` (or start kiln serve "
                            "--data %s once), or check --data\n", verb, data, data, data);
        r = -EINVAL;
    } else if (r < 0) fprintf(stderr, "kiln %s: %s\n", verb, err);
    free(err);
    return r;
}

const char *cmd_opt_value(const char *verb, int argc, char **argv, int *i, const char *what)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "kiln %s: %s needs a value: %s\n", verb, argv[*i], what);
        return NULL;
    }
    return argv[++*i];
}

bool cmd_opt_long(const char *verb, const char *opt, const char *val, long lo, long hi, long *out)
{
    long v;
    if (!parse_long_strict(val, &v) || v < lo || v > hi) {
        fprintf(stderr, "kiln %s: %s %s: want a whole number from %ld to %ld\n", verb, opt, val, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool cmd_opt_once(const char *verb, const char *opt, const char **seen, const char *val)
{
    if (*seen) {
        fprintf(stderr, "kiln %s: %s given twice (%s and %s): give it once\n", verb, opt, *seen, val);
        return false;
    }
    *seen = val;
    return true;
}

int cmd_opt_unknown(const char *verb, const char *arg, const char *accepted)
{
    if (arg[0] == '-') fprintf(stderr, "kiln %s: unknown option %s; the options are: %s\n", verb, arg, accepted);
    else fprintf(stderr, "kiln %s: unexpected argument %s; the options are: %s\n", verb, arg, accepted);
    return EXIT_USAGE;
}

void cmd_warn_unmatched_rules(const char *verb, const struct kiln_runbook *rb)
{
    char **msgs;
    size_t n = select_unmatched_rules(rb, &msgs);
    for (size_t i = 0; i < n; i++) {
        secret_fprintf(stderr, "kiln %s: warning: %s\n", verb, msgs[i]);
        free(msgs[i]);
    }
    free(msgs);
}
