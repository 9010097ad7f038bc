/* kiln check RUNBOOK: validates a runbook (and what it points at) without running anything. */
#include <jansson.h>

#include "cmd/common.h"
#include "run/select.h"
#include "node/console.h"
#include "platform/platform.h"
#include "suites/common.h"
#include "util/fs.h"
#include "util/secret.h"
#include "util/util.h"

/* What kiln check finds: printed as found, or gathered for --json. */
struct check_verdict {
    bool json;
    struct diags errors, warnings;
};

/* An error at file:line:col (line 0: the file) about the key at path ("" for none). */
static void found(struct check_verdict *vd, const char *file, int line, int col, const char *path, const char *msg)
{
    diag_add_at(&vd->errors, file, line, col, path, "%s", msg);
    if (vd->json) return;
    struct diags one = {.v = &vd->errors.v[vd->errors.n - 1], .n = 1};
    cmd_print_diags(&one);
}

/* The same at key's value in the runbook, or at the runbook when it sets no such key (a
 * default, such as kiln's own policy). */
static void found_at(struct check_verdict *vd, const struct kiln_runbook *rb, const char *key, const char *path, const char *msg)
{
    const struct kiln_where *w = runbook_where(rb, key);
    found(vd, w ? w->file : rb->path, w ? w->line : 0, w ? w->col : 0, path, msg);
}

/* A message of select.h's, "FILE:LINE:COL: testcase[I] ...", as a diagnostic at its place. */
static void add_located(struct diags *d, const char *msg)
{
    const char *rest = strstr(msg, ": testcase[");
    const char *col = NULL, *line = NULL;
    for (const char *p = rest; rest && p > msg && !line; p--)
        if (p[-1] == ':') {
            if (!col) col = p;
            else line = p;
        }
    long l, c;
    _cleanup_free_ char *lt = line ? xstrndup(line, (size_t)(col - 1 - line)) : NULL;
    _cleanup_free_ char *ct = col ? xstrndup(col, (size_t)(rest - col)) : NULL;
    if (line && parse_long_strict(lt, &l) && parse_long_strict(ct, &c)) {
        _cleanup_free_ char *file = xstrndup(msg, (size_t)(line - 1 - msg));
        diag_add_at(d, file, (int)l, (int)c, "", "%s", rest + 2);
    } else {
        diag_add_at(d, "", 0, 0, "", "%s", msg);
    }
}

/* The files the runbook names must exist: the vulnerability feed, the platform's tested files
 * (its driver says which), the admin key; and the platform's driver must take them. */
static void check_files(const struct kiln_runbook *rb, struct check_verdict *vd)
{
    const struct kiln_platform *ops = platform_find(rb->platform.type);
    struct kiln_platform_file files[PLATFORM_FILES_MAX + 2];
    size_t n = 0;
    if (rb->vulnerability_feed) files[n++] = (struct kiln_platform_file){"", "vulnerability_feed", rb->vulnerability_feed};
    if (ops->tested_files) n += ops->tested_files(rb->platform.conf, files + n, PLATFORM_FILES_MAX);
    if (rb->platform.admin_private_key_file)
        files[n++] = (struct kiln_platform_file){"", "platform.admin_private_key_file", rb->platform.admin_private_key_file};
    for (size_t i = 0; i < n; i++)
        if (!file_exists(files[i].path)) {
            _cleanup_free_ char *hint = runbook_missing_file_hint(rb, files[i].role, files[i].path);
            _cleanup_free_ char *m = xasprintf("%s does not exist%s", files[i].path, hint);
            found_at(vd, rb, files[i].key, files[i].key, m);
        }
    /* what kiln run would refuse before booting, from the files that are there */
    const char *key = NULL;
    _cleanup_free_ char *err = NULL;
    if (ops->check_conf && ops->check_conf(rb->platform.conf, &key, &err) < 0) found_at(vd, rb, key, "", err);
}

/* The checks beyond loading: console patterns, policy, the files named, the selection. Returns
 * how many cases the runbook selects. */
