#include "runbook/lisa.h"

#include <stdint.h>

#include "util/util.h"

static size_t find(const struct ynode *map, const char *key)
{
    for (size_t i = 0; map && map->kind == YN_MAP && i < map->n; i += 2)
        if (streq(map->items[i]->scalar, key)) return i;
    return SIZE_MAX;
}

/* Takes key's value out of map (the caller owns it); NULL when map does not set key. */
static struct ynode *take(struct ynode *map, const char *key)
{
    size_t i = find(map, key);
    if (i == SIZE_MAX) return NULL;
    struct ynode *v = map->items[i + 1];
    ynode_free(map->items[i]);
    memmove(&map->items[i], &map->items[i + 2], (map->n - i - 2) * sizeof *map->items);
    map->n -= 2;
    return v;
}

/* Sets key to v (taking it), the key marked where v is written. */
static void put(struct ynode *map, const char *key, struct ynode *v)
{
    struct ynode *k = ynode_new(YN_SCALAR, v);
    k->scalar = xstrdup(key);
    ynode_push(map, k);
    ynode_push(map, v);
}

static struct ynode *new_scalar(const struct ynode *at, const char *s)
{
    struct ynode *n = ynode_new(YN_SCALAR, at);
    n->scalar = xstrdup(s);
    return n;
}

/* Moves LISA's key `from` to kiln's `to` in map; both set is an error at the LISA one. */
static void rename_key(struct ynode *map, const char *from, const char *to, const char *path, struct diags *d)
{
    size_t i = find(map, from);
    if (i == SIZE_MAX) return;
    if (find(map, to) != SIZE_MAX) {
        _cleanup_free_ char *p = ypath(path, from);
        diag_add(d, map->items[i], p, "both \"%s\" (LISA's word) and \"%s\" are set; keep one", from, to);
        return;
    }
    free(map->items[i]->scalar);
    map->items[i]->scalar = xstrdup(to);
}

static bool empty_scalar(const struct ynode *n)
{
    return n && n->kind == YN_SCALAR && !*n->scalar;
}

/* A boolean switch: *on when it parses (errors go to d). */
static bool switch_value(const struct ynode *n, const char *path, struct diags *d, bool *on)
{
    return n && y_bool(d, n, path, on);
}

/* A LISA key kiln has no use for: taken out, with a warning when set to what kiln does not do
 * (quiet_when: the value that asks for what kiln does anyway, or NULL to always warn). */
static void drop_key(struct ynode *map, const char *key, const char *path, const char *quiet_when, const char *why,
                     struct diags *d, struct diags *w)
{
    struct ynode *v = take(map, key);
    if (!v) return;
    _cleanup_free_ char *p = ypath(path, key);
    bool on, quiet = false;
    if (quiet_when) quiet = !switch_value(v, p, d, &on) || on == streq(quiet_when, "true"); /* not a boolean: d has it */
    if (!quiet) diag_add(w, v, p, "not honoured: %s", why);
    ynode_free(v);
}

