/* Areas hpc and gpu, and verify_kdump's decisions (decide_hpc.h). Every parser reads a
 * NUL-terminated text of any content, copies at most a bounded piece of it and assumes no
 * shape. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

#include "suites/decide_hpc.h"
#include "util/strv.h"
#include "util/util.h"

#define MAX_WORDS 24
#define WORD_MAX 96

/* The line at p split at blanks: at most MAX_WORDS words of at most WORD_MAX-1 bytes each
 * (longer ones cut); returns the count. */
static int split_line(const char *p, size_t len, char w[MAX_WORDS][WORD_MAX])
{
    int n = 0;
    size_t i = 0;
    while (i < len && n < MAX_WORDS) {
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')) i++;
        if (i >= len) break;
        size_t k = 0;
        while (i < len && p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
            if (k + 1 < WORD_MAX) w[n][k++] = isprint((unsigned char)p[i]) ? p[i] : '?';
            i++;
        }
        w[n++][k] = 0;
    }
    return n;
}

/* The first line of text (at most 160 bytes, trimmed) holding needle, allocated; NULL if none. */
static char *line_with(const char *text, const char *needle)
{
    const char *p = text ? text : "", *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len > 160 ? 160 : len);
        if (strstr(l, needle)) return xstrdup(strstrip(l));
    }
    return NULL;
}

/* A number that parses whole, is finite and not negative: every figure read here is a rate, a
 * size or a time, and a negative one (a hostile or broken guest's) would pass a latency
 * threshold (best <= limit) and be recorded as a metric. */
static bool parse_num(const char *s, double *out)
{
    char *end = NULL;
    double d = strtod(s, &end);
    if (end == s || *end || !isfinite(d) || d < 0) return false;
    *out = d;
    return true;
}

/* ---- hpc ---- */

enum verdict_kind decide_rdma_link(const char *node, const char *netdev, const struct gcap *setup,
                                   const struct gcap *links, char *dev, size_t devsz, struct verdict *v)
{
    if (setup->status != 0) {
        _cleanup_free_ char *why = gcap_why(setup);
        return verdict_set(v, VERDICT_FAIL, "%s: no soft-RoCE over %s: the setup %s", node, netdev, why);
    }
    if (links->status != 0) {
        _cleanup_free_ char *why = gcap_why(links);
        return verdict_set(v, VERDICT_FAIL, "%s: rdma link show %s", node, why);
    }
    struct sbuf seen = {0};
    size_t nseen = 0;
    const char *p = links->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        char w[MAX_WORDS][WORD_MAX];
        int n = split_line(line, len, w);
        if (n < 2 || !streq(w[0], "link")) continue;
        const char *state = "?", *nd = NULL;
        for (int i = 2; i + 1 < n; i++) {
            if (streq(w[i], "state")) state = w[i + 1];
            if (streq(w[i], "netdev")) nd = w[i + 1];
        }
        reason_item(&seen, &nseen, 4, "%s %s over %s", w[1], state, nd ? nd : "no netdev");
        if (!nd || !streq(nd, netdev)) continue;
        snprintf(dev, devsz, "%.*s", (int)strcspn(w[1], "/"), w[1]);
        sbuf_free(&seen);
        if (!streq(state, "ACTIVE"))
            return verdict_set(v, VERDICT_FAIL, "%s: the RDMA link %s over %s is %s, not ACTIVE (rdma link show)", node,
                               w[1], netdev, state);
        return verdict_set(v, VERDICT_PASS, "%s: RDMA link %s ACTIVE over %s", node, w[1], netdev);
    }
    verdict_set(v, VERDICT_FAIL, "%s: no RDMA link over %s: rdma link show lists %s", node, netdev,
                nseen ? seen.s : "none");
    sbuf_free(&seen);
    return VERDICT_FAIL;
}

/* "N iters in S seconds = X usec/iter" and "B bytes in S seconds = X Mbit/sec" of a pingpong
 * side's output. */
