#include "util/yaml.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <yaml.h>

#include "util/fs.h"
#include "util/strv.h"
#include "util/util.h"

#define YAML_MAX_BYTES (8u << 20)
#define YAML_MAX_TOTAL_BYTES (32 << 20) /* scalar text after alias expansion */
#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 200000
#define DIAGS_MAX_PRINTED 100

/* every loaded file's name, alive as long as the nodes that point at it */
static struct strset files = STRSET_INIT;

const char *yfiles_intern(const char *path)
{
    return strset_intern(&files, path);
}

void yfiles_free(void)
{
    strset_clear(&files);
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
    diags_print_as(d, NULL, f);
}

void diags_print_as(const struct diags *d, const char *label, FILE *f)
{
    for (size_t i = 0; i < d->n; i++) {
        if (i == DIAGS_MAX_PRINTED) {
            fprintf(f, "%s: ... and %zu more\n", d->v[i].file, d->n - i);
            break;
        }
        const struct diag *g = &d->v[i];
        if (g->line > 0) fprintf(f, "%s:%d:%d: ", g->file, g->line, g->col);
        else fprintf(f, "%s: ", g->file);
        if (label) fprintf(f, "%s: ", label);
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

/* An alias is a copy of its anchor's subtree, counted against the limits like any node: an
 * alias bomb (a: &a [x, x], b: &b [*a, *a], ...) stops at the limits instead of exhausting
 * memory. */
struct anchor {
    char *name;
    struct ynode *node;
    size_t nodes, bytes; /* of the subtree, for the limit check before a copy */
};

struct frame {
    struct ynode *n;
    struct ynode *key; /* a mapping's key waiting for its value */
    char *anchor;      /* registered when the collection ends */
    size_t nodes0, bytes0;
};

struct loader {
    yaml_parser_t p;
    const char *file;
    struct diags *d;
    struct frame stack[YAML_MAX_DEPTH];
    int depth;
    struct ynode *root;
    struct anchor *anchors;
    size_t nanchors, capanchors;
    size_t nodes, bytes;
    bool aliased; /* an alias was expanded: worth naming when a limit is hit */
    int docs, doc_line;
    /* nodes a merge took out of the tree: an anchor may still point into them, so they live
     * until the load ends */
    struct ynode **detached;
    size_t ndetached, capdetached;
};

static void load_error(struct loader *L, const yaml_mark_t *m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void load_error(struct loader *L, const yaml_mark_t *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(L->d, L->file, (int)m->line + 1, (int)m->column + 1, NULL, fmt, ap);
    va_end(ap);
}

static struct ynode *node_at(struct loader *L, enum ynode_kind kind, const yaml_mark_t *m)
{
    struct ynode *n = xcalloc(1, sizeof *n);
    n->kind = kind;
    n->file = (char *)L->file;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    return n;
}

/* Counts a node (and its scalar bytes) against the document's limits. */
static bool charge(struct loader *L, size_t nodes, size_t bytes, const yaml_mark_t *m)
{
    if (nodes > YAML_MAX_NODES - L->nodes || bytes > YAML_MAX_TOTAL_BYTES - L->bytes) {
        load_error(L, m, "document too large: more than %d nodes or %d MiB of text%s", YAML_MAX_NODES,
                   YAML_MAX_TOTAL_BYTES >> 20, L->aliased ? " once aliases are expanded; check for runaway aliases" : "");
        return false;
    }
    L->nodes += nodes;
    L->bytes += bytes;
    return true;
}

static struct ynode *ynode_copy(const struct ynode *n)
{
    struct ynode *c = xcalloc(1, sizeof *c);
    *c = *n;
    c->scalar = n->scalar ? xstrdup(n->scalar) : NULL;
    c->anchored = false;
    c->items = NULL;
    c->n = c->cap = 0;
    for (size_t i = 0; i < n->n; i++) ynode_push(c, ynode_copy(n->items[i]));
    return c;
}

static int cmp_key_index(const void *a, const void *b, void *arg)
{
    struct ynode *const *items = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(items[x]->scalar, items[y]->scalar);
    return c ? c : (x > y) - (x < y);
}

/* Finds a repeated key in O(n log n): sorts the key positions by (key, position); each later
 * twin in a run of equal keys is a duplicate. Reports the one that comes first in the file. */
static bool check_duplicates(struct loader *L, const struct ynode *map)
{
    size_t pairs = map->n / 2;
    if (pairs < 2) return true;
    size_t *ix = xcalloc(pairs, sizeof *ix);
    for (size_t i = 0; i < pairs; i++) ix[i] = 2 * i;
    qsort_r(ix, pairs, sizeof *ix, cmp_key_index, map->items);
    size_t dup = SIZE_MAX, first = 0;
    for (size_t i = 1; i < pairs; i++)
        if (streq(map->items[ix[i]]->scalar, map->items[ix[i - 1]]->scalar) && ix[i] < dup &&
            (i < 2 || !streq(map->items[ix[i - 1]]->scalar, map->items[ix[i - 2]]->scalar))) {
            dup = ix[i];
            first = ix[i - 1];
        }
    free(ix);
    if (dup == SIZE_MAX) return true;
    const struct ynode *k = map->items[dup];
    diag_add(L->d, k, NULL, "duplicate key \"%.80s\" (first at line %d); each key may appear once in a mapping",
             k->scalar, map->items[first]->line);
    return false;
}

static void add_anchor(struct loader *L, char *name, struct ynode *n, size_t nodes, size_t bytes)
{
    n->anchored = true;
    struct anchor *a = APPEND(L->anchors, L->nanchors, L->capanchors);
    a->name = name;
    a->node = n;
    a->nodes = nodes;
    a->bytes = bytes;
}

/* Hangs a finished node under the open collection (or makes it the root). */
static bool attach(struct loader *L, struct ynode *n)
{
    if (!L->depth) {
        L->root = n;
        return true;
    }
    struct frame *f = &L->stack[L->depth - 1];
    if (f->n->kind == YN_SEQ) {
        ynode_push(f->n, n);
        return true;
    }
    if (!f->key) {
        if (n->kind != YN_SCALAR) {
            diag_add(L->d, n, NULL, "mapping keys must be plain strings, got %s", ynode_kind_name(n));
            ynode_free(n);
            return false;
        }
        f->key = n;
        return true;
    }
    ynode_push(f->n, f->key);
    ynode_push(f->n, n);
    f->key = NULL;
    return true;
}

/* Anchors are registered when their node is complete, so an alias inside its own anchor
 * (a: &a [*a]) finds nothing: a cycle is an error, not an endless copy. */
static bool on_alias(struct loader *L, const yaml_event_t *e)
{
    const char *name = (const char *)e->data.alias.anchor;
    for (size_t i = L->nanchors; i-- > 0;) {
        const struct anchor *a = &L->anchors[i];
        if (!streq(a->name, name)) continue;
        L->aliased = true;
        if (!charge(L, a->nodes, a->bytes, &e->start_mark)) return false;
        struct ynode *c = ynode_copy(a->node);
        c->line = (int)e->start_mark.line + 1;
        c->col = (int)e->start_mark.column + 1;
        return attach(L, c);
    }
    for (int i = 0; i < L->depth; i++)
        if (L->stack[i].anchor && streq(L->stack[i].anchor, name)) {
            load_error(L, &e->start_mark, "alias *%s is inside the node it refers to (a cycle)", name);
            return false;
        }
    load_error(L, &e->start_mark, "alias *%s refers to no anchor &%s before it", name, name);
    return false;
}

static bool on_scalar(struct loader *L, const yaml_event_t *e)
{
    size_t len = e->data.scalar.length;
    /* "\0" in a quoted scalar: every consumer takes C strings and would read a cut value */
    if (memchr(e->data.scalar.value, 0, len)) {
        load_error(L, &e->start_mark, "a value holds a NUL character (\\0); remove it");
        return false;
    }
    if (!charge(L, 1, len, &e->start_mark)) return false;
    struct ynode *n = node_at(L, YN_SCALAR, &e->start_mark);
    n->scalar = xstrndup((const char *)e->data.scalar.value, len);
    n->quoted = e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    if (e->data.scalar.anchor) add_anchor(L, xstrdup((const char *)e->data.scalar.anchor), n, 1, len);
    return attach(L, n);
}

static bool on_start(struct loader *L, const yaml_event_t *e, enum ynode_kind kind, const yaml_char_t *anchor)
{
    if (L->depth == YAML_MAX_DEPTH) {
        load_error(L, &e->start_mark, "nested deeper than %d levels", YAML_MAX_DEPTH);
        return false;
    }
    if (!charge(L, 1, 0, &e->start_mark)) return false;
    struct frame *f = &L->stack[L->depth++];
    *f = (struct frame){.n = node_at(L, kind, &e->start_mark), .nodes0 = L->nodes - 1, .bytes0 = L->bytes};
    if (anchor) f->anchor = xstrdup((const char *)anchor);
    return true;
}

/* One key/value pair while merging; rank orders the mapping's own pairs first, then each merge
 * source's in the order they are listed. */
struct merge_pair {
    struct ynode *k, *v;
    size_t rank;
};

static int cmp_merge_pair(const void *a, const void *b)
{
    const struct merge_pair *x = a, *y = b;
    int c = strcmp(x->k->scalar, y->k->scalar);
    return c ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

static int cmp_merge_rank(const void *a, const void *b)
{
    const struct merge_pair *x = a, *y = b;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* YAML 1.1's merge key (https://yaml.org/type/merge.html), which libyaml leaves to its users
 * and PyYAML (hence LISA) resolves: a plain "<<" key whose value is a mapping or a list of
 * mappings adds their keys the mapping does not set itself; an earlier source wins over a later
 * one. The merged nodes are moved, not copied (an alias was charged when it was copied), so a
 * merge adds no node, except from a source that is itself an anchor (<<: &a {...}), which a
 * later *a must still find whole: its pairs are copied (at most once each, so the tree stays
 * within twice the limits). What the merge drops (the "<<" pair, values a key of the mapping
 * overrides) is detached, not freed, as an anchor may point into it. The pairs are sorted
 * once, O(n log n). A quoted "<<" is an ordinary key. */
static void detach(struct loader *L, struct ynode *n)
{
    *APPEND(L->detached, L->ndetached, L->capdetached) = n;
}

static bool resolve_merge(struct loader *L, struct ynode *map)
{
    size_t at = SIZE_MAX;
    for (size_t i = 0; i < map->n && at == SIZE_MAX; i += 2)
        if (!map->items[i]->quoted && streq(map->items[i]->scalar, "<<")) at = i;
    if (at == SIZE_MAX) return true;
    struct ynode *key = map->items[at], *src = map->items[at + 1];
    struct ynode **srcs = src->kind == YN_SEQ ? src->items : &src;
    size_t nsrc = src->kind == YN_SEQ ? src->n : 1;
    for (size_t i = 0; i < nsrc; i++)
        if (srcs[i]->kind != YN_MAP) {
            diag_add(L->d, srcs[i], NULL,
                     "the merge key \"<<\" takes a mapping (<<: *anchor) or a list of mappings (<<: [*a, *b]), got %s%s",
                     ynode_kind_name(srcs[i]), src->kind == YN_SEQ ? " in its list" : "");
            return false;
        }
    size_t total = map->n / 2 - 1;
    for (size_t i = 0; i < nsrc; i++) total += srcs[i]->n / 2;
    struct merge_pair *p = xcalloc(total ? total : 1, sizeof *p);
    size_t np = 0;
    for (size_t i = 0; i < map->n; i += 2)
        if (i != at) p[np] = (struct merge_pair){map->items[i], map->items[i + 1], np}, np++;
    for (size_t s = 0; s < nsrc; s++) {
        bool copy = srcs[s]->anchored || src->anchored;
        for (size_t i = 0; i < srcs[s]->n; i += 2) {
            struct ynode *k = srcs[s]->items[i], *v = srcs[s]->items[i + 1];
            p[np] = copy ? (struct merge_pair){ynode_copy(k), ynode_copy(v), np} : (struct merge_pair){k, v, np};
            np++;
        }
        if (!copy) srcs[s]->n = 0; /* its pairs now belong to p */
    }
    qsort(p, np, sizeof *p, cmp_merge_pair);
    size_t keep = 0;
    for (size_t i = 0; i < np; i++) {
        if (keep && streq(p[keep - 1].k->scalar, p[i].k->scalar)) {
            detach(L, p[i].k);
            detach(L, p[i].v);
        } else {
            p[keep++] = p[i];
        }
    }
    qsort(p, keep, sizeof *p, cmp_merge_rank);
    map->n = 0;
    for (size_t i = 0; i < keep; i++) {
        ynode_push(map, p[i].k);
        ynode_push(map, p[i].v);
    }
    free(p);
    detach(L, key);
    detach(L, src);
    return true;
}

static bool on_end(struct loader *L)
{
    struct frame f = L->stack[--L->depth];
    if (f.n->kind == YN_MAP && (!check_duplicates(L, f.n) || !resolve_merge(L, f.n))) {
        free(f.anchor);
        ynode_free(f.n);
        return false;
    }
    if (f.anchor) add_anchor(L, f.anchor, f.n, L->nodes - f.nodes0, L->bytes - f.bytes0);
    return attach(L, f.n);
}

/* One event; false on error (diagnostic added) or at the end of the stream. */
static bool on_event(struct loader *L, const yaml_event_t *e, bool *done)
{
    switch (e->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++L->docs > 1) {
            load_error(L, &e->start_mark, "more than one YAML document in the file (the first starts at line %d); "
                                          "kiln reads one: remove this '---' and what follows, or move it to its own file",
                       L->doc_line);
            return false;
        }
        L->doc_line = (int)e->start_mark.line + 1;
        return true;
    case YAML_SCALAR_EVENT: return on_scalar(L, e);
    case YAML_SEQUENCE_START_EVENT: return on_start(L, e, YN_SEQ, e->data.sequence_start.anchor);
    case YAML_MAPPING_START_EVENT: return on_start(L, e, YN_MAP, e->data.mapping_start.anchor);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: return on_end(L);
    case YAML_ALIAS_EVENT: return on_alias(L, e);
    case YAML_STREAM_END_EVENT: *done = true; return true;
    default: return true;
    }
}

static void loader_free(struct loader *L)
{
    for (int i = L->depth; i-- > 0;) {
        ynode_free(L->stack[i].key);
        ynode_free(L->stack[i].n);
        free(L->stack[i].anchor);
    }
    for (size_t i = 0; i < L->nanchors; i++) free(L->anchors[i].name);
    free(L->anchors);
    for (size_t i = 0; i < L->ndetached; i++) ynode_free(L->detached[i]);
    free(L->detached);
    yaml_parser_delete(&L->p);
}

/* Where libyaml's failure lies, as file:line:col. Its reader (bad UTF-8, control characters)
 * gives a byte offset and no mark: counted here, or every such file said 1:1. */
static void parse_error(const yaml_parser_t *p, const char *file, const char *text, size_t len, struct diags *d)
{
    size_t line = p->problem_mark.line, col = p->problem_mark.column, off = SIZE_MAX;
    if (p->error == YAML_READER_ERROR && p->encoding == YAML_UTF8_ENCODING && p->problem_offset <= len) {
        off = p->problem_offset;
        line = col = 0;
        for (size_t i = 0; i < off; i++)
            if (text[i] == '\n') line++, col = 0;
            else if (((unsigned char)text[i] & 0xc0) != 0x80) col++; /* a character, not a continuation byte */
    } else {
        /* the mark's line and column (characters) back to a byte, to name a tab there */
        size_t i = 0;
        for (size_t l = 0; i < len && l < line; i++) l += text[i] == '\n';
        for (size_t c = 0; i < len && text[i] != '\n' && c < col; i++) c += i + 1 == len || ((unsigned char)text[i + 1] & 0xc0) != 0x80;
        if (i < len) off = i;
    }
    char what[48] = "";
    if (p->error == YAML_READER_ERROR && p->problem_value >= 0) snprintf(what, sizeof what, " (0x%02x)", p->problem_value);
    bool tab = p->error == YAML_SCANNER_ERROR && off < len && text[off] == '\t' && !strstr(p->problem ? p->problem : "", "tab");
    diag_add_at(d, file, (int)line + 1, (int)col + 1, NULL, "invalid YAML: %s%s%s%s%s", p->problem ? p->problem : "syntax error",
                what, p->context ? " " : "", p->context ? p->context : "",
                tab ? " (a tab: YAML indents with spaces)" : "");
}

/* Builds the tree from libyaml's events rather than its document loader: the depth, node and
 * document limits then apply while parsing, so a hostile file stops at the first node past a
 * limit instead of after libyaml has built all of it. */
struct ynode *yaml_load_string(const char *name, const char *text, size_t len, struct diags *d)
{
    struct loader L = {.file = yfiles_intern(name), .d = d};
    if (!yaml_parser_initialize(&L.p)) {
        diag_add_at(d, L.file, 0, 0, NULL, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&L.p, (const unsigned char *)text, len);
    bool done = false, ok = true;
    while (ok && !done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&L.p, &e)) {
            parse_error(&L.p, L.file, text, len, d);
            break;
        }
        ok = on_event(&L, &e, &done);
        yaml_event_delete(&e);
    }
    struct ynode *root = done ? L.root : NULL;
    if (!done) ynode_free(L.root);
    loader_free(&L);
    if (done && !root) {
        root = xcalloc(1, sizeof *root);
        root->kind = YN_MAP;
        root->file = (char *)L.file;
        root->line = root->col = 1;
    }
    return root;
}

struct ynode *yaml_load_file(const char *path, struct diags *d)
{
    char *text;
    size_t len;
    int r = read_file(path, YAML_MAX_BYTES, &text, &len);
    if (r < 0) {
        diag_add_at(d, path, 0, 0, NULL, "cannot read: %s",
                    r == -EFBIG ? "larger than 8 MiB" : fs_strerror(r));
        return NULL;
    }
    struct ynode *n = yaml_load_string(path, text, len, d);
    free(text);
    return n;
}

static int cmp_key_at(const void *a, const void *b, void *arg)
{
    struct ynode *const *items = arg;
    return strcmp(items[*(const size_t *)a]->scalar, items[*(const size_t *)b]->scalar);
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
    /* base's keys sorted once, each of over's looked up by bisection: O((n + m) log n), where a
     * linear lookup per key made two large included maps quadratic */
    size_t nb = base->n / 2, nadd = 0;
    size_t *ix = xcalloc(nb ? nb : 1, sizeof *ix);
    for (size_t i = 0; i < nb; i++) ix[i] = 2 * i;
    qsort_r(ix, nb, sizeof *ix, cmp_key_at, base->items);
    struct ynode **add = xcalloc(over->n ? over->n : 1, sizeof *add);
    for (size_t i = 0; i < over->n; i += 2) {
        struct ynode *k = over->items[i], *v = over->items[i + 1];
        size_t lo = 0, hi = nb;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(base->items[ix[mid]]->scalar, k->scalar) < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo < nb && streq(base->items[ix[lo]]->scalar, k->scalar)) {
            base->items[ix[lo] + 1] = ynode_merge(base->items[ix[lo] + 1], v);
            ynode_free(k);
        } else {
            add[nadd++] = k;
            add[nadd++] = v;
        }
    }
    for (size_t i = 0; i < nadd; i++) ynode_push(base, add[i]);
    free(add);
    free(ix);
    over->n = 0;
    ynode_free(over);
    return base;
}

size_t ynode_count(const struct ynode *n)
{
    size_t c = n ? 1 : 0;
    for (size_t i = 0; n && i < n->n; i++) c += ynode_count(n->items[i]);
    return c;
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
            diag_add(d, k, p, "unknown key \"%.80s\"; did you mean \"%s\"?", k->scalar, best);
        else {
            struct sbuf b = {0};
            for (const char *const *a = allowed; *a; a++) sbuf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
            diag_add(d, k, p, "unknown key \"%.80s\"; expected one of: %s", k->scalar, b.s ? b.s : "");
            sbuf_free(&b);
        }
    }
    return ok;
}

bool y_null(const struct ynode *n)
{
    return n && n->kind == YN_SCALAR && !n->quoted &&
           (!*n->scalar || streq(n->scalar, "~") || streq(n->scalar, "null") || streq(n->scalar, "Null") ||
            streq(n->scalar, "NULL"));
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

/* "010": YAML 1.1 reads a plain integer with a leading 0 as octal (8, as PyYAML does) */
static bool octal_like(const char *s)
{
    s += *s == '-' || *s == '+';
    return s[0] == '0' && s[1] && strspn(s, "0123456789") == strlen(s);
}

static bool scalar_long(const struct ynode *n, long *v)
{
    return n && n->kind == YN_SCALAR && !n->quoted && !octal_like(n->scalar) && parse_long(n->scalar, v);
}

/* A plain decimal integer past what a long holds (99999999999999999999): out of range, not "not an integer". */
static bool out_of_long(const struct ynode *n)
{
    if (n->kind != YN_SCALAR || n->quoted || octal_like(n->scalar)) return false;
    const char *s = n->scalar + (n->scalar[0] == '-' || n->scalar[0] == '+');
    long v;
    return *s && strspn(s, "0123456789") == strlen(s) && !parse_long(n->scalar, &v);
}

/* describe() for a value that is not an integer, saying why when it looks like one. A value
 * quoted in part is always between quotes: runbook.c masks a secret cut there (mask_cut_values). */
static void describe_int(const struct ynode *n, char *buf, size_t sz)
{
    long v;
    if (n->kind == YN_SCALAR && n->quoted && parse_long(n->scalar, &v))
        snprintf(buf, sz, "\"%.40s\" in quotes, a string (write a number without quotes)", n->scalar);
    else if (out_of_long(n))
        snprintf(buf, sz, "\"%.40s\", larger than any integer kiln reads", n->scalar);
    else if (n->kind == YN_SCALAR && !n->quoted && octal_like(n->scalar))
        snprintf(buf, sz, "\"%.40s\", an octal number in YAML 1.1 (write it without the leading 0)", n->scalar);
    else describe(n, buf, sz);
}

bool y_long(struct diags *d, const struct ynode *n, const char *path, long min, long max, long *out)
{
    long v;
    char got[160];
    if (!scalar_long(n, &v)) {
        if (n && out_of_long(n)) {
            diag_add(d, n, path, "\"%.40s\" is out of range (%ld to %ld)", n->scalar, min, max);
            return false;
        }
        if (n) describe_int(n, got, sizeof got);
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
    /* a near miss of one name (as y_check_keys does for keys) */
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (int i = 0; n && n->kind == YN_SCALAR && names[i]; i++) {
        size_t dist = levenshtein(names[i], n->scalar);
        if (dist < bestd) bestd = dist, best = names[i];
    }
    if (best && bestd <= MAX(2u, strlen(n->scalar) / 3))
        diag_add(d, n, path, "expected one of %s, got %s; did you mean \"%s\"?", b.s, got, best);
    else diag_add(d, n, path, "expected one of %s, got %s", b.s, got);
    sbuf_free(&b);
    return false;
}

bool y_str_list(struct diags *d, const struct ynode *n, const char *path, char ***out, size_t *count)
{
    size_t cap = *count; /* appends: grow_array must keep (not zero) what is there */
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
    size_t cap = *count;
    long v;
    char got[160] = "nothing";
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
    if (n) describe_int(n, got, sizeof got);
    diag_add(d, n, path, "expected an integer or a list of integers, got %s", got);
    return false;
}

/* ---- schema tables ---- */

bool yschema_check_keys(const struct yparse *p, const struct ynode *map, const char *path,
                        const struct yschema *schema)
{
    size_t n = 0;
    while (schema->fields[n].key) n++;
    const char **keys = xcalloc(n + 1, sizeof *keys);
    for (size_t i = 0; i < n; i++) keys[i] = schema->fields[i].key;
    bool ok = y_check_keys(p->d, map, path, keys);
    free(keys);
    return ok;
}

/* One element more in an array of elem bytes per element, zeroed; capacity doubles. */
static void *seq_grow(void **arr, size_t *count, size_t elem)
{
    size_t n = *count;
    if (n == 0 || (n >= 4 && !(n & (n - 1)))) *arr = xrealloc(*arr, (n ? 2 * n : 4) * elem);
    void *e = (char *)*arr + n * elem;
    memset(e, 0, elem);
    *count = n + 1;
    return e;
}

static void read_seq(const struct yparse *p, const struct ynode *n, const char *path, const struct yfield *f,
                     void *target)
{
    if (!y_expect(p->d, n, path, YN_SEQ)) return;
    void **arr = (void **)((char *)target + f->offset);
    size_t *count = (size_t *)((char *)target + f->count_offset);
    for (size_t i = 0; i < n->n; i++) {
        _cleanup_free_ char *ip = ypath_index(path, i);
        if (!y_expect(p->d, n->items[i], ip, YN_MAP)) continue;
        yschema_apply(p, n->items[i], ip, f->sub, seq_grow(arr, count, f->elem_size));
    }
}

/* Reads one present key by its row; false when the value was refused. */
static bool read_field(const struct yparse *p, const struct ynode *n, const char *path, const struct yfield *f,
                       void *target)
{
    void *out = (char *)target + f->offset;
    size_t *count = (size_t *)((char *)target + f->count_offset);
    long v;
    int e;
    switch (f->kind) {
    case YF_STR: return y_str(p->d, n, path, out);
    case YF_BOOL: return y_bool(p->d, n, path, out);
    case YF_LONG: return y_long(p->d, n, path, f->min, f->max, out);
    case YF_INT:
        if (!y_long(p->d, n, path, f->min, f->max, &v)) return false;
        *(int *)out = (int)v;
        return true;
    case YF_ENUM:
        if (!y_enum(p->d, n, path, f->names, &e)) return false;
        *(int *)out = f->values ? f->values[e] : e;
        return true;
    case YF_ENUM_STR:
        if (!y_enum(p->d, n, path, f->names, &e)) return false;
        free(*(char **)out);
        *(char **)out = xstrdup(f->names[e]);
        return true;
    case YF_STR_LIST: return y_str_list(p->d, n, path, out, count);
    case YF_LONG_LIST: return y_long_list(p->d, n, path, f->min, f->max, out, count);
    case YF_MAP:
        if (f->elem_size) { /* the field points at the struct, made when the key is there */
            if (!y_expect(p->d, n, path, YN_MAP)) return false;
            out = *(void **)out = xcalloc(1, f->elem_size);
        }
        return yschema_apply(p, n, path, f->sub, out);
    case YF_SEQ: read_seq(p, n, path, f, target); return true;
    case YF_CUSTOM: f->parse(p, f, n, path, target); return true;
    case YF_SKIP: return true;
    }
    return false;
}

void yschema_read(const struct yparse *p, const struct ynode *map, const char *path,
                  const struct yschema *schema, void *target)
{
    if (schema->init) schema->init(target);
    for (const struct yfield *f = schema->fields; f->key; f++) {
        const struct ynode *n = y_get(map, f->key);
        _cleanup_free_ char *fp = ypath(path, f->key);
        if (!n) {
            if (!f->missing) continue;
            const char *where = f->flags & YF_MISSING_KEY_PATH ? fp : path;
            if (path && *path) diag_add(p->d, map, where, "%s", f->missing);
            else diag_add_at(p->d, map->file, 1, 1, where, "%s", f->missing);
            continue;
        }
        if (read_field(p, n, fp, f, target) && f->parse && f->kind != YF_CUSTOM) f->parse(p, f, n, fp, target);
    }
    if (schema->post) schema->post(p, map, path, target);
}

bool yschema_apply(const struct yparse *p, const struct ynode *map, const char *path,
                   const struct yschema *schema, void *target)
{
    if (!y_expect(p->d, map, path, YN_MAP)) return false;
    yschema_check_keys(p, map, path, schema);
    yschema_read(p, map, path, schema, target);
    return true;
}
