/* kiln check RUNBOOK: validates a runbook (and what it points at) without running anything. */
#include "cmd/common.h"
#include "core/select.h"
#include "node/console.h"
#include "suites/common.h"
#include "util/fs.h"
#include "util/secret.h"
#include "util/util.h"

int cmd_check(int argc, char **argv)
{
    struct cmd_vars vars = {0};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        int t = cmd_take_var(argc, argv, &i, &vars);
        if (t < 0) return cmd_vars_free(&vars), EXIT_USAGE;
        if (t) continue;
        if (argv[i][0] == '-' || path) {
            fprintf(stderr, "usage: kiln check [-v NAME=VALUE]... RUNBOOK\n");
            cmd_vars_free(&vars);
            return EXIT_USAGE;
        }
        path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: kiln check [-v NAME=VALUE]... RUNBOOK\n");
        cmd_vars_free(&vars);
        return EXIT_USAGE;
    }
    struct kiln_runbook *rb = cmd_load_runbook(path, &vars);
    cmd_vars_free(&vars);
    if (!rb) return EXIT_USAGE;
    int rc = EXIT_OK;
    struct diags d = {0};
    _cleanup_free_ char *pat = patterns_path(rb->console_patterns);
    struct kiln_patterns *p = patterns_load(pat, rb->console_ignore, rb->nconsole_ignore, &d);
    if (!p) {
        cmd_print_diags(&d);
        rc = EXIT_USAGE;
    }
    patterns_free(p);
    diags_free(&d);
    /* the policy and its profile are read by the cases: a mistake there shows now, not after boot */
    char why[512];
    struct ynode *pol = policy_load(rb->policy, rb->policy_profile, why, sizeof why);
    if (!pol) {
        secret_fprintf(stderr, "%s: policy: %s\n", path, why);
        rc = EXIT_USAGE;
    }
    ynode_free(pol);
    if (rb->vulnerability_feed && !file_exists(rb->vulnerability_feed)) {
        secret_fprintf(stderr, "%s: vulnerability_feed: %s does not exist\n", path, rb->vulnerability_feed);
        rc = EXIT_USAGE;
    }
    const struct kiln_qemu_conf *q = &rb->platform.qemu;
    const char *files[] = {q->image, q->kernel, q->initrd, rb->platform.admin_private_key_file};
    const char *keys[] = {"platform.qemu.image", "platform.qemu.kernel", "platform.qemu.initrd",
                          "platform.admin_private_key_file"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        if (files[i] && !file_exists(files[i])) {
            secret_fprintf(stderr, "%s: %s: %s does not exist\n", path, keys[i], files[i]);
            rc = EXIT_USAGE;
        }
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
