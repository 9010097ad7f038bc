/* Area lifecycle: repeated reboots, clean shutdowns, and an image that was generalised
 * before it was captured. */
#include <errno.h>

#include "node/console.h"
#include "node/node.h"
#include "suites/decide.h"
#include "util/util.h"

/* The units systemd holds failed, as "; failed units: A B" ("" for none or no systemd): the
 * console's status lines shorten unit names to fit, the list names them whole. */
static char *failed_units_note(struct kiln_case_ctx *t)
{
    _cleanup_free_ char *out = NULL;
    if (!guest_has_systemd(t) ||
        case_sh(t, "systemctl list-units --state=failed --no-legend --plain --no-pager | awk '{print $1}'", &out) != 0 ||
        !out || !*strstrip(out))
        return xstrdup("");
    for (char *c = out; *c; c++)
        if (*c == '\n') *c = ' ';
    return xasprintf("; failed units: %s", out);
}

KILN_CASE(verify_reboot_cycles,
          .area = "lifecycle", .priority = 2, .timeout_s = 1800,
          .description = "Three reboots in a row each come back with a new boot id and a clean console")
{
    struct kiln_node *n = t->node;
    for (int i = 1; i <= 3; i++) {
        uint64_t mark = n->console ? console_mark(n->console) : 0;
        _cleanup_free_ char *why = NULL;
        if (node_reboot(n, MIN(case_time_left(t), 600), &why) < 0) {
            n->bad = true;
            return case_fail(t, "reboot %d of 3: %s", i, why);
        }
        _cleanup_free_ char *bad = console_findings(n, mark);
        if (bad) {
            _cleanup_free_ char *units = failed_units_note(t);
            return case_fail(t, "reboot %d of 3: console: %s%s", i, bad, units);
        }
        case_log(t, "reboot %d: boot id %s", i, n->boot_id);
    }
    return CASE_PASS;
}

KILN_CASE(verify_clean_shutdown,
          .area = "lifecycle", .priority = 2, .timeout_s = 900,
          .description = "Shutting down takes no stop-job timeouts, hung tasks or failed unmounts",
          .requires = {.features = FEAT_SERIAL_CONSOLE})
{
    struct kiln_node *n = t->node;
    uint64_t mark = console_mark(n->console);
    _cleanup_free_ char *why = NULL;
    if (node_reboot(n, MIN(case_time_left(t), 600), &why) < 0) {
        n->bad = true;
        return case_fail(t, "reboot: %s", why);
    }
    _cleanup_free_ char *bad = console_findings(n, mark);
    if (bad) {
        _cleanup_free_ char *units = failed_units_note(t);
        char *all = xasprintf("%s%s", bad, units);
        free(bad);
        bad = all;
    }
    bool systemd = guest_has_systemd(t);
    struct gcap journal = {.out = xstrdup(""), .err = xstrdup("")};
    bool persistent = false;
    /* the journal of the previous boot keeps what systemd said while stopping */
    if (!bad && systemd) {
        gcap_free(&journal);
        if (guest_capture(t, NULL, "journalctl -b -1 --no-pager -o cat", &journal) < 0) return CASE_FAIL;
        persistent = journal.status == 0 || case_sh(t, "test -d /var/log/journal", NULL) == 0;
    }
    struct verdict v = {0};
    decide_clean_shutdown(bad, systemd, &journal, persistent, &v);
    gcap_free(&journal);
    return case_verdict(t, &v);
}

KILN_CASE(verify_generalized,
          .area = "lifecycle", .priority = 1, .timeout_s = 300,
          .description = "The image carries nothing from its build: no shell history, build-time logs or cloud-init instance data",
          .tags = KILN_TAGS("fast"))
{
    struct gcap hist, logs, cloud;
    if (guest_capture(t, NULL, "for f in /root/.*history /home/*/.*history; do [ -s \"$f\" ] && echo \"$f\"; done; exit 0",
                      &hist) < 0)
        return CASE_FAIL;
    /* log files last written before this boot (btime, with 5 s to spare) came with the image */
    if (guest_capture(t, NULL, "[ -d /var/log ] || exit 0; b=$(awk '/^btime/ {print $2}' /proc/stat) || exit 1; "
                               "[ -n \"$b\" ] || exit 1; "
                               "l=$(find /var/log -type f -size +0 ! -name lastlog ! -name wtmp ! -name btmp ! -name faillog "
                               "-exec stat -c '%Y %n' {} +) || exit 1; [ -n \"$l\" ] || exit 0; "
                               "printf '%s\\n' \"$l\" | awk -v b=$((b - 5)) '$1 < b {sub(/^[0-9]+ /, \"\"); print}'",
                      &logs) < 0) {
        gcap_free(&hist);
        return CASE_FAIL;
    }
    if (guest_capture(t, NULL, "[ -d /var/lib/cloud/instances ] || exit 0; cur=$(cat /run/cloud-init/.instance-id 2>/dev/null || "
                               "cat /var/lib/cloud/data/instance-id 2>/dev/null); for d in /var/lib/cloud/instances/*; do "
                               "[ -d \"$d\" ] && [ \"${d##*/}\" != \"$cur\" ] && echo \"$d\"; done; exit 0",
                      &cloud) < 0) {
        gcap_free(&hist);
        gcap_free(&logs);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_generalized(&hist, &logs, &cloud, &v);
    gcap_free(&hist);
    gcap_free(&logs);
    gcap_free(&cloud);
    return case_verdict(t, &v);
}