/* LISA's node capability words (schema.py NodeSpace) in a requirement map, into kiln's. */
static void rewrite_capability(struct ynode *req, const char *path, struct diags *d, struct diags *w)
{
    if (!req || req->kind != YN_MAP) return;
    ynode_free(take(req, "type")); /* LISA's "requirement" node type */
    rename_key(req, "node_count", "nodes", path, d);
    rename_key(req, "core_count", "cpus", path, d);
    static const struct {
        const char *key, *count, *to;
    } nested[] = {{"disk", "data_disk_count", "data_disks"}, {"network_interface", "nic_count", "nics"}};
    for (size_t i = 0; i < ARRAY_SIZE(nested); i++) {
        struct ynode *m = take(req, nested[i].key);
        if (!m) continue;
        _cleanup_free_ char *mp = ypath(path, nested[i].key);
        if (m->kind != YN_MAP) {
            diag_add(d, m, mp, "expected a mapping, got %s", ynode_kind_name(m));
        } else {
            struct ynode *c = take(m, nested[i].count);
            if (c && find(req, nested[i].to) != SIZE_MAX) {
                diag_add(d, c, mp, "both %s.%s and %s are set; keep one", nested[i].key, nested[i].count, nested[i].to);
                ynode_free(c);
            } else if (c) {
                put(req, nested[i].to, c);
            }
            for (size_t k = 0; k < m->n; k += 2) {
                _cleanup_free_ char *kp = ypath(mp, m->items[k]->scalar);
                diag_add(w, m->items[k], kp, "not honoured: kiln's qemu gives virtio disks and NICs; only the %s counts",
                         nested[i].key);
            }
        }
        ynode_free(m);
    }
    struct ynode *gpu = take(req, "gpu_count");
    if (gpu) {
        long n = 0;
        _cleanup_free_ char *gp = ypath(path, "gpu_count");
        if (y_long(d, gpu, gp, 0, 64, &n) && n > 0) {
            struct ynode *f = y_get(req, "features");
            if (!f) {
                f = ynode_new(YN_SEQ, gpu);
                put(req, "features", f);
            }
            if (f->kind == YN_SEQ) ynode_push(f, new_scalar(gpu, "gpu"));
        }
        ynode_free(gpu);
    }
    struct ynode *f = y_get(req, "features");
    /* LISA also writes a feature as {type: NAME, ...settings} */
    for (size_t i = 0; f && f->kind == YN_SEQ && i < f->n; i++) {
        struct ynode *it = f->items[i];
        if (it->kind != YN_MAP) continue;
        struct ynode *t = take(it, "type");
        if (!t) continue;
        if (it->n) {
            _cleanup_free_ char *fp = ypath_index(path, i);
            diag_add(w, it->items[0], fp, "not honoured: settings of a feature (kiln's features have none)");
        }
        ynode_free(it);
        f->items[i] = t;
    }
    drop_key(req, "excluded_features", path, NULL, "kiln gives a node only the features a case asks for", d, w);
}

/* LISA's qemu node settings (sut_orchestrator/qemu/schema.py QemuNodeSchema) into kiln's
 * platform.qemu: qcow2 is the image; LISA boots UEFI unless firmware_type says bios. */
static void move_qemu_node(struct ynode *plat, struct ynode *q, struct diags *d, struct diags *w)
{
    static const char *const keys[] = {"qcow2", "firmware_type", "cloud_init", NULL};
    const char *path = "platform.requirement.qemu";
    if (!y_expect(d, q, path, YN_MAP)) return;
    y_check_keys(d, q, path, keys);
    struct ynode *kq = y_get(plat, "qemu");
    if (!kq) {
        kq = ynode_new(YN_MAP, q);
        put(plat, "qemu", kq);
    }
    if (kq->kind != YN_MAP) return; /* parse_qemu says so */
    struct ynode *img = take(q, "qcow2");
    if (img && !empty_scalar(img) && find(kq, "image") != SIZE_MAX) {
        diag_add(d, img, "platform.requirement.qemu.qcow2", "both this and platform.qemu.image are set; keep one");
        ynode_free(img);
    } else if (img && !empty_scalar(img)) {
        put(kq, "image", img);
    } else {
        ynode_free(img);
    }
    struct ynode *fw = take(q, "firmware_type");
    if (find(kq, "firmware") != SIZE_MAX) {
        if (fw) diag_add(d, fw, "platform.requirement.qemu.firmware_type", "both this and platform.qemu.firmware are set; keep one");
        ynode_free(fw);
    } else if (fw && !empty_scalar(fw)) {
        put(kq, "firmware", fw);
    } else {
        put(kq, "firmware", new_scalar(fw ? fw : q, "uefi"));
        ynode_free(fw);
    }
    struct ynode *ci = take(q, "cloud_init");
    const struct ynode *eud = y_get(ci, "extra_user_data");
    if (eud && !empty_scalar(eud))
        diag_add(w, eud, "platform.requirement.qemu.cloud_init.extra_user_data",
                 "not honoured: kiln writes the NoCloud seed itself (its SSH key, the host name); build what the "
                 "user-data does into the image");
    ynode_free(ci);
}

