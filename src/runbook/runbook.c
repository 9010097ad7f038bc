#include "runbook/runbook.h"
#include "runbook/lisa.h"
#include "platform/platform.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/utf8.h"
#include "util/util.h"

#define MAX_INCLUDE_DEPTH 16
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define CLI_FILE "<command line>"

static bool var_name_ok(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || *s == '.' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

int runbook_parse_cli_var(const char *arg, struct kiln_var *out)
{
    memset(out, 0, sizeof *out);
    const char *s = arg;
    /* "s:" always marks a secret: "-v s:VALUE" is a secret without a name, never a variable "s" */
    if (startswith(s, "s:")) {
        out->secret = true;
        s += 2;
    }
    const char *sep = s + strcspn(s, "=:"); /* the first: a name holds neither */
    if (!*sep || sep == s) return -EINVAL;
    char *name = xstrndup(s, (size_t)(sep - s));
    if (!var_name_ok(name)) {
        free(name);
        return -EINVAL;
    }
    out->name = name;
    out->value = xstrdup(sep + 1);
    out->file = yfiles_intern(CLI_FILE);
    return 0;
}

/* ---- loading with includes ---- */

/* Every file a runbook loads (itself, its includes, variable files) counts against these:
 * including the same file many times, from files that include it many times, multiplies. */
#define MAX_RUNBOOK_FILES 128
#define MAX_RUNBOOK_NODES 200000

struct loader {
    struct diags *d;
    struct diags *warn; /* what kiln does not honour but can run without */
    const struct kiln_var *cli;
    size_t ncli;
    char *stack[MAX_INCLUDE_DEPTH];
    const struct ynode *roots[MAX_INCLUDE_DEPTH]; /* the files being included, outermost first */
    int depth;
    size_t files, nodes;
};

/* Loads one YAML file for the runbook, within the budget above. */
static struct ynode *load_counted(struct loader *L, const char *path, const struct ynode *from, const char *what)
{
    if (L->files == MAX_RUNBOOK_FILES) {
        diag_add(L->d, from, what, "the runbook loads more than %d files (includes and variable files together)",
                 MAX_RUNBOOK_FILES);
        return NULL;
    }
    struct ynode *root = yaml_load_file(path, L->d);
    if (!root) return NULL;
    L->files++;
    L->nodes += ynode_count(root);
    if (L->nodes > MAX_RUNBOOK_NODES) {
        diag_add(L->d, from ? from : root, what, "the runbook and the files it loads hold more than %d YAML nodes",
                 MAX_RUNBOOK_NODES);
        ynode_free(root);
        return NULL;
    }
    return root;
}

/* A variable an include path names (LISA writes "./t$(tier).yml"): -v, else the outermost file
 * being loaded that defines it as {name, value} (an including file wins over its includes, as
 * for every variable). Values are taken as written: variables in them are not expanded here. */
static const char *include_var(const struct loader *L, const char *name)
{
    for (size_t i = L->ncli; i-- > 0;)
        if (streq(L->cli[i].name, name)) return L->cli[i].value;
    for (int k = 0; k < L->depth; k++) {
        const struct ynode *vars = y_get(L->roots[k], "variable");
        for (size_t i = 0; vars && vars->kind == YN_SEQ && i < vars->n; i++) {
            const struct ynode *n = y_get(vars->items[i], "name"), *v = y_get(vars->items[i], "value");
            if (n && v && n->kind == YN_SCALAR && v->kind == YN_SCALAR && streq(n->scalar, name)) return v->scalar;
        }
    }
    return NULL;
}

/* p's text with $(name) replaced (include_var); NULL after a diagnostic at p. */
static char *include_path(const struct loader *L, const struct ynode *p, const char *ipath)
{
    struct sbuf b = {0};
    const char *s = p->scalar, *q;
    while ((q = strstr(s, "$("))) {
        const char *e = strchr(q + 2, ')');
        if (!e) break;
        _cleanup_free_ char *name = xstrndup(q + 2, (size_t)(e - q - 2));
        const char *v = include_var(L, name);
        if (!v || strstr(v, "$(")) {
            diag_add(L->d, p, ipath, "the include path uses $(%.80s)%s; define it with a plain value under \"variable:\" "
                                     "in this file or one that includes it, or pass -v %.80s=VALUE",
                     name, v ? ", whose value uses other variables" : ", which is not defined", name);
            sbuf_free(&b);
            return NULL;
        }
        sbuf_append(&b, s, (size_t)(q - s));
        sbuf_puts(&b, v);
        s = e + 1;
    }
    sbuf_puts(&b, s);
    return b.s ? sbuf_steal(&b) : xstrdup("");
}

static struct ynode *load_with_includes(struct loader *L, const char *path, const struct ynode *from);

/* The runbook file at path (from: the include naming it; NULL for the top one), a mapping,
 * neither an include cycle nor nested too deep; real gets its real path. NULL after a
 * diagnostic. */
static struct ynode *load_root(struct loader *L, const char *path, const struct ynode *from, char real[PATH_MAX])
{
    if (!realpath(path, real)) {
        if (from) diag_add(L->d, from, "include", "cannot open included runbook %s: %s", path, strerror(errno));
        else diag_add_at(L->d, path, 0, 0, NULL, "cannot open runbook: %s", strerror(errno));
        return NULL;
    }
    for (int i = 0; i < L->depth; i++)
        if (streq(L->stack[i], real)) {
            diag_add(L->d, from, "include", "include cycle: %s is already being included", path);
            return NULL;
        }
    if (L->depth == MAX_INCLUDE_DEPTH) {
        diag_add(L->d, from, "include", "includes nested deeper than %d", MAX_INCLUDE_DEPTH);
        return NULL;
    }
    struct ynode *root = load_counted(L, path, from, "include");
    if (root && root->kind != YN_MAP) {
        diag_add(L->d, root, NULL, "a runbook must be a mapping of keys (name, platform, testcase, ...), got %s",
                 ynode_kind_name(root));
        ynode_free(root);
        return NULL;
    }
    return root;
}

/* What root includes: include (or LISA's earlier word, parent) as a sequence, a single path
 * turned into one in the tree. NULL when it includes nothing, or with *ok false after a
 * diagnostic. */
static const struct ynode *include_list(struct loader *L, struct ynode *root, bool *ok)
{
    struct ynode *inc = y_get(root, "include");
    const char *inc_key = "include";
    if (y_get(root, "parent")) {
        if (inc) {
            diag_add(L->d, y_get(root, "parent"), "parent", "both \"include\" and \"parent\" (LISA's earlier word for "
                                                          "it) are set: keep include");
            *ok = false;
            return NULL;
        }
        inc = y_get(root, "parent");
        inc_key = "parent";
    }
    if (inc && inc->kind == YN_SCALAR) {
        struct ynode *seq = ynode_new(YN_SEQ, inc);
        ynode_push(seq, ynode_new(YN_SCALAR, inc));
        seq->items[0]->scalar = xstrdup(inc->scalar);
        inc = seq;
        /* keep the converted form in the tree so it is freed with it */
        for (size_t i = 0; i < root->n; i += 2)
            if (streq(root->items[i]->scalar, inc_key)) {
                ynode_free(root->items[i + 1]);
                root->items[i + 1] = seq;
            }
    }
    if (inc && inc->kind != YN_SEQ) {
        diag_add(L->d, inc, "include", "expected a path or a list of paths, got %s", ynode_kind_name(inc));
        *ok = false;
        return NULL;
    }
    return inc;
}

/* The files inc names (relative to the directory of path, the including file), each with its
 * own includes, merged in order into *merged. false after a diagnostic. */
static bool load_included(struct loader *L, const struct ynode *inc, const char *path, struct ynode **merged)
{
    for (size_t i = 0; i < inc->n; i++) {
        const struct ynode *it = inc->items[i];
        const struct ynode *p = it->kind == YN_MAP ? y_get(it, "path") : it;
        _cleanup_free_ char *ipath = ypath_index("include", i);
        if (it->kind == YN_MAP && y_get(it, "strategy")) {
            /* LISA's include strategies (add, overwrite, remove per node path) */
            diag_add(L->d, y_get(it, "strategy"), ipath,
                     "kiln merges an include one way (the including file wins, lists are joined); "
                     "strategy is not supported");
            return false;
        }
        if (!p || p->kind != YN_SCALAR) {
            diag_add(L->d, it, ipath, "expected a path or {path: ...}, got %s", ynode_kind_name(it));
            return false;
        }
        _cleanup_free_ char *ip = include_path(L, p, ipath);
        if (!ip) return false;
        _cleanup_free_ char *dir = path_dirname(path);
        _cleanup_free_ char *full = path_resolve(dir, ip);
        struct ynode *sub = load_with_includes(L, full, p);
        if (!sub) return false;
        if (*merged) runbook_lisa_before_merge(*merged, sub);
        *merged = ynode_merge(*merged, sub);
    }
    return true;
}

/* The runbook at path with what it includes merged under it (the including file wins). */
static struct ynode *load_with_includes(struct loader *L, const char *path, const struct ynode *from)
{
    char real[PATH_MAX];
    struct ynode *root = load_root(L, path, from, real);
    if (!root) return NULL;
    L->roots[L->depth] = root;
    L->stack[L->depth++] = xstrdup(real);
    struct ynode *merged = NULL;
    bool ok = true;
    const struct ynode *inc = include_list(L, root, &ok);
    if (inc) ok = load_included(L, inc, path, &merged);
    L->depth--;
    free(L->stack[L->depth]);
    if (!ok) {
        ynode_free(merged);
        ynode_free(root);
        return NULL;
    }
    if (merged) runbook_lisa_before_merge(merged, root);
    return ynode_merge(merged, root);
}

/* ---- variables ---- */

/* Bounds on $(name) expansion: a few variables that each reference the previous one several
 * times grow exponentially (nine of them turned a 749-byte runbook into 1 GB). */
#define VAR_MAX_DEPTH 16         /* $(a) whose value uses $(b) whose value uses ... */
#define VAR_MAX_VALUE (1u << 20) /* one expanded value */
#define VAR_MAX_TOTAL (8u << 20) /* everything substituted into one runbook */

static void add_var(struct kiln_runbook *rb, size_t *cap, const char *name, const char *value, bool secret,
                    const char *file, const struct ynode *at)
{
    struct kiln_var *v = APPEND(rb->vars, rb->nvars, *cap);
    *v = (struct kiln_var){.name = xstrdup(name), .value = xstrdup(value), .secret = secret, .file = file,
                           .line = at ? at->line : 0, .col = at ? at->col : 0, .in_file = at != NULL};
}

static int cmp_var_pos(const void *a, const void *b, void *arg)
{
    const struct kiln_var *v = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(v[x].name, v[y].name);
    return c ? c : (x > y) - (x < y);
}

/* Later definitions win (an including file over its includes, -v over the runbook), a secret
 * stays secret; the result is sorted by name for find_var. O(n log n) for n definitions. */
static void settle_vars(struct kiln_runbook *rb)
{
    if (!rb->nvars) return;
    size_t *ix = xcalloc(rb->nvars, sizeof *ix);
    for (size_t i = 0; i < rb->nvars; i++) ix[i] = i;
    qsort_r(ix, rb->nvars, sizeof *ix, cmp_var_pos, rb->vars);
    struct kiln_var *out = xcalloc(rb->nvars, sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < rb->nvars; i++) {
        struct kiln_var *v = &rb->vars[ix[i]];
        if (n && streq(out[n - 1].name, v->name)) {
            bool secret = out[n - 1].secret || v->secret, in_file = out[n - 1].in_file || v->in_file;
            free(out[n - 1].name);
            free(out[n - 1].value);
            out[n - 1] = *v;
            out[n - 1].secret = secret;
            out[n - 1].in_file = in_file;
        } else {
            out[n++] = *v;
        }
    }
    free(ix);
    free(rb->vars);
    rb->vars = out;
    rb->nvars = n;
}

static struct kiln_var *find_var(struct kiln_runbook *rb, const char *name)
{
    size_t lo = 0, hi = rb->nvars;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rb->vars[mid].name, name);
        if (!c) return &rb->vars[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}


static void load_var_file(struct kiln_runbook *rb, size_t *cap, struct loader *L, const struct ynode *from,
                          const char *file, bool secret, struct diags *d)
{
    struct ynode *root = load_counted(L, file, from, "variable");
    if (!root) return;
    if (root->kind != YN_MAP) {
        diag_add(d, root, NULL, "a variable file must map names to values, got %s", ynode_kind_name(root));
    } else {
        for (size_t i = 0; i < root->n; i += 2) {
            const struct ynode *k = root->items[i], *v = root->items[i + 1];
            if (!var_name_ok(k->scalar)) {
                diag_add(d, k, NULL, "invalid variable name \"%.80s\" (letters, digits, _ - . only)", k->scalar);
            } else if (v->kind == YN_MAP) {
                char *val = NULL;
                bool sec = secret;
                const struct ynode *vv = y_get(v, "value"), *ss = y_get(v, "is_secret");
                if (vv && y_str(d, vv, k->scalar, &val) && (!ss || y_bool(d, ss, k->scalar, &sec)))
                    add_var(rb, cap, k->scalar, val, sec, root->file, k);
                free(val);
            } else if (v->kind == YN_SCALAR) {
                add_var(rb, cap, k->scalar, v->scalar, secret, root->file, k);
            } else {
                diag_add(d, v, k->scalar, "expected a value, got %s", ynode_kind_name(v));
            }
        }
    }
    ynode_free(root);
}

/* A secret of 1 to SECRET_MIN_LEN-1 bytes is an error where the variable is defined (the
 * value is never quoted); an empty one has nothing to hide. */
static bool secret_long_enough(struct diags *d, const struct kiln_var *v, const char *value)
{
    size_t len = strlen(value);
    if (!len || len >= SECRET_MIN_LEN) return true;
    diag_add_at(d, v->file, v->line, v->col, "variable",
                "the secret variable \"%s\" is %zu byte%s long: a secret needs at least %d bytes (every occurrence of "
                "a shorter one would be masked in every log and report)",
                v->name, len, len == 1 ? "" : "s", SECRET_MIN_LEN);
    return false;
}

static void parse_variables(struct kiln_runbook *rb, struct loader *L, const struct ynode *seq,
                            const struct kiln_var *cli, size_t ncli, struct diags *d)
{
    size_t cap = 0;
    static const char *const keys[] = {"name", "value", "is_secret", "file", "is_case_visible", "mask", NULL};
    if (seq && y_expect(d, seq, "variable", YN_SEQ)) {
        for (size_t i = 0; i < seq->n; i++) {
            const struct ynode *it = seq->items[i];
            _cleanup_free_ char *p = ypath_index("variable", i);
            if (!y_expect(d, it, p, YN_MAP) || !y_check_keys(d, it, p, keys)) continue;
            bool visible = false;
            const struct ynode *cv = y_get(it, "is_case_visible");
            _cleanup_free_ char *cvp = ypath(p, "is_case_visible");
            if (cv && y_bool(d, cv, cvp, &visible) && visible)
                diag_add(L->warn, cv, cvp, "not honoured: kiln's cases do not read runbook variables");
            if (y_get(it, "mask"))
                diag_add(L->warn, y_get(it, "mask"), p, "not honoured: kiln replaces a secret by ****** whole (mask)");
            bool secret = false;
            const struct ynode *s = y_get(it, "is_secret");
            if (s) {
                _cleanup_free_ char *sp = ypath(p, "is_secret");
                if (!y_bool(d, s, sp, &secret)) continue;
            }
            const struct ynode *file = y_get(it, "file"), *name = y_get(it, "name");
            if (file) {
                _cleanup_free_ char *fp = ypath(p, "file");
                char *f = NULL;
                if (y_str(d, file, fp, &f)) {
                    _cleanup_free_ char *dir = path_dirname(file->file);
                    _cleanup_free_ char *full = path_resolve(dir, f);
                    load_var_file(rb, &cap, L, file, full, secret, d);
                }
                free(f);
                continue;
            }
            _cleanup_free_ char *np = ypath(p, "name");
            char *n = NULL, *v = NULL;
            if (!name) {
                diag_add(d, it, p, "a variable needs \"name\" and \"value\" (or \"file\")");
            } else if (y_str(d, name, np, &n)) {
                if (!var_name_ok(n)) {
                    diag_add(d, name, np, "invalid variable name \"%.80s\" (letters, digits, _ - . only)", n);
                } else {
                    const struct ynode *val = y_get(it, "value");
                    _cleanup_free_ char *vp = ypath(p, "value");
                    if (!val) diag_add(d, it, p, "variable \"%s\" has no value", n);
                    else if (y_str(d, val, vp, &v)) add_var(rb, &cap, n, v, secret, val->file, name);
                }
            }
            free(n);
            free(v);
        }
    }
    for (size_t i = 0; i < ncli; i++) add_var(rb, &cap, cli[i].name, cli[i].value, cli[i].secret, cli[i].file, NULL);
    settle_vars(rb);
    for (size_t i = 0; i < rb->nvars; i++)
        if (rb->vars[i].secret && secret_long_enough(d, &rb->vars[i], rb->vars[i].value)) secret_add(rb->vars[i].value);
}

/* Each variable is expanded once and remembered, so the cost is the size of the output, which
 * the limits above bound. */
struct expander {
    struct kiln_runbook *rb;
    struct diags *d;
    char **value;          /* per variable: its expansion, once done */
    enum { VAR_NEW, VAR_BUSY, VAR_DONE, VAR_FAILED } *state; /* BUSY seen again: a cycle */
    size_t chain[VAR_MAX_DEPTH + 1];
    size_t total;
    bool full;             /* VAR_MAX_TOTAL reached: stop, one error is enough */
};

static void where_defined(const struct kiln_var *v, char *buf, size_t sz)
{
    if (v->line) snprintf(buf, sz, " (defined at %s:%d:%d)", v->file, v->line, v->col);
    else snprintf(buf, sz, " (given with -v)");
}

/* "$(a) → $(b) → $(c)": the variables being expanded from chain[from] on, then last. */
static char *chain_text(struct expander *X, int from, int depth, const char *last)
{
    struct sbuf b = {0};
    for (int i = from; i < depth; i++) sbuf_printf(&b, "$(%s) %s ", X->rb->vars[X->chain[i]].name, text_arrow());
    sbuf_printf(&b, "$(%s)", last);
    return sbuf_steal(&b);
}

static char *expand(struct expander *X, const char *s, const struct ynode *at, const char *path, int depth,
                    const char **single_file);

static const char *var_value(struct expander *X, size_t i, const struct ynode *at, const char *path, int depth)
{
    struct kiln_var *v = &X->rb->vars[i];
    if (X->state[i] == VAR_DONE) return X->value[i];
    if (X->state[i] == VAR_FAILED) return NULL; /* reported where it was first used */
    if (X->state[i] == VAR_BUSY) {
        int from = 0;
        while (X->chain[from] != i) from++;
        _cleanup_free_ char *c = chain_text(X, from, depth, v->name);
        diag_add(X->d, at, path, "variable $(%s) refers to itself: %s", v->name, c);
        return NULL;
    }
    if (depth == VAR_MAX_DEPTH) {
        _cleanup_free_ char *c = chain_text(X, 0, depth, v->name);
        diag_add(X->d, at, path, "variables nest more than %d deep: %s", VAR_MAX_DEPTH, c);
        return NULL;
    }
    X->state[i] = VAR_BUSY;
    X->chain[depth] = i;
    X->value[i] = expand(X, v->value, at, path, depth + 1, NULL);
    X->state[i] = X->value[i] ? VAR_DONE : VAR_FAILED;
    if (X->value[i] && v->secret && !streq(X->value[i], v->value)) {
        if (secret_long_enough(X->d, v, X->value[i])) secret_add(X->value[i]);
        else {
            free(X->value[i]);
            X->value[i] = NULL;
            X->state[i] = VAR_FAILED;
        }
    }
    return X->value[i];
}

/* Replaces $(name) in s (depth: how many variables are being expanded around it). Returns NULL
 * and a diagnostic at `at` naming the variable when one is unknown, cyclic, too deep or too large. */
static char *expand(struct expander *X, const char *s, const struct ynode *at, const char *path, int depth,
                    const char **single_file)
{
    struct sbuf b = {0};
    const char *p = s;
    int refs = 0;
    const char *only = NULL;
    while (*p) {
        const char *q = strstr(p, "$(");
        if (!q) break;
        const char *e = strchr(q + 2, ')');
        if (!e) break;
        sbuf_append(&b, p, (size_t)(q - p));
        _cleanup_free_ char *name = xstrndup(q + 2, (size_t)(e - q - 2));
        struct kiln_var *v = find_var(X->rb, name);
        if (!v) {
            diag_add(X->d, at, path, "unknown variable $(%.80s); define it under \"variable:\" or pass -v %.80s=VALUE",
                     name, name);
            sbuf_free(&b);
            return NULL;
        }
        v->used = true;
        const char *val = var_value(X, (size_t)(v - X->rb->vars), at, path, depth);
        if (!val) {
            sbuf_free(&b);
            return NULL;
        }
        if (b.len + strlen(val) + strlen(e + 1) > VAR_MAX_VALUE) {
            if (depth) {
                const struct kiln_var *outer = &X->rb->vars[X->chain[depth - 1]];
                char def[512];
                where_defined(outer, def, sizeof def);
                _cleanup_free_ char *c = chain_text(X, 0, depth - 1, outer->name);
                diag_add(X->d, at, path, "variable $(%s) expands to more than %u MiB%s%s%s", outer->name,
                         VAR_MAX_VALUE >> 20, def, depth > 1 ? ", reached through " : "", depth > 1 ? c : "");
            } else {
                diag_add(X->d, at, path, "this value expands to more than %u MiB with $(%s)", VAR_MAX_VALUE >> 20, name);
            }
            sbuf_free(&b);
            return NULL;
        }
        sbuf_puts(&b, val);
        refs++;
        only = (q == s && e[1] == 0) ? v->file : NULL;
        p = e + 1;
    }
    sbuf_puts(&b, p);
    if (single_file) *single_file = refs == 1 ? only : NULL;
    return b.s ? sbuf_steal(&b) : xstrdup("");
}

static bool substitute_tree(struct expander *X, struct ynode *n, const char *path)
{
    bool ok = true;
    if (X->full) return false;
    if (n->kind == YN_SCALAR) {
        if (!strstr(n->scalar, "$(")) return true;
        const char *file = NULL;
        char *v = expand(X, n->scalar, n, path, 0, &file);
        if (!v) return false;
        size_t len = strlen(v);
        if (len > VAR_MAX_TOTAL - X->total) {
            diag_add(X->d, n, path, "variables make the runbook larger than %u MiB once expanded (this value: %zu bytes); "
                                    "use fewer or shorter references", VAR_MAX_TOTAL >> 20, len);
            free(v);
            X->full = true;
            return false;
        }
        X->total += len;
        free(n->scalar);
        n->scalar = v;
        /* A value that is exactly one variable resolves relative paths like that variable did. */
        if (file) n->base = file;
        return true;
    }
    for (size_t i = 0; i < n->n; i++) {
        if (n->kind == YN_MAP) {
            if (i % 2 == 0) continue;
            const char *k = n->items[i - 1]->scalar;
            if (!path[0] && streq(k, "variable")) continue;
            _cleanup_free_ char *p = ypath(path, k);
            ok = substitute_tree(X, n->items[i], p) && ok;
        } else {
            _cleanup_free_ char *p = ypath_index(path, i);
            ok = substitute_tree(X, n->items[i], p) && ok;
        }
    }
    return ok;
}

/* A diagnostic may quote a value only in part (the YAML layer keeps its first bytes, "%.60s").
 * When the part ends inside a secret, the whole-secret mask applied at printing misses those
 * first bytes: replace such a quoted prefix of a secret-bearing value by its masked form. Only
 * a prefix that stands whole between quotes is one: the first bytes of a value found inside
 * other words are not a quotation (with "ab" secret, "variable" keeps its "a"). */
static void mask_cut_values(const struct ynode *n, struct diags *d, size_t from)
{
    if (n->kind != YN_SCALAR) {
        for (size_t i = 0; i < n->n; i++) mask_cut_values(n->items[i], d, from);
        return;
    }
    if (!secret_contains(n->scalar)) return;
    const char *v = n->scalar;
    size_t vlen = strlen(v);
    for (size_t i = from; i < d->n; i++) {
        char *msg = d->v[i].msg;
        for (char *p = msg; (p = strchr(p, v[0]));) {
            size_t k = 0;
            while (k < vlen && p[k] == v[k]) k++;
            bool quoted = p > msg && p[-1] == '"' && p[k] == '"';
            size_t safe = k < vlen && quoted ? secret_cut(v, vlen, k) : k;
            if (safe == k) {
                p += k ? k : 1;
                continue;
            }
            _cleanup_free_ char *head = secret_mask_n(v, safe);
            char *fixed = xasprintf("%.*s%s" SECRET_MASK "%s", (int)(p - msg), msg, head, p + k);
            size_t at = (size_t)(p - msg) + strlen(head) + strlen(SECRET_MASK);
            free(msg);
            d->v[i].msg = msg = fixed;
            p = msg + at;
        }
    }
}

static bool substitute_all(struct kiln_runbook *rb, struct ynode *root, struct diags *d)
{
    struct expander X = {.rb = rb, .d = d, .value = xcalloc(rb->nvars + 1, sizeof *X.value),
                         .state = xcalloc(rb->nvars + 1, sizeof *X.state)};
    bool ok = substitute_tree(&X, root, "");
    strv_free(X.value, rb->nvars);
    free(X.state);
    return ok;
}

/* ---- typed sections ---- */

bool runbook_get_path(struct diags *d, const struct ynode *n, const char *path, char **out)
{
    char *s = NULL;
    if (!y_str(d, n, path, &s)) return false;
    const char *base = n->base ? n->base : n->file;
    _cleanup_free_ char *dir = path_dirname(base);
    free(*out);
    *out = streq(base, CLI_FILE) ? path_resolve(NULL, s) : path_resolve(dir, s);
    if (!startswith(*out, "/")) {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd)) {
            char *abs = path_join(cwd, *out);
            free(*out);
            *out = abs;
        }
    }
    free(s);
    return true;
}

