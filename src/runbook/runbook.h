/* A runbook: YAML → typed structs. Includes, variables ($(name)), secrets. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "model/req.h"
#include "util/yaml.h"

enum kiln_keep_env { KEEP_NO, KEEP_ALWAYS, KEEP_FAILED };
/* testcase[].select_action; SEL_NONE (LISA's "none") only sets times/retry/... of cases
 * earlier rules selected. */
enum kiln_select_action { SEL_INCLUDE, SEL_EXCLUDE, SEL_FORCE_INCLUDE, SEL_FORCE_EXCLUDE, SEL_NONE };
struct kiln_var {
    char *name, *value;
    bool secret;
    const char *file; /* where it was defined; relative paths in it resolve against this file's dir */
    int line, col;    /* of its name there; 0 for -v */
    bool in_file;     /* a runbook file defines it (a -v may override the value) */
    bool used;        /* $(name) was expanded while the runbook loaded */
};

struct kiln_platform_conf {
    char *type; /* platform.type: the name of a driver in platform/ ("qemu", "ready") */
    char *admin_username;
    char *admin_private_key_file;
    int keep_environment;
    struct kiln_req requirement; /* merged into every case's requirement */
    /* platform.<type>, as that driver's parse_conf made it (platform/<type>.h says its shape) */
    void *conf;
};

struct kiln_criteria {
    char *name, *area, *category; /* regular expressions (extended), whole-string match */
    long *priorities;
    size_t npriorities;
    char **tags;                  /* a case must carry all of them */
    size_t ntags;
};

struct kiln_tc_rule {
    struct kiln_criteria criteria;
    int action;                   /* enum kiln_select_action */
    long times, retry, timeout_s; /* -1 = not set */
    int ignore_failure;           /* -1 = not set */
    char *at_file;                /* where the rule is written (a rule that selects nothing is named there) */
    int at_line, at_col;
};

struct kiln_notifier_conf {
    char *type; /* console | json | junit | html */
};

/* kselftest: collections built from a kernel tree (or taken from a gen_tar tarball) and run
 * with the suite's own run_kselftest.sh, one case per collection. */
struct kiln_kselftest_conf {
    char *source;            /* kernel tree, linux-source tarball, installed dir or kselftest tarball */
    char **collections;
    size_t ncollections;
    char **skip;             /* "collection:test" */
    size_t nskip;
    long timeout_s;          /* per test; 0 = the collection's own settings file */
    long priority;
};

/* LTP on the guest: one case per runtest group. */
struct kiln_ltp_conf {
    char *root;              /* on the guest; default /opt/ltp */
    char *source;            /* optional local path: an installed LTP tree, or LTP sources to build */
    int runner;              /* enum kiln_ltp_runner */
    char **groups;
    size_t ngroups;
    char **skip;             /* test tags */
    size_t nskip;
    long timeout_s;          /* per test */
    long priority;
};
enum kiln_ltp_runner { LTP_RUNNER_KILN, LTP_RUNNER_RUNLTP, LTP_RUNNER_KIRK };

struct kiln_runbook {
    char *path, *name;
    long concurrency;
    struct kiln_var *vars;
    size_t nvars;
    struct kiln_platform_conf platform;
    struct kiln_tc_rule *rules;
    size_t nrules;
    bool has_testcase;
    struct kiln_notifier_conf *notifiers;
    size_t nnotifiers;
    char **extensions;
    size_t nextensions;
    struct kiln_where {       /* where extensions[i] is named (for errors about it) */
        char *file;
        int line, col;
    } *extensions_at;
    char *console_patterns; /* a patterns file replacing the default one */
    char *policy;           /* a suite policy file replacing data/policy.yml */
    char *policy_profile;   /* a profile of the policy merged over its base (e.g. "hardened") */
    char *vulnerability_feed; /* advisories to check installed packages against */
    struct kiln_kselftest_conf *kselftest;
    struct kiln_ltp_conf *ltp;
    char **console_ignore;  /* extra ignore expressions */
    size_t nconsole_ignore;
    struct kiln_key_where { /* where the values kiln check verifies after loading stand */
        const char *key;    /* a key path, e.g. "policy", "platform.qemu.image" */
        struct kiln_where at;
    } *keys_at;
    size_t nkeys_at;
};

/* file:line:col of key's value (a key path: "policy", "policy_profile", "vulnerability_feed",
 * "platform.qemu.image" ...), or NULL when the runbook does not set it. */
const struct kiln_where *runbook_where(const struct kiln_runbook *rb, const char *key);

/* Parses "name=value" (or LISA's "name:value"); an "s:" prefix marks a secret ("s:name=value").
 * -EINVAL without a separator, with an empty or invalid name (letters, digits, _ - . only), and
 * for "s:value": "s:" is always the secret prefix, never a variable named s. */
int runbook_parse_cli_var(const char *arg, struct kiln_var *out);

/* Loads path with includes; cli vars override runbook variables. All problems go to d.
 * Returns 0 or a negative errno-style value (with diagnostics). LISA's runbook shapes load too
 * (runbook/lisa.h); what kiln does not honour of them is an error, or dropped with a warning. */
int runbook_load(const char *path, const struct kiln_var *cli, size_t ncli, struct kiln_runbook **out,
                 struct diags *d);
/* runbook_load, with those warnings (file:line:col, whatever the outcome) added to warn. */
int runbook_load_warn(const char *path, const struct kiln_var *cli, size_t ncli, struct kiln_runbook **out,
                      struct diags *d, struct diags *warn);
void runbook_free(struct kiln_runbook *rb);
/* Reads the string n (at key path path) as a file path into *out (freed first): absolute, a
 * relative one resolved against the directory of the file that set it (of the working
 * directory for a -v value). false, with the error in d, when n is not a string. */
bool runbook_get_path(struct diags *d, const struct ynode *n, const char *path, char **out);
/* What to do about a file the runbook names that does not exist (kiln check): role is the
 * platform's (kiln_platform_file: "image", "kernel", ...), path the absolute path. For the
 * image: build it (kiln build SPEC --out DIR) or give another with -v NAME=PATH; for others:
 * fix the path. NAME is the variable whose value the path came from, when one did (its value
 * resolved against its file's directory, or the working directory for a -v, is path), else
 * "NAME". Returns an allocated "; ..." suffix for the "PATH does not exist" message. */
char *runbook_missing_file_hint(const struct kiln_runbook *rb, const char *role, const char *path);
/* A requirement mapping {nodes, cpus, memory_mb, nics, data_disks, features}. */
void runbook_parse_req(const struct ynode *n, const char *path, struct kiln_req *r, struct diags *d);