/* platform.qemu's LISA keys (QemuPlatformSchema): VMs on this machine only. */
static void rewrite_qemu_platform(struct ynode *kq, struct diags *d, struct diags *w)
{
    if (!kq || kq->kind != YN_MAP) return;
    rename_key(kq, "network_boot_timeout", "boot_timeout_s", "platform.qemu", d);
    struct ynode *hosts = take(kq, "hosts");
    for (size_t i = 0; hosts && hosts->kind == YN_SEQ && i < hosts->n; i++) {
        const struct ynode *h = hosts->items[i];
        _cleanup_free_ char *hp = ypath_index("platform.qemu.hosts", i);
        const struct ynode *a = y_get(h, "address");
        if (a && !empty_scalar(a))
            diag_add(d, a, hp, "kiln runs its VMs on this machine; a remote libvirt host is not supported");
        else if (y_get(h, "lisa_working_dir"))
            diag_add(w, y_get(h, "lisa_working_dir"), hp, "not honoured: kiln keeps VM files under $TMPDIR");
    }
    ynode_free(hosts);
}

static void rewrite_platform(struct ynode *root, struct diags *d, struct diags *w)
{
    size_t i = find(root, "platform");
    if (i == SIZE_MAX) return;
    struct ynode *p = root->items[i + 1];
    if (p->kind == YN_SEQ) {
        if (!p->n) {
            diag_add(d, p, "platform", "an empty list: give one platform (- type: qemu, or - type: ready)");
            return;
        }
        if (p->n > 1)
            diag_add(d, p->items[1], "platform[1]", "kiln runs one platform per run; keep one entry (and run the runbook "
                                                   "again with the other)");
        struct ynode *first = p->items[0];
        memmove(p->items, p->items + 1, (p->n - 1) * sizeof *p->items);
        p->n--;
        ynode_free(p);
        root->items[i + 1] = p = first;
    }
    if (p->kind != YN_MAP) return;
    struct ynode *pw = take(p, "admin_password");
    if (pw && !empty_scalar(pw))
        diag_add(d, pw, "platform.admin_password", "kiln logs in with an SSH key only: set admin_private_key_file, or "
                                                   "leave both out for a fresh key per run");
    ynode_free(pw);
    struct ynode *g = take(p, "guest_enabled");
    bool on = false;
    if (switch_value(g, "platform.guest_enabled", d, &on) && on)
        diag_add(d, g, "platform.guest_enabled", "nested guests are not supported by kiln");
    ynode_free(g);
    g = take(p, "guests");
    if (g && !(g->kind == YN_SEQ && !g->n)) diag_add(d, g, "platform.guests", "nested guests are not supported by kiln");
    ynode_free(g);
    drop_key(p, "ignored_capability", "platform", NULL,
             "kiln ignores no capability: a case needing what the platform lacks is skipped with the reason", d, w);
    static const char *const captures[] = {"capture_azure_information", "capture_boot_time",
                                           "capture_kernel_config_information", "capture_vm_information"};
    for (size_t k = 0; k < ARRAY_SIZE(captures); k++)
        drop_key(p, captures[k], "platform", "false",
                 "kiln keeps the serial console, each case's log and perf.json; it captures no more", d, w);
    drop_key(p, "assert_kernel_error_after_test", "platform", "true",
             "kiln always checks the console and kernel log for errors (console.ignore lists what to ignore)", d, w);
    struct ynode *req = y_get(p, "requirement");
    if (req && req->kind == YN_MAP) {
        struct ynode *q = take(req, "qemu");
        if (q) move_qemu_node(p, q, d, w);
        ynode_free(q);
        rewrite_capability(req, "platform.requirement", d, w);
    }
    rewrite_qemu_platform(y_get(p, "qemu"), d, w);
}

