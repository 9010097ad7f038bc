/* Area containers' decisions and verify_iscsi_login's (decide_containers.h). Formats: the
 * shell commands below and kiln-guest's key=value lines (guest/container.c); the kernel's
 * memory cgroup OOM report (mm/oom_kill.c: "Memory cgroup out of memory: Killed process %d
 * (%s)"); the iSCSI script's "@step" blocks (src/suites/storage.c). */
#include <ctype.h>
#include <string.h>

#include "suites/decide_containers.h"
#include "util/util.h"

const char CTR_DETECT_CMD[] =
    "d=0; dd=0; p=0; c=0; s=0; "
    "command -v docker >/dev/null 2>&1 && d=1 && docker info >/dev/null 2>&1 && dd=1; "
    "command -v podman >/dev/null 2>&1 && p=1; "
    "command -v ctr >/dev/null 2>&1 && c=1; "
    "[ -S /run/containerd/containerd.sock ] && s=1; "
    "if [ $dd = 1 ]; then echo docker; elif [ $p = 1 ]; then echo podman; "
    "elif [ $c = 1 ] && [ $s = 1 ]; then echo ctr; else echo none; fi; "
    "echo \"docker=$d docker_daemon=$dd podman=$p ctr=$c containerd_sock=$s\"";

const char CTR_KUBELET_CMD[] =
    "echo \"swaps=$(tail -n +2 /proc/swaps 2>/dev/null | grep -c .)\"; "
    "ok=0; for f in /var/lib/kubelet/config.yaml /etc/default/kubelet /etc/sysconfig/kubelet; do "
    "[ -r \"$f\" ] && grep -Eq 'failSwapOn:[[:space:]]*false|--fail-swap-on=false' \"$f\" && ok=1; done; "
    "echo \"swap_ok=$ok\"; "
    "echo \"bridge_nf=$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo absent)\"; "
    "echo \"ip_forward=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo absent)\"; "
    "echo \"cgroup_fs=$(stat -fc %T /sys/fs/cgroup 2>/dev/null || echo absent)\"; "
    "s=none; for f in /run/containerd/containerd.sock /run/crio/crio.sock /run/cri-dockerd.sock; do "
    "[ -S \"$f\" ] && { s=$f; break; }; done; echo \"cri_socket=$s\"; "
    "drv=unknown; "
    "if command -v docker >/dev/null 2>&1 && v=$(docker info -f '{{.CgroupDriver}}' 2>/dev/null) && [ -n \"$v\" ]; "
    "then drv=$v; "
    "elif command -v containerd >/dev/null 2>&1; then "
    "v=$(containerd config dump 2>/dev/null | sed -n 's/^[[:space:]]*SystemdCgroup[[:space:]]*=[[:space:]]*//p' | head -n 1); "
    "case $v in true) drv=systemd ;; false) drv=cgroupfs ;; esac; "
    "elif command -v podman >/dev/null 2>&1 && v=$(podman info --format '{{.Host.CgroupManager}}' 2>/dev/null) && [ -n \"$v\" ]; "
    "then drv=$v; fi; "
    "echo \"cgroup_driver=$drv\"";

const char *ctr_runtime_name(enum ctr_runtime rt)
{
    return rt == RUNTIME_DOCKER       ? "docker"
           : rt == RUNTIME_PODMAN     ? "podman"
           : rt == RUNTIME_CONTAINERD ? "ctr"
           : rt == RUNTIME_STOPPED    ? "stopped"
                                      : "none";
}

/* Whether the whitespace-separated word "key=1" is in text. */
static bool flag_on(const char *text, const char *key)
{
    _cleanup_free_ char *w = xasprintf("%s=1", key);
    size_t n = strlen(w);
    for (const char *p = strstr(text, w); p; p = strstr(p + 1, w))
        if ((p == text || isspace((unsigned char)p[-1])) && (!p[n] || isspace((unsigned char)p[n]))) return true;
    return false;
}

