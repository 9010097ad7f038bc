/* Area provisioning: the node boots, answers SSH, reboots cleanly and its console is clean. */
#include <errno.h>

#include "run/case.h"
#include "node/node.h"
#include "platform/platform.h"
#include "suites/decide.h"
#include "util/util.h"

/* Fails with the first console findings since the node booted (mark 0). */
static int check_console(struct kiln_case_ctx *t, struct kiln_node *n, const char *when)
{
    _cleanup_free_ char *bad = console_findings(n, 0);
    return bad ? case_fail(t, "console %s: %s", when, bad) : CASE_PASS;
}

KILN_CASE(smoke,
          .area = "provisioning", .priority = 0, .timeout_s = 600,
          .description = "SSH answers, the console is clean, and a reboot comes back with a new boot id",
          .tags = KILN_TAGS("fast", "boot"))
{
    struct kiln_node *n = t->node;
    _cleanup_free_ char *os = NULL;
    int r = case_sh(t, "uname -r; . /etc/os-release 2>/dev/null && echo \"$PRETTY_NAME\"", &os);
    if (r != 0) return case_fail(t, "cannot run a command over SSH on %s (status %d)", n->name, r);
    case_log(t, "kernel and OS: %s", strstrip(os));
    if (check_console(t, n, "before reboot") != CASE_PASS) return CASE_FAIL;
    if (!n->boot_id && node_read_boot_id(n) < 0) return case_fail(t, "cannot read /proc/sys/kernel/random/boot_id");
    _cleanup_free_ char *before = xstrdup(n->boot_id);
    _cleanup_free_ char *why = NULL;
    int rr = node_reboot(n, MIN(case_time_left(t), 600), &why);
    if (rr < 0) {
        n->bad = true;
        return case_fail(t, "reboot: %s", why);
    }
    case_log(t, "rebooted: boot id %s -> %s", before, n->boot_id);
    return check_console(t, n, "after reboot");
}

KILN_CASE(verify_no_failed_units,
          .area = "provisioning", .priority = 1, .timeout_s = 300,
          .description = "No systemd unit is in the failed state once the system finished booting",
          .tags = KILN_TAGS("fast"))
{
    if (!guest_has_systemd(t)) return case_skip(t, "no systemd on %s (/run/systemd/system missing)", t->node->name);
    /* the state it reached is for the log: a unit still starting after the wait is judged as it is */
    _cleanup_free_ char *state = NULL;
    int to = MIN(case_time_left(t) - 10, 240);
    _cleanup_free_ char *wait = xasprintf("timeout %d systemctl is-system-running --wait 2>/dev/null", MAX(to, 5));
    case_sh(t, wait, &state);
    case_log(t, "system state: %s", state ? strstrip(state) : "?");
    struct gcap units, journals[3] = {0};
    if (guest_capture(t, NULL, "systemctl list-units --state=failed --no-legend --plain --no-pager", &units) < 0)
        return CASE_FAIL;
    size_t nj = 0;
    const char *p = units.status == 0 ? units.out : "", *line;
    size_t len;
    int rc = CASE_PASS;
    while (nj < ARRAY_SIZE(journals) && rc == CASE_PASS && next_line(&p, &line, &len)) {
        size_t ul = strcspn(line, " \t");
        if (!ul || ul > len) continue;
        _cleanup_free_ char *unit = xstrndup(line, ul);
        _cleanup_free_ char *q = shell_quote(unit);
        _cleanup_free_ char *cmd = xasprintf("journalctl -b -u %s --no-pager -o cat -n 5", q);
        if (guest_capture(t, NULL, cmd, &journals[nj]) < 0) rc = CASE_FAIL;
        else nj++;
    }
    struct verdict v = {0};
    if (rc == CASE_PASS) decide_failed_units(&units, journals, nj, &v);
    gcap_free(&units);
    for (size_t i = 0; i < nj; i++) gcap_free(&journals[i]);
    return rc == CASE_PASS ? case_verdict(t, &v) : rc;
}

KILN_CASE(verify_console_clean,
          .area = "provisioning", .priority = 1, .timeout_s = 120,
          .description = "The serial console since boot has no panic, oops, BUG, lockup, failed unit or fs error",
          .tags = KILN_TAGS("fast"),
          .requires = {.features = FEAT_SERIAL_CONSOLE})
{
    /* Let late boot messages reach the console file before judging it. */
    case_sh(t, "sleep 1", NULL);
    return check_console(t, t->node, "since boot");
}

KILN_CASE(verify_kernel_cmdline,
          .area = "provisioning", .priority = 1, .timeout_s = 120,
          .description = "The kernel command line has a serial console and everything the runbook asked for",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *cmdline = NULL;
    if (case_sh(t, "cat /proc/cmdline", &cmdline) != 0) return case_fail(t, "cannot read /proc/cmdline");
    case_log(t, "/proc/cmdline: %s", strstrip(cmdline));
    const struct kiln_platform *ops = t->plat->ops;
    const char *key = NULL;
    const char *args = ops->kernel_args && t->plat->rb ? ops->kernel_args(t->plat->rb->platform.conf, &key) : NULL;
    struct verdict v = {0};
    decide_kernel_cmdline(cmdline, args, key, &v);
    return case_verdict(t, &v);
}