/* A LISA remote node (schema.py RemoteNode) as a kiln ready node: the public address and port
 * unless use_public_address is false, as LISA connects. */
static struct ynode *ready_node(struct ynode *n, const char *path, struct diags *d, struct diags *w)
{
    static const char *const keys[] = {"type", "name", "address", "port", "public_address", "public_port",
                                       "use_public_address", "username", "password", "private_key_file", "use_ipv6",
                                       "capability", "is_default", "enabled", NULL};
    y_check_keys(d, n, path, keys);
    struct ynode *pw = take(n, "password");
    if (pw && !empty_scalar(pw))
        diag_add(d, pw, path, "kiln logs in with an SSH key only: set private_key_file instead of password");
    ynode_free(pw);
    bool pub = true;
    struct ynode *up = take(n, "use_public_address");
    if (up) {
        _cleanup_free_ char *p = ypath(path, "use_public_address");
        switch_value(up, p, d, &pub);
    }
    ynode_free(up);
    struct ynode *pa = take(n, "public_address"), *pp = take(n, "public_port");
    struct ynode *a = take(n, "address"), *port = take(n, "port");
    struct ynode *out = ynode_new(YN_MAP, n);
    bool use_pub = pub && pa && !empty_scalar(pa);
    struct ynode *addr = use_pub ? pa : a;
    if (addr && !empty_scalar(addr)) put(out, "address", addr);
    else ynode_free(addr);
    ynode_free(use_pub ? a : pa);
    struct ynode *pt = use_pub ? pp : port;
    if (pt) put(out, "port", pt);
    ynode_free(use_pub ? port : pp);
    static const char *const moved[] = {"username", "private_key_file"};
    for (size_t i = 0; i < ARRAY_SIZE(moved); i++) {
        struct ynode *v = take(n, moved[i]);
        if (v) put(out, moved[i], v);
    }
    struct ynode *cap = take(n, "capability");
    if (cap) diag_add(w, cap, path, "not honoured: kiln probes what a ready node has (capability is not read)");
    ynode_free(cap);
    return out;
}

/* The one enabled environment of environment.environments (its index in *ei), or NULL;
 * more than one is an error in d. */
static struct ynode *one_environment(struct ynode *envs, struct diags *d, size_t *ei)
{
    static const char *const ekeys[] = {"name", "topology", "nodes", "nodes_requirement", "enabled", NULL};
    struct ynode *e = NULL;
    for (size_t i = 0; i < envs->n; i++) {
        struct ynode *it = envs->items[i];
        _cleanup_free_ char *ep = ypath_index("environment.environments", i);
        if (!y_expect(d, it, ep, YN_MAP)) continue;
        y_check_keys(d, it, ep, ekeys);
        bool enabled = true;
        _cleanup_free_ char *enp = ypath(ep, "enabled");
        if (y_get(it, "enabled") && (!y_bool(d, y_get(it, "enabled"), enp, &enabled) || !enabled)) continue;
        if (e) diag_add(d, it, ep, "kiln makes the environments of a run from its platform; give one environment");
        else e = it, *ei = i;
    }
    return e;
}

/* Node n (at np) of the environment's nodes into the platform plat: a remote node becomes
 * one of platform.ready.nodes (only on the ready platform), a requirement node moves to
 * platform.requirement (a placeholder stays in nodes), a local one is refused. */
