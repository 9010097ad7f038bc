/* A YAML document as a small tree that keeps file:line:col on every node,
 * plus typed accessors that report errors as "file:line:col: key.path: message".
 * Used by the runbook and the image spec. */
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
bool y_expect(struct diags *d, const struct ynode *n, const char *path, enum ynode_kind kind);
/* Typed scalar readers: on mismatch add a diagnostic and return false. */
bool y_str(struct diags *d, const struct ynode *n, const char *path, char **out);
bool y_long(struct diags *d, const struct ynode *n, const char *path, long min, long max, long *out);
bool y_bool(struct diags *d, const struct ynode *n, const char *path, bool *out);
bool y_enum(struct diags *d, const struct ynode *n, const char *path, const char *const *names, int *out);
/* A scalar or a list of scalars. */
bool y_str_list(struct diags *d, const struct ynode *n, const char *path, char ***out, size_t *count);
bool y_long_list(struct diags *d, const struct ynode *n, const char *path, long min, long max,
                 long **out, size_t *count);
char *ypath(const char *parent, const char *key);
char *ypath_index(const char *parent, size_t i);