enum verdict_kind decide_container_runtime(const struct gcap *detect, enum ctr_runtime *rt, struct verdict *v)
{
    *rt = RUNTIME_NONE;
    if (detect->status != 0) {
        _cleanup_free_ char *why = gcap_why(detect);
        return verdict_set(v, VERDICT_SKIP, "cannot decide: the runtime detection %s", why);
    }
    const char *o = detect->out;
    size_t n = strcspn(o, "\n");
    if (n == 6 && !strncmp(o, "docker", 6)) *rt = RUNTIME_DOCKER;
    else if (n == 6 && !strncmp(o, "podman", 6)) *rt = RUNTIME_PODMAN;
    else if (n == 3 && !strncmp(o, "ctr", 3)) *rt = RUNTIME_CONTAINERD;
    else if (n != 4 || strncmp(o, "none", 4))
        return verdict_set(v, VERDICT_SKIP, "cannot decide: the runtime detection printed \"%.*s\"", (int)MIN(n, 60), o);
    if (*rt != RUNTIME_NONE) return verdict_set(v, VERDICT_PASS, "runtime %s", ctr_runtime_name(*rt));
    if (flag_on(o, "ctr") || flag_on(o, "docker")) *rt = RUNTIME_STOPPED;
    if (flag_on(o, "ctr"))
        return verdict_set(v, VERDICT_FAIL, "ctr is installed but /run/containerd/containerd.sock is not a socket: "
                                            "containerd is not running (systemctl enable containerd)");
    if (flag_on(o, "docker"))
        return verdict_set(v, VERDICT_FAIL, "docker is installed but its daemon does not answer `docker info` "
                                            "(systemctl enable docker)");
    return verdict_set(v, VERDICT_NOTHING, "the guest has no container runtime (docker, podman, or containerd's ctr)");
}

enum verdict_kind decide_container_run(const struct gcap *load, const struct gcap *run, int want_code, const char *token,
                                       struct verdict *v)
{
    if (load->status != 0) {
        _cleanup_free_ char *why = gcap_why(load);
        return verdict_set(v, VERDICT_FAIL, "loading the image archive into the runtime %s", why);
    }
    _cleanup_free_ char *line = xasprintf("kiln-container %s", token);
    bool printed = false;
    for (const char *p = strstr(run->out, line); p && !printed; p = strstr(p + 1, line))
        printed = (p == run->out || p[-1] == '\n') && (!p[strlen(line)] || p[strlen(line)] == '\n' || p[strlen(line)] == '\r');
    if (run->status != want_code) {
        _cleanup_free_ char *why = gcap_why(run);
        return verdict_set(v, VERDICT_FAIL, "the container %s, expected exit status %d%s", why, want_code,
                           printed ? "" : " and its output line");
    }
    if (!printed)
        return verdict_set(v, VERDICT_FAIL, "the container exited %d but did not print \"%s\" (stdout: \"%.80s\")",
                           want_code, line, run->out);
    return verdict_set(v, VERDICT_PASS, "the container printed its token and exited %d", want_code);
}

/* The value of the first "key=value" line in out (allocated, at most 256 bytes), or NULL. */
static char *kv(const char *out, const char *key)
{
    size_t kl = strlen(key);
    const char *p = out, *line;
    size_t len;
    while (next_line(&p, &line, &len))
        if (len > kl && !strncmp(line, key, kl) && line[kl] == '=')
            return xstrndup(line + kl + 1, MIN(len - kl - 1, (size_t)256));
    return NULL;
}

/* kv, "-" for an absent key. */
static char *value_or_dash(const char *out, const char *key)
{
    char *s = kv(out, key);
    return s ? s : xstrdup("-");
}

enum verdict_kind decide_container_isolation(const char *host, const struct gcap *ctr, long long mem_bytes,
                                             const char *cpu_max, struct verdict *v)
{
    if (ctr->status != 0) {
        _cleanup_free_ char *why = gcap_why(ctr);
        return verdict_set(v, VERDICT_FAIL, "the probe container %s", why);
    }
    struct sbuf b = {0};
    size_t count = 0;
    static const char *const ns[] = {"pid", "mnt", "net", "uts"};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        _cleanup_free_ char *key = xasprintf("ns.%s", ns[i]);
        _cleanup_free_ char *in = value_or_dash(ctr->out, key), *out = value_or_dash(host, key);
        if (streq(in, "-")) reason_item(&b, &count, 8, "no %s namespace readable in the container", ns[i]);
        else if (streq(in, out)) reason_item(&b, &count, 8, "it shares the guest's %s namespace (%.40s)", ns[i], in);
    }
    _cleanup_free_ char *pid = value_or_dash(ctr->out, "pid");
    if (!streq(pid, "1")) reason_item(&b, &count, 8, "its process is pid %.20s, not 1 of its own PID namespace", pid);
    _cleanup_free_ char *mem = value_or_dash(ctr->out, "memory.max"), *cpu = value_or_dash(ctr->out, "cpu.max");
    _cleanup_free_ char *cg = value_or_dash(ctr->out, "cgroup"), *fs = value_or_dash(ctr->out, "root_fs");
    _cleanup_free_ char *want_mem = xasprintf("%lld", mem_bytes);
    if (!streq(mem, want_mem))
        reason_item(&b, &count, 8, "memory.max of its cgroup (%.80s) is %.40s, expected %s (cgroup v2 with the memory "
                    "controller)", cg, mem, want_mem);
    if (!streq(cpu, cpu_max))
        reason_item(&b, &count, 8, "cpu.max of its cgroup is \"%.40s\", expected \"%s\"", cpu, cpu_max);
    if (!streq(fs, "overlay")) reason_item(&b, &count, 8, "its root is on %.40s, expected overlay (overlayfs)", fs);
    if (count) {
        enum verdict_kind k = verdict_set(v, VERDICT_FAIL, "the container is not isolated: %s", b.s);
        sbuf_free(&b);
        return k;
    }
    return verdict_set(v, VERDICT_PASS, "own PID (pid 1), mount, network and UTS namespaces; memory.max %s, cpu.max "
                                        "\"%s\"; root on overlay", want_mem, cpu_max);
}

