/* Area kernel: what the kernel was given and how it behaves. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <time.h>

#include "node/console.h"
#include "node/node.h"
#include "platform/platform.h"
#include "suites/decide.h"
#include "suites/decide_hpc.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/util.h"
#include "util/yaml.h"

/* "1min 2.345s", "345ms", "12us", "2h 3min" → seconds; -1 on garbage. */
double parse_systemd_duration(const char *s)
{
    double total = 0;
    bool any = false;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        /* digits and a point only, as systemd prints them: no sign, exponent, hex, inf or nan */
        size_t digits = strspn(s, "0123456789.");
        if (!digits || !isdigit((unsigned char)*s)) return -1;
        char *e;
        double v = strtod(s, &e);
        if (e != s + digits || !isfinite(v)) return -1;
        static const struct { const char *unit; double mul; } units[] = {
            {"min", 60}, {"ms", 1e-3}, {"us", 1e-6}, {"h", 3600}, {"s", 1}};
        size_t k;
        for (k = 0; k < ARRAY_SIZE(units); k++)
            if (startswith(e, units[k].unit)) break;
        if (k == ARRAY_SIZE(units)) return -1;
        total += v * units[k].mul;
        s = e + strlen(units[k].unit);
        any = true;
    }
    return any ? total : -1;
}

static bool provisioned_known(struct kiln_case_ctx *t)
{
    return t->plat->ops->caps & PLATFORM_CAP_PROVISIONS_SHAPE;
}

/* Reads a small file for the reason of a failure ("" when it cannot). */
static char *read_hint(struct kiln_case_ctx *t, const char *cmd)
{
    char *out = NULL;
    if (case_sh(t, cmd, &out) != 0) {
        free(out);
        out = NULL;
    }
    return out ? out : xstrdup("");
}

KILN_CASE(verify_cpu_count,
          .area = "kernel", .priority = 1, .timeout_s = 120,
          .description = "The guest sees exactly the vCPUs it was given",
          .tags = KILN_TAGS("fast"))
{
    if (!provisioned_known(t)) return case_skip(t, "the %s platform does not say how many vCPUs it gave", t->plat->ops->name);
    struct gcap c;
    if (guest_capture(t, NULL, "grep -c '^processor' /proc/cpuinfo", &c) < 0) return CASE_FAIL;
    _cleanup_free_ char *offline = NULL, *cmdline = NULL;
    struct verdict v = {0};
    long n;
    if (decide_cpu_count(&c, "", "", t->node->have.cpus, &v, &n) == VERDICT_FAIL && n >= 0) {
        verdict_free(&v);
        offline = read_hint(t, "cat /sys/devices/system/cpu/offline");
        cmdline = read_hint(t, "cat /proc/cmdline");
        decide_cpu_count(&c, offline, cmdline, t->node->have.cpus, &v, &n);
    }
    gcap_free(&c);
    if (n >= 0) case_metric(t, "cpus", (double)n, "");
    return case_verdict(t, &v);
}

KILN_CASE(verify_memory,
          .area = "kernel", .priority = 1, .timeout_s = 120,
          .description = "MemTotal is at least 75% of the memory given and no more than it",
          .tags = KILN_TAGS("fast"))
{
    if (!provisioned_known(t)) return case_skip(t, "the %s platform does not say how much memory it gave", t->plat->ops->name);
    struct gcap c;
    if (guest_capture(t, NULL, "awk '/^MemTotal:/ {print $2}' /proc/meminfo", &c) < 0) return CASE_FAIL;
    _cleanup_free_ char *crash = NULL, *cmdline = NULL;
    struct verdict v = {0};
    double mib;
    if (decide_memory(&c, "", "", t->node->have.memory_mb, &v, &mib) == VERDICT_FAIL && mib >= 0) {
        verdict_free(&v);
        crash = read_hint(t, "cat /sys/kernel/kexec_crash_size");
        cmdline = read_hint(t, "cat /proc/cmdline");
        decide_memory(&c, crash, cmdline, t->node->have.memory_mb, &v, &mib);
    }
    gcap_free(&c);
    if (mib >= 0) case_metric(t, "mem_total", mib, "MiB");
    return case_verdict(t, &v);
}

