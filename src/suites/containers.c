/* Area containers: what a container host is for. The guest's runtime (docker, podman, or
 * containerd's ctr: whichever it ships) runs containers from an image kiln makes here and
 * loads into it (src/image/oci_archive.c: kiln-guest alone in one layer; no registry is
 * reachable, so nothing is ever pulled), isolates them (namespaces, cgroup v2 limits, an OOM
 * kill that stays inside the container's cgroup, overlayfs), and the node meets kubelet's
 * prerequisites. Decisions in decide_containers.c. Every container and image a case makes is
 * removed on its way out, whatever the verdict. Priority 3, as area cvm: they need a container
 * host's image, which the tier runbooks do not boot; examples/containers.yml selects the area. */
#include <errno.h>
#include <unistd.h>

#include "image/oci_archive.h"
#include "model/arch.h"
#include "platform/platform.h"
#include "suites/decide_containers.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "util/util.h"
#include "util/yaml.h"

#define PROBE_REF "docker.io/kiln/probe:1"
#define PROBE_REMOTE "/var/tmp/kiln-probe.oci.tar"
#define OOM_LIMIT_MB 64
#define OOM_HOG_MB 256
#define CPU_MAX "50000 100000"

struct ctr {
    enum ctr_runtime rt;
    char *name;   /* this case's container: kiln-<token> */
    char *token;
    char cfg[72]; /* the image's config digest: its ID in podman and docker */
    char *helper; /* the local kiln-guest for the node's architecture */
    const struct kiln_arch *arch;
};

static void ctr_done(struct kiln_case_ctx *t, struct ctr *c);

/* The runtime and kiln-guest for the node's architecture, or a case verdict (NOTHING, FAIL;
 * SKIP when kiln has no kiln-guest for it) returned through *ret. */
static bool ctr_detect(struct kiln_case_ctx *t, struct ctr *c, int *ret)
{
    struct gcap det;
    if (guest_capture(t, NULL, CTR_DETECT_CMD, &det) < 0) return *ret = CASE_FAIL, false;
    struct verdict v = {0};
    enum verdict_kind k = decide_container_runtime(&det, &c->rt, &v);
    gcap_free(&det);
    if (k != VERDICT_PASS) return *ret = case_verdict(t, &v), false;
    verdict_free(&v);
    c->token = xasprintf("%d-%lld", (int)getpid(), (long long)now_ms());
    c->name = xasprintf("kiln-%s", c->token);
    int hrc = guest_helper_local(t, t->node, &c->helper, &c->arch);
    if (hrc != CASE_PASS) return ctr_done(t, c), *ret = hrc, false;
    return true;
}

/* Makes the image archive in the run's work dir, uploads it and loads it into the runtime:
 * 0 with the import's result in *load (a failed import is the case's evidence), or -1 with
 * the case failed. */
static int ctr_load(struct kiln_case_ctx *t, struct ctr *c, struct gcap *load)
{
    _cleanup_free_ char *bin = NULL;
    size_t len = 0;
    int r = read_file(c->helper, 64u << 20, &bin, &len);
    if (r < 0) return case_fail(t, "cannot read the guest helper %s: %s", c->helper, strerror(-r)), -1;
    struct oci_file f = {"bin/kiln-guest", bin, len, 0755};
    _cleanup_free_ char *local = xasprintf("%s/%s.oci.tar", t->plat->work_dir, c->name);
    _cleanup_free_ char *why = NULL;
    if (oci_archive_write(local, PROBE_REF, oci_goarch(c->arch->name), &f, 1, c->cfg, &why) < 0)
        return case_fail(t, "%s", why), -1;
    r = node_upload_file(t->node, local, PROBE_REMOTE, 0644);
    unlink(local);
    if (r < 0) return case_fail(t, "cannot upload the image archive to %s: %s", t->node->name, strerror(-r)), -1;
    case_log(t, "image %s (config %s), %zu-byte layer file bin/kiln-guest", PROBE_REF, c->cfg, len);
    _cleanup_free_ char *cmd = NULL;
    if (c->rt == RUNTIME_CONTAINERD)
        cmd = xasprintf("ctr -n kiln images import %s", PROBE_REMOTE);
    else /* named by its ID: podman and docker name an OCI archive's image each their own way */
        cmd = xasprintf("%s load -i %s && %s tag %s %s", ctr_runtime_name(c->rt), PROBE_REMOTE, ctr_runtime_name(c->rt),
                        c->cfg + 7, PROBE_REF);
    return guest_capture(t, NULL, cmd, load) < 0 ? -1 : 0;
}

/* The command running kiln-guest ARGS in this case's container, with a memory limit and a
 * CPU quota when asked; --rm: the runtime removes it when it ends. */
