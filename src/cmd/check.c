/* kiln check RUNBOOK: validates a runbook (and what it points at) without running anything. */
#include <limits.h>

#include "cmd/common.h"
#include "core/select.h"
#include "node/console.h"
#include "suites/common.h"
#include "util/fs.h"
#include "util/secret.h"
#include "util/util.h"

/* "FILE:LINE:COL" of key's value in the runbook, or the runbook's path when it sets no such key
 * (a default, such as kiln's own policy). */
static const char *located(const struct kiln_runbook *rb, const char *key, char *buf, size_t sz)
{
    const struct kiln_where *w = runbook_where(rb, key);
    if (w) snprintf(buf, sz, "%s:%d:%d", w->file, w->line, w->col);
    else snprintf(buf, sz, "%s", rb->path);
    return buf;
}

int cmd_check(int argc, char **argv)
{
    struct cmd_vars vars = {0};
    const char *path = NULL;
    const struct cmd_opt opts[] = {
        {'v', "variable", "NAME=VALUE", CMD_FN, &vars, .fn = cmd_var_opt, .repeat = true,
         .help = "set a runbook variable (s:NAME=VALUE: a secret); repeatable"},
        {'r', "runbook", "RUNBOOK", CMD_STR, &path, .help = "the runbook, as LISA's lisa -r"},
        {0},
    };
    const struct cmd_verb v = {
        "check", "[-v NAME=VALUE]... RUNBOOK | -r RUNBOOK",
        "Validates RUNBOOK and what it points at (policy, console patterns, image, kernel, keys, the\n"
        "cases its criteria select) without booting anything; errors name file:line:col.",
        opts, 0, 1, "RUNBOOK",
        .exits = "0 valid, 2 usage, a missing runbook or errors in it",
    };
    int nargs, rc = cmd_parse(&v, argc, argv, &nargs);
    if (rc != CMD_GO) return cmd_vars_free(&vars), rc;
    if (path && nargs) rc = cmd_usage_error("check", "one runbook at a time (%s and %s)", path, argv[1]);
    else if (!path && !nargs) rc = cmd_usage_error("check", "no RUNBOOK given");
    if (rc != CMD_GO) return cmd_vars_free(&vars), rc;
    if (!path) path = argv[1];
    struct kiln_runbook *rb = cmd_load_runbook(path, &vars);
    cmd_vars_free(&vars);
    if (!rb) return EXIT_USAGE;
    rc = EXIT_OK;
    struct diags d = {0};
    _cleanup_free_ char *pat = patterns_path(rb->console_patterns);
    struct kiln_patterns *p = patterns_load(pat, rb->console_ignore, rb->nconsole_ignore, &d);
    if (!p) {
        cmd_print_diags(&d);
        rc = EXIT_USAGE;
    }
    patterns_free(p);
    diags_free(&d);
    /* the policy and its profile are read by the cases: a mistake there shows now, not after
     * boot. The policy alone first, so an error names the key that is wrong. */
    char why[512], at[PATH_MAX + 64];
    struct ynode *pol = policy_load(rb->policy, NULL, why, sizeof why);
    if (!pol) {
        secret_fprintf(stderr, "%s: policy: %s\n", located(rb, "policy", at, sizeof at), why);
        rc = EXIT_USAGE;
    } else if (rb->policy_profile) {
        ynode_free(pol);
        if (!(pol = policy_load(rb->policy, rb->policy_profile, why, sizeof why))) {
            /* why names the key: "policy_profile: POLICY has no profile ..." */
            secret_fprintf(stderr, "%s: %s\n", located(rb, "policy_profile", at, sizeof at), why);
            rc = EXIT_USAGE;
        }
    }
    ynode_free(pol);
    const struct kiln_qemu_conf *q = &rb->platform.qemu;
    const char *files[] = {rb->vulnerability_feed, q->image, q->kernel, q->initrd, rb->platform.admin_private_key_file};
    const char *keys[] = {"vulnerability_feed", "platform.qemu.image", "platform.qemu.kernel", "platform.qemu.initrd",
                          "platform.admin_private_key_file"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        if (files[i] && !file_exists(files[i])) {
            secret_fprintf(stderr, "%s: %s: %s does not exist\n", located(rb, keys[i], at, sizeof at), keys[i], files[i]);
            rc = EXIT_USAGE;
        }
    cmd_warn_unmatched_rules("check", rb);
    char **conflicts;
    size_t nconf = select_conflicts(rb, &conflicts);
    for (size_t i = 0; i < nconf; i++) {
        secret_fprintf(stderr, "%s\n", conflicts[i]);
        free(conflicts[i]);
    }
    free(conflicts);
    if (nconf) rc = EXIT_USAGE;
    struct kiln_selected *sel;
    size_t n = select_cases(rb, &sel);
    free(sel);
    if (!n) {
        fprintf(stderr, "%s: testcase: the criteria select no case (see `kiln list`)\n", path);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK) secret_fprintf(stdout, "%s: ok (%zu case(s) selected)\n", path, n);
    runbook_free(rb);
    return rc;
}