static bool pingpong_numbers(const char *out, long *iters, double *mbit, double *usec)
{
    bool got = false;
    const char *p = out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        char w[MAX_WORDS][WORD_MAX];
        int n = split_line(line, len, w);
        long num;
        double d;
        /* N iters in S seconds = X usec/iter */
        if (n >= 8 && streq(w[1], "iters") && streq(w[2], "in") && parse_long(w[0], &num) && streq(w[7], "usec/iter") &&
            parse_num(w[6], &d)) {
            *iters = num, *usec = d, got = true;
        }
        if (n >= 8 && streq(w[1], "bytes") && streq(w[2], "in") && streq(w[7], "Mbit/sec") && parse_num(w[6], &d))
            *mbit = d;
    }
    return got;
}

/* One side of a pingpong: NULL when it did its part, else the failure (allocated). */
static char *pingpong_side(const char *tool, const char *role, const char *node, const struct gcap *c, long want,
                           double *mbit, double *usec)
{
    if (c->status != 0) {
        /* the library's complaint is often not the first line: prefer one that says failed */
        _cleanup_free_ char *fail = line_with(c->err, "ail");
        if (!fail) fail = line_with(c->out, "ail");
        _cleanup_free_ char *why = gcap_why(c);
        return fail ? xasprintf("%s on %s (%s) exited %d: %s", tool, node, role, c->status, fail)
                    : xasprintf("%s on %s (%s) %s", tool, node, role, why);
    }
    if (!strstr(c->out, "remote address:") && !strstr(c->err, "remote address:"))
        return xasprintf("%s on %s (%s) printed no \"remote address:\" line: it never exchanged addresses with its "
                         "peer", tool, node, role);
    long iters = -1;
    double m = NAN, u = NAN;
    if (!pingpong_numbers(c->out, &iters, &m, &u) && !pingpong_numbers(c->err, &iters, &m, &u))
        return xasprintf("%s on %s (%s) printed no \"N iters in S seconds\" line", tool, node, role);
    if (iters != want)
        return xasprintf("%s on %s (%s) completed %ld iterations, expected %ld", tool, node, role, iters, want);
    if (mbit) *mbit = m;
    if (usec) *usec = u;
    return NULL;
}

enum verdict_kind decide_pingpong(const char *tool, const char *server_node, const struct gcap *server,
                                  const char *client_node, const struct gcap *client, long iters, struct verdict *v,
                                  double *mbit, double *usec)
{
    double m = NAN, u = NAN;
    _cleanup_free_ char *s = pingpong_side(tool, "server", server_node, server, iters, NULL, NULL);
    _cleanup_free_ char *c = pingpong_side(tool, "client", client_node, client, iters, &m, &u);
    if (s || c)
        return verdict_set(v, VERDICT_FAIL, "%s%s%s", s ? s : "", s && c ? "; " : "", c ? c : "");
    if (mbit) *mbit = m;
    if (usec) *usec = u;
    return verdict_set(v, VERDICT_PASS, "%s: %ld iterations on both sides (%s server, %s client), %.2f Mbit/s, %.2f "
                                        "usec/iter", tool, iters, server_node, client_node, m, u);
}

/* Column names of a perftest header line: each ends with a word that starts with '#' or
 * holds ']' ("#bytes", "BW peak[MB/sec]", "99% percentile[usec]"). */
static int perftest_columns(const char *line, size_t len, char cols[MAX_WORDS][WORD_MAX])
{
    char w[MAX_WORDS][WORD_MAX];
    int n = split_line(line, len, w), nc = 0;
    struct sbuf cur = {0};
    for (int i = 0; i < n && nc < MAX_WORDS; i++) {
        sbuf_printf(&cur, "%s%s", cur.len ? " " : "", w[i]);
        if (w[i][0] == '#' || strchr(w[i], ']')) {
            snprintf(cols[nc++], WORD_MAX, "%s", cur.s);
            cur.len = 0;
            cur.s[0] = 0;
        }
    }
    sbuf_free(&cur);
    return nc;
}

