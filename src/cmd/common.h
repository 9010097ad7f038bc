/* What the verbs share: option parsing for variables and loading a runbook. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "runbook/runbook.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

struct cmd_vars {
    struct kiln_var *v;
    size_t n, cap;
};

/* Handles "-v NAME=VALUE" / "--variable NAME=VALUE"; returns 1 when it consumed argv[*i] (and its
 * value), 0 when the option is not a variable, -1 on a malformed one (message printed). */
int cmd_take_var(int argc, char **argv, int *i, struct cmd_vars *vars);
void cmd_vars_free(struct cmd_vars *vars);
/* Prints diagnostics to stderr with secrets masked (a value that failed validation may hold one). */
void cmd_print_diags(const struct diags *d);
/* Loads and validates; prints diagnostics to stderr. NULL on error. */
struct kiln_runbook *cmd_load_runbook(const char *path, const struct cmd_vars *vars);

int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_sbom(int argc, char **argv);
int cmd_archive(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_gallery(int argc, char **argv);
int cmd_tenant(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_submit(int argc, char **argv);
/* kiln worker --server ...: src/cmd/worker_run.c */
int cmd_worker_run(int argc, char **argv);

/* Option errors name the option, the bad value and what is accepted, printed once as
 * "kiln VERB: ..." (never a bare usage text). */
/* argv[*i] is an option that takes a value: the value (*i moved onto it), or NULL after
 * printing "OPT needs a value: WHAT". */
const char *cmd_opt_value(const char *verb, int argc, char **argv, int *i, const char *what);
/* val as a whole number from lo to hi into *out; false after printing "OPT VAL: want a whole
 * number from LO to HI". */
bool cmd_opt_long(const char *verb, const char *opt, const char *val, long lo, long hi, long *out);
/* A single-valued option given again is refused (which value was meant cannot be known):
 * prints "OPT given twice (A and B): give it once" and returns false; else records val in
 * *seen (NULL until the option is given) and returns true. */
bool cmd_opt_once(const char *verb, const char *opt, const char **seen, const char *val);
/* An argument no option matched: prints "unknown option ARG; the options are: ACCEPTED" (or
 * "unexpected argument ARG" for a non-option) and returns EXIT_USAGE. */
int cmd_opt_unknown(const char *verb, const char *arg, const char *accepted);

struct kiln_store;
/* The service's database: db (else $KILN_DB) when set, else DIR/kiln.db under data. create
 * (kiln serve --init only): the directory and database are made and the schema migrated;
 * otherwise it must exist with kiln's schema and nothing is created or written on open.
 * Prints why (as "kiln VERB: ...") and returns -errno: -EINVAL for a usage error (neither
 * given, the URL names no backend, or no kiln database there: a mistyped --data). */
int cmd_store_open(const char *verb, const char *data, const char *db, bool create, struct kiln_store **st);

struct disk_write_opts;
/* VHD timestamp and id for an output named seed: reproducible under SOURCE_DATE_EPOCH. */
void cmd_write_opts(const char *seed, struct disk_write_opts *o);

/* Prints to stderr a warning for each testcase rule of rb that matches no case
 * (select_unmatched_rules), prefixed "kiln VERB: warning: ". */
void cmd_warn_unmatched_rules(const char *verb, const struct kiln_runbook *rb);