static void field_features(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                           void *target)
{
    (void)f;
    struct kiln_req *r = target;
    char **names = NULL;
    size_t nn = 0;
    if (y_str_list(p->d, n, path, &names, &nn))
        for (size_t i = 0; i < nn; i++) {
            unsigned bit = kiln_feature_parse(names[i]);
            if (!bit) {
                char all[256];
                kiln_features_format(~0u, all, sizeof all);
                diag_add(p->d, n->kind == YN_SEQ ? n->items[i] : n, path, "unknown feature \"%s\" (known: %s)", names[i], all);
            }
            r->features |= bit;
        }
    for (size_t i = 0; i < nn; i++) free(names[i]);
    free(names);
}

#define REQ_INT(k, max_) {#k, YF_INT, offsetof(struct kiln_req, k), .min = 0, .max = max_}

static const struct yschema req_schema = {
    .fields = (const struct yfield[]){
        REQ_INT(nodes, 16), REQ_INT(cpus, 256), REQ_INT(memory_mb, 1 << 20), REQ_INT(nics, 8), REQ_INT(data_disks, 16),
        {"features", YF_CUSTOM, 0, .parse = field_features},
        {0}},
};

void runbook_parse_req(const struct ynode *n, const char *path, struct kiln_req *r, struct diags *d)
{
    yschema_apply(&(struct yparse){d, NULL}, n, path, &req_schema, r);
}