bool perftest_value(const char *text, const char *column, double *value)
{
    const char *p = text ? text : "", *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        char cols[MAX_WORDS][WORD_MAX];
        size_t lead = strspn(line, " \t");
        if (lead >= len || line[lead] != '#') continue;
        int nc = perftest_columns(line, len, cols), at = -1;
        for (int i = 0; i < nc && at < 0; i++)
            if (streq(cols[i], column)) at = i;
        if (at < 0) continue;
        /* the first row under the header whose first word is a number */
        const char *q = p, *row;
        size_t rlen;
        while (next_line(&q, &row, &rlen)) {
            char w[MAX_WORDS][WORD_MAX];
            int n = split_line(row, rlen, w);
            long bytes;
            if (n == 0 || !parse_long(w[0], &bytes)) continue;
            return n == nc && parse_num(w[at], value);
        }
        return false;
    }
    return false;
}

enum verdict_kind decide_perftest(const char *tool, const char *column, const struct gcap *server,
                                  const struct gcap *client, struct verdict *v, double *value)
{
    for (const struct gcap *c = server; c; c = c == server ? client : NULL)
        if (c->status != 0) {
            _cleanup_free_ char *fail = line_with(c->err, "ail");
            if (!fail) fail = line_with(c->out, "ail");
            _cleanup_free_ char *why = gcap_why(c);
            return fail ? verdict_set(v, VERDICT_FAIL, "%s (%s) exited %d: %s", tool, c == server ? "server" : "client",
                                      c->status, fail)
                        : verdict_set(v, VERDICT_FAIL, "%s (%s) %s", tool, c == server ? "server" : "client", why);
        }
    if (!perftest_value(client->out, column, value))
        return verdict_set(v, VERDICT_FAIL, "%s printed no result table with a \"%s\" value", tool, column);
    return verdict_set(v, VERDICT_PASS, "%s: %s %g", tool, column, *value);
}

/* ---- kdump ---- */

enum verdict_kind decide_crashkernel(const char *crash_size, const char *iomem, const char *cmdline, struct verdict *v,
                                     double *mib)
{
    long bytes = 0;
    _cleanup_free_ char *size = crash_size ? xstrdup(crash_size) : NULL;
    bool have_size = size && parse_long(strstrip(size), &bytes) && bytes >= 0;
    _cleanup_free_ char *range = line_with(iomem, "Crash kernel");
    if (have_size && bytes > 0) {
        *mib = (double)bytes / 1048576.0;
        return verdict_set(v, VERDICT_PASS, "%.0f MiB reserved for a crash kernel (/sys/kernel/kexec_crash_size)%s%s",
                           *mib, range ? "; /proc/iomem: " : "", range ? range : "");
    }
    if (!have_size && range)
        return verdict_set(v, VERDICT_PASS, "memory reserved for a crash kernel: /proc/iomem: %s", range);
    if (!have_size && crash_size)
        return verdict_set(v, VERDICT_SKIP, "cannot decide: /sys/kernel/kexec_crash_size holds \"%.40s\", not a "
                                            "number, and /proc/iomem has no \"Crash kernel\" range", size);
    /* what the command line asked for names the cause */
    char asked[96] = "";
    const char *ck = cmdline ? strstr(cmdline, "crashkernel=") : NULL;
    while (ck && ck != cmdline && ck[-1] != ' ') ck = strstr(ck + 1, "crashkernel=");
    if (ck) snprintf(asked, sizeof asked, "%.*s", (int)MIN(strcspn(ck, " \n"), sizeof asked - 1), ck);
    *mib = 0;
    return verdict_set(v, VERDICT_FAIL, "no memory reserved for a crash kernel: %s and /proc/iomem has no \"Crash "
                                        "kernel\" range; %s%s%s", have_size ? "/sys/kernel/kexec_crash_size is 0"
                                                                            : "no /sys/kernel/kexec_crash_size",
                       ck ? "the kernel command line asks " : "the kernel command line has no crashkernel= (add "
                                                              "e.g. crashkernel=256M)",
                       asked, ck ? " but the kernel reserved nothing (its log says why: dmesg | grep crashkernel)" : "");
}