static size_t check_loaded(const struct kiln_runbook *rb, const char *path, struct check_verdict *vd)
{
    struct diags d = {0};
    _cleanup_free_ char *pat = patterns_path(rb->console_patterns);
    struct kiln_patterns *p = patterns_load(pat, rb->console_ignore, rb->nconsole_ignore, &d);
    if (!p && !vd->json) cmd_print_diags(&d);
    for (size_t i = 0; !p && i < d.n; i++) *APPEND(vd->errors.v, vd->errors.n, vd->errors.cap) = d.v[i]; /* moved */
    if (p) diags_free(&d);
    else free(d.v);
    patterns_free(p);
    /* the policy and its profile are read by the cases: a mistake there shows now, not after
     * boot. The policy alone first, so an error names the key that is wrong. */
    _cleanup_free_ char *why = NULL;
    struct ynode *pol = policy_load(rb->policy, NULL, &why);
    if (!pol) {
        found_at(vd, rb, "policy", "policy", why);
    } else if (rb->policy_profile) {
        ynode_free(pol);
        /* why names the key: "policy_profile: POLICY has no profile ..." */
        if (!(pol = policy_load(rb->policy, rb->policy_profile, &why))) found_at(vd, rb, "policy_profile", "", why);
    }
    ynode_free(pol);
    check_files(rb, vd);
    char **msgs;
    size_t nmsg;
    if (vd->json) {
        nmsg = select_unmatched_rules(rb, &msgs);
        for (size_t i = 0; i < nmsg; i++) add_located(&vd->warnings, msgs[i]), free(msgs[i]);
        free(msgs);
    } else {
        cmd_warn_unmatched_rules("check", rb);
    }
    nmsg = select_conflicts(rb, &msgs);
    for (size_t i = 0; i < nmsg; i++) {
        if (!vd->json) secret_fprintf(stderr, "%s\n", msgs[i]);
        add_located(&vd->errors, msgs[i]);
        free(msgs[i]);
    }
    free(msgs);
    struct kiln_selected *sel;
    size_t n = select_cases(rb, &sel);
    free(sel);
    if (!n) found(vd, path, 0, 0, "testcase", "the criteria select no case (see `kiln list`)");
    return n;
}

int cmd_check(int argc, char **argv)
{
    struct cmd_vars vars = {0};
    const char *path = NULL;
    struct check_verdict vd = {0};
    const struct cmd_opt opts[] = {
        {'v', "variable", "NAME=VALUE", CMD_FN, &vars, .fn = cmd_var_opt, .repeat = true,
         .help = "set a runbook variable (s:NAME=VALUE: a secret); repeatable"},
        {'r', "runbook", "RUNBOOK", CMD_STR, &path, .help = "the runbook, as LISA's lisa -r"},
        {0, "json", NULL, CMD_FLAG, &vd.json, .help = "the verdict as JSON on stdout (messages stay on stderr)"},
        {0},
    };
    const struct cmd_verb v = {
        "check", "[-v NAME=VALUE]... [--json] RUNBOOK | -r RUNBOOK",
        "Validates RUNBOOK and what it points at (policy, console patterns, image, kernel, keys, the\n"
        "cases its criteria select) without booting anything; errors name file:line:col.",
        opts, 0, 1, "RUNBOOK",
        .exits = "0 valid, 2 usage, a missing runbook or errors in it",
        .json = "{\"runbook\": PATH, \"ok\": BOOL, \"cases\": N (selected; null when it does not load),\n"
                "\"errors\": [{\"file\", \"line\", \"col\", \"path\", \"message\"}], \"warnings\": [the same]}\n"
                "(line 0: the place is the file; secrets masked)",
    };
    int nargs, rc = cmd_parse(&v, argc, argv, &nargs);
    if (rc != CMD_GO) return cmd_vars_free(&vars), rc;
    if (path && nargs) rc = cmd_usage_error("check", "one runbook at a time (%s and %s)", path, argv[1]);
    else if (!path && !nargs) rc = cmd_usage_error("check", "no RUNBOOK given");
    if (rc != CMD_GO) return cmd_vars_free(&vars), rc;
    if (!path) path = argv[1];
    struct kiln_runbook *rb = vd.json ? cmd_load_runbook_into(path, &vars, &vd.errors, &vd.warnings)
                                      : cmd_load_runbook(path, &vars);
    cmd_vars_free(&vars);
    size_t n = 0;
    rc = rb ? EXIT_OK : EXIT_USAGE;
    if (rb) n = check_loaded(rb, path, &vd);
    if (vd.errors.n) rc = EXIT_USAGE;
    if (vd.json) {
        json_t *j = json_pack("{s:s, s:b, s:o, s:o, s:o}", "runbook", path, "ok", rc == EXIT_OK, "cases",
                              rb ? json_integer((json_int_t)n) : json_null(), "errors", cmd_diags_json(&vd.errors),
                              "warnings", cmd_diags_json(&vd.warnings));
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(j);
        cmd_print_warnings(&vd.warnings);
        cmd_print_diags(&vd.errors);
    } else if (rc == EXIT_OK) {
        secret_fprintf(stdout, "%s: ok (%zu case(s) selected)\n", path, n);
    }
    diags_free(&vd.errors);
    diags_free(&vd.warnings);
    runbook_free(rb);
    return rc;
}