/* keep_environment: no | always | failed; YAML turns a bare no into a boolean-looking scalar,
 * so both spellings are taken. */
static void parse_keep(const struct ynode *x, int *keep, struct diags *d)
{
    static const char *const names[] = {"no", "always", "failed", NULL};
    if (x->kind == YN_SCALAR && (streq(x->scalar, "false") || streq(x->scalar, "no"))) *keep = KEEP_NO;
    else if (x->kind == YN_SCALAR && (streq(x->scalar, "true") || streq(x->scalar, "yes"))) *keep = KEEP_ALWAYS;
    else y_enum(d, x, "platform.keep_environment", names, keep);
}

/* platform: what every platform takes (type, the admin account, keep_environment, a
 * requirement), then platform.<type> handed to that driver's parse_conf. */
static void parse_platform(const struct ynode *n, struct kiln_runbook *rb, struct diags *d)
{
    static const char *const common[] = {"type", "admin_username", "admin_private_key_file", "keep_environment",
                                         "requirement"};
    const char *const *types = platform_names();
    struct kiln_platform_conf *pc = &rb->platform;
    if (!n) {
        /* the drivers from the table, each with what its section needs: no name spelt here */
        struct sbuf b = {0};
        for (size_t i = 0; types[i]; i++) {
            const struct kiln_platform *o = platform_find(types[i]);
            sbuf_printf(&b, "%s%s%s%s%s", i ? " | " : "", types[i], o->conf_needs ? " (" : "",
                        o->conf_needs ? o->conf_needs : "", o->conf_needs ? ")" : "");
        }
        diag_add_at(d, rb->path, 0, 0, "platform", "missing \"platform:\" (type: %s)", b.s);
        sbuf_free(&b);
        return;
    }
    if (!y_expect(d, n, "platform", YN_MAP)) return;
    /* platform.<type> of every driver is a key, though only the chosen type's is read */
    size_t ntypes = 0;
    while (types[ntypes]) ntypes++;
    _cleanup_free_ const char **keys = xcalloc(ARRAY_SIZE(common) + ntypes + 2, sizeof *keys);
    memcpy(keys, common, sizeof common);
    memcpy(keys + ARRAY_SIZE(common), types, ntypes * sizeof *types);
    const struct ynode *x = FIELD(n, "type");
    int type = 0;
    /* a misspelt type is the one error: its section (type: qem, qem:) is not unknown too, and
     * no driver's section is asked for or read */
    bool typed = !x || y_enum(d, x, "platform.type", types, &type);
    if (!typed && x->kind == YN_SCALAR) keys[ARRAY_SIZE(common) + ntypes] = x->scalar;
    y_check_keys(d, n, "platform", keys);
    pc->type = xstrdup(types[type]);
    if ((x = FIELD(n, "admin_username"))) y_str(d, x, "platform.admin_username", &pc->admin_username);
    if ((x = FIELD(n, "admin_private_key_file")))
        runbook_get_path(d, x, "platform.admin_private_key_file", &pc->admin_private_key_file);
    if ((x = FIELD(n, "keep_environment"))) parse_keep(x, &pc->keep_environment, d);
    if ((x = FIELD(n, "requirement"))) runbook_parse_req(x, "platform.requirement", &pc->requirement, d);
    if (!typed) return;
    const struct kiln_platform *ops = platform_find(pc->type);
    const struct ynode *section = FIELD(n, pc->type);
    if (!section && ops->conf_needs)
        diag_add(d, n, "platform", "type %s needs a \"%s:\" section with %s", pc->type, pc->type, ops->conf_needs);
    else ops->parse_conf(section, d, &pc->conf);
}

