#include "util/yaml.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdarg.h>
#include <yaml.h>

#include "util/fs.h"
#include "util/util.h"

#define YAML_MAX_BYTES (8u << 20)
#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 200000

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static char **files;
static size_t nfiles, capfiles;

const char *yfiles_intern(const char *path)
{
    pthread_mutex_lock(&files_lock);
    for (size_t i = 0; i < nfiles; i++)
        if (streq(files[i], path)) {
            pthread_mutex_unlock(&files_lock);
            return files[i];
        }
    char *p = xstrdup(path);
    *APPEND(files, nfiles, capfiles) = p;
    pthread_mutex_unlock(&files_lock);
    return p;
}

void yfiles_free(void)
{
    pthread_mutex_lock(&files_lock);
    for (size_t i = 0; i < nfiles; i++) free(files[i]);
    free(files);
    files = NULL;
    nfiles = capfiles = 0;
    pthread_mutex_unlock(&files_lock);
}

static void diag_vadd(struct diags *d, const char *file, int line, int col, const char *path,
                      const char *fmt, va_list ap)
{
    struct diag *g = APPEND(d->v, d->n, d->cap);
    g->file = xstrdup(file ? file : "<input>");
    g->line = line;
    g->col = col;
    g->path = xstrdup(path ? path : "");
    g->msg = xvasprintf(fmt, ap);
}

void diag_add(struct diags *d, const struct ynode *at, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, at ? at->file : NULL, at ? at->line : 0, at ? at->col : 0, path, fmt, ap);
    va_end(ap);
}

void diag_add_at(struct diags *d, const char *file, int line, int col, const char *path,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, file, line, col, path, fmt, ap);
    va_end(ap);
}

void diags_print(const struct diags *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct diag *g = &d->v[i];
        if (g->line > 0) fprintf(f, "%s:%d:%d: ", g->file, g->line, g->col);
        else fprintf(f, "%s: ", g->file);
        if (*g->path) fprintf(f, "%s: ", g->path);
        fprintf(f, "%s\n", g->msg);
    }
}

void diags_free(struct diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].path);
        free(d->v[i].msg);
    }
    free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

struct ynode *ynode_new(enum ynode_kind kind, const struct ynode *mark_from)
{
    struct ynode *n = xcalloc(1, sizeof *n);
    n->kind = kind;
    if (mark_from) {
        n->file = mark_from->file;
        n->line = mark_from->line;
        n->col = mark_from->col;
    }
    return n;
}

void ynode_push(struct ynode *parent, struct ynode *child)
{
    *APPEND(parent->items, parent->n, parent->cap) = child;
}

void ynode_free(struct ynode *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) ynode_free(n->items[i]);
    free(n->items);
    free(n->scalar);
    free(n);
}

struct conv {
    yaml_document_t *doc;
    const char *file;
    size_t count;
    struct diags *d;
};

static struct ynode *convert(struct conv *c, yaml_node_t *yn, int depth)
{
    if (!yn) return NULL;
    if (depth > YAML_MAX_DEPTH || ++c->count > YAML_MAX_NODES) {
        diag_add_at(c->d, c->file, (int)yn->start_mark.line + 1, (int)yn->start_mark.column + 1, NULL,
                    "document too deep or too large (limits: depth %d, %d nodes); "
                    "check for runaway aliases", YAML_MAX_DEPTH, YAML_MAX_NODES);
        return NULL;
    }
    struct ynode *n = xcalloc(1, sizeof *n);
    n->file = (char *)c->file;
    n->line = (int)yn->start_mark.line + 1;
    n->col = (int)yn->start_mark.column + 1;
    switch (yn->type) {
    case YAML_SCALAR_NODE:
        n->kind = YN_SCALAR;
        n->scalar = xstrndup((const char *)yn->data.scalar.value, yn->data.scalar.length);
        n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_NODE:
        n->kind = YN_SEQ;
        for (yaml_node_item_t *it = yn->data.sequence.items.start; it < yn->data.sequence.items.top; it++) {
            struct ynode *ch = convert(c, yaml_document_get_node(c->doc, *it), depth + 1);
            if (!ch) goto fail;
            ynode_push(n, ch);
        }
        break;
    case YAML_MAPPING_NODE:
        n->kind = YN_MAP;
        for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
            struct ynode *k = convert(c, yaml_document_get_node(c->doc, p->key), depth + 1);
            if (!k) goto fail;
            if (k->kind != YN_SCALAR) {
                diag_add(c->d, k, NULL, "mapping keys must be plain strings");
                ynode_free(k);
                goto fail;
            }
            struct ynode *v = convert(c, yaml_document_get_node(c->doc, p->value), depth + 1);
            if (!v) {
                ynode_free(k);
                goto fail;
            }
            for (size_t i = 0; i < n->n; i += 2)
                if (streq(n->items[i]->scalar, k->scalar)) {
                    diag_add(c->d, k, NULL, "duplicate key \"%s\" (first at line %d)", k->scalar,
                             n->items[i]->line);
                    ynode_free(k);
                    ynode_free(v);
                    goto fail;
                }
            ynode_push(n, k);
            ynode_push(n, v);
        }
        break;
    default:
        n->kind = YN_SCALAR;
        n->scalar = xstrdup("");
    }
    return n;
