/* A YAML document as a small tree that keeps file:line:col on every node, typed accessors
 * that report errors as "file:line:col: key.path: message", and schema tables that read a
 * mapping into a struct by those accessors (below). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum ynode_kind { YN_SCALAR, YN_SEQ, YN_MAP };

struct ynode {
    enum ynode_kind kind;
    char *file; /* shared, owned by the load that made it (see yfiles) */
    int line, col;
    /* A relative path in this scalar resolves against this file's directory when set, not
     * file's (a value that is exactly one variable: where the variable was defined). Errors
     * still name file:line:col, where the value stands. */
    const char *base;
    char *scalar;
    bool quoted;
    bool anchored; /* the loader registered it under an &anchor (a copy never is) */
    struct ynode **items; /* seq: items; map: key, value, key, value ... */
    size_t n;             /* seq: items; map: 2 * pairs */
    size_t cap;
};

struct diag {
    char *file;
    int line, col;
    char *path;
    char *msg;
};

struct diags {
    struct diag *v;
    size_t n, cap;
};

void diag_add(struct diags *d, const struct ynode *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_add_at(struct diags *d, const char *file, int line, int col, const char *path,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Prints "file:line:col: path: message" lines, the first 100 and then how many more. */
void diags_print(const struct diags *d, FILE *f);
/* The same with label after the place: "file:line:col: warning: path: message". */
void diags_print_as(const struct diags *d, const char *label, FILE *f);
void diags_free(struct diags *d);

/* Every file name a tree points at lives here until yfiles_free(). */
const char *yfiles_intern(const char *path);
void yfiles_free(void);

/* Loads a file holding one YAML 1.1 document (libyaml) into a tree.
 * Limits, checked while parsing so a hostile file costs little: 8 MiB of text, collections
 * nested at most 64 deep, 200000 nodes and 32 MiB of scalar text once aliases are expanded
 * (an alias is a copy of its anchor's subtree). A second document ("---" after the first),
 * a key repeated in a mapping, a non-scalar key, and an alias to an unknown or enclosing
 * anchor are errors. A plain "<<" key is YAML 1.1's merge key (yaml.org/type/merge.html,
 * as PyYAML reads it): its value, a mapping or a list of mappings, adds the keys the mapping
 * does not set itself (the earlier of two sources wins); any other value is an error at it.
 * Returns NULL and adds a diagnostic (file:line:col) on error. An empty file gives an empty map. */
struct ynode *yaml_load_file(const char *path, struct diags *d);
struct ynode *yaml_load_string(const char *name, const char *text, size_t len, struct diags *d);
void ynode_free(struct ynode *n);
struct ynode *ynode_new(enum ynode_kind kind, const struct ynode *mark_from);
void ynode_push(struct ynode *parent, struct ynode *child);
/* Deep merge: maps key by key (over wins for scalars), sequences concatenated (base first).
 * Consumes both; returns the merged tree. O((n + m) log n) for maps of n and m keys. */
struct ynode *ynode_merge(struct ynode *base, struct ynode *over);

/* Nodes in the tree, n included (0 for NULL). */
size_t ynode_count(const struct ynode *n);
const char *ynode_kind_name(const struct ynode *n);
/* Map lookup; NULL when absent or when map is not a map. */
struct ynode *y_get(const struct ynode *map, const char *key);
/* Reports keys not in allowed (NULL-terminated) with a did-you-mean. Returns false on any. */
bool y_check_keys(struct diags *d, const struct ynode *map, const char *path, const char *const *allowed);
/* A YAML 1.1 null: an empty plain value, ~ or null (yaml.org/type/null.html). */
bool y_null(const struct ynode *n);
bool y_expect(struct diags *d, const struct ynode *n, const char *path, enum ynode_kind kind);
/* Typed scalar readers: on mismatch add a diagnostic and return false. */
bool y_str(struct diags *d, const struct ynode *n, const char *path, char **out);
bool y_long(struct diags *d, const struct ynode *n, const char *path, long min, long max, long *out);
bool y_bool(struct diags *d, const struct ynode *n, const char *path, bool *out);
bool y_enum(struct diags *d, const struct ynode *n, const char *path, const char *const *names, int *out);
/* A scalar or a list of scalars, appended to *out (*count entries already there). */
bool y_str_list(struct diags *d, const struct ynode *n, const char *path, char ***out, size_t *count);
bool y_long_list(struct diags *d, const struct ynode *n, const char *path, long min, long max,
                 long **out, size_t *count);
char *ypath(const char *parent, const char *key);
char *ypath_index(const char *parent, size_t i);

/* Field-by-field reading of a mapping, as a table (systemd's ConfigTableItem is the model):
 * one row per key says what it holds and where it goes, so the rules every config file
 * shares (unknown keys named at file:line:col with a did-you-mean, type and range errors,
 * required keys) are written once here. Duplicate keys, a second document and merge keys are
 * the loader's (yaml_load_file). The files read this way: the image spec (image/spec.c), the
 * runbook outside platform.<type> (runbook/runbook.c), the suites' policy (suites/common.c)
 * and gallery.yml (gallery/gallery.c). */
enum yfield_kind {
    YF_STR,       /* char *; replaces what is there */
    YF_BOOL,      /* bool; true/false, yes/no, on/off */
    YF_LONG,      /* long in [min, max] */
    YF_INT,       /* int in [min, max] */
    YF_ENUM,      /* int: the index in names, or values[index] when values is set */
    YF_ENUM_STR,  /* char *: a copy of the name in names that matched */
    YF_STR_LIST,  /* char ** at offset, size_t count at count_offset; a scalar is a list of one */
    YF_LONG_LIST, /* long * at offset, size_t count at count_offset; each in [min, max] */
    YF_MAP,       /* a mapping read with sub into the struct at offset (with elem_size set: into
                     a zeroed struct of that size it allocates, its pointer at offset) */
    YF_SEQ,       /* a list of mappings: an array of elem_size at offset, count at count_offset,
                     each element zeroed, then read with sub; the array starts empty (NULL, 0) */
    YF_CUSTOM,    /* parse() reads the node itself */
    YF_SKIP,      /* a known key another part of the program reads */
};

struct yparse {
    struct diags *d;
    void *user; /* the caller's context (the spec or runbook being loaded) for its callbacks */
};

struct yfield;
/* A row's callback: target is the struct the row's offset is into (yf_value gives the value).
 * It reports what it refuses to p->d at n under path. */
typedef void (*yfield_fn)(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                          void *target);

struct yschema {
    const struct yfield *fields; /* ends with a row whose key is NULL */
    void (*init)(void *target);  /* defaults, before the fields are read (NULL: none) */
    /* rules across fields, after they are read (NULL: none); map is the mapping read */
    void (*post)(const struct yparse *p, const struct ynode *map, const char *path, void *target);
};

struct yfield {
    const char *key;
    enum yfield_kind kind;
    size_t offset;       /* of the value in the target struct */
    size_t count_offset; /* YF_*_LIST, YF_SEQ: of its size_t count */
    long min, max;       /* YF_LONG, YF_INT, YF_LONG_LIST: inclusive bounds */
    const char *const *names;   /* YF_ENUM, YF_ENUM_STR: allowed names, NULL-terminated */
    const int *values;          /* YF_ENUM: the value of each name (NULL: its index) */
    const struct yschema *sub;  /* YF_MAP, YF_SEQ */
    size_t elem_size;           /* YF_SEQ, YF_MAP */
    /* YF_CUSTOM: reads the node; other kinds: checks the value once it was read */
    yfield_fn parse;
    const void *arg; /* for parse: what the row tells its callback (a charset, a word) */
    /* when set, the key is required: the message names what to give, e.g. "needs \"name\"".
     * It is reported at the mapping under the mapping's path (the key's with
     * YF_MISSING_KEY_PATH); at the top of a file at file:1:1. */
    const char *missing;
    unsigned flags;
};

#define YF_MISSING_KEY_PATH 1u
/* flags from bit 16 on are the row's callback's to define */
#define YF_CALLER_FLAG(i) (1u << (16 + (i)))

static inline void *yf_value(const struct yfield *f, void *target) { return (char *)target + f->offset; }

/* Reads map into target by the table: the node must be a mapping (else "expected a mapping"),
 * every key must be a row's (else an unknown key diagnostic with the nearest row's key, see
 * y_check_keys), then init, the rows in table order, and post. Diagnostics go to p->d with
 * "path.key" as their path. Returns false when map is not a mapping. */
bool yschema_apply(const struct yparse *p, const struct ynode *map, const char *path,
                   const struct yschema *schema, void *target);
/* The two halves of yschema_apply, for a file whose keys are checked before its values can be
 * read (a runbook's variables are expanded in between). check_keys returns false on any
 * unknown key; read expects a mapping. */
bool yschema_check_keys(const struct yparse *p, const struct ynode *map, const char *path,
                        const struct yschema *schema);
void yschema_read(const struct yparse *p, const struct ynode *map, const char *path,
                  const struct yschema *schema, void *target);

/* For the platform sections still read key by key (runbook.c): a key's node, and its path. */
#define FIELD(map, key) y_get((map), (key))
#define SUBPATH(var, parent, key) _cleanup_free_ char *var = ypath((parent), (key))