/* glibc's regcomp copies an atom once per count of the {m,n} after it, and kiln compiles each
 * criteria expression once per case: ((a{200}){200}){200} (20 bytes) took over 60 s and
 * 1.7 GB. Before regcomp sees an expression, its size once counts are expanded (characters,
 * with a counted atom weighing its count times its own size) must stay under REGEX_MAX_COST,
 * and groups nest at most 32 deep. */
#define REGEX_MAX_COST 4096
/* All of a runbook's expressions together: each is compiled when the runbook is checked and once
 * per rule when cases are selected, and a counted one can take a second (.{0,1000} three times:
 * 0.34 s), so a runbook (a service's tenant's, say) of thousands of them must not pass. */
#define REGEX_RUNBOOK_COST (4 * REGEX_MAX_COST)

/* Why re is too costly to compile, or NULL with *total raised by its expanded size. */
static const char *regex_problem(const char *re, unsigned long *total)
{
    unsigned long cost[33] = {0}; /* per open group: the expanded size of its content so far */
    int depth = 0;
    unsigned long last = 0;       /* the expanded size of the atom just read */
    for (const char *p = re; *p; p++) {
        unsigned long atom = 1;
        switch (*p) {
        case '\\':
            if (p[1]) p++;
            break;
        case '[': /* a bracket expression is one atom: ']' first is a member, [:class:] holds a ']' */
            p += p[1] == '^' ? 2 : 1;
            if (*p == ']') p++;
            while (*p && *p != ']')
                p += (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=') && strchr(p + 2, ']')) ? strchr(p + 2, ']') - p + 1 : 1;
            if (!*p) return NULL; /* unterminated: regcomp says so */
            break;
        case '(':
            if (depth == 32) return "groups nest deeper than 32";
            cost[++depth] = 0;
            last = 0;
            continue;
        case ')':
            if (!depth) break;
            atom = cost[depth--] + 1;
            break;
        case '{': {
            char *end;
            unsigned long m = strtoul(p + 1, &end, 10), n = m;
            if (end == p + 1) break; /* not a count: regcomp judges it */
            if (*end == ',') n = isdigit((unsigned char)end[1]) ? strtoul(end + 1, &end, 10) : (end++, m + 1);
            if (*end != '}') break;
            unsigned long k = MAX(m, n);
            if (k > REGEX_MAX_COST) return "a count {m,n} above 4096";
            if (k) cost[depth] += (k - 1) * last; /* the atom is there once already */
            last *= k; /* glibc takes a{3}{3} as nine */
            p = end;
            if (cost[depth] > REGEX_MAX_COST) return "its counted repetitions {m,n} expand it past 4096 characters";
            continue;
        }
        default: break;
        }
        cost[depth] += atom;
        last = atom;
        if (cost[depth] > REGEX_MAX_COST) return "it expands past 4096 characters";
    }
    unsigned long all = 0;
    for (int i = 0; i <= depth; i++) all += cost[i];
    if (*total + all > REGEX_RUNBOOK_COST)
        return "with the runbook's other expressions it expands past 16384 characters; use fewer or simpler ones";
    *total += all;
    return NULL;
}