enum verdict_kind decide_kdump_armed(const char *crash_loaded, const struct gcap *status, struct verdict *v)
{
    _cleanup_free_ char *l = crash_loaded ? xstrdup(crash_loaded) : NULL;
    long loaded = -1;
    if (l && !parse_long(strstrip(l), &loaded)) loaded = -1;
    char loaded_s[64];
    if (loaded < 0) snprintf(loaded_s, sizeof loaded_s, "/sys/kernel/kexec_crash_loaded unreadable");
    else snprintf(loaded_s, sizeof loaded_s, "/sys/kernel/kexec_crash_loaded is %ld", loaded);
    if (!status) {
        if (loaded == 1)
            return verdict_set(v, VERDICT_PASS, "a crash kernel is loaded (%s); the guest has no kdump-config to ask",
                               loaded_s);
        return verdict_set(v, VERDICT_FAIL, "kdump is not armed: %s and kdump-tools is not installed (no kdump-config)",
                           loaded_s);
    }
    _cleanup_free_ char *state = line_with(status->out, "current state");
    if (!state) state = line_with(status->err, "current state");
    bool ready = state && strcasestr(state, "ready to kdump") && !strcasestr(state, "not ready");
    if (ready && loaded != 0)
        return verdict_set(v, VERDICT_PASS, "kdump-config status: \"%s\"; %s", state, loaded_s);
    if (ready)
        return verdict_set(v, VERDICT_FAIL, "kdump-config status says \"%s\" but %s: no crash kernel is loaded", state,
                           loaded_s);
    if (state)
        return verdict_set(v, VERDICT_FAIL, "kdump is not armed: kdump-config status: \"%s\"; %s", state, loaded_s);
    _cleanup_free_ char *why = gcap_why(status);
    return verdict_set(v, VERDICT_FAIL, "kdump is not armed: kdump-config status %s (no \"current state\" line); %s",
                       why, loaded_s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The paths of a "SIZE PATH" listing, sorted for path_listed: a guest may list many files,
 * and comparing each of one listing's lines with every line of the other grew with their
 * product (two listings of 100000 files: 10^10 comparisons). */
static void listing_paths(const char *text, struct strv *paths)
{
    const char *p = text ? text : "", *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        const char *sp = memchr(line, ' ', len);
        if (sp) strv_consume(paths, xstrndup(sp + 1, len - (size_t)(sp - line) - 1));
    }
    if (paths->n) qsort(paths->v, paths->n, sizeof *paths->v, cmp_str);
}

static bool path_listed(const struct strv *paths, const char *path)
{
    return paths->n && bsearch(&path, paths->v, paths->n, sizeof *paths->v, cmp_str);
}

enum verdict_kind decide_vmcore(const struct gcap *before, const struct gcap *after, struct verdict *v)
{
    if (after->status != 0) {
        _cleanup_free_ char *why = gcap_why(after);
        return verdict_set(v, VERDICT_FAIL, "cannot list /var/crash after the reboot: %s", why);
    }
    struct sbuf seen = {0}, partial = {0};
    size_t nseen = 0, npartial = 0;
    struct strv old = {0};
    listing_paths(before->out, &old);
    const char *p = after->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        const char *sp = memchr(line, ' ', len);
        if (!sp || len - (size_t)(sp - line) < 2 || len > 4096) continue;
        _cleanup_free_ char *size_s = xstrndup(line, (size_t)(sp - line));
        _cleanup_free_ char *path = xstrndup(sp + 1, len - (size_t)(sp - line) - 1);
        long size = -1;
        if (!parse_long(size_s, &size)) continue;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        bool dump = startswith(base, "dump") || startswith(base, "vmcore");
        bool fresh = !path_listed(&old, path);
        reason_item(&seen, &nseen, 6, "%.200s (%ld bytes)", path, size);
        if (!dump || !fresh) continue;
        if (strstr(base, "incomplete")) {
            reason_item(&partial, &npartial, 3, "%.200s", path);
            continue;
        }
        if (size <= 0) {
            reason_item(&partial, &npartial, 3, "%.200s (empty)", path);
            continue;
        }
        sbuf_free(&seen);
        sbuf_free(&partial);
        strv_clear(&old);
        return verdict_set(v, VERDICT_PASS, "the crash left %.200s (%ld bytes)", path, size);
    }
    if (npartial)
        verdict_set(v, VERDICT_FAIL, "the crash kernel left only an incomplete dump under /var/crash: %s", partial.s);
    else
        verdict_set(v, VERDICT_FAIL, "no new vmcore under /var/crash after the crash and the reboot (it holds %s)",
                    nseen ? seen.s : "no files");
    sbuf_free(&seen);
    sbuf_free(&partial);
    strv_clear(&old);
    return VERDICT_FAIL;
}

