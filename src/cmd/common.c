#include "cmd/common.h"
#include "run/select.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext/ext.h"
#include "service/client.h"
#include "service/store.h"
#include "util/fs.h"
#include "util/secret.h"
#include "util/util.h"
#include "util/yaml.h"

/* Diagnostics sort by file (in the order files first appear), line, column, then the order they
 * were found: the loader finds them key by key, a reader reads the file top down. */
struct diag_pos {
    const struct diag *d;
    size_t file_rank, seq;
};

static int cmp_diag_pos(const void *a, const void *b)
{
    const struct diag_pos *x = a, *y = b;
    if (x->file_rank != y->file_rank) return x->file_rank < y->file_rank ? -1 : 1;
    if (x->d->line != y->d->line) return x->d->line < y->d->line ? -1 : 1;
    if (x->d->col != y->d->col) return x->d->col < y->d->col ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void print_diags_as(const struct diags *d, const char *label)
{
    FILE *err = secret_fwrap(stderr);
    if (!err) {
        fprintf(stderr, "kiln: %zu %s(s); cannot print them with secrets masked: %s\n", d->n, label ? label : "error",
                strerror(errno));
        return;
    }
    struct diag_pos *pos = xcalloc(d->n + 1, sizeof *pos);
    for (size_t i = 0; i < d->n; i++) {
        size_t rank = i;
        for (size_t k = 0; k < i; k++)
            if (streq(d->v[k].file ? d->v[k].file : "", d->v[i].file ? d->v[i].file : "")) {
                rank = pos[k].file_rank;
                break;
            }
        pos[i] = (struct diag_pos){&d->v[i], rank, i};
    }
    qsort(pos, d->n, sizeof *pos, cmp_diag_pos);
    struct diags sorted = {.v = xcalloc(d->n + 1, sizeof *sorted.v), .n = d->n};
    for (size_t i = 0; i < d->n; i++) sorted.v[i] = *pos[i].d; /* shallow: d keeps the strings */
    diags_print_as(&sorted, label, err);
    free(sorted.v);
    free(pos);
    fclose(err);
}

void cmd_print_diags(const struct diags *d)
{
    print_diags_as(d, NULL);
}

void cmd_print_warnings(const struct diags *d)
{
    print_diags_as(d, "warning");
}

void cmd_vars_free(struct cmd_vars *vars)
{
    for (size_t i = 0; i < vars->n; i++) {
        free(vars->v[i].name);
        free(vars->v[i].value);
    }
    free(vars->v);
}

/* A -v NAME the runbook neither defines nor uses ($(NAME)) changes nothing: most likely a typo,
 * so say so, with the nearest name it does know. */
static void warn_unknown_vars(const struct kiln_runbook *rb, const struct cmd_vars *vars)
{
    for (size_t i = 0; i < vars->n; i++) {
        const char *name = vars->v[i].name, *best = NULL;
        size_t bestd = SIZE_MAX;
        bool known = false;
        for (size_t k = 0; k < rb->nvars && !known; k++) {
            const struct kiln_var *v = &rb->vars[k];
            if (!v->in_file && !v->used) continue;
            if (streq(v->name, name)) known = true;
            size_t dist = levenshtein(v->name, name);
            if (dist < bestd) bestd = dist, best = v->name;
        }
        if (known) continue;
        if (best && bestd <= MAX(2u, strlen(name) / 3))
            fprintf(stderr, "kiln: warning: -v %s: %s defines no variable %s and uses no $(%s); did you mean %s?\n", name,
                    rb->path, name, name, best);
        else
            fprintf(stderr, "kiln: warning: -v %s: %s defines no variable %s and uses no $(%s): the value is not used\n",
                    name, rb->path, name, name);
    }
}

struct kiln_runbook *cmd_load_runbook_into(const char *path, const struct cmd_vars *vars, struct diags *errs,
                                           struct diags *warns)
{
    struct kiln_runbook *rb = NULL;
    int r = runbook_load_warn(path, vars->v, vars->n, &rb, errs, warns);
    if (r < 0 || ext_load(rb, errs) < 0 || errs->n) {
        runbook_free(rb);
        return NULL;
    }
    warn_unknown_vars(rb, vars);
    return rb;
}

struct kiln_runbook *cmd_load_runbook(const char *path, const struct cmd_vars *vars)
{
    struct diags d = {0}, warn = {0};
    struct kiln_runbook *rb = cmd_load_runbook_into(path, vars, &d, &warn);
    /* what kiln leaves out is said before the errors and also when the runbook loads */
    cmd_print_warnings(&warn);
    diags_free(&warn);
    if (!rb) {
        cmd_print_diags(&d);
        fprintf(stderr, "kiln: %zu error(s) in %s; see docs/runbook.md for the keys\n", d.n, path);
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

const struct cmd_verb *cmd_pick_sub(const struct cmd_verb *top, const struct cmd_verb *subs, size_t nsubs,
                                    const char *choices, int argc, char **argv, int *rc)
{
    const char *verb = top->name;
    if (argc < 2) return *rc = cmd_usage_error(verb, "which subcommand? %s", choices), NULL;
    if (streq(argv[1], "-h") || streq(argv[1], "--help")) return cmd_help(top, stdout), *rc = EXIT_OK, NULL;
    size_t skip = strlen(verb) + 1; /* "VERB " */
    for (size_t i = 0; i < nsubs; i++)
        if (streq(subs[i].name + skip, argv[1])) return &subs[i];
    if (argv[1][0] == '-')
        *rc = cmd_usage_error(verb, "unknown option %s; the options are: each subcommand's (kiln %s SUB --help)", argv[1], verb);
    else *rc = cmd_usage_error(verb, "unknown subcommand %s: %s", argv[1], choices);
    return NULL;
}

int cmd_tenant_client(const char *verb, const char *server, const char *token, struct kiln_client **c)
{
    if (!token || !*token)
        return cmd_usage_error(verb, "no token: give --token or set $KILN_TOKEN (the tenant's, from `kiln tenant add`)");
    secret_add(token); /* masked in every log line, should a message ever quote it */
    char *err = NULL;
    if (kiln_client_new(server, token, c, &err) < 0) {
        fprintf(stderr, "kiln %s: %s\n", verb, err);
        free(err);
        return EXIT_USAGE;
    }
    return 0;
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

int cmd_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *m = xvasprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "kiln %s: %s\ntry 'kiln %s --help'\n", verb, m, verb);
    return EXIT_USAGE;
}

int cmd_input(const char *verb, const char *path, const char *fix)
{
    int fd = open_regular(path, false, NULL);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    _cleanup_free_ char *why = fs_open_error(path, fd, fix);
    fprintf(stderr, "kiln %s: %s\n", verb, why);
    return EXIT_USAGE;
}

bool cmd_var_opt(const char *verb, const char *opt, const char *val, void *to)
{
    struct cmd_vars *vars = to;
    struct kiln_var v;
    if (runbook_parse_cli_var(val, &v) < 0) {
        /* a malformed secret is not registered yet: do not echo it */
        fprintf(stderr, "kiln%s%s: %s %s: the form is -v name=value, or -v s:name=value for a secret (a name is letters, "
                        "digits, _ - .)\n",
                verb ? " " : "", verb ? verb : "", opt, startswith(val, "s:") ? "s:..." : val);
        return false;
    }
    *APPEND(vars->v, vars->n, vars->cap) = v;
    return true;
}

json_t *cmd_diags_json(const struct diags *d)
{
    json_t *a = json_array();
    for (size_t i = 0; i < d->n; i++) {
        const struct diag *x = &d->v[i];
        _cleanup_free_ char *msg = secret_mask(x->msg), *file = x->file ? secret_mask(x->file) : NULL,
                            *path = x->path ? secret_mask(x->path) : NULL;
        json_array_append_new(a, json_pack("{s:s?, s:i, s:i, s:s?, s:s}", "file", file, "line", x->line, "col", x->col,
                                           "path", path, "message", msg));
    }
    return a;
}

/* "-k, --key FILE" or "--json": how the help and the error messages show an option. */
static char *opt_text(const struct cmd_opt *o, bool with_short)
{
    struct sbuf b = {0};
    if (with_short && o->shrt) sbuf_printf(&b, "-%c, ", o->shrt);
    if (o->optional) sbuf_printf(&b, "--%s[=%s]", o->name, o->arg);
    else sbuf_printf(&b, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    return sbuf_steal(&b);
}

/* Prints text with each "\n" continued at column col. */
static void print_indented(FILE *f, const char *text, int col)
{
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        if (*p == '\n' && p[1]) fprintf(f, "%*s", col, "");
    }
    fputc('\n', f);
}

void cmd_help(const struct cmd_verb *v, FILE *f)
{
    fprintf(f, "usage: kiln %s ", v->name);
    for (const char *p = v->synopsis; *p; p++) {
        fputc(*p, f);
        if (*p == '\n') fprintf(f, "       kiln %s ", v->name);
    }
    fputc('\n', f);
    if (v->about) print_indented(f, v->about, 0);
    fprintf(f, "\noptions:\n");
    enum { COL = 30 };
    for (const struct cmd_opt *o = v->opts; o && o->name; o++) {
        if (o->elsewhere) continue;
        _cleanup_free_ char *t = opt_text(o, true);
        int w = fprintf(f, "  %s%s", o->shrt ? "" : "    ", t);
        if (w >= COL - 1) fprintf(f, "\n%*s", COL, "");
        else fprintf(f, "%*s", COL - w, "");
        print_indented(f, o->help ? o->help : "", COL);
    }
    fprintf(f, "  -h, --help%*sprint this help and exit\n", COL - 12, "");
    if (v->exits) {
        fprintf(f, "\nexit status: ");
        print_indented(f, v->exits, 2);
    }
    if (v->json) {
        fprintf(f, "\n--json prints on stdout:\n  ");
        print_indented(f, v->json, 2);
    }
}

/* "; the options are: --a X, --b" from the table. */
static char *opt_list(const struct cmd_verb *v)
{
    struct sbuf b = {0};
    for (const struct cmd_opt *o = v->opts; o && o->name; o++) {
        if (o->elsewhere) continue;
        _cleanup_free_ char *t = opt_text(o, false);
        sbuf_printf(&b, "%s%s", b.len ? ", " : "", t);
    }
    return b.s ? sbuf_steal(&b) : xstrdup("none but --help");
}

/* An option no entry matched (the text up to any '='): "unknown option X; did you mean --Y?"
 * for a near miss or an abbreviation, else the list of options. */
static int unknown_option(const struct cmd_verb *v, const char *arg)
{
    _cleanup_free_ char *name = xstrndup(arg, strcspn(arg, "="));
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    if (startswith(name, "--"))
        for (const struct cmd_opt *o = v->opts; o && o->name; o++) {
            if (o->elsewhere) continue;
            size_t dist = startswith(o->name, name + 2) ? 0 : levenshtein(o->name, name + 2);
            if (dist < bestd) bestd = dist, best = o->name;
        }
    if (best && bestd <= MAX(2u, strlen(name) / 3)) return cmd_usage_error(v->name, "unknown option %s; did you mean --%s?", name, best);
    _cleanup_free_ char *all = opt_list(v);
    return cmd_usage_error(v->name, "unknown option %s; the options are: %s", name, all);
}

/* Stores val through o; false after printing why (the try line follows). */
static bool take(const struct cmd_verb *v, const struct cmd_opt *o, const char *opt, const char *val)
{
    if ((o->kind == CMD_STR || o->kind == CMD_LIST) && val && !*val && !o->empty_ok) {
        fprintf(stderr, "kiln %s: %s is empty: give %s\n", v->name, opt, o->arg);
        return false;
    }
    switch (o->kind) {
    case CMD_FLAG: *(bool *)o->to = true; return true;
    case CMD_STR: *(const char **)o->to = val; return true;
    case CMD_LONG: return cmd_opt_long(v->name, opt, val, o->lo, o->hi, o->to);
    case CMD_LIST: {
        struct cmd_strs *l = o->to;
        *APPEND(l->v, l->n, l->cap) = val;
        return true;
    }
    case CMD_FN: return o->fn(v->name, opt, val, o->to);
    }
    return false;
}

/* An option that would have no effect is refused, never silently ignored: one given without
 * the option it .needs, or with the one it is .not_with. CMD_GO, or EXIT_USAGE (said). */
static int check_pairs(const struct cmd_verb *v, size_t n, const char *const *seen)
{
    int rc = CMD_GO;
    for (size_t i = 0; rc == CMD_GO && i < n; i++) {
        const struct cmd_opt *o = &v->opts[i];
        if (!seen[i] || (!o->needs && !o->not_with)) continue;
        for (size_t k = 0; k < n && rc == CMD_GO; k++) {
            const struct cmd_opt *w = &v->opts[k];
            if (o->needs && streq(w->name, o->needs) && !seen[k]) {
                _cleanup_free_ char *t = opt_text(w, false);
                rc = cmd_usage_error(v->name, "--%s goes with %s: without it, it has no effect; give both, or leave --%s out",
                                     o->name, t, o->name);
            } else if (o->not_with && streq(w->name, o->not_with) && seen[k])
                rc = cmd_usage_error(v->name, "--%s has no effect with --%s: leave one of them out", o->name, w->name);
        }
    }
    return rc;
}

int cmd_parse(const struct cmd_verb *v, int argc, char **argv, int *nargs)
{
    size_t n = 0;
    while (v->opts && v->opts[n].name) n++;
    /* getopt's val: the short letter when there is one, else 256 + the entry's index */
    struct option *lo = xcalloc(n + 2, sizeof *lo);
    struct sbuf so = {0};
    sbuf_puts(&so, "-:h"); /* '-': operands come back in order as 1; ':': a missing value is ':' */
    for (size_t i = 0; i < n; i++) {
        const struct cmd_opt *o = &v->opts[i];
        /* a sibling's option takes any spelling, so that it is named as the sibling's, never
         * as a missing value or an unexpected one */
        int has = o->optional || o->elsewhere ? optional_argument : o->arg ? required_argument : no_argument;
        lo[i] = (struct option){o->name, has, NULL, o->shrt ? o->shrt : 256 + (int)i};
        if (o->shrt) sbuf_printf(&so, "%c%s", o->shrt, has == optional_argument ? "::" : has == required_argument ? ":" : "");
    }
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    const char **ops = xcalloc((size_t)argc + 1, sizeof *ops);
    const char **seen = xcalloc(n + 1, sizeof *seen); /* a valued option other than a list: once */
    int nops = 0, rc = CMD_GO;
    opterr = 0;
    optind = 0; /* a full reset (glibc): a subverb parses after its verb */
    while (rc == CMD_GO) {
        int li = -1;
        int c = getopt_long(argc, argv, so.s, lo, &li);
        if (c == -1) break;
        int which = c == '?' || c == ':' ? optopt : c; /* the option an error is about */
        const struct cmd_opt *o = NULL;
        for (size_t i = 0; i < n && !o; i++)
            if (which == (v->opts[i].shrt ? v->opts[i].shrt : 256 + (int)i)) o = &v->opts[i];
        if (c == 1) {
            /* an empty path would be the current directory (after "--", a command's words may be empty) */
            if (!*optarg) rc = cmd_usage_error(v->name, "an empty argument: give %s", v->args ? v->args : "a non-empty one");
            ops[nops++] = optarg;
        } else if (c == 'h') {
            cmd_help(v, stdout);
            rc = EXIT_OK;
        } else if (c == ':') {
            _cleanup_free_ char *help = xstrdup(o && o->help ? o->help : "");
            for (char *p = help; (p = strchr(p, '\n'));) *p = ' '; /* the help's lines, as one */
            rc = cmd_usage_error(v->name, "%s needs a value: %s%s%s", argv[optind - 1], o && o->arg ? o->arg : "",
                                 *help ? ", " : "", help);
        } else if (c == '?') {
            if (o && optopt >= 256) rc = cmd_usage_error(v->name, "--%s takes no value", o->name);
            else if (optopt) {
                _cleanup_free_ char *all = opt_list(v);
                rc = cmd_usage_error(v->name, "unknown option -%c; the options are: %s", optopt, all);
            } else rc = unknown_option(v, argv[optind - 1]);
        } else if (o) {
            /* the element that named it: getopt_long also takes a unique abbreviation, kiln does not */
            const char *el = li < 0 ? NULL : o->arg && optarg == argv[optind - 1] ? argv[optind - 2] : argv[optind - 1];
            _cleanup_free_ char *opt = el ? xstrndup(el, strcspn(el, "=")) : xasprintf("-%c", c);
            size_t idx = (size_t)(o - v->opts);
            bool once = o->arg && o->kind != CMD_LIST && !(o->kind == CMD_FN && o->repeat);
            if (el && !streq(opt + 2, o->name)) rc = unknown_option(v, el);
            else if (o->elsewhere) rc = cmd_usage_error(v->name, "%s belongs to %s", opt, o->elsewhere);
            else if (once && seen[idx] && (o->secret || o->optional)) /* a token's values are not echoed */
                rc = cmd_usage_error(v->name, "%s given twice: give it once", opt);
            else if (once && seen[idx]) rc = cmd_usage_error(v->name, "%s given twice (%s and %s): give it once", opt, seen[idx], optarg);
            else if (!take(v, o, opt, optarg)) rc = EXIT_USAGE, fprintf(stderr, "try 'kiln %s --help'\n", v->name);
            seen[idx] = optarg ? optarg : "";
        }
    }
    while (rc == CMD_GO && optind < argc) ops[nops++] = argv[optind++]; /* after "--" */
    if (rc == CMD_GO) rc = check_pairs(v, n, seen);
    const char *what = v->args ? v->args : "argument";
    if (rc == CMD_GO && nops < v->min_args)
        rc = nops ? cmd_usage_error(v->name, "want %s, got only %s", what, ops[0]) : cmd_usage_error(v->name, "no %s given", what);
    else if (rc == CMD_GO && v->max_args >= 0 && nops > v->max_args)
        rc = cmd_usage_error(v->name, "unexpected argument %s", ops[v->max_args]);
    for (int i = 0; rc == CMD_GO && i < nops; i++) argv[1 + i] = (char *)ops[i];
    *nargs = nops;
    free(ops);
    free(seen);
    free(lo);
    sbuf_free(&so);
    return rc;
}