static void place_node(struct ynode *plat, struct ynode *nodes, struct ynode *n, const char *np, struct diags *d,
                       struct diags *w)
{
    const struct ynode *type = y_get(plat, "type");
    bool ready = type && type->kind == YN_SCALAR && streq(type->scalar, "ready");
    const struct ynode *t = y_get(n, "type");
    const char *ts = t && t->kind == YN_SCALAR ? t->scalar : "";
    if (streq(ts, "remote")) {
        if (!ready) {
            diag_add(d, n, np, "a remote node needs the platform type ready (the platform says %s)",
                     type && type->kind == YN_SCALAR ? type->scalar : "qemu");
            return;
        }
        struct ynode *rd = y_get(plat, "ready");
        if (!rd) {
            rd = ynode_new(YN_MAP, n);
            put(plat, "ready", rd);
        }
        struct ynode *rn = rd->kind == YN_MAP ? y_get(rd, "nodes") : NULL;
        if (rd->kind == YN_MAP && !rn) {
            rn = ynode_new(YN_SEQ, n);
            put(rd, "nodes", rn);
        }
        if (rn && rn->kind == YN_SEQ) ynode_push(rn, ready_node(n, np, d, w));
    } else if (streq(ts, "local")) {
        diag_add(d, n, np, "kiln runs cases over SSH: describe this machine as a remote node (public_address: "
                           "127.0.0.1, username, private_key_file)");
    } else if (streq(ts, "requirement")) {
        if (y_get(plat, "requirement")) {
            diag_add(d, n, np, "platform.requirement is set too; give the requirement once");
            return;
        }
        size_t k = 0;
        while (k < nodes->n && nodes->items[k] != n) k++;
        nodes->items[k] = ynode_new(YN_MAP, n); /* a placeholder: n moves to the platform */
        rewrite_capability(n, np, d, w);
        ynode_free(take(n, "enabled"));
        put(plat, "requirement", n);
    } else {
        diag_add(d, t ? t : n, np, "a node's type is remote, local or requirement, got \"%.40s\"", ts);
    }
}

/* The environment block (schema.py EnvironmentRoot), taken out of root into env. */
static void environment_nodes(struct ynode *root, struct ynode *env, struct diags *d, struct diags *w)
{
    static const char *const keys[] = {"environments", "warn_as_error", "retry", NULL};
    if (!y_expect(d, env, "environment", YN_MAP)) return;
    y_check_keys(d, env, "environment", keys);
    drop_key(env, "warn_as_error", "environment", "false", "kiln's warnings stay warnings", d, w);
    struct ynode *retry = take(env, "retry");
    long r = 0;
    if (retry && y_long(d, retry, "environment.retry", 0, 100, &r) && r > 0)
        diag_add(w, retry, "environment.retry", "not honoured: kiln does not deploy an environment again after a failed "
                                                "deployment (it replaces a node that broke during a run)");
    ynode_free(retry);
    struct ynode *envs = y_get(env, "environments");
    if (!envs || !y_expect(d, envs, "environment.environments", YN_SEQ)) return;
    size_t ei = 0;
    struct ynode *e = one_environment(envs, d, &ei);
    if (!e) return;
    _cleanup_free_ char *ep = ypath_index("environment.environments", ei);
    _cleanup_free_ char *nsp = ypath(ep, "nodes");
    if (y_get(e, "nodes_requirement"))
        diag_add(d, y_get(e, "nodes_requirement"), ep, "nodes_requirement is not supported: write a node of type "
                                                       "requirement under nodes");
    struct ynode *nodes = y_get(e, "nodes");
    if (!nodes || !y_expect(d, nodes, nsp, YN_SEQ)) return;
    struct ynode *plat = y_get(root, "platform");
    if (!plat) {
        /* LISA's default platform is ready */
        plat = ynode_new(YN_MAP, env);
        put(plat, "type", new_scalar(env, "ready"));
        put(root, "platform", plat);
    }
    if (plat->kind != YN_MAP) return;
    for (size_t i = 0; i < nodes->n; i++) {
        struct ynode *n = nodes->items[i];
        _cleanup_free_ char *np = ypath_index(nsp, i);
        if (!y_expect(d, n, np, YN_MAP)) continue;
        bool enabled = true;
        _cleanup_free_ char *enp = ypath(np, "enabled");
        if (y_get(n, "enabled") && (!y_bool(d, y_get(n, "enabled"), enp, &enabled) || !enabled)) continue;
        place_node(plat, nodes, n, np, d, w);
    }
}