KILN_CASE(verify_vdso,
          .area = "kernel", .priority = 1, .timeout_s = 120,
          .description = "clock_gettime is served by the vDSO, not a system call (clock source supports it)",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *cs = NULL, *cmdline = NULL;
    if (guest_sh_ok(t, "read the clock source", "cat /sys/devices/system/clocksource/clocksource0/current_clocksource", &cs) ||
        guest_sh_ok(t, "read the kernel command line", "cat /proc/cmdline", &cmdline))
        return CASE_FAIL;
    strstrip(cs);
    strstrip(cmdline);
    case_log(t, "clock source: %s", cs);
    const char *helper;
    int hrc = guest_helper(t, &helper);
    if (hrc != CASE_PASS) return hrc;
    _cleanup_free_ char *cmd = xasprintf("%s vdso", helper);
    struct gcap probe, dmesg = {0};
    if (guest_capture(t, NULL, cmd, &probe) < 0) return CASE_FAIL;
    case_log(t, "%s", probe.out);
    if (probe.status != 0 && guest_capture(t, NULL, "dmesg", &dmesg) < 0) {
        gcap_free(&probe);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_vdso(&probe, &dmesg, cs, cmdline, streq(t->plat->accel, "tcg"), t->node->have.cpus, &v);
    gcap_free(&probe);
    gcap_free(&dmesg);
    return case_verdict(t, &v);
}

KILN_CASE(verify_dmesg_clean,
          .area = "kernel", .priority = 1, .timeout_s = 120,
          .description = "The kernel log since boot has no panic, oops, BUG, WARNING, stall, lockup, call trace, segfault or fs/I-O error",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *log = NULL;
    if (guest_sh_ok(t, "read the kernel log", "dmesg", &log)) return CASE_FAIL;
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    /* The console's patterns and ignores (the kernel writes the same lines to both), and
     * the policy's ignores for the kernel log. */
    const struct kiln_runbook *rb = t->plat->rb;
    struct diags d = {0};
    char **ignore = NULL;
    size_t nignore = 0, cap = 0;
    for (size_t i = 0; i < rb->nconsole_ignore; i++) *APPEND(ignore, nignore, cap) = xstrdup(rb->console_ignore[i]);
    const struct ynode *ig = policy_get(policy, "kernel", "dmesg_ignore");
    char **more = NULL;
    size_t nmore = 0;
    if (ig) y_str_list(&d, ig, "kernel.dmesg_ignore", &more, &nmore);
    for (size_t i = 0; i < nmore; i++) *APPEND(ignore, nignore, cap) = more[i];
    free(more);
    _cleanup_free_ char *path = patterns_path(rb->console_patterns);
    struct kiln_patterns *p = d.n ? NULL : patterns_load(path, ignore, nignore, &d);
    strv_free(ignore, nignore);
    if (!p) {
        int r = case_fail(t, "cannot load %s or kernel.dmesg_ignore: %s", path, d.n ? d.v[0].msg : "?");
        diags_free(&d);
        return r;
    }
    diags_free(&d);
    size_t hits = 0;
    struct sbuf first = {0};
    for (char *save = NULL, *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        console_clean_line(line);
        const char *name = patterns_match(p, line, NULL);
        if (!name) continue;
        case_log(t, "dmesg [%s]: %s", name, line);
        if (!hits++) sbuf_printf(&first, "[%s] %s", name, strstrip(line));
    }
    patterns_free(p);
    int rc = hits ? case_fail(t, "kernel log has %zu bad line(s), first: %s", hits, first.s) : CASE_PASS;
    sbuf_free(&first);
    return rc;
}

KILN_CASE(verify_cgroup_v2,
          .area = "kernel", .priority = 2, .timeout_s = 60,
          .description = "The unified cgroup v2 hierarchy is mounted (systemd) or at least supported",
          .tags = KILN_TAGS("fast"))
{
    struct gcap fs, mounts;
    if (guest_capture(t, NULL, "cat /proc/filesystems", &fs) < 0) return CASE_FAIL;
    if (guest_capture(t, NULL, "cat /proc/mounts", &mounts) < 0) {
        gcap_free(&fs);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_cgroup_v2(&fs, &mounts, guest_has_systemd(t), &v);
    gcap_free(&fs);
    gcap_free(&mounts);
    return case_verdict(t, &v);
}

KILN_CASE(verify_kernel_modules,
          .area = "kernel", .priority = 2, .timeout_s = 120,
          .description = "A kernel module that is not loaded yet can be loaded and unloaded",
          .tags = KILN_TAGS("fast"))
{
    static const char *const candidates[] = {"dummy", "nbd", "loop", "nls_utf8", "nls_ascii", "nls_cp437", "crc64", "t10-pi"};
    _cleanup_free_ char *release = NULL;
    if (guest_sh_ok(t, "uname", "uname -r", &release)) return CASE_FAIL;
    strstrip(release);
    for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
        const char *m = candidates[i];
        /* exit 3: loaded already, 4: not installed; anything else is an error of the probe */
        _cleanup_free_ char *probe = xasprintf(
            "m=%s; n=$(echo $m | tr - _); grep -q \"^$n \" /proc/modules && exit 3; "
            "f=$(find /lib/modules/%s -name \"$m.ko*\" -o -name \"$n.ko*\") || exit 1; [ -n \"$f\" ] || exit 4; exit 0",
            m, release);
        struct gcap p;
        if (guest_capture(t, NULL, probe, &p) < 0) return CASE_FAIL;
        int st = p.status;
        _cleanup_free_ char *why = st == 0 || st == 3 || st == 4 ? NULL : gcap_why(&p);
        gcap_free(&p);
        if (why) return case_fail(t, "cannot tell whether module %s can be tried: %s", m, why);
        if (st) continue;
        case_log(t, "testing with module %s", m);
        _cleanup_free_ char *load = xasprintf("modprobe %s && grep -q \"^$(echo %s | tr - _) \" /proc/modules", m, m);
        _cleanup_free_ char *unload = xasprintf(
            "{ modprobe -r %s || rmmod %s; } && ! grep -q \"^$(echo %s | tr - _) \" /proc/modules", m, m, m);
        struct gcap l, u = {.status = 0, .out = xstrdup(""), .err = xstrdup("")};
        if (guest_capture(t, NULL, load, &l) < 0) {
            gcap_free(&u);
            return CASE_FAIL;
        }
        if (l.status == 0) {
            gcap_free(&u);
            if (guest_capture(t, NULL, unload, &u) < 0) {
                gcap_free(&l);
                return CASE_FAIL;
            }
        }
        struct verdict v = {0};
        decide_module_cycle(m, &l, &u, &v);
        gcap_free(&l);
        gcap_free(&u);
        return case_verdict(t, &v);
    }
    return case_skip(t, "no unloaded module from {dummy, nbd, loop, nls_*, crc64, t10-pi} is installed to try");
}

KILN_CASE(verify_entropy,
          .area = "kernel", .priority = 2, .timeout_s = 60,
          .description = "The kernel RNG is initialised: reading /dev/random does not block",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *avail = NULL;
    if (guest_sh_ok(t, "read the entropy estimate", "cat /proc/sys/kernel/random/entropy_avail", &avail)) return CASE_FAIL;
    double bits;
    if (!parse_double(strstrip(avail), &bits))
        return case_fail(t, "/proc/sys/kernel/random/entropy_avail reads \"%.40s\", not a number", avail);
    case_metric(t, "entropy_avail", bits, "bits");
    /* timeout's 124 is the finding; dd's own failure shows as a short count */
    struct gcap c;
    if (guest_capture(t, NULL, "timeout 10 sh -c 'dd if=/dev/random bs=32 count=1 2>/dev/null | wc -c'", &c) < 0)
        return CASE_FAIL;
    struct verdict v = {0};
    decide_entropy(&c, &v);
    gcap_free(&c);
    return case_verdict(t, &v);
}

/* Which time service runs and whether it says the clock is synchronised, polled up to 30 s
 * (a service that just started, or a VM that just booted, needs a few polls): chronyc where
 * chronyd runs, else timedatectl under systemd, else ntpq where ntpd runs; "unknown" when
 * none can tell. Prints "service=NAME" lines then "sync=yes|no|unknown via=TOOL". */
#define TIME_PROBE                                                                                                      \
    "svc=; if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then "                                \
    "for u in chrony chronyd systemd-timesyncd ntpsec ntp ntpd openntpd; do "                                          \
    "systemctl is-active --quiet $u.service && svc=\"$svc $u\"; done; sd=1; else "                                     \
    "svc=$(cat /proc/[0-9]*/comm 2>/dev/null | grep -xE 'chronyd|ntpd|openntpd' | sort -u); sd=; fi; "                  \
    "for s in $svc; do echo service=$s; done; [ -n \"$svc\" ] || exit 0; "                                             \
    "via=; case \"$svc\" in *chrony*) command -v chronyc >/dev/null 2>&1 && via=chronyc;; esac; "                        \
    "[ -z \"$via\" ] && [ -n \"$sd\" ] && via=timedatectl; "                                                           \
    "[ -z \"$via\" ] && case \"$svc\" in *ntp*) command -v ntpq >/dev/null 2>&1 && via=ntpq;; esac; "                   \
    "[ -n \"$via\" ] || { echo 'sync=unknown via=none'; exit 0; }; "                                                   \
    "for i in $(seq 30); do case $via in "                                                                             \
    "chronyc) o=$(chronyc -n tracking) || exit 1; echo \"$o\" | grep -q '^Leap status *: Normal' && v=yes || v=no;; " \
    "timedatectl) o=$(timedatectl show -p NTPSynchronized --value) || exit 1; [ \"$o\" = yes ] && v=yes || v=no;; "   \
    "ntpq) o=$(ntpq -c 'rv 0 leap') || exit 1; case \"$o\" in *leap=00*|*leap_none*) v=yes;; *) v=no;; esac;; "         \
    "esac; [ $v = yes ] && break; sleep 1; done; echo \"sync=$v via=$via\""

KILN_CASE(verify_time_sync,
          .area = "kernel", .priority = 1, .timeout_s = 180,
          .description = "A time service (chrony, systemd-timesyncd, ntpd) runs and the clock is within the policy's "
                         "bound of the host (time.max_drift_s)",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    bool must = policy_bool(policy, "time", "require_synchronized", false);
    double bound = policy_number(policy, "time", "max_drift_s", 1.0);
    double loose = policy_number(policy, "time", "max_drift_unsynchronized_tcg_s", 5.0);
    struct gcap probe;
    if (guest_capture(t, NULL, TIME_PROBE, &probe) < 0) return CASE_FAIL;
    case_log(t, "%s", probe.out);
    struct verdict v = {0};
    int synced;
    decide_time_sync(&probe, must, &v, &synced);
    gcap_free(&probe);
    if (v.kind != VERDICT_PASS) return case_verdict(t, &v);
    case_log(t, "%s", v.reason);
    verdict_free(&v);
    const char *helper;
    int hrc = guest_helper(t, &helper);
    if (hrc != CASE_PASS) return hrc;
    _cleanup_free_ char *cmd = xasprintf("%s now", helper), *out = NULL;
    struct timespec a, b;
    clock_gettime(CLOCK_REALTIME, &a);
    if (case_sh(t, cmd, &out) != 0 || !out) return case_fail(t, "cannot read the guest clock");
    clock_gettime(CLOCK_REALTIME, &b);
    double host = ((double)a.tv_sec + (double)b.tv_sec) / 2 + ((double)a.tv_nsec + (double)b.tv_nsec) / 2e9;
    double guest;
    if (!parse_double(strstrip(out), &guest)) return case_fail(t, "the guest clock reads \"%.40s\", not a number", out);
    double drift = guest - host;
    double rtt = ((double)b.tv_sec - (double)a.tv_sec) + ((double)b.tv_nsec - (double)a.tv_nsec) / 1e9;
    case_log(t, "guest %.6f host %.6f (round trip %.3f s)", guest, host, rtt);
    bool tcg = streq(t->plat->accel, "tcg");
    double limit = time_drift_bound(synced, tcg, bound, loose);
    if (limit != bound) case_log(t, "the clock is not known to be synchronised and TCG's RTC set it: bound %g s", limit);
    return case_metric_check(t, "clock_drift_abs", fabs(drift), "s", limit, false);
}

KILN_CASE(boot_time,
          .area = "kernel", .priority = 2, .timeout_s = 180, .category = "performance",
          .description = "Boot time from systemd-analyze (firmware, loader, kernel, initrd, userspace) as metrics",
          .tags = KILN_TAGS("fast"))
{
    if (!guest_has_systemd(t)) return case_skip(t, "no systemd on %s: systemd-analyze is not available", t->node->name);
    /* systemd-analyze reports once the boot finished, which may take a while under TCG */
    struct gcap analyze, jobs = {.out = xstrdup(""), .err = xstrdup("")};
    const int wait_s = 120;
    _cleanup_free_ char *cmd = xasprintf("timeout %d systemctl is-system-running --wait >/dev/null 2>&1; systemd-analyze time", wait_s);
    if (guest_capture(t, NULL, cmd, &analyze) < 0) {
        gcap_free(&jobs);
        return CASE_FAIL;
    }
    if (!strstr(analyze.out, "Startup finished")) {
        gcap_free(&jobs);
        if (guest_capture(t, NULL, "systemctl list-jobs --no-legend --no-pager", &jobs) < 0) {
            gcap_free(&analyze);
            return CASE_FAIL;
        }
    }
    struct verdict fin = {0};
    decide_boot_finished(&analyze, &jobs, wait_s, &fin);
    gcap_free(&jobs);
    if (fin.kind != VERDICT_PASS) {
        gcap_free(&analyze);
        return case_verdict(t, &fin);
    }
    verdict_free(&fin);
    _cleanup_free_ char *out = xstrdup(analyze.out);
    gcap_free(&analyze);
    case_log(t, "%s", out);
    /* "Startup finished in 1.2s (kernel) + 3.4s (initrd) + 1min 5.6s (userspace) = 1min 10.2s" */
    char *seg = strstr(out, "Startup finished in ");
    char *end = strstr(out, " = ");
    double total = 0;
    for (seg += 20; seg && end && seg < end;) {
        char *open = strstr(seg, " (");
        char *close = open ? strchr(open, ')') : NULL;
        if (!open || !close || open > end) break;
        _cleanup_free_ char *dur = xstrndup(seg, (size_t)(open - seg));
        _cleanup_free_ char *part = xstrndup(open + 2, (size_t)(close - open - 2));
        double v = parse_systemd_duration(dur);
        if (v >= 0) {
            _cleanup_free_ char *name = xasprintf("boot_%s", part);
            case_metric(t, name, v, "s");
            total += v;
        }
        seg = strstr(close, " + ");
        if (seg) seg += 3;
    }
    case_metric(t, "boot_total", total, "s");
    return CASE_PASS;
}

/* ---- kdump ---- */

/* Waits for the boot after a deliberate crash: the panic it prints is expected, so the
 * console's fatal finding is cleared while it is that panic; a boot that is the crash kernel
 * itself (/proc/vmcore present, when its dump unit lets SSH in) is waited past. */
static int await_after_crash(struct kiln_case_ctx *t, struct kiln_node *n, const char *before, char **reterr)
{
    _cleanup_free_ char *prev = xstrdup(before);
    for (;;) {
        int r = node_await_boot(n, prev, case_time_left(t), reterr);
        const char *fatal = node_fatal(n);
        if (r == -EHOSTDOWN && fatal && strstr(fatal, "sysrq triggered crash")) {
            case_log(t, "%s: the expected panic: %s", n->name, fatal);
            console_clear_fatal(n->console);
            continue;
        }
        if (r < 0) return r;
        if (case_sh_on(t, n, "test -e /proc/vmcore", NULL, NULL) != 0) return 0;
        case_log(t, "%s: SSH answered from the crash kernel (boot id %s); waiting for the next boot", n->name,
                 n->boot_id);
        free(prev);
        prev = xstrdup(n->boot_id);
    }
}

KILN_CASE(verify_kdump,
          .area = "kernel", .priority = 3, .timeout_s = 1500, .crashes_node = true,
          .description = "kdump works: memory is reserved for a crash kernel, kdump-tools has one loaded, and a crash "
                         "(sysrq c) leaves a vmcore under /var/crash that is found after the reboot")
{
    struct kiln_node *n = t->node;
    /* kdump-tools loads the crash kernel while the boot goes on: judge it once the boot ended */
    if (guest_has_systemd(t)) {
        _cleanup_free_ char *wait = xasprintf("timeout %d systemctl is-system-running --wait >/dev/null 2>&1; exit 0",
                                              MIN(case_time_left(t) / 3, 300));
        if (case_sh(t, wait, NULL) < 0) return CASE_FAIL;
    }
    struct gfiles sys;
    if (guest_read_files(t, NULL, "/sys/kernel/kexec_crash_size /sys/kernel/kexec_crash_loaded /proc/cmdline", &sys) < 0)
        return CASE_FAIL;
    const struct gfile *size = gfiles_get(&sys, "/sys/kernel/kexec_crash_size");
    const struct gfile *loaded = gfiles_get(&sys, "/sys/kernel/kexec_crash_loaded");
    const struct gfile *cmdline = gfiles_get(&sys, "/proc/cmdline");
    struct gcap iomem = {0}, status = {0};
    bool has_kdump = guest_has_cmd(t, "kdump-config");
    bool ok = guest_capture(t, NULL, "grep -i 'crash kernel' /proc/iomem; exit 0", &iomem) == 0 &&
              (!has_kdump || guest_capture(t, NULL, "kdump-config status", &status) == 0);
    struct verdict v = {0};
    double mib = 0;
    if (ok && decide_crashkernel(size ? size->text : NULL, iomem.out, cmdline ? cmdline->text : NULL, &v, &mib) ==
                  VERDICT_PASS) {
        case_log(t, "%s", v.reason);
        case_metric(t, "crashkernel", mib, "MiB");
        verdict_free(&v);
        decide_kdump_armed(loaded ? loaded->text : NULL, has_kdump ? &status : NULL, &v);
    }
    gfiles_free(&sys);
    gcap_free(&iomem);
    gcap_free(&status);
    if (!ok) return CASE_FAIL;
    if (v.kind != VERDICT_PASS) return case_verdict(t, &v);
    case_log(t, "%s", v.reason);
    verdict_free(&v);

    static const char list_cmd[] = "find /var/crash -type f -printf '%s %p\\n' 2>/dev/null; exit 0";
    struct gcap before = {0}, after = {0};
    if (guest_capture(t, NULL, list_cmd, &before) < 0) return CASE_FAIL;
    if (!n->boot_id) node_read_boot_id(n);
    _cleanup_free_ char *boot = xstrdup(n->boot_id ? n->boot_id : "");
    /* detached, so the command returns before the kernel stops */
    struct kiln_exec e;
    node_exec(n, "echo 1 > /proc/sys/kernel/sysrq && sync && "
                 "(sleep 2; echo c > /proc/sysrq-trigger) >/dev/null 2>&1 </dev/null &", 30, &e);
    int trig = e.status;
    kiln_exec_free(&e);
    if (trig != 0) {
        gcap_free(&before);
        return case_fail(t, "cannot trigger a crash through /proc/sysrq-trigger (exit %d)", trig);
    }
    case_log(t, "%s: crash triggered (sysrq c); waiting for the crash kernel to save a vmcore and reboot", n->name);
    double t0 = now_s();
    _cleanup_free_ char *why = NULL;
    if (await_after_crash(t, n, boot, &why) < 0) {
        gcap_free(&before);
        n->bad = true;
        return case_fail(t, "after the crash: %s", why);
    }
    case_metric(t, "kdump_reboot", now_s() - t0, "s");
    ok = guest_capture(t, NULL, list_cmd, &after) == 0;
    if (ok) decide_vmcore(&before, &after, &v);
    gcap_free(&before);
    gcap_free(&after);
    return ok ? case_verdict(t, &v) : CASE_FAIL;
}
