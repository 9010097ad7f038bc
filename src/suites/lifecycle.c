/* Area lifecycle: repeated reboots, clean shutdowns, and an image that was generalised
 * before it was captured. */
#include <errno.h>

#include "node/console.h"
#include "node/node.h"
#include "suites/common.h"
#include "util/util.h"

KILN_CASE(verify_reboot_cycles,
          .area = "lifecycle", .priority = 2, .timeout_s = 1800,
          .description = "Three reboots in a row each come back with a new boot id and a clean console")
{
    struct kiln_node *n = t->node;
    for (int i = 1; i <= 3; i++) {
        uint64_t mark = n->console ? console_mark(n->console) : 0;
        char why[1024];
        if (node_reboot(n, MIN(case_time_left(t), 600), why, sizeof why) < 0) {
            n->bad = true;
            return case_fail(t, "reboot %d of 3: %s", i, why);
        }
        _cleanup_free_ char *bad = console_findings(n, mark);
        if (bad) return case_fail(t, "reboot %d of 3: console: %s", i, bad);
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
    char why[1024];
    if (node_reboot(n, MIN(case_time_left(t), 600), why, sizeof why) < 0) {
        n->bad = true;
        return case_fail(t, "reboot: %s", why);
    }
    _cleanup_free_ char *bad = console_findings(n, mark);
    if (bad) return case_fail(t, "console during shutdown and boot: %s", bad);
    /* the journal of the previous boot keeps what systemd said while stopping */
    if (guest_has_systemd(t)) {
        _cleanup_free_ char *out = NULL;
        case_sh(t, "journalctl -b -1 --no-pager -o cat 2>/dev/null | "
                   "grep -E 'A stop job is running|Failed unmounting|timed out\\. Killing|blocked for more than' | head -n 3",
                &out);
        if (out && *strstrip(out)) return case_fail(t, "the last shutdown was not clean: %s", out);
    }
    return CASE_PASS;
}

KILN_CASE(verify_generalized,
          .area = "lifecycle", .priority = 1, .timeout_s = 300,
          .description = "The image carries nothing from its build: no shell history, build-time logs or cloud-init instance data",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *hist = NULL, *logs = NULL, *cloud = NULL;
    case_sh(t, "for f in /root/.*history /home/*/.*history; do [ -s \"$f\" ] && echo \"$f\"; done; true", &hist);
    if (hist && *strstrip(hist)) {
        for (char *p = hist; *p; p++)
            if (*p == '\n') *p = ' ';
        return case_fail(t, "shell history left in the image: %s", hist);
    }
    /* log files not written since this boot came with the image */
    case_sh(t, "[ -d /var/log ] || exit 0; boot=$(( $(date +%s) - $(cut -d. -f1 /proc/uptime) - 5 )); "
               "find /var/log -type f -size +0 ! -name lastlog ! -name wtmp ! -name btmp ! -name faillog 2>/dev/null | "
               "while read -r f; do m=$(stat -c %Y \"$f\"); [ \"$m\" -lt \"$boot\" ] && echo \"$f\"; done | head -n 5; true",
            &logs);
    if (logs && *strstrip(logs)) {
        for (char *p = logs; *p; p++)
            if (*p == '\n') *p = ' ';
        return case_fail(t, "log files from before this boot (left by the build): %s", logs);
    }
    case_sh(t, "[ -d /var/lib/cloud/instances ] || exit 0; cur=$(cat /run/cloud-init/.instance-id 2>/dev/null || "
               "cat /var/lib/cloud/data/instance-id 2>/dev/null); for d in /var/lib/cloud/instances/*; do "
               "[ -d \"$d\" ] && [ \"${d##*/}\" != \"$cur\" ] && echo \"$d\"; done; true",
            &cloud);
    if (cloud && *strstrip(cloud)) return case_fail(t, "cloud-init data of another instance: %s", cloud);
    return CASE_PASS;
}
