/* Ready platform: machines that already run, reached over SSH. kiln neither boots nor
 * destroys them; there is exactly one environment and no serial console. */
#include <errno.h>

#include "platform/platform.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/util.h"

static int ready_init(struct kiln_platform_ctx *p)
{
    if (!p->rb->platform.nready) return log_error("platform.ready.nodes is empty");
    free(p->accel);
    p->accel = xstrdup("none");
    return 0;
}

static bool ready_capable(struct kiln_platform_ctx *p, const struct kiln_req *need, char *why, size_t sz)
{
    size_t have = p->rb->platform.nready;
    if ((size_t)kiln_req_nodes(need) > have)
        return snprintf(why, sz, "needs nodes>=%d, ready platform has %zu", kiln_req_nodes(need), have), false;
    unsigned unsupported = need->features & (FEAT_SERIAL_CONSOLE | FEAT_HOT_ADD_DISK | FEAT_GPU | FEAT_PRIVATE_NET | FEAT_MULTIQUEUE | FEAT_UPDATE | FEAT_RDMA | FEAT_ISCSI);
    if (unsupported) {
        char f[128];
        kiln_features_format(unsupported, f, sizeof f);
        return snprintf(why, sz, "needs feature %s, not available on ready nodes", f), false;
    }
    /* cpus, memory, NICs and disks of ready nodes are what they are: cases measure them. */
    return true;
}

static void ready_spec_for(struct kiln_platform_ctx *p, const struct kiln_req *need, struct kiln_req *spec)
{
    *spec = *need;
    spec->nodes = (int)p->rb->platform.nready;
    /* Unknown dimensions are taken as met; the cases measure the real values. */
    spec->cpus = MAX(need->cpus, 1);
    spec->memory_mb = MAX(need->memory_mb, 1);
    spec->nics = MAX(need->nics, 1);
}

static int ready_deploy(struct kiln_platform_ctx *p, struct kiln_env *env, char *why, size_t sz)
{
    const struct kiln_platform_conf *pc = &p->rb->platform;
    env->nodes = xcalloc(pc->nready, sizeof *env->nodes);
    for (size_t i = 0; i < pc->nready; i++) {
        const struct kiln_ready_node *rn = &pc->ready_nodes[i];
        struct kiln_node *n = platform_new_node(p);
        env->nodes[env->nnodes++] = n;
        n->host = xstrdup(rn->address);
        n->port = (int)rn->port;
        if (rn->username) {
            free(n->user);
            n->user = xstrdup(rn->username);
        }
        if (rn->private_key_file) {
            free(n->key_path);
            n->key_path = xstrdup(rn->private_key_file);
        }
        n->known_hosts = xstrdup(pc->ready_known_hosts);
        n->nhost_key_fps = rn->nhost_key_fingerprints;
        n->host_key_fps = xcalloc(n->nhost_key_fps ? n->nhost_key_fps : 1, sizeof *n->host_key_fps);
        for (size_t k = 0; k < rn->nhost_key_fingerprints; k++) n->host_key_fps[k] = xstrdup(rn->host_key_fingerprints[k]);
        n->have = env->spec;
        n->have.nodes = 0;
        char err[512];
        double t0 = now_s();
        int r = node_connect(n, 60, err, sizeof err);
        if (r < 0) return snprintf(why, sz, "%s (%s:%d): %s", n->name, n->host, n->port, err), r;
        node_read_boot_id(n);
        log_info("%s: connected to %s:%d in %.1f s", n->name, n->host, n->port, now_s() - t0);
        if (!n->nhost_key_fps && !n->known_hosts) {
            _cleanup_free_ char *fp = node_host_key_fingerprint(n);
            log_warn("%s: the host key of %s:%d (%s) was not checked: anyone on the path could answer in its place; "
                     "set platform.ready.known_hosts or the node's host_key_fingerprints",
                     n->name, n->host, n->port, fp ? fp : "unreadable");
        }
    }
    return 0;
}

static void ready_destroy(struct kiln_platform_ctx *p, struct kiln_env *env)
{
    (void)p;
    for (size_t i = 0; env && i < env->nnodes; i++) node_disconnect(env->nodes[i]);
}

static void ready_fini(struct kiln_platform_ctx *p)
{
    (void)p;
}

const struct kiln_platform platform_ready = {
    .name = "ready",
    .max_envs = 1,
    .init = ready_init,
    .capable = ready_capable,
    .spec_for = ready_spec_for,
    .deploy = ready_deploy,
    .destroy = ready_destroy,
    .fini = ready_fini,
};