static void rewrite_environment(struct ynode *root, struct diags *d, struct diags *w)
{
    struct ynode *env = take(root, "environment");
    if (env) environment_nodes(root, env, d, w);
    ynode_free(env);
}

static void rewrite_extensions(struct ynode *root, struct diags *d, struct diags *w)
{
    static const char *const keys[] = {"name", "path", NULL};
    size_t at = find(root, "extension");
    struct ynode *x = at == SIZE_MAX ? NULL : root->items[at + 1];
    if (x && x->kind == YN_MAP && find(x, "paths") != SIZE_MAX) {
        /* LISA's earlier shape, which it still reads: extension: {paths: [...]} */
        static const char *const mkeys[] = {"paths", NULL};
        y_check_keys(d, x, "extension", mkeys);
        struct ynode *paths = take(x, "paths");
        ynode_free(x);
        root->items[at + 1] = x = paths;
    }
    for (size_t i = 0; x && x->kind == YN_SEQ && i < x->n; i++) {
        struct ynode *it = x->items[i];
        if (it->kind != YN_MAP) continue;
        _cleanup_free_ char *p = ypath_index("extension", i);
        y_check_keys(d, it, p, keys);
        struct ynode *path = take(it, "path"), *name = take(it, "name");
        if (name)
            diag_add(w, name, p, "not honoured: kiln names an extension's cases ext.<directory>.<file>, not by \"name\"");
        ynode_free(name);
        if (!path) {
            diag_add(d, it, p, "needs \"path\": a directory of tests");
            continue;
        }
        ynode_free(it);
        x->items[i] = path;
    }
}

/* Drops the entries of seq for which keep[i] is false. */
static void seq_filter(struct ynode *seq, const bool *keep)
{
    size_t k = 0;
    for (size_t i = 0; i < seq->n; i++) {
        if (keep[i]) seq->items[k++] = seq->items[i];
        else ynode_free(seq->items[i]);
    }
    seq->n = k;
}

/* LISA's enabled: false (and the older enable) switches an entry off, often through a variable. */
static bool entry_enabled(struct ynode *it, const char *path, struct diags *d)
{
    bool on = true;
    static const char *const words[] = {"enabled", "enable"};
    for (size_t k = 0; k < ARRAY_SIZE(words); k++) {
        struct ynode *e = take(it, words[k]);
        _cleanup_free_ char *p = ypath(path, words[k]);
        bool v = true;
        if (e && y_bool(d, e, p, &v)) on = on && v;
        ynode_free(e);
    }
    return on;
}

static void rewrite_notifiers(struct ynode *root, struct diags *d, struct diags *w)
{
    struct ynode *x = y_get(root, "notifier");
    if (!x || x->kind != YN_SEQ) return;
    bool *keep = xcalloc(x->n ? x->n : 1, sizeof *keep);
    for (size_t i = 0; i < x->n; i++) {
        struct ynode *it = x->items[i];
        _cleanup_free_ char *p = ypath_index("notifier", i);
        keep[i] = true;
        if (it->kind == YN_SCALAR) {
            struct ynode *m = ynode_new(YN_MAP, it);
            put(m, "type", it);
            x->items[i] = m;
            continue;
        }
        if (it->kind != YN_MAP) continue;
        keep[i] = entry_enabled(it, p, d);
        drop_key(it, "priority", p, NULL, "kiln's notifiers do not change each other's messages, so their order does "
                                          "not matter", d, w);
        drop_key(it, "path", p, NULL, "kiln writes its reports into the run directory (report.html, junit.xml, "
                                      "results.json)", d, w);
    }
    seq_filter(x, keep);
    free(keep);
}