static void check_regex(const struct ynode *at, const char *path, const char *re, struct diags *d, unsigned long *total)
{
    const char *why = regex_problem(re, total);
    if (why) {
        diag_add(d, at, path, "regular expression \"%.80s\" is too costly to compile: %s", re, why);
        return;
    }
    regex_t rx;
    int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char err[128];
        regerror(rc, &rx, err, sizeof err);
        diag_add(d, at, path, "invalid regular expression \"%s\": %s", re, err);
    } else {
        regfree(&rx);
    }
}

/* ---- the runbook's sections as tables (util/yaml.h); platform: is read by parse_platform ---- */

/* What the callbacks share. */
struct rb_ctx {
    struct kiln_runbook *rb;
    struct diags *warn;
    unsigned long regex_cost; /* the expanded size of the expressions read so far (check_regex) */
};

#define RB(p) (((struct rb_ctx *)(p)->user)->rb)

/* A path relative to the file that names it (or to the variable's file). */
static void field_path(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                       void *target)
{
    runbook_get_path(p->d, n, path, yf_value(f, target));
}

/* The same, for a file kiln reads before the run: it must be readable now. */
static void field_readable(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                           void *target)
{
    char **out = yf_value(f, target);
    if (runbook_get_path(p->d, n, path, out) && access(*out, R_OK) != 0) diag_add(p->d, n, path, "%s: %s", *out, strerror(errno));
}

