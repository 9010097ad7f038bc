/* Ready platform: machines that already run, reached over SSH. kiln neither boots nor
 * destroys them; there is exactly one environment and no serial console. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"
#include "platform/ready.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/util.h"


/* "SHA256:" and the 43 unpadded base64 characters of a SHA-256, as ssh-keygen -l prints it. */
static bool sha256_fingerprint_ok(const char *s)
{
    if (!startswith(s, "SHA256:") || strlen(s) != 7 + 43) return false;
    return strspn(s + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == 43;
}

/* platform.ready.nodes[i] (at path p): {address, port, username, private_key_file, host_key_fingerprints} */
static void parse_node(const struct ynode *it, const char *p, struct kiln_ready_node *rn, struct diags *d)
{
    static const char *const nkeys[] = {"address", "port", "username", "private_key_file", "host_key_fingerprints",
                                        NULL};
    y_check_keys(d, it, p, nkeys);
    rn->port = 22;
    const struct ynode *x;
    if ((x = FIELD(it, "address"))) { SUBPATH(q, p, "address"); y_str(d, x, q, &rn->address); }
    else diag_add(d, it, p, "needs \"address\"");
    if ((x = FIELD(it, "port"))) { SUBPATH(q, p, "port"); y_long(d, x, q, 1, 65535, &rn->port); }
    if ((x = FIELD(it, "username"))) { SUBPATH(q, p, "username"); y_str(d, x, q, &rn->username); }
    if ((x = FIELD(it, "private_key_file"))) {
        SUBPATH(q, p, "private_key_file");
        runbook_get_path(d, x, q, &rn->private_key_file);
    }
    if ((x = FIELD(it, "host_key_fingerprints"))) {
        SUBPATH(q, p, "host_key_fingerprints");
        if (y_str_list(d, x, q, &rn->host_key_fingerprints, &rn->nhost_key_fingerprints))
            for (size_t k = 0; k < rn->nhost_key_fingerprints; k++)
                if (!sha256_fingerprint_ok(rn->host_key_fingerprints[k]))
                    diag_add(d, x->kind == YN_SEQ ? x->items[k] : x, q,
                             "\"%s\" is not a SHA256 fingerprint (SHA256: and 43 base64 characters, as "
                             "`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it)",
                             rn->host_key_fingerprints[k]);
    }
}

static void ready_parse_conf(const struct ynode *n, struct diags *d, void **conf)
{
    static const char *const keys[] = {"nodes", "known_hosts", NULL};
    const char *path = "platform.ready";
    struct kiln_ready_conf *rc = xcalloc(1, sizeof *rc);
    *conf = rc;
    if (!y_expect(d, n, path, YN_MAP)) return;
    y_check_keys(d, n, path, keys);
    const struct ynode *kh = FIELD(n, "known_hosts");
    if (kh && runbook_get_path(d, kh, "platform.ready.known_hosts", &rc->known_hosts) &&
        access(rc->known_hosts, R_OK) != 0)
        diag_add(d, kh, "platform.ready.known_hosts", "%s: %s", rc->known_hosts, strerror(errno));
    const struct ynode *nodes = FIELD(n, "nodes");
    if (!nodes) {
        diag_add(d, n, path, "needs \"nodes\": a list of {address, port, username}");
        return;
    }
    if (!y_expect(d, nodes, "platform.ready.nodes", YN_SEQ)) return;
    size_t cap = 0;
    for (size_t i = 0; i < nodes->n; i++) {
        _cleanup_free_ char *p = ypath_index("platform.ready.nodes", i);
        if (y_expect(d, nodes->items[i], p, YN_MAP)) parse_node(nodes->items[i], p, APPEND(rc->nodes, rc->n, cap), d);
    }
}

static void ready_free_conf(void *conf)
{
    struct kiln_ready_conf *rc = conf;
    if (!rc) return;
    for (size_t i = 0; i < rc->n; i++) {
        struct kiln_ready_node *rn = &rc->nodes[i];
        free(rn->address);
        free(rn->username);
        free(rn->private_key_file);
        for (size_t k = 0; k < rn->nhost_key_fingerprints; k++) free(rn->host_key_fingerprints[k]);
        free(rn->host_key_fingerprints);
    }
    free(rc->nodes);
    free(rc->known_hosts);
    free(rc);
}

static const struct kiln_ready_conf *conf_of(const struct kiln_platform_ctx *p)
{
    return p->rb->platform.conf;
}

static int ready_init(struct kiln_platform_ctx *p, char **reterr)
{
    if (!conf_of(p)->n) return err_setf(reterr, -EINVAL, "platform.ready.nodes is empty");
    free(p->accel);
    p->accel = xstrdup("none");
    return 0;
}

static bool ready_capable(struct kiln_platform_ctx *p, const struct kiln_req *need, char **reterr)
{
    size_t have = conf_of(p)->n;
    if ((size_t)kiln_req_nodes(need) > have)
        return err_setf(reterr, false, "needs nodes>=%d, ready platform has %zu", kiln_req_nodes(need), have);
    unsigned unsupported = need->features & (FEAT_SERIAL_CONSOLE | FEAT_HOT_ADD_DISK | FEAT_GPU | FEAT_PRIVATE_NET | FEAT_MULTIQUEUE | FEAT_UPDATE | FEAT_RDMA | FEAT_ISCSI);
    if (unsupported) {
        char f[128];
        kiln_features_format(unsupported, f, sizeof f);
        return err_setf(reterr, false, "needs feature %s, not available on ready nodes", f);
    }
    /* cpus, memory, NICs and disks of ready nodes are what they are: cases measure them. */
    return true;
}

static void ready_spec_for(struct kiln_platform_ctx *p, const struct kiln_req *need, struct kiln_req *spec)
{
    *spec = *need;
    spec->nodes = (int)conf_of(p)->n;
    /* Unknown dimensions are taken as met; the cases measure the real values. */
    spec->cpus = MAX(need->cpus, 1);
    spec->memory_mb = MAX(need->memory_mb, 1);
    spec->nics = MAX(need->nics, 1);
}

static int ready_deploy(struct kiln_platform_ctx *p, struct kiln_env *env, char **reterr)
{
    const struct kiln_ready_conf *rc = conf_of(p);
    env->nodes = xcalloc(rc->n, sizeof *env->nodes);
    for (size_t i = 0; i < rc->n; i++) {
        const struct kiln_ready_node *rn = &rc->nodes[i];
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
        n->known_hosts = xstrdup(rc->known_hosts);
        n->nhost_key_fps = rn->nhost_key_fingerprints;
        n->host_key_fps = xcalloc(n->nhost_key_fps ? n->nhost_key_fps : 1, sizeof *n->host_key_fps);
        for (size_t k = 0; k < rn->nhost_key_fingerprints; k++) n->host_key_fps[k] = xstrdup(rn->host_key_fingerprints[k]);
        n->have = env->spec;
        n->have.nodes = 0;
        _cleanup_free_ char *err = NULL;
        double t0 = now_s();
        int r = node_connect(n, 60, &err);
        if (r < 0) return err_setf(reterr, r, "%s (%s:%d): %s", n->name, n->host, n->port, err);
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
    /* the machine is the user's and stays: what kiln unpacked there goes (extensions, LTP) */
    for (size_t i = 0; env && i < env->nnodes; i++) {
        node_remove_leftovers(env->nodes[i]);
        node_disconnect(env->nodes[i]);
    }
}

static void ready_fini(struct kiln_platform_ctx *p)
{
    (void)p;
}

const struct kiln_platform platform_ready = {
    .name = "ready",
    .conf_needs = "nodes",
    .max_envs = 1,
    .parse_conf = ready_parse_conf,
    .free_conf = ready_free_conf,
    .init = ready_init,
    .capable = ready_capable,
    .spec_for = ready_spec_for,
    .deploy = ready_deploy,
    .destroy = ready_destroy,
    .fini = ready_fini,
};