/* The first line of text holding all of a and b (copied, at most 200 bytes), or NULL. */
static char *line_with(const char *text, const char *a, const char *b)
{
    const char *p = text, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len);
        if (strstr(l, a) && (!b || strstr(l, b))) return xstrndup(l, MIN(len, (size_t)200));
    }
    return NULL;
}

enum verdict_kind decide_container_oom(const struct gcap *hog, long limit_mb, long hog_mb, const char *kmsg,
                                       const char *controllers, struct verdict *v)
{
    long last = 0, bad = 0;
    bool done = false, counted = true;
    const char *p = hog->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        long n;
        _cleanup_free_ char *l = xstrndup(line, len);
        /* the count only grows: a smaller one after a larger (or a negative one) would hide
         * how far the hog got */
        if (startswith(l, "hog=") && parse_long(strstrip(l + 4), &n)) {
            if (n < last || n < 0) counted = false, bad = n;
            else last = n;
        }
        if (startswith(l, "hog done=")) done = true;
    }
    if (!counted)
        return verdict_set(v, VERDICT_SKIP, "cannot decide: the memory hog printed hog=%ld after hog=%ld (its count of "
                           "MiB only grows)", bad, last);
    _cleanup_free_ char *ctl = xstrndup(controllers ? controllers : "", 120);
    strstrip(ctl);
    bool has_memory = false;
    _cleanup_free_ char *words = xstrdup(ctl);
    for (char *s = words, *w; (w = strsep(&s, " \t\n")) && !has_memory;) has_memory = streq(w, "memory");
    _cleanup_free_ char *note = has_memory ? xstrdup("")
                                           : xasprintf(" (the memory controller is not enabled: "
                                                       "/sys/fs/cgroup/cgroup.controllers is \"%s\")", ctl);
    if (done || hog->status == 0)
        return verdict_set(v, VERDICT_FAIL, "the container allocated %ld of %ld MiB under a %ld MiB memory limit and "
                           "exited %d: the limit is not enforced%s", last, hog_mb, limit_mb, hog->status, note);
    if (hog->status != 137) {
        _cleanup_free_ char *why = gcap_why(hog);
        return verdict_set(v, VERDICT_FAIL, "the memory hog %s after %ld MiB, expected 137 (SIGKILL from the OOM "
                           "killer at the %ld MiB limit)%s", why, last, limit_mb, note);
    }
    /* the runtime's own memory and the page cache count too: allow a little over the limit */
    if (last > limit_mb + 16)
        return verdict_set(v, VERDICT_FAIL, "the memory hog reached %ld MiB before it was killed, over its %ld MiB limit",
                           last, limit_mb);
    _cleanup_free_ char *memcg = line_with(kmsg ? kmsg : "", "Memory cgroup out of memory", "(kiln-guest)");
    if (!memcg) {
        _cleanup_free_ char *global = line_with(kmsg ? kmsg : "", "Out of memory", "(kiln-guest)");
        if (global)
            return verdict_set(v, VERDICT_FAIL, "the guest's global OOM killer ended the container, not its memory "
                               "cgroup: %s", global);
        return verdict_set(v, VERDICT_FAIL, "the memory hog was killed (137) after %ld MiB but the kernel log shows no "
                           "memory cgroup OOM kill of kiln-guest", last);
    }
    return verdict_set(v, VERDICT_PASS, "OOM-killed inside its cgroup after %ld of %ld MiB (limit %ld MiB): %s", last,
                       hog_mb, limit_mb, memcg);
}