static void rewrite_testcases(struct ynode *root, struct diags *d, struct diags *w)
{
    struct ynode *x = y_get(root, "testcase");
    if (!x || x->kind != YN_SEQ) return;
    bool *keep = xcalloc(x->n ? x->n : 1, sizeof *keep);
    for (size_t i = 0; i < x->n; i++) {
        struct ynode *it = x->items[i];
        _cleanup_free_ char *p = ypath_index("testcase", i);
        keep[i] = true;
        if (it->kind != YN_MAP) continue;
        keep[i] = entry_enabled(it, p, d);
        struct ynode *t = take(it, "type");
        if (t && t->kind == YN_SCALAR && streq(t->scalar, "legacy")) {
            if (keep[i])
                diag_add(w, it, p, "not honoured: a LISAv2 (legacy) test run; kiln does not run LISAv2, this rule is "
                                   "left out");
            keep[i] = false;
        } else if (t && !(t->kind == YN_SCALAR && streq(t->scalar, "lisa"))) {
            _cleanup_free_ char *tp = ypath(p, "type");
            diag_add(d, t, tp, "expected lisa (kiln's cases) or legacy (LISAv2, not run by kiln)");
        }
        ynode_free(t);
        if (!keep[i]) continue;
        drop_key(it, "name", p, NULL, "kiln names a rule by its place (testcase[N] at file:line:col)", d, w);
        drop_key(it, "use_new_environment", p, "false",
                 "kiln reuses an environment across cases whose requirement it meets (a case that breaks a node gets "
                 "it replaced)", d, w);
        drop_key(it, "environment", p, NULL, "kiln picks the environment that meets a case's requirement", d, w);
        struct ynode *to = y_get(it, "timeout");
        if (to && to->kind == YN_SCALAR && streq(to->scalar, "0")) ynode_free(take(it, "timeout")); /* the case's own */
        else rename_key(it, "timeout", "timeout_s", p, d);
    }
    seq_filter(x, keep);
    free(keep);
}

static void rewrite_top(struct ynode *root, struct diags *d, struct diags *w)
{
    drop_key(root, "exit_with_failed_count", "", "true", "kiln exits 1 when a case failed (ignore_failure: true on "
                                                          "a rule keeps its cases out of that)", d, w);
    drop_key(root, "exit_on_first_failure", "", "false", "kiln runs every selected case", d, w);
    static const char *const labels[] = {"test_project", "test_pass", "tags"};
    for (size_t i = 0; i < ARRAY_SIZE(labels); i++)
        drop_key(root, labels[i], "", NULL, "a label of LISA's reports; kiln's results.json does not carry it", d, w);
    drop_key(root, "wait_resource_timeout", "", NULL, "kiln waits for host memory as long as the run needs", d, w);
    drop_key(root, "import_builtin_tests", "", "true", "kiln's built-in cases are always there to select", d, w);
    drop_key(root, "dev", "", NULL, "LISA's development switches", d, w);
    static const char *const refused[] = {"transformer", "combinator"};
    for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
        struct ynode *v = take(root, refused[i]);
        if (v)
            diag_add(d, v, refused[i], "kiln has no %ss: it runs the runbook as written (pass values with -v, run it "
                                       "once per combination)", refused[i]);
        ynode_free(v);
    }
}

void runbook_lisa_before_merge(struct ynode *base, const struct ynode *over)
{
    const struct ynode *p = y_get(over, "platform");
    if (p && p->kind == YN_SEQ) ynode_free(take(base, "platform"));
    if (y_get(over, "environment")) ynode_free(take(base, "environment"));
}

void runbook_lisa_rewrite(struct ynode *root, struct diags *d, struct diags *w)
{
    rewrite_top(root, d, w);
    rewrite_platform(root, d, w);
    rewrite_environment(root, d, w);
    rewrite_extensions(root, d, w);
    rewrite_notifiers(root, d, w);
    rewrite_testcases(root, d, w);
}
