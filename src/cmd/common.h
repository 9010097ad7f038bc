/* What the verbs share: option parsing for variables and loading a runbook. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "runbook/runbook.h"
#include "util/progress.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

struct cmd_vars {
    struct kiln_var *v;
    size_t n, cap;
};

void cmd_vars_free(struct cmd_vars *vars);
/* Prints diagnostics to stderr with secrets masked (a value that failed validation may hold one). */
void cmd_print_diags(const struct diags *d);
/* The same, each as "FILE:LINE:COL: warning: ...". */
void cmd_print_warnings(const struct diags *d);
/* Loads and validates; prints diagnostics to stderr. NULL on error. */
struct kiln_runbook *cmd_load_runbook(const char *path, const struct cmd_vars *vars);
/* The same with the errors added to *errs and what kiln does not honour to *warns, printing
 * nothing but the -v warnings (kiln check --json). NULL on error. */
struct kiln_runbook *cmd_load_runbook_into(const char *path, const struct cmd_vars *vars, struct diags *errs,
                                           struct diags *warns);

int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
/* kiln list's table of the n selected cases: NAME, AREA, P, TIMEOUT, REQUIRES, DESCRIPTION,
 * each column as wide as its longest entry so the columns stay aligned. */
struct kiln_selected;
void cmd_list_table(FILE *out, const struct kiln_selected *sel, size_t n);
int cmd_check(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_build(int argc, char **argv);
/* kiln build's line(s) for one event of a build of s (image/build.h), to f. */
struct build_event;
struct image_spec;
void build_event_fprint(FILE *f, const struct build_event *e, const struct image_spec *s);
/* The same for a terminal (b->pl.tty, util/progress.h): a stage's beginning and BUILD_PROGRESS
 * are the live line, the stage's closing line in the making ("kiln build: [1/7] rootfs 37 s:
 * TEXT", the bytes and their rate after TEXT, which stay in sight on a narrow terminal while
 * TEXT is shortened), which the next line printed replaces: a stage leaves one line. Off a
 * terminal, build_event_fprint's lines, but a progress step is "kiln build: [1/7] rootfs 37 s:
 * TEXT" (the stage's seconds so far) and live updates print nothing. */
struct build_live {
    struct progress_line pl;
    double stage_t0; /* when the running stage began, on pl's clock */
    int index, count;
};
void build_event_show(struct build_live *b, const struct build_event *e, const struct image_spec *s);
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
int cmd_cancel(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_shell(int argc, char **argv);
/* kiln worker --server ...: src/cmd/worker_run.c */
int cmd_worker_run(int argc, char **argv);

/* The command-line convention, built once here (getopt_long under a table):
 *   - `kiln VERB --help`, `-h` and `kiln help VERB` print the help to stdout, exit 0;
 *   - `--opt value` and `--opt=value` both work, `-o value` and `-ovalue` too; a long option is
 *     spelled whole (an abbreviation is an error naming the option it may mean); `--` ends options;
 *   - a usage error prints one line "kiln VERB: WHAT" and "try 'kiln VERB --help'" to stderr,
 *     exit 2; numbers go through cmd_opt_long (whole, in range);
 *   - exit status: 0 ok, 1 what was checked failed (a case, a signature, a verification) or the
 *     work failed, 2 usage, configuration or a missing input (cmd_input), 130 interrupted;
 *   - `--json` puts a listing or verdict on stdout as JSON; messages stay on stderr.
 * The help text is made from the same table the parser reads, so they cannot drift.
 *
 * How a verb adopts it (every verb does):
 *   static const char *out; static bool json;    (or fields of a struct the verb fills)
 *   static const struct cmd_opt opts[] = {
 *       {'o', "out", "DIR", CMD_STR, &out, .help = "where the files go (default: out)"},
 *       {0, "json", NULL, CMD_FLAG, &json, .help = "print the verdict as JSON on stdout"},
 *       {0}};
 *   static const struct cmd_verb v = {"build", "SPEC [options]", "What it does.", opts, 1, 1, "SPEC",
 *                                     .exits = "0 built, 1 the build failed, 2 usage or a bad spec"};
 *   int n, rc = cmd_parse(&v, argc, argv, &n);
 *   if (rc != CMD_GO) return rc;       (help printed: 0; usage error printed: 2)
 *   ... the operands are argv[1] .. argv[n] ...
 * Pointers in the table may point at locals (the table is then not static). -h is --help's;
 * the verb frees a CMD_LIST's v. -v NAME=VALUE is {'v', "variable", "NAME=VALUE", CMD_FN, &vars,
 * .fn = cmd_var_opt, .repeat = true} (list.c); subcommands parse argv + 1 with a cmd_verb each
 * (gallery.c, rollout.c). */
enum cmd_opt_kind {
    CMD_FLAG, /* bool *to = true */
    CMD_STR,  /* const char **to = the value */
    CMD_LONG, /* long *to = the value, a whole number from lo to hi (cmd_opt_long) */
    CMD_LIST, /* struct cmd_strs *to gets each value: the option may be repeated */
    CMD_FN,   /* fn(verb, "--opt", value, to): true, or false after printing "kiln VERB: ..." */
};
struct cmd_strs {
    const char **v;
    size_t n, cap;
};
struct cmd_opt {
    char shrt;        /* 'k' for -k; 0: none */
    const char *name; /* "key" for --key; NULL ends a table */
    const char *arg;  /* the value's placeholder in the help ("FILE"); NULL for a flag */
    enum cmd_opt_kind kind;
    void *to;
    long lo, hi; /* CMD_LONG's range */
    bool (*fn)(const char *verb, const char *opt, const char *val, void *to);
    const char *help; /* one line in --help; "\n" continues it on the next line */
    bool repeat;      /* CMD_FN only: may be given more than once (a valued option is otherwise
                       * refused the second time, as CMD_LIST's are not) */
    bool secret;      /* the value is a secret: never echoed in an error */
    bool optional;    /* CMD_FN only: the value is optional and comes only as --opt=VALUE (fn gets NULL
                       * without one), as `kiln run --rerun-failed[=RUN_DIR]` */
    const char *elsewhere; /* "kiln rollout set": a sibling's option, refused here with "OPT belongs
                            * to ELSEWHERE" rather than "unknown"; not shown in the help */
    const char *needs;     /* "gallery": the option has an effect only with --gallery, and is refused
                            * without it rather than ignored */
    const char *not_with;  /* "init": the option has no effect with --init, and is refused with it */
    bool empty_ok;         /* CMD_STR, CMD_LIST: "" is a value (a kernel command line); otherwise an
                            * empty value is refused (an empty path is the current directory) */
};
struct cmd_verb {
    const char *name;     /* "gallery list": how errors and the help name it */
    const char *synopsis; /* what follows "usage: kiln NAME "; "\n" starts another form */
    const char *about;    /* a paragraph under the synopsis (NULL: none) */
    const struct cmd_opt *opts;
    int min_args, max_args; /* operands; max -1: any number */
    const char *args;       /* the operand as the synopsis names it ("IMAGE"), for "no IMAGE given" */
    const char *exits;      /* "0 ..., 1 ..., 2 ...": printed as "exit status: EXITS" */
    const char *json;       /* the --json shape (NULL: no --json) */
};
#define CMD_GO (-1)
/* Parses argv[1..] against v: CMD_GO with the operands moved to argv[1..*nargs]; else the exit
 * status to return at once: EXIT_OK after printing the help (-h, --help) to stdout, EXIT_USAGE
 * after printing a usage error (cmd_usage_error). Reentrant for a verb's subverb (optind is reset). */
int cmd_parse(const struct cmd_verb *v, int argc, char **argv, int *nargs);
/* Prints v's help to f: synopsis, about, the options from the table, exit status, JSON shape. */
void cmd_help(const struct cmd_verb *v, FILE *f);
/* The subcommand argv[1] names among subs[0..nsubs) (each named "VERB SUB"; top is VERB's
 * own help), or NULL with *rc set: EXIT_OK after printing top's help for -h/--help, else
 * EXIT_USAGE after saying that none or an unknown one was given; choices lists the SUBs for
 * that message ("a, b or c"). */
const struct cmd_verb *cmd_pick_sub(const struct cmd_verb *top, const struct cmd_verb *subs, size_t nsubs,
                                    const char *choices, int argc, char **argv, int *rc);
/* Prints "kiln VERB: MESSAGE" and "try 'kiln VERB --help'" to stderr; returns EXIT_USAGE. */
int cmd_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An input file named on the command line is a regular file kiln can open (open_regular); else
 * prints "kiln VERB: PATH ...: FIX" (fs_open_error) and returns EXIT_USAGE: a missing or wrong
 * input is a usage error (2), never the 1 of a failed check. 0 when it opens. */
int cmd_input(const char *verb, const char *path, const char *fix);
/* Adds "NAME=VALUE" (or "s:NAME=VALUE") to vars: a CMD_FN for -v / --variable (verb NULL: "kiln: ..."). */
bool cmd_var_opt(const char *verb, const char *opt, const char *val, void *vars);
/* jansson: the diagnostics as [{file, line, col, path, message}] (secrets masked), for --json. */
struct json_t *cmd_diags_json(const struct diags *d);

/* val as a whole number from lo to hi into *out; false after printing "OPT VAL: want a whole
 * number from LO to HI". */
bool cmd_opt_long(const char *verb, const char *opt, const char *val, long lo, long hi, long *out);

struct kiln_store;
/* The service's database: db (else $KILN_DB) when set, else DIR/kiln.db under data. create
 * (kiln serve --init only): the directory and database are made and the schema migrated;
 * otherwise it must exist with kiln's schema and nothing is created or written on open.
 * Prints why (as "kiln VERB: ...") and returns -errno: -EINVAL for a usage error (neither
 * given, the URL names no backend, or no kiln database there: a mistyped --data). */
int cmd_store_open(const char *verb, const char *data, const char *db, bool create, struct kiln_store **st);

struct kiln_client;
/* The client of a tenant's requests to server: token (from --token or $KILN_TOKEN) must be
 * given, and is masked in every log line from here on. 0, or EXIT_USAGE after printing why
 * (no token, or server is not an http(s) URL); nothing is sent yet. */
int cmd_tenant_client(const char *verb, const char *server, const char *token, struct kiln_client **c);

struct disk_write_opts;
/* VHD timestamp and id for an output named seed: reproducible under SOURCE_DATE_EPOCH. */
void cmd_write_opts(const char *seed, struct disk_write_opts *o);

/* Prints to stderr a warning for each testcase rule of rb that matches no case
 * (select_unmatched_rules), prefixed "kiln VERB: warning: ". */
void cmd_warn_unmatched_rules(const char *verb, const struct kiln_runbook *rb);