enum verdict_kind decide_kubelet_prerequisites(const char *facts, enum ctr_runtime rt, bool kubelet_node, struct verdict *v)
{
    static const char *const keys[] = {"swaps", "swap_ok", "bridge_nf", "ip_forward", "cgroup_fs", "cri_socket",
                                       "cgroup_driver"};
    char *val[7] = {0};
    for (size_t i = 0; i < 7; i++)
        if (!(val[i] = kv(facts, keys[i]))) {
            for (size_t k = 0; k < i; k++) free(val[k]);
            return verdict_set(v, VERDICT_SKIP, "cannot decide: the node's facts have no %s= line", keys[i]);
        }
    const char *swaps = val[0], *swap_ok = val[1], *bnf = val[2], *fwd = val[3], *cgfs = val[4], *cri = val[5],
               *drv = val[6];
    enum verdict_kind k;
    if (rt == RUNTIME_NONE && streq(cri, "none")) {
        k = kubelet_node ? verdict_set(v, VERDICT_FAIL, "the guest has no container runtime and no CRI socket "
                                                        "(the policy says it is a kubelet node)")
                         : verdict_set(v, VERDICT_NOTHING, "the guest has no container runtime: not a kubelet node");
        goto out;
    }
    struct sbuf b = {0};
    size_t count = 0;
    if (!streq(swaps, "0") && !streq(swap_ok, "1"))
        reason_item(&b, &count, 8, "swap is on (%.20s area(s) in /proc/swaps) and kubelet is not configured for it "
                    "(failSwapOn: false)", swaps);
    if (streq(bnf, "absent"))
        reason_item(&b, &count, 8, "net.bridge.bridge-nf-call-iptables is missing: br_netfilter is not loaded");
    else if (!streq(bnf, "1"))
        reason_item(&b, &count, 8, "net.bridge.bridge-nf-call-iptables is %.20s, expected 1", bnf);
    if (!streq(fwd, "1"))
        reason_item(&b, &count, 8, "net.ipv4.ip_forward is %.20s, expected 1 (pods are routed through the node)", fwd);
    if (!streq(cgfs, "cgroup2fs"))
        reason_item(&b, &count, 8, "/sys/fs/cgroup is %.40s, expected cgroup2fs (cgroup v2)", cgfs);
    if (!streq(drv, "systemd"))
        reason_item(&b, &count, 8, "the runtime's cgroup driver is %.40s, expected systemd (kubelet's cgroupDriver)", drv);
    if (streq(cri, "none"))
        reason_item(&b, &count, 8, "no CRI socket (/run/containerd/containerd.sock, /run/crio/crio.sock, "
                    "/run/cri-dockerd.sock)%s", rt == RUNTIME_PODMAN ? ": podman has no CRI" : "");
    if (count) k = verdict_set(v, VERDICT_FAIL, "kubelet prerequisites not met: %s", b.s);
    else k = verdict_set(v, VERDICT_PASS, "swap %s, br_netfilter with bridge-nf-call-iptables 1, ip_forward 1, cgroup v2, "
                         "systemd cgroup driver, CRI socket %.80s", streq(swaps, "0") ? "off" : "configured", cri);
    sbuf_free(&b);
out:
    for (size_t i = 0; i < 7; i++) free(val[i]);
    return k;
}

/* ---- verify_iscsi_login ---- */

struct istep {
    const char *name;
    bool seen;
    long rc;
    char *out; /* the step's output lines */
};

/* A 64-hex-digit word in text (lower-cased into hex), false when there is none. */
static bool find_sha(const char *text, char hex[65])
{
    for (const char *p = text; *p; p++) {
        if (p != text && isxdigit((unsigned char)p[-1])) continue;
        size_t n = 0;
        while (n < 65 && isxdigit((unsigned char)p[n])) n++;
        if (n == 64) {
            for (size_t i = 0; i < 64; i++) hex[i] = (char)tolower((unsigned char)p[i]);
            hex[64] = 0;
            return true;
        }
    }
    return false;
}

/* The non-empty lines of text joined by " / ", blanks trimmed (allocated, at most 400 bytes):
 * a step's error is not always its last line (mount ends with a hint about dmesg). */