/* ---- gpu ---- */

struct pci_dev {
    char addr[WORD_MAX], cls[WORD_MAX], vendor[WORD_MAX], device[WORD_MAX], driver[WORD_MAX];
};

/* Display controllers that hypervisors emulate rather than pass through: QEMU's stdvga and
 * bochs-display (1234), QXL (1b36:0100), virtio-gpu (1af4), VMware SVGA (15ad), Cirrus (1013). */
static bool emulated_display(const struct pci_dev *d)
{
    return streq(d->vendor, "0x1234") || streq(d->vendor, "0x1af4") || streq(d->vendor, "0x15ad") ||
           streq(d->vendor, "0x1013") || (streq(d->vendor, "0x1b36") && streq(d->device, "0x0100"));
}

/* A vendor or device ID as lspci shows it: sysfs's "0x10de" without its "0x" (a guest may print
 * any word, "0x" or a single byte among them: what is not after "0x" is shown whole). */
static const char *pci_id(const char *s) { return startswith(s, "0x") ? s + 2 : s; }

/* The GPUs in a PCI listing, at most max. */
static size_t pci_gpus(const char *text, struct pci_dev *out, size_t max, size_t *ndevs, size_t *nemulated)
{
    size_t n = 0;
    *ndevs = *nemulated = 0;
    const char *p = text ? text : "", *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        char w[MAX_WORDS][WORD_MAX];
        if (split_line(line, len, w) != 5) continue;
        (*ndevs)++;
        if (strncasecmp(w[1], "0x03", 4) != 0) continue;
        struct pci_dev d;
        memcpy(d.addr, w[0], WORD_MAX), memcpy(d.cls, w[1], WORD_MAX), memcpy(d.vendor, w[2], WORD_MAX);
        memcpy(d.device, w[3], WORD_MAX), memcpy(d.driver, w[4], WORD_MAX);
        for (char *c = d.vendor; *c; c++) *c = (char)tolower((unsigned char)*c);
        for (char *c = d.device; *c; c++) *c = (char)tolower((unsigned char)*c);
        if (emulated_display(&d)) {
            (*nemulated)++;
            continue;
        }
        if (n < max) out[n++] = d;
    }
    return n;
}

/* lspci -nn's description of the device at addr ("0000:01:00.0"; without -D lspci omits
 * domain 0000), allocated, or NULL. */
static char *lspci_name(const struct gcap *lspci, const char *addr)
{
    if (!lspci || lspci->status != 0) return NULL;
    const char *forms[] = {addr, startswith(addr, "0000:") ? addr + 5 : NULL};
    const char *p = lspci->out, *line;
    size_t len;
    while (next_line(&p, &line, &len))
        for (size_t f = 0; f < ARRAY_SIZE(forms) && forms[f]; f++) {
            size_t al = strlen(forms[f]);
            if (len > al && strncmp(line, forms[f], al) == 0 && line[al] == ' ') {
                _cleanup_free_ char *l = xstrndup(line + al + 1, MIN(len - al - 1, (size_t)160));
                return xstrdup(strstrip(l));
            }
        }
    return NULL;
}