/* A string or each string of a list compiles as an extended regular expression. */
static void field_regex(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                        void *target)
{
    if (f->kind == YF_STR) {
        check_regex(n, path, *(char **)yf_value(f, target), p->d, &((struct rb_ctx *)p->user)->regex_cost);
        return;
    }
    char **v = *(char ***)yf_value(f, target);
    size_t count = *(size_t *)((char *)target + f->count_offset);
    for (size_t i = 0; i < count; i++) check_regex(n, path, v[i], p->d, &((struct rb_ctx *)p->user)->regex_cost);
}

/* ignore_failure: true or false, -1 when not given */
static void field_tristate(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                           void *target)
{
    bool b;
    if (y_bool(p->d, n, path, &b)) *(int *)yf_value(f, target) = b;
}

static const struct yschema criteria_schema = {
    .fields = (const struct yfield[]){
        {"name", YF_STR, offsetof(struct kiln_criteria, name), .parse = field_regex},
        {"area", YF_STR, offsetof(struct kiln_criteria, area), .parse = field_regex},
        {"category", YF_STR, offsetof(struct kiln_criteria, category), .parse = field_regex},
        {"priority", YF_LONG_LIST, offsetof(struct kiln_criteria, priorities), offsetof(struct kiln_criteria, npriorities),
         .min = 0, .max = 5},
        {"tags", YF_STR_LIST, offsetof(struct kiln_criteria, tags), offsetof(struct kiln_criteria, ntags)},
        {0}},
};

static void rule_init(void *target)
{
    struct kiln_tc_rule *r = target;
    r->times = r->retry = r->timeout_s = -1;
    r->ignore_failure = -1;
}

static void rule_post(const struct yparse *p, const struct ynode *it, const char *path, void *target)
{
    (void)path;
    struct kiln_tc_rule *r = target;
    r->at_file = xstrdup(it->file ? it->file : RB(p)->path);
    r->at_line = it->line;
    r->at_col = it->col;
}

static const struct yschema rule_schema = {
    .fields = (const struct yfield[]){
        {"criteria", YF_MAP, offsetof(struct kiln_tc_rule, criteria), .sub = &criteria_schema},
        /* kiln's spelling, then LISA's (lisa/util/constants.py) */
        {"select_action", YF_ENUM, offsetof(struct kiln_tc_rule, action),
         .names = (const char *const[]){"include", "exclude", "force-include", "force-exclude", "none", "forceInclude",
                                        "forceExclude", NULL},
         .values = (const int[]){SEL_INCLUDE, SEL_EXCLUDE, SEL_FORCE_INCLUDE, SEL_FORCE_EXCLUDE, SEL_NONE,
                                 SEL_FORCE_INCLUDE, SEL_FORCE_EXCLUDE}},
        {"times", YF_LONG, offsetof(struct kiln_tc_rule, times), .min = 1, .max = 1000},
        {"retry", YF_LONG, offsetof(struct kiln_tc_rule, retry), .min = 0, .max = 100},
        {"timeout_s", YF_LONG, offsetof(struct kiln_tc_rule, timeout_s), .min = 1, .max = 7 * 86400},
        {"ignore_failure", YF_CUSTOM, offsetof(struct kiln_tc_rule, ignore_failure), .parse = field_tristate},
        {0}},
    .init = rule_init,
    .post = rule_post,
};

static const struct yschema notifier_schema = {
    .fields = (const struct yfield[]){
        {"type", YF_ENUM_STR, offsetof(struct kiln_notifier_conf, type),
         .names = (const char *const[]){"console", "json", "junit", "html", NULL},
         .missing = "needs \"type\" (console, json, junit or html)"},
        {0}},
};

static const struct yschema console_schema = {
    .fields = (const struct yfield[]){
        {"patterns", YF_CUSTOM, offsetof(struct kiln_runbook, console_patterns), .parse = field_path},
        {"ignore", YF_STR_LIST, offsetof(struct kiln_runbook, console_ignore), offsetof(struct kiln_runbook, nconsole_ignore),
         .parse = field_regex},
        {0}},
};

/* How a listed name is used: in a remote command only, or also as a path (a case directory
 * under the run, a file on the guest), where it must stay one component or a relative path. */
enum name_use { NAME_WORD, NAME_FILE, NAME_RELPATH };

static const char *name_problem(const char *s, enum name_use use)
{
    if (!*s) return "is empty";
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return "contains control characters";
    if (strpbrk(s, " '\"$`;|&<>()*?[]\\")) return "is not a plain name (no spaces or shell characters)";
    if (use == NAME_WORD) return NULL;
    if (use == NAME_FILE && strchr(s, '/')) return "must be a name, not a path (no '/')";
    if (s[0] == '/') return "must be a relative path";
    for (const char *seg = s; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL) {
        size_t len = strcspn(seg, "/");
        if (!len || (seg[0] == '.' && (len == 1 || (len == 2 && seg[1] == '.'))))
            return "must not have empty, '.' or '..' path segments";
    }
    return NULL;
}

/* Each name of a list passes name_problem; arg: the enum name_use, as a pointer. With this row
 * flag, each is also COLLECTION:TEST (kselftest.skip). */
#define NAME_COLLECTION_TEST YF_CALLER_FLAG(0)

static void field_names(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                        void *target)
{
    const enum name_use *use = f->arg;
    char **v = *(char ***)yf_value(f, target);
    size_t n = *(size_t *)((char *)target + f->count_offset);
    for (size_t i = 0; i < n; i++) {
        const char *why = name_problem(v[i], *use);
        if (why) {
            diag_add(p->d, x->kind == YN_SEQ ? x->items[i] : x, path, "\"%.80s\" %s", v[i], why);
            return;
        }
    }
    for (size_t i = 0; f->flags & NAME_COLLECTION_TEST && i < n; i++) {
        const char *colon = strchr(v[i], ':');
        if (!colon || colon == v[i] || !colon[1])
            diag_add(p->d, x->kind == YN_SEQ ? x->items[i] : x, path, "\"%s\" should be COLLECTION:TEST, e.g. timers:raw_skew",
                     v[i]);
    }
}