static char *joined_lines(const char *text)
{
    struct sbuf b = {0};
    const char *p = text, *line;
    size_t len;
    while (next_line(&p, &line, &len) && b.len < 400) {
        _cleanup_free_ char *l = xstrndup(line, len);
        const char *t = strstrip(l);
        if (!*t) continue;
        if (b.len) sbuf_puts(&b, " / ");
        sbuf_puts(&b, t);
    }
    if (b.len > 400) b.s[400] = 0;
    return b.s ? sbuf_steal(&b) : xstrdup("");
}

enum verdict_kind decide_iscsi_login(const char *out, const char *iqn, struct verdict *v)
{
    struct istep st[] = {{"discover"}, {"login"},   {"device"}, {"partition"}, {"mkfs"},    {"mount"},
                         {"write"},    {"remount"}, {"read"},   {"logout"},    {"sessions"}};
    const size_t N = sizeof st / sizeof *st;
    struct istep *cur = NULL;
    struct sbuf body = {0};
    const char *p = out, *line;
    size_t len;
    for (bool more = true; more;) {
        more = next_line(&p, &line, &len);
        _cleanup_free_ char *l = more ? xstrndup(line, MIN(len, (size_t)4096)) : NULL;
        if (!more || startswith(l, "@step ")) {
            if (cur && !cur->out) cur->out = body.s ? sbuf_steal(&body) : xstrdup("");
            sbuf_free(&body);
            cur = NULL;
            if (!more) break;
            char name[32];
            long rc;
            if (sscanf(l + 6, "%31s %ld", name, &rc) != 2) continue;
            for (size_t i = 0; i < N; i++)
                if (streq(st[i].name, name) && !st[i].seen) {
                    cur = &st[i];
                    cur->seen = true;
                    cur->rc = rc;
                }
        } else if (cur && body.len < 16384) {
            sbuf_append(&body, l, strlen(l));
            sbuf_puts(&body, "\n");
        }
    }
    enum verdict_kind k = VERDICT_PASS;
    char wrote[65] = "", read[65] = "";
    bool decided = false;
    for (size_t i = 0; i < N && !decided; i++) {
        struct istep *s = &st[i];
        if (!s->seen) {
            /* the script stops at a failed step and then only logs out */
            if (i < 9) k = verdict_set(v, VERDICT_SKIP, "cannot decide: the iSCSI script printed no %s step", s->name);
            else k = verdict_set(v, VERDICT_SKIP, "cannot decide: the iSCSI script stopped before %s", s->name);
            decided = true;
            break;
        }
        _cleanup_free_ char *first = xstrndup(s->out, MIN(strcspn(s->out, "\n"), (size_t)200));
        if (s->rc != 0) {
            _cleanup_free_ char *last = joined_lines(s->out);
            k = verdict_set(v, VERDICT_FAIL, "iSCSI %s failed (exit %ld): %s", s->name, s->rc,
                            *last ? last : "no output");
            decided = true;
        } else if (streq(s->name, "discover") && !strstr(s->out, iqn)) {
            k = verdict_set(v, VERDICT_FAIL, "discovery did not list the target %s: %s", iqn, *first ? first : "no output");
            decided = true;
        } else if (streq(s->name, "write") && !find_sha(s->out, wrote)) {
            k = verdict_set(v, VERDICT_SKIP, "cannot decide: the write step printed no SHA-256");
            decided = true;
        } else if (streq(s->name, "read")) {
            if (!find_sha(s->out, read)) k = verdict_set(v, VERDICT_SKIP, "cannot decide: the read step printed no SHA-256");
            else if (!streq(read, wrote))
                k = verdict_set(v, VERDICT_FAIL, "the LUN returned other data: SHA-256 %s read back after a remount, "
                                "%s written", read, wrote);
            decided = k != VERDICT_PASS;
        } else if (streq(s->name, "sessions") && strstr(s->out, iqn)) {
            k = verdict_set(v, VERDICT_FAIL, "a session to %s remains after logout: %s", iqn, first);
            decided = true;
        }
    }
    /* a failure before the logout still reports a logout that failed too */
    if (k == VERDICT_FAIL && st[9].seen && st[9].rc != 0 && v->reason && !strstr(v->reason, "iSCSI logout")) {
        _cleanup_free_ char *r = xstrdup(v->reason);
        verdict_set(v, VERDICT_FAIL, "%s; the logout failed too (exit %ld)", r, st[9].rc);
    }
    if (!decided)
        k = verdict_set(v, VERDICT_PASS, "discovered %s, logged in, partitioned, formatted, wrote and read back data "
                        "(SHA-256 %.16s...), logged out", iqn, wrote);
    for (size_t i = 0; i < N; i++) free(st[i].out);
    sbuf_free(&body);
    return k;
}