fail:
    ynode_free(n);
    return NULL;
}

struct ynode *yaml_load_string(const char *name, const char *text, size_t len, struct diags *d)
{
    const char *file = yfiles_intern(name);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        diag_add_at(d, file, 0, 0, NULL, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        diag_add_at(d, file, (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1, NULL,
                    "invalid YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
                    parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return NULL;
    }
    struct ynode *root;
    yaml_node_t *top = yaml_document_get_root_node(&doc);
    if (!top) {
        root = xcalloc(1, sizeof *root);
        root->kind = YN_MAP;
        root->file = (char *)file;
        root->line = root->col = 1;
    } else {
        struct conv c = {.doc = &doc, .file = file, .d = d};
        root = convert(&c, top, 0);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return root;
}

struct ynode *yaml_load_file(const char *path, struct diags *d)
{
    char *text;
    size_t len;
    int r = read_file(path, YAML_MAX_BYTES, &text, &len);
    if (r < 0) {
        diag_add_at(d, path, 0, 0, NULL, "cannot read: %s",
                    r == -EFBIG ? "larger than 8 MiB" : strerror(-r));
        return NULL;
    }
    struct ynode *n = yaml_load_string(path, text, len, d);
    free(text);
    return n;
}

struct ynode *ynode_merge(struct ynode *base, struct ynode *over)
{
    if (!base) return over;
    if (!over) return base;
    if (base->kind != over->kind || base->kind == YN_SCALAR) {
        ynode_free(base);
        return over;
    }
    if (base->kind == YN_SEQ) {
        for (size_t i = 0; i < over->n; i++) ynode_push(base, over->items[i]);
        over->n = 0;
        ynode_free(over);
        return base;
    }
    for (size_t i = 0; i < over->n; i += 2) {
        struct ynode *k = over->items[i], *v = over->items[i + 1];
        size_t j;
        for (j = 0; j < base->n; j += 2)
            if (streq(base->items[j]->scalar, k->scalar)) break;
        if (j < base->n) {
            base->items[j + 1] = ynode_merge(base->items[j + 1], v);
            ynode_free(k);
        } else {
            ynode_push(base, k);
            ynode_push(base, v);
        }
    }
    over->n = 0;
    ynode_free(over);
    return base;
}

const char *ynode_kind_name(const struct ynode *n)
{
    if (!n) return "nothing";
    switch (n->kind) {
    case YN_SCALAR: return "a scalar";
    case YN_SEQ: return "a list";
    case YN_MAP: return "a mapping";
    }
    return "?";
}

struct ynode *y_get(const struct ynode *map, const char *key)
{
    if (!map || map->kind != YN_MAP) return NULL;
    for (size_t i = 0; i < map->n; i += 2)
        if (streq(map->items[i]->scalar, key)) return map->items[i + 1];
    return NULL;
}

char *ypath(const char *parent, const char *key)
{
    if (!parent || !*parent) return xstrdup(key);
    return xasprintf("%s.%s", parent, key);
}

char *ypath_index(const char *parent, size_t i)
{
    return xasprintf("%s[%zu]", parent ? parent : "", i);
}

bool y_check_keys(struct diags *d, const struct ynode *map, const char *path, const char *const *allowed)
{
    bool ok = true;
    for (size_t i = 0; map && map->kind == YN_MAP && i < map->n; i += 2) {
        const struct ynode *k = map->items[i];
        bool known = false;
        const char *best = NULL;
        size_t bestd = SIZE_MAX;
        for (const char *const *a = allowed; *a; a++) {
            if (streq(*a, k->scalar)) {
                known = true;
                break;
            }
            size_t dist = levenshtein(*a, k->scalar);
            if (dist < bestd) {
                bestd = dist;
                best = *a;
            }
        }
        if (known) continue;
        ok = false;
        _cleanup_free_ char *p = ypath(path, k->scalar);
        if (best && bestd <= MAX(2u, strlen(k->scalar) / 3))
            diag_add(d, k, p, "unknown key \"%s\"; did you mean \"%s\"?", k->scalar, best);
        else {
            struct sbuf b = {0};
            for (const char *const *a = allowed; *a; a++) sbuf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
            diag_add(d, k, p, "unknown key \"%s\"; expected one of: %s", k->scalar, b.s ? b.s : "");
            sbuf_free(&b);
        }
    }
    return ok;
}

static const char *kind_word(enum ynode_kind k)
{
    return k == YN_MAP ? "a mapping" : k == YN_SEQ ? "a list" : "a scalar";
}

bool y_expect(struct diags *d, const struct ynode *n, const char *path, enum ynode_kind kind)
{
    if (n && n->kind == kind) return true;
    diag_add(d, n, path, "expected %s, got %s", kind_word(kind), ynode_kind_name(n));
    return false;
}

static void describe(const struct ynode *n, char *buf, size_t sz)
{
    if (n->kind == YN_SCALAR) snprintf(buf, sz, "\"%.60s\"", n->scalar);
    else snprintf(buf, sz, "%s", ynode_kind_name(n));
}

bool y_str(struct diags *d, const struct ynode *n, const char *path, char **out)
{
    if (!n || n->kind != YN_SCALAR) {
        diag_add(d, n, path, "expected a string, got %s", ynode_kind_name(n));
        return false;
    }
    free(*out);
    *out = xstrdup(n->scalar);
    return true;
}

static bool scalar_long(const struct ynode *n, long *v)
{
    return n && n->kind == YN_SCALAR && !n->quoted && parse_long(n->scalar, v);
}

bool y_long(struct diags *d, const struct ynode *n, const char *path, long min, long max, long *out)
{
    long v;
    char got[80];
    if (!scalar_long(n, &v)) {
        if (n) describe(n, got, sizeof got);
        diag_add(d, n, path, "expected an integer, got %s", n ? got : "nothing");
        return false;
    }
    if (v < min || v > max) {
        diag_add(d, n, path, "%ld is out of range (%ld to %ld)", v, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool y_bool(struct diags *d, const struct ynode *n, const char *path, bool *out)
{
    if (n && n->kind == YN_SCALAR && !n->quoted) {
        static const char *yes[] = {"true", "yes", "on", "True", "Yes", NULL};
        static const char *no[] = {"false", "no", "off", "False", "No", NULL};
        for (const char **p = yes; *p; p++)
            if (streq(*p, n->scalar)) return *out = true, true;
        for (const char **p = no; *p; p++)
            if (streq(*p, n->scalar)) return *out = false, true;
    }
    char got[80] = "nothing";
    if (n) describe(n, got, sizeof got);
    diag_add(d, n, path, "expected true or false, got %s", got);
    return false;
}

bool y_enum(struct diags *d, const struct ynode *n, const char *path, const char *const *names, int *out)
{
    if (n && n->kind == YN_SCALAR)
        for (int i = 0; names[i]; i++)
            if (streq(names[i], n->scalar)) return *out = i, true;
    struct sbuf b = {0};
    for (int i = 0; names[i]; i++) sbuf_printf(&b, "%s%s", i ? " | " : "", names[i]);
    char got[80] = "nothing";
    if (n) describe(n, got, sizeof got);
    diag_add(d, n, path, "expected one of %s, got %s", b.s, got);
    sbuf_free(&b);
    return false;
}

bool y_str_list(struct diags *d, const struct ynode *n, const char *path, char ***out, size_t *count)
{
    size_t cap = 0;
    if (n && n->kind == YN_SCALAR) {
        *APPEND(*out, *count, cap) = xstrdup(n->scalar);
        return true;
    }
    if (!n || n->kind != YN_SEQ) {
        diag_add(d, n, path, "expected a string or a list of strings, got %s", ynode_kind_name(n));
        return false;
    }
    for (size_t i = 0; i < n->n; i++) {
        if (n->items[i]->kind != YN_SCALAR) {
            _cleanup_free_ char *p = ypath_index(path, i);
            diag_add(d, n->items[i], p, "expected a string, got %s", ynode_kind_name(n->items[i]));
            return false;
        }
        *APPEND(*out, *count, cap) = xstrdup(n->items[i]->scalar);
    }
    return true;
}

bool y_long_list(struct diags *d, const struct ynode *n, const char *path, long min, long max,
                 long **out, size_t *count)
{
    size_t cap = 0;
    long v;
    char got[80] = "nothing";
    if (n && n->kind == YN_SCALAR) {
        if (!scalar_long(n, &v)) goto bad;
        if (v < min || v > max) {
            diag_add(d, n, path, "%ld is out of range (%ld to %ld)", v, min, max);
            return false;
        }
        *APPEND(*out, *count, cap) = v;
        return true;
    }
    if (!n || n->kind != YN_SEQ) goto bad;
    for (size_t i = 0; i < n->n; i++) {
        if (!scalar_long(n->items[i], &v)) {
            n = n->items[i];
            goto bad;
        }
        if (v < min || v > max) {
            _cleanup_free_ char *p = ypath_index(path, i);
            diag_add(d, n->items[i], p, "%ld is out of range (%ld to %ld)", v, min, max);
            return false;
        }
        *APPEND(*out, *count, cap) = v;
    }
    return true;
bad:
    if (n) describe(n, got, sizeof got);
    diag_add(d, n, path, "expected an integer or a list of integers, got %s", got);
    return false;
}