#define MAX_GPUS 16

enum verdict_kind decide_gpu_visible(const struct gcap *pci, const struct gcap *lspci, struct verdict *v, int *count)
{
    *count = 0;
    if (pci->status != 0) {
        _cleanup_free_ char *why = gcap_why(pci);
        return verdict_set(v, VERDICT_FAIL, "cannot list the PCI devices in /sys/bus/pci/devices: %s", why);
    }
    struct pci_dev g[MAX_GPUS];
    size_t ndevs, nemulated, n = pci_gpus(pci->out, g, MAX_GPUS, &ndevs, &nemulated);
    if (!n)
        return verdict_set(v, VERDICT_FAIL, "no GPU on the guest's PCI bus: %zu device(s), none a display controller "
                                            "(class 0x03) passed through%s", ndevs,
                           nemulated ? " (only displays the hypervisor emulates)" : "");
    struct sbuf b = {0};
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *name = lspci_name(lspci, g[i].addr);
        reason_item(&b, &shown, 4, "%s [%s:%s]%s%s", g[i].addr, pci_id(g[i].vendor), pci_id(g[i].device), name ? " " : "",
                    name ? name : "");
    }
    *count = (int)n;
    verdict_set(v, VERDICT_PASS, "%zu GPU(s): %s", n, b.s);
    sbuf_free(&b);
    return VERDICT_PASS;
}

enum verdict_kind decide_gpu_driver(const struct gcap *pci, const struct gcap *nvidia_smi, struct verdict *v)
{
    static const char *const drivers[] = {"nvidia", "amdgpu", "i915", "xe", "nouveau", "radeon", NULL};
    int count;
    if (decide_gpu_visible(pci, NULL, v, &count) != VERDICT_PASS) return v->kind;
    struct pci_dev g[MAX_GPUS];
    size_t ndevs, nemulated, n = pci_gpus(pci->out, g, MAX_GPUS, &ndevs, &nemulated);
    struct sbuf bound = {0};
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (size_t k = 0; drivers[k] && !ok; k++) ok = streq(g[i].driver, drivers[k]);
        if (!ok) {
            sbuf_free(&bound);
            return streq(g[i].driver, "-")
                       ? verdict_set(v, VERDICT_FAIL, "GPU %s [%s:%s] has no driver bound (expected nvidia, amdgpu, "
                                                      "i915, xe, nouveau or radeon)", g[i].addr, pci_id(g[i].vendor),
                                     pci_id(g[i].device))
                       : verdict_set(v, VERDICT_FAIL, "GPU %s [%s:%s] is bound to %s, not a GPU driver (nvidia, amdgpu, "
                                                      "i915, xe, nouveau, radeon)", g[i].addr, pci_id(g[i].vendor),
                                     pci_id(g[i].device), g[i].driver);
        }
        reason_item(&bound, &nb, 4, "%s: %s", g[i].addr, g[i].driver);
    }
    if (nvidia_smi && nvidia_smi->status != 0) {
        sbuf_free(&bound);
        _cleanup_free_ char *why = gcap_why(nvidia_smi);
        return verdict_set(v, VERDICT_FAIL, "the drivers are bound but nvidia-smi -L %s", why);
    }
    _cleanup_free_ char *smi = nvidia_smi ? line_with(nvidia_smi->out, "GPU ") : NULL;
    verdict_set(v, VERDICT_PASS, "bound: %s%s%s", bound.s, smi ? "; nvidia-smi: " : "", smi ? smi : "");
    sbuf_free(&bound);
    return VERDICT_PASS;
}