#define NAMES(k, type, field, use_, ...)                                                                          \
    {k, YF_STR_LIST, offsetof(type, field), offsetof(type, n##field), .parse = field_names,                      \
     .arg = &(const enum name_use){use_}, __VA_ARGS__}

static void kselftest_init(void *target) { ((struct kiln_kselftest_conf *)target)->priority = 2; }

static const struct yschema kselftest_schema = {
    .fields = (const struct yfield[]){
        {"source", YF_CUSTOM, offsetof(struct kiln_kselftest_conf, source), .parse = field_readable,
         .missing = "needs \"source\": a kernel source tree, Debian's linux-source tarball "
                    "(/usr/src/linux-source-*.tar.xz) or a kselftest tarball from `make gen_tar`"},
        NAMES("collections", struct kiln_kselftest_conf, collections, NAME_RELPATH,
              .missing = "needs \"collections\", e.g. [timers, size]"),
        NAMES("skip", struct kiln_kselftest_conf, skip, NAME_WORD, .flags = NAME_COLLECTION_TEST),
        {"timeout_s", YF_LONG, offsetof(struct kiln_kselftest_conf, timeout_s), .min = 0, .max = 86400},
        {"priority", YF_LONG, offsetof(struct kiln_kselftest_conf, priority), .min = 0, .max = 5},
        {0}},
    .init = kselftest_init,
};

static void field_ltp_root(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                           void *target)
{
    (void)f;
    const char *root = ((struct kiln_ltp_conf *)target)->root;
    if (root[0] != '/' || strpbrk(root, " '\"$`;|&"))
        diag_add(p->d, x, path, "\"%s\" should be an absolute path on the guest without shell characters", root);
    /* kiln replaces what is there (rm -rf before it unpacks an installed tree): "/opt/../home"
     * would be /home, and "/" everything */
    else if (!root[1] || strstr(root, "/./") || strstr(root, "/../") || endswith(root, "/.") || endswith(root, "/.."))
        diag_add(p->d, x, path, "\"%s\" should name LTP's own directory (such as /opt/ltp): not /, no . or .. in it", root);
}

static void ltp_init(void *target)
{
    struct kiln_ltp_conf *l = target;
    l->priority = 2;
    l->timeout_s = 300;
}

static void ltp_post(const struct yparse *p, const struct ynode *n, const char *path, void *target)
{
    (void)p, (void)n, (void)path;
    struct kiln_ltp_conf *l = target;
    if (!l->root) l->root = xstrdup("/opt/ltp");
}

static const struct yschema ltp_schema = {
    .fields = (const struct yfield[]){
        {"root", YF_STR, offsetof(struct kiln_ltp_conf, root), .parse = field_ltp_root},
        {"source", YF_CUSTOM, offsetof(struct kiln_ltp_conf, source), .parse = field_readable},
        {"runner", YF_ENUM, offsetof(struct kiln_ltp_conf, runner), .names = (const char *const[]){"kiln", "runltp", "kirk", NULL}},
        NAMES("groups", struct kiln_ltp_conf, groups, NAME_FILE,
              .missing = "needs \"groups\": runtest files to run, e.g. [syscalls, math]"),
        NAMES("skip", struct kiln_ltp_conf, skip, NAME_WORD),
        {"timeout_s", YF_LONG, offsetof(struct kiln_ltp_conf, timeout_s), .min = 1, .max = 86400},
        {"priority", YF_LONG, offsetof(struct kiln_ltp_conf, priority), .min = 0, .max = 5},
        {0}},
    .init = ltp_init,
    .post = ltp_post,
};

/* The run's name becomes a directory under --runs-dir (NAME-TIME): one plain path component. */
#define RUN_NAME_MAX 64

static bool run_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n && n <= RUN_NAME_MAX && isalnum((unsigned char)s[0]) && strspn(s, NAME_CHARS) == n;
}

/* Without "name:", the file's name up to its first dot, with anything else made '-'. */
static char *default_run_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *n = xstrndup(base, MIN(strcspn(base, "."), (size_t)RUN_NAME_MAX));
    for (char *c = n; *c; c++)
        if (!strchr(NAME_CHARS, *c)) *c = '-';
    if (!run_name_ok(n)) {
        free(n);
        n = xstrdup("run");
    }
    return n;
}

/* ---- the top of a runbook ---- */

static void field_run_name(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                           void *target)
{
    (void)f;
    struct kiln_runbook *rb = target;
    /* the name is printed and names a directory: no mask can reach it there */
    char *dashed = xstrdup(rb->name);
    for (char *c = dashed; *c; c++)
        if (*c == ' ') *c = '-';
    if (secret_contains(rb->name)) {
        diag_add(p->d, x, path, "the run's name holds a secret variable; name the run without it");
    } else if (!run_name_ok(rb->name) && run_name_ok(dashed)) {
        /* LISA's names have spaces ("qemu default") */
        diag_add(((struct rb_ctx *)p->user)->warn, x, path, "the run directory is named %s-TIME (spaces become '-')", dashed);
        free(rb->name);
        rb->name = dashed;
        dashed = NULL;
    } else if (!run_name_ok(rb->name))
        diag_add(p->d, x, path, "\"%.80s\" cannot name the run directory: use letters, digits, '.', '_' and '-', "
                                "starting with a letter or digit, at most %d characters", rb->name, RUN_NAME_MAX);
    free(dashed);
}

/* extension: directories (or files) of scripts, relative to the file naming each */
static void field_extension(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                            void *target)
{
    (void)f;
    struct kiln_runbook *rb = target;
    char **ext = NULL;
    size_t next = 0;
    if (y_str_list(p->d, x, path, &ext, &next)) {
        rb->extensions_at = xcalloc(next ? next : 1, sizeof *rb->extensions_at);
        for (size_t i = 0; i < next; i++) {
            size_t cap = rb->nextensions;
            const struct ynode *at = x->kind == YN_SEQ ? x->items[i] : x;
            const char *base = at->base ? at->base : at->file;
            _cleanup_free_ char *dir = streq(base, CLI_FILE) ? NULL : path_dirname(base);
            rb->extensions_at[i] = (struct kiln_where){xstrdup(at->file ? at->file : rb->path), at->line, at->col};
            *APPEND(rb->extensions, rb->nextensions, cap) = path_resolve(dir, ext[i]);
        }
    }
    for (size_t i = 0; i < next; i++) free(ext[i]);
    free(ext);
}

static void runbook_post(const struct yparse *p, const struct ynode *root, const char *path, void *target)
{
    (void)p, (void)path;
    ((struct kiln_runbook *)target)->has_testcase = y_get(root, "testcase") != NULL;
}

#define RB_KEY(k, kind_, field, ...) {k, kind_, offsetof(struct kiln_runbook, field), __VA_ARGS__}
#define RB_SKIP(k) {k, YF_SKIP, 0},

static const struct yschema runbook_schema = {
    .fields = (const struct yfield[]){
        RB_KEY("name", YF_STR, name, .parse = field_run_name),
        RB_SKIP("include")
        {"extension", YF_CUSTOM, 0, .parse = field_extension},
        RB_SKIP("variable")
        RB_KEY("concurrency", YF_LONG, concurrency, .min = 1, .max = 64),
        RB_SKIP("platform")
        RB_KEY("testcase", YF_SEQ, rules, offsetof(struct kiln_runbook, nrules), .sub = &rule_schema,
               .elem_size = sizeof(struct kiln_tc_rule)),
        RB_KEY("notifier", YF_SEQ, notifiers, offsetof(struct kiln_runbook, nnotifiers), .sub = &notifier_schema,
               .elem_size = sizeof(struct kiln_notifier_conf)),
        {"console", YF_MAP, 0, .sub = &console_schema},
        RB_KEY("policy", YF_CUSTOM, policy, .parse = field_path),
        RB_KEY("policy_profile", YF_STR, policy_profile),
        RB_KEY("vulnerability_feed", YF_CUSTOM, vulnerability_feed, .parse = field_path),
        RB_KEY("kselftest", YF_MAP, kselftest, .sub = &kselftest_schema, .elem_size = sizeof(struct kiln_kselftest_conf)),
        RB_KEY("ltp", YF_MAP, ltp, .sub = &ltp_schema, .elem_size = sizeof(struct kiln_ltp_conf)),
        RB_SKIP("parent")
        RUNBOOK_LISA_TOP_KEYS(RB_SKIP)
        {0}},
    .post = runbook_post,
};

