/* Area kernel: what the kernel was given and how it behaves. */
#include <errno.h>
#include <math.h>
#include <time.h>

#include "node/console.h"
#include "node/node.h"
#include "platform/platform.h"
#include "suites/common.h"
#include "util/fs.h"
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
        char *e;
        double v = strtod(s, &e);
        if (e == s) return -1;
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
    return t->plat->ops == &platform_qemu;
}

KILN_CASE(verify_cpu_count,
          .area = "kernel", .priority = 1, .timeout_s = 120,
          .description = "The guest sees exactly the vCPUs it was given",
          .tags = KILN_TAGS("fast"))
{
    if (!provisioned_known(t)) return case_skip(t, "the %s platform does not say how many vCPUs it gave", t->plat->ops->name);
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "count CPUs", "grep -c '^processor' /proc/cpuinfo", &out)) return CASE_FAIL;
    long n = strtol(out, NULL, 10);
    case_metric(t, "cpus", (double)n, "");
    if (n != t->node->have.cpus)
        return case_fail(t, "/proc/cpuinfo lists %ld processors, %d were provisioned", n, t->node->have.cpus);
    return CASE_PASS;
}

KILN_CASE(verify_memory,
          .area = "kernel", .priority = 1, .timeout_s = 120,
          .description = "MemTotal is at least 75% of the memory given and no more than it",
          .tags = KILN_TAGS("fast"))
{
    if (!provisioned_known(t)) return case_skip(t, "the %s platform does not say how much memory it gave", t->plat->ops->name);
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "read MemTotal", "awk '/^MemTotal:/ {print $2}' /proc/meminfo", &out)) return CASE_FAIL;
    double mib = (double)strtol(out, NULL, 10) / 1024.0;
    double given = t->node->have.memory_mb;
    case_metric(t, "mem_total", mib, "MiB");
    if (mib > given || mib < 0.75 * given)
        return case_fail(t, "MemTotal is %.0f MiB, %.0f MiB were provisioned (expected 75%%..100%%)", mib, given);
    return CASE_PASS;
}

KILN_CASE(verify_vdso,
          .area = "kernel", .priority = 1, .timeout_s = 120,
          .description = "clock_gettime is served by the vDSO, not a system call (clock source supports it)",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *cs = NULL;
    case_sh(t, "cat /sys/devices/system/clocksource/clocksource0/current_clocksource", &cs);
    case_log(t, "clock source: %s", cs ? strstrip(cs) : "?");
    const char *helper = guest_helper(t);
    if (!helper) return CASE_FAIL;
    _cleanup_free_ char *cmd = xasprintf("%s vdso", helper), *out = NULL;
    int r = case_sh(t, cmd, &out);
    case_log(t, "%s", out ? out : "");
    if (r == 0) return CASE_PASS;
    if (r < 0) return r;
    if (out && strstr(out, "vdso=absent")) return case_fail(t, "no vDSO is mapped into processes (vdso=0 on the kernel command line?)");
    /* Under TCG with several vCPUs the kernel finds the TSCs unsynchronised and falls back
     * to hpet, which has no vDSO path: that is the emulator, not the image (KVM gives
     * kvm-clock). Only a clock source the image chose itself is its fault. */
    _cleanup_free_ char *why_unstable = NULL, *cmdline = NULL;
    case_sh(t, "dmesg | grep -m1 'Marking TSC unstable'", &why_unstable);
    case_sh(t, "cat /proc/cmdline", &cmdline);
    bool forced = cmdline && strstr(cmdline, "clocksource=");
    if (streq(t->plat->accel, "tcg") && why_unstable && *strstrip(why_unstable) && !forced)
        return case_skip(t, "clock source is %s because the emulator's TSCs are unsynchronised (%s); "
                            "the vDSO cannot be judged under TCG with %d vCPUs",
                         cs ? strstrip(cs) : "?", strstrip(why_unstable), t->node->have.cpus);
    return case_fail(t, "clock_gettime enters the kernel: the vDSO falls back to a system call with clock source \"%s\"",
                     cs ? strstrip(cs) : "?");
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
    for (size_t i = 0; i < nignore; i++) free(ignore[i]);
    free(ignore);
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
    _cleanup_free_ char *fs = NULL, *mounts = NULL;
    case_sh(t, "grep -w cgroup2 /proc/filesystems", &fs);
    if (!fs || !strstr(fs, "cgroup2")) return case_fail(t, "the kernel does not support cgroup2 (/proc/filesystems)");
    if (!guest_has_systemd(t)) return CASE_PASS;
    case_sh(t, "awk '$2 == \"/sys/fs/cgroup\" {print $3}' /proc/mounts", &mounts);
    if (!mounts || !streq(strstrip(mounts), "cgroup2"))
        return case_fail(t, "/sys/fs/cgroup is \"%s\", expected cgroup2 (unified hierarchy)", mounts ? strstrip(mounts) : "not mounted");
    return CASE_PASS;
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
        _cleanup_free_ char *probe = xasprintf(
            "m=%s; n=$(echo $m | tr - _); grep -q \"^$n \" /proc/modules && exit 3; "
            "find /lib/modules/%s -name \"$m.ko*\" -o -name \"$n.ko*\" | grep -q . || exit 4; exit 0", m, release);
        if (case_sh(t, probe, NULL) != 0) continue;
        case_log(t, "testing with module %s", m);
        _cleanup_free_ char *load = xasprintf("modprobe %s && grep -q \"^$(echo %s | tr - _) \" /proc/modules", m, m);
        _cleanup_free_ char *what = xasprintf("load module %s", m);
        if (guest_sh_ok(t, what, load, NULL)) return CASE_FAIL;
        _cleanup_free_ char *unload = xasprintf("modprobe -r %s 2>/dev/null || rmmod %s", m, m);
        case_sh(t, unload, NULL);
        return CASE_PASS;
    }
    return case_skip(t, "no unloaded module from {dummy, nbd, loop, nls_*, crc64, t10-pi} is installed to try");
}

