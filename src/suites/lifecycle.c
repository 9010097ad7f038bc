/* Area lifecycle: repeated reboots, clean shutdowns, and an image that was generalised
 * before it was captured. */
#include <errno.h>

#include "node/console.h"
#include "node/node.h"
#include "suites/decide.h"
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

enum verdict_kind decide_clean_shutdown(const char *console, bool systemd, const struct gcap *journal, bool persistent,
                                        struct verdict *v)
{
    if (console) return verdict_set(v, VERDICT_FAIL, "console during shutdown and boot: %s", console);
    if (!systemd) return verdict_set(v, VERDICT_PASS, "the console through shutdown and boot is clean (no systemd journal)");
    if (journal->status != 0) {
        _cleanup_free_ char *why = gcap_why(journal);
        if (!persistent)
            return verdict_set(v, VERDICT_NOTHING, "the journal is not kept across boots (no /var/log/journal), so the "
                                                   "last shutdown's messages are gone (%s); the console was clean", why);
        return verdict_set(v, VERDICT_FAIL, "cannot read the previous boot's journal (journalctl -b -1): %s", why);
    }
    static const char *const bad[] = {"A stop job is running", "Failed unmounting", "timed out. Killing",
                                      "blocked for more than"};
    struct sbuf found = {0};
    size_t n = 0;
    const char *p = journal->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
            if (strstr(l, bad[i])) {
                reason_item(&found, &n, 3, "%s", strstrip(l));
                break;
            }
    }
    if (n) verdict_set(v, VERDICT_FAIL, "the last shutdown was not clean: %s", found.s);
    else verdict_set(v, VERDICT_PASS, "console and the previous boot's journal show a clean shutdown");
    sbuf_free(&found);
    return v->kind;
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

enum verdict_kind decide_generalized(const struct gcap *history, const struct gcap *logs, const struct gcap *cloud,
                                     struct verdict *v)
{
    const struct gcap *caps[] = {history, logs, cloud};
    static const char *const what[] = {"shell history", "log files", "cloud-init instances"};
    for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
        if (caps[i]->status != 0) {
            _cleanup_free_ char *why = gcap_why(caps[i]);
            return verdict_set(v, VERDICT_FAIL, "cannot look for %s: %s", what[i], why);
        }
    static const char *const found[] = {"shell history left in the image", "log files from before this boot (left by the build)",
                                        "cloud-init data of another instance"};
    for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
        struct sbuf list = {0};
        size_t n = 0;
        const char *p = caps[i]->out, *line;
        size_t len;
        while (next_line(&p, &line, &len))
            if (len) reason_item(&list, &n, 5, "%.*s", (int)len, line);
        if (n) {
            verdict_set(v, VERDICT_FAIL, "%s: %s", found[i], list.s);
            sbuf_free(&list);
            return v->kind;
        }
    }
    return verdict_set(v, VERDICT_PASS, "no shell history, build-time log or foreign cloud-init data");
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