/* What kiln check verifies once the runbook is loaded (files exist, the policy has the profile):
 * their locations are kept so its errors name file:line:col too. */
static void note_key_at(struct kiln_runbook *rb, const struct ynode *root, const char *key)
{
    const struct ynode *n = root;
    _cleanup_free_ char *copy = xstrdup(key);
    char *save = NULL;
    for (char *k = strtok_r(copy, ".", &save); k && n; k = strtok_r(NULL, ".", &save)) n = y_get(n, k);
    if (n) rb->keys_at[rb->nkeys_at++] = (struct kiln_key_where){key, {xstrdup(n->file ? n->file : rb->path), n->line, n->col}};
}

static void note_keys_at(struct kiln_runbook *rb, const struct ynode *root)
{
    static const char *const keys[] = {"policy", "policy_profile", "vulnerability_feed",
                                       "platform.admin_private_key_file"};
    const struct kiln_platform *ops = platform_find(rb->platform.type);
    struct kiln_platform_file files[PLATFORM_FILES_MAX];
    size_t nfiles = ops->tested_files ? ops->tested_files(rb->platform.conf, files, ARRAY_SIZE(files)) : 0;
    size_t nchecked = 0;
    while (ops->check_keys && ops->check_keys[nchecked]) nchecked++;
    rb->keys_at = xcalloc(ARRAY_SIZE(keys) + nfiles + nchecked, sizeof *rb->keys_at);
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) note_key_at(rb, root, keys[i]);
    /* the driver's files: kiln check names where a missing one is set, or what its check_conf finds */
    for (size_t i = 0; i < nfiles; i++) note_key_at(rb, root, files[i].key);
    for (size_t i = 0; i < nchecked; i++)
        if (!runbook_where(rb, ops->check_keys[i])) note_key_at(rb, root, ops->check_keys[i]);
}

const struct kiln_where *runbook_where(const struct kiln_runbook *rb, const char *key)
{
    for (size_t i = 0; rb && i < rb->nkeys_at; i++)
        if (streq(rb->keys_at[i].key, key)) return &rb->keys_at[i].at;
    return NULL;
}

int runbook_load(const char *path, const struct kiln_var *cli, size_t ncli, struct kiln_runbook **out,
                 struct diags *d)
{
    struct diags warn = {0};
    int r = runbook_load_warn(path, cli, ncli, out, d, &warn);
    diags_free(&warn);
    return r;
}

int runbook_load_warn(const char *path, const struct kiln_var *cli, size_t ncli, struct kiln_runbook **out,
                      struct diags *d, struct diags *warn)
{
    size_t before = d->n;
    struct loader L = {.d = d, .warn = warn, .cli = cli, .ncli = ncli};
    struct ynode *root = load_with_includes(&L, path, NULL);
    if (!root) return -EINVAL;
    struct kiln_runbook *rb = xcalloc(1, sizeof *rb);
    rb->path = xstrdup(path);
    rb->concurrency = 1;
    rb->platform.admin_username = xstrdup("root");
    struct rb_ctx ctx = {rb, warn};
    const struct yparse yp = {d, &ctx};
    /* keys first: a misspelt key is named even when a variable is wrong too */
    yschema_check_keys(&yp, root, "", &runbook_schema);
    parse_variables(rb, &L, y_get(root, "variable"), cli, ncli, d);
    if (d->n == before && substitute_all(rb, root, d)) {
        runbook_lisa_rewrite(root, d, warn);
        parse_platform(y_get(root, "platform"), rb, d);
        yschema_read(&yp, root, "", &runbook_schema, rb);
    }
    if (!rb->name) rb->name = default_run_name(path);
    if (d->n == before) note_keys_at(rb, root);
    if (d->n > before) mask_cut_values(root, d, before);
    ynode_free(root);
    if (d->n > before) {
        runbook_free(rb);
        return -EINVAL;
    }
    *out = rb;
    return 0;
}

/* The variable whose value, as a path, is path; NULL when none is. */
static const char *path_variable(const struct kiln_runbook *rb, const char *path)
{
    for (size_t i = 0; i < rb->nvars; i++) {
        const struct kiln_var *v = &rb->vars[i];
        if (v->secret || !v->value || !*v->value) continue;
        _cleanup_free_ char *dir = v->file ? path_dirname(v->file) : getcwd(NULL, 0);
        _cleanup_free_ char *abs = path_resolve(dir ? dir : ".", v->value);
        if (abs && streq(abs, path)) return v->name;
    }
    return NULL;
}

char *runbook_missing_file_hint(const struct kiln_runbook *rb, const char *role, const char *path)
{
    const char *var = rb ? path_variable(rb, path) : NULL;
    if (role && streq(role, "image"))
        return xasprintf("; build it first (kiln build SPEC --out DIR) "
                         "or give the image with -v %s=PATH", var ? var : "NAME");
    if (var) return xasprintf("; fix the path or give it with -v %s=PATH", var);
    return xstrdup("; fix the path");
}

void runbook_free(struct kiln_runbook *rb)
{
    if (!rb) return;
    for (size_t i = 0; i < rb->nkeys_at; i++) free(rb->keys_at[i].at.file);
    free(rb->keys_at);
    free(rb->path);
    free(rb->name);
    for (size_t i = 0; i < rb->nvars; i++) {
        free(rb->vars[i].name);
        free(rb->vars[i].value);
    }
    free(rb->vars);
    struct kiln_platform_conf *pc = &rb->platform;
    free(pc->admin_username);
    free(pc->admin_private_key_file);
    const struct kiln_platform *ops = platform_find(pc->type);
    if (ops) ops->free_conf(pc->conf);
    free(pc->type);
    for (size_t i = 0; i < rb->nrules; i++) {
        struct kiln_criteria *c = &rb->rules[i].criteria;
        free(c->name);
        free(c->area);
        free(c->category);
        free(c->priorities);
        strv_free(c->tags, c->ntags);
        free(rb->rules[i].at_file);
    }
    free(rb->rules);
    for (size_t i = 0; i < rb->nnotifiers; i++) free(rb->notifiers[i].type);
    free(rb->notifiers);
    for (size_t i = 0; rb->extensions_at && i < rb->nextensions; i++) free(rb->extensions_at[i].file);
    free(rb->extensions_at);
    strv_free(rb->extensions, rb->nextensions);
    free(rb->console_patterns);
    free(rb->policy);
    free(rb->policy_profile);
    free(rb->vulnerability_feed);
    strv_free(rb->console_ignore, rb->nconsole_ignore);
    if (rb->kselftest) {
        free(rb->kselftest->source);
        strv_free(rb->kselftest->collections, rb->kselftest->ncollections);
        strv_free(rb->kselftest->skip, rb->kselftest->nskip);
        free(rb->kselftest);
    }
    if (rb->ltp) {
        free(rb->ltp->root);
        free(rb->ltp->source);
        strv_free(rb->ltp->groups, rb->ltp->ngroups);
        strv_free(rb->ltp->skip, rb->ltp->nskip);
        free(rb->ltp);
    }
    free(rb);
}