KILN_CASE(verify_entropy,
          .area = "kernel", .priority = 2, .timeout_s = 60,
          .description = "The kernel RNG is initialised: reading /dev/random does not block",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *avail = NULL, *bytes = NULL;
    case_sh(t, "cat /proc/sys/kernel/random/entropy_avail", &avail);
    case_metric(t, "entropy_avail", avail ? strtod(avail, NULL) : 0, "bits");
    int r = case_sh(t, "timeout 10 dd if=/dev/random bs=32 count=1 2>/dev/null | wc -c", &bytes);
    if (r != 0 || !bytes || strtol(bytes, NULL, 10) != 32)
        return case_fail(t, "reading 32 bytes from /dev/random did not finish within 10 s (RNG not initialised)");
    return CASE_PASS;
}

KILN_CASE(verify_time_sync,
          .area = "kernel", .priority = 1, .timeout_s = 180,
          .description = "A time service (chrony, systemd-timesyncd, ntpd) runs and the clock is within 1 s of the host",
          .tags = KILN_TAGS("fast"))
{
    bool service = false, synced = false;
    if (guest_has_systemd(t)) {
        _cleanup_free_ char *active = NULL;
        case_sh(t, "for u in chrony chronyd systemd-timesyncd ntpsec ntp ntpd; do "
                   "systemctl is-active --quiet $u.service 2>/dev/null && echo $u; done", &active);
        service = active && *strstrip(active);
        if (service) case_log(t, "time service: %s", active);
        _cleanup_free_ char *ntp = NULL;
        /* a service that has just started (or a VM that just booted) may need a few polls */
        if (service)
            case_sh(t, "for i in $(seq 30); do v=$(timedatectl show -p NTPSynchronized --value 2>/dev/null); "
                       "[ \"$v\" = yes ] && break; sleep 1; done; echo \"$v\"; "
                       "timedatectl timesync-status 2>/dev/null | sed -n 's/^ *\\(Server\\|Offset\\|Packet count\\):/\\1:/p' >&2",
                    &ntp);
        else case_sh(t, "timedatectl show -p NTPSynchronized --value 2>/dev/null", &ntp);
        case_log(t, "NTPSynchronized=%s", ntp ? strstrip(ntp) : "?");
        synced = ntp && streq(ntp, "yes");
        struct ynode *policy = suite_policy(t);
        if (!policy) return CASE_FAIL;
        const struct ynode *req = policy_get(policy, "time", "require_synchronized");
        bool must = false;
        struct diags d = {0};
        if (req) y_bool(&d, req, "time.require_synchronized", &must);
        diags_free(&d);
        if (must && !synced) return case_fail(t, "the clock is not NTP-synchronised (timedatectl NTPSynchronized=no)");
    } else {
        /* /proc/PID/comm rather than pgrep, which small userlands may lack */
        _cleanup_free_ char *running = NULL;
        case_sh(t, "cat /proc/[0-9]*/comm 2>/dev/null | grep -xE 'chronyd|ntpd|openntpd' | sort -u", &running);
        service = running && *strstrip(running);
        if (service) case_log(t, "time service: %s", running);
    }
    if (!service) return case_fail(t, "no time synchronisation service (chrony, systemd-timesyncd, ntpd) is running");
    const char *helper = guest_helper(t);
    if (!helper) return CASE_FAIL;
    _cleanup_free_ char *cmd = xasprintf("%s now", helper), *out = NULL;
    struct timespec a, b;
    clock_gettime(CLOCK_REALTIME, &a);
    if (case_sh(t, cmd, &out) != 0 || !out) return case_fail(t, "cannot read the guest clock");
    clock_gettime(CLOCK_REALTIME, &b);
    double host = ((double)a.tv_sec + (double)b.tv_sec) / 2 + ((double)a.tv_nsec + (double)b.tv_nsec) / 2e9;
    double guest = strtod(out, NULL);
    double drift = guest - host;
    double rtt = ((double)b.tv_sec - (double)a.tv_sec) + ((double)b.tv_nsec - (double)a.tv_nsec) / 1e9;
    case_log(t, "guest %.6f host %.6f (round trip %.3f s)", guest, host, rtt);
    /* Without a time source the clock is what the boot set: under TCG that is the emulated
     * RTC (one-second resolution) read after tick-lagged early boot, measured here at
     * 0.5-1.1 s behind the host. That judges the emulator, not the image; once the clock is
     * synchronised, or on KVM, the bound applies. */
    if (!synced && streq(t->plat->accel, "tcg")) {
        case_log(t, "drift not judged: the clock has no reachable time source and TCG's RTC sets it at boot");
        case_metric(t, "clock_drift_abs", fabs(drift), "s");
        return CASE_PASS;
    }
    return case_metric_check(t, "clock_drift_abs", fabs(drift), "s", 1.0, false);
}

KILN_CASE(boot_time,
          .area = "kernel", .priority = 2, .timeout_s = 180, .category = "performance",
          .description = "Boot time from systemd-analyze (firmware, loader, kernel, initrd, userspace) as metrics",
          .tags = KILN_TAGS("fast"))
{
    if (!guest_has_systemd(t)) return case_skip(t, "no systemd on %s: systemd-analyze is not available", t->node->name);
    _cleanup_free_ char *out = NULL;
    case_sh(t, "timeout 120 systemctl is-system-running --wait >/dev/null 2>&1; systemd-analyze time", &out);
    if (!out || !strstr(out, "Startup finished")) return case_fail(t, "systemd-analyze time did not report: %s", out ? out : "");
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