static char *ctr_run_cmd(const struct ctr *c, bool limits, const char *args)
{
    _cleanup_free_ char *mem = xasprintf("%d", OOM_LIMIT_MB << 20);
    /* ctr's default spec mounts no cgroup filesystem and makes no cgroup namespace: the
     * guest's hierarchy, read-only, shows the container its own cgroup's files by their path */
    if (c->rt == RUNTIME_CONTAINERD)
        return xasprintf("ctr -n kiln run --rm %s%s%s %s %s /bin/kiln-guest %s",
                         limits ? "--mount type=bind,src=/sys/fs/cgroup,dst=/sys/fs/cgroup,options=rbind:ro --memory-limit " : "",
                         limits ? mem : "", limits ? " --cpu-quota 50000 --cpu-period 100000" : "", PROBE_REF, c->name,
                         args);
    /* swap counted in the limit too, so a hog is killed rather than swapped out */
    return xasprintf("%s run --rm --name %s --network none %s%s%s%s%s %s /bin/kiln-guest %s", ctr_runtime_name(c->rt),
                     c->name, limits ? "--memory " : "", limits ? mem : "", limits ? " --memory-swap " : "",
                     limits ? mem : "", limits ? " --cpu-quota 50000 --cpu-period 100000" : "", PROBE_REF, args);
}

/* Removes this case's container (when --rm could not) and image, then fails the case when a
 * container of kiln's is still there. */
static int ctr_cleanup(struct kiln_case_ctx *t, struct ctr *c)
{
    _cleanup_free_ char *cmd = NULL, *list = NULL;
    if (c->rt == RUNTIME_CONTAINERD) {
        cmd = xasprintf("ctr -n kiln tasks kill -s SIGKILL %s >/dev/null 2>&1; ctr -n kiln tasks rm -f %s >/dev/null 2>&1; "
                        "ctr -n kiln containers rm %s >/dev/null 2>&1; ctr -n kiln images rm %s >/dev/null 2>&1; "
                        "rm -f %s; exit 0", c->name, c->name, c->name, PROBE_REF, PROBE_REMOTE);
        list = xstrdup("ctr -n kiln containers ls -q");
    } else {
        const char *rt = ctr_runtime_name(c->rt);
        cmd = xasprintf("%s rm -f %s >/dev/null 2>&1; %s rmi -f %s >/dev/null 2>&1; rm -f %s; exit 0", rt, c->name, rt,
                        PROBE_REF, PROBE_REMOTE);
        list = xasprintf("%s ps -a -q --filter name=kiln-", rt);
    }
    struct gcap g = {0}, left = {0};
    if (guest_capture(t, NULL, cmd, &g) < 0 || guest_capture(t, NULL, list, &left) < 0) {
        gcap_free(&g);
        return CASE_FAIL;
    }
    int r = CASE_PASS;
    if (left.status == 0 && *strstrip(left.out))
        r = case_fail(t, "container(s) left after the case removed its own: %.200s", left.out);
    gcap_free(&g);
    gcap_free(&left);
    return r;
}

static void ctr_done(struct kiln_case_ctx *t, struct ctr *c)
{
    (void)t;
    free(c->name);
    free(c->token);
    free(c->helper);
    *c = (struct ctr){0};
}

/* The case's verdict v, unless the cleanup found a container left behind. */
static int ctr_finish(struct kiln_case_ctx *t, struct ctr *c, struct verdict *v)
{
    int clean = ctr_cleanup(t, c);
    ctr_done(t, c);
    if (clean != CASE_PASS) return verdict_free(v), clean;
    return case_verdict(t, v);
}

KILN_CASE(verify_container_runtime,
          .area = "containers", .priority = 3, .timeout_s = 300,
          .description = "The image's container runtime (docker, podman or containerd's ctr) loads an image kiln "
                         "builds (no registry) and runs a container from it, passing on its output and exit status")
{
    struct ctr c = {0};
    int ret;
    if (!ctr_detect(t, &c, &ret)) return ret;
    struct gcap load = {0}, run = {0};
    struct verdict v = {0};
    bool ok = ctr_load(t, &c, &load) == 0;
    if (ok && load.status == 0) {
        _cleanup_free_ char *args = xasprintf("ctr-exit 3 %s", c.token);
        _cleanup_free_ char *cmd = ctr_run_cmd(&c, false, args);
        ok = guest_capture(t, NULL, cmd, &run) == 0;
    }
    if (ok) decide_container_run(&load, &run, 3, c.token, &v);
    gcap_free(&load);
    gcap_free(&run);
    if (!ok) {
        ctr_cleanup(t, &c);
        ctr_done(t, &c);
        return CASE_FAIL;
    }
    case_log(t, "runtime %s", ctr_runtime_name(c.rt));
    return ctr_finish(t, &c, &v);
}

