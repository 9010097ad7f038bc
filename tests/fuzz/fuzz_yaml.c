/* The YAML loader on its own: the event-driven tree builder (limits, anchors and aliases,
 * duplicate keys, document count) and the merge used for includes; and the schema tables
 * (yschema_apply) with a row of every kind, nested, so any tree is read by each. Any bytes give
 * a tree or a diagnostic, within the loader's limits. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/yaml.h"

struct elem {
    char *s;
    long l;
};

struct target {
    char *s, *e;
    bool b;
    long l;
    int i, en;
    char **v;
    size_t nv;
    long *lv;
    size_t nlv;
    struct elem *seq;
    size_t nseq;
    struct target *sub; /* the same table, one level down, allocated when given */
};

static void custom(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                   void *target)
{
    (void)f, (void)target;
    if (!y_null(n)) diag_add(p->d, n, path, "%s", ynode_kind_name(n));
}

static const struct yschema elem_schema = {
    .fields = (const struct yfield[]){
        {"s", YF_STR, offsetof(struct elem, s), .missing = "needs s"},
        {"l", YF_LONG, offsetof(struct elem, l), .min = -5, .max = 5},
        {0}},
};

static const struct yschema top_schema;

#define ROWS                                                                                                  \
    {"s", YF_STR, offsetof(struct target, s), .missing = "needs s", .flags = YF_MISSING_KEY_PATH},            \
    {"b", YF_BOOL, offsetof(struct target, b)},                                                               \
    {"l", YF_LONG, offsetof(struct target, l), .min = -1, .max = 1L << 40},                                   \
    {"i", YF_INT, offsetof(struct target, i), .min = 0, .max = 9},                                            \
    {"en", YF_ENUM, offsetof(struct target, en), .names = (const char *const[]){"a", "b", NULL},            \
     .values = (const int[]){3, 4}},                                                                          \
    {"e", YF_ENUM_STR, offsetof(struct target, e), .names = (const char *const[]){"x", "y", NULL}},         \
    {"v", YF_STR_LIST, offsetof(struct target, v), offsetof(struct target, nv)},                              \
    {"lv", YF_LONG_LIST, offsetof(struct target, lv), offsetof(struct target, nlv), .min = 0, .max = 100},    \
    {"seq", YF_SEQ, offsetof(struct target, seq), offsetof(struct target, nseq), .sub = &elem_schema,         \
     .elem_size = sizeof(struct elem)},                                                                       \
    {"c", YF_CUSTOM, 0, .parse = custom},                                                                     \
    {"k", YF_SKIP, 0}

static const struct yschema sub_schema = {.fields = (const struct yfield[]){ROWS, {0}}};
static const struct yschema top_schema = {
    .fields = (const struct yfield[]){ROWS, {"sub", YF_MAP, offsetof(struct target, sub), .sub = &sub_schema,
                                             .elem_size = sizeof(struct target)}, {0}},
};

static void target_free(struct target *t)
{
    if (!t) return;
    free(t->s);
    free(t->e);
    for (size_t i = 0; i < t->nv; i++) free(t->v[i]);
    free(t->v);
    free(t->lv);
    for (size_t i = 0; i < t->nseq; i++) free(t->seq[i].s);
    free(t->seq);
    target_free(t->sub);
    free(t->sub);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diags d = {0};
    struct ynode *a = yaml_load_string("fuzz.yml", (const char *)data, size, &d);
    if (a) {
        struct target t = {0};
        yschema_apply(&(struct yparse){&d, NULL}, a, "", &top_schema, &t);
        target_free(&t);
        /* merging a document with itself exercises every key lookup of the include merge */
        struct ynode *b = yaml_load_string("fuzz.yml", (const char *)data, size, &d);
        ynode_free(ynode_merge(a, b));
    }
    diags_free(&d);
    yfiles_free();
    return 0;
}