KILN_CASE(verify_container_isolation,
          .area = "containers", .priority = 3, .timeout_s = 420,
          .description = "A container gets its own PID, mount, network and UTS namespaces, its cgroup v2 limits "
                         "(memory.max, cpu.max), overlayfs as its root, and a memory hog in it is OOM-killed inside "
                         "its cgroup while the host carries on")
{
    struct ctr c = {0};
    int ret;
    if (!ctr_detect(t, &c, &ret)) return ret;
    const char *helper;
    int hrc = guest_helper(t, &helper);
    if (hrc != CASE_PASS) return ctr_done(t, &c), hrc;
    struct gcap host = {0}, load = {0}, probe = {0}, hog = {0}, kmsg = {0}, ctl = {0}, alive = {0};
    struct verdict v = {0};
    bool ok = helper && ctr_load(t, &c, &load) == 0;
    if (ok && load.status != 0) {
        decide_container_run(&load, &load, 0, c.token, &v); /* the import's failure is the evidence */
        gcap_free(&load);
        return ctr_finish(t, &c, &v);
    }
    _cleanup_free_ char *host_cmd = helper ? xasprintf("%s ctr-probe", helper) : NULL;
    _cleanup_free_ char *probe_cmd = ctr_run_cmd(&c, true, "ctr-probe");
    _cleanup_free_ char *hog_args = xasprintf("hog %d", OOM_HOG_MB);
    _cleanup_free_ char *hog_cmd = ctr_run_cmd(&c, true, hog_args);
    /* the kernel's OOM report is judged from this case's mark on */
    _cleanup_free_ char *mark = xasprintf("kiln-oom-mark %s", c.token);
    _cleanup_free_ char *mark_cmd = xasprintf("echo '%s' > /dev/kmsg", mark);
    _cleanup_free_ char *kmsg_cmd = xasprintf("dmesg | sed -n '/%s/,$p'", mark);
    ok = ok && guest_capture(t, NULL, host_cmd, &host) == 0 && guest_capture(t, NULL, probe_cmd, &probe) == 0;
    if (ok) {
        struct gcap m = {0};
        ok = guest_capture(t, NULL, mark_cmd, &m) == 0 && guest_capture(t, NULL, hog_cmd, &hog) == 0 &&
             guest_capture(t, NULL, kmsg_cmd, &kmsg) == 0 &&
             guest_capture(t, NULL, "cat /sys/fs/cgroup/cgroup.controllers", &ctl) == 0 &&
             /* the host carries on: a command runs after the kill */
             guest_capture(t, NULL, "echo alive", &alive) == 0;
        gcap_free(&m);
    }
    if (ok) {
        /* both halves judged: a pass says both, a failure names each half that failed */
        struct verdict iso = {0}, oom = {0};
        bool a = decide_container_isolation(host.out, &probe, (long long)OOM_LIMIT_MB << 20, CPU_MAX, &iso) == VERDICT_PASS;
        bool b = decide_container_oom(&hog, OOM_LIMIT_MB, OOM_HOG_MB, kmsg.out, ctl.out, &oom) == VERDICT_PASS;
        const char *ri = iso.reason ? iso.reason : "", *ro = oom.reason ? oom.reason : "";
        if (a && b) verdict_set(&v, VERDICT_PASS, "%s; %s", ri, ro);
        else if (!a && !b) verdict_set(&v, VERDICT_FAIL, "%s; %s", ri, ro);
        else verdict_set(&v, VERDICT_FAIL, "%s", a ? ro : ri);
        verdict_free(&iso);
        verdict_free(&oom);
    }
    gcap_free(&host);
    gcap_free(&load);
    gcap_free(&probe);
    gcap_free(&hog);
    gcap_free(&kmsg);
    gcap_free(&ctl);
    gcap_free(&alive);
    if (!ok) {
        ctr_cleanup(t, &c);
        ctr_done(t, &c);
        return CASE_FAIL;
    }
    return ctr_finish(t, &c, &v);
}

KILN_CASE(verify_kubelet_prerequisites,
          .area = "containers", .priority = 3, .timeout_s = 120,
          .description = "The node meets what kubelet needs: swap off (or kubelet configured for it), br_netfilter "
                         "with net.bridge.bridge-nf-call-iptables=1, net.ipv4.ip_forward=1, cgroup v2 with the "
                         "systemd cgroup driver, a CRI socket")
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    bool kubelet_node = policy_bool(policy, "containers", "kubelet_node", false);
    struct gcap det = {0}, facts = {0};
    if (guest_capture(t, NULL, CTR_DETECT_CMD, &det) < 0) return CASE_FAIL;
    enum ctr_runtime rt;
    struct verdict v = {0};
    enum verdict_kind k = decide_container_runtime(&det, &rt, &v);
    gcap_free(&det);
    /* a runtime that does not answer is one unmet prerequisite among the others */
    if (k == VERDICT_SKIP) return case_verdict(t, &v);
    verdict_free(&v);
    if (guest_capture(t, NULL, CTR_KUBELET_CMD, &facts) < 0) return CASE_FAIL;
    if (facts.status != 0) {
        _cleanup_free_ char *why = gcap_why(&facts);
        gcap_free(&facts);
        return case_skip(t, "cannot decide: the node's facts %s", why);
    }
    decide_kubelet_prerequisites(facts.out, rt, kubelet_node, &v);
    gcap_free(&facts);
    return case_verdict(t, &v);
}
