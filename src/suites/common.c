#include "suites/common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>

#include "node/console.h"
#include "image/pkgmgr.h"
#include "model/arch.h"
#include "node/node.h"
#include "platform/platform.h"
#include "util/fs.h"
#include "util/util.h"
#include "util/yaml.h"

/* ---- verdicts ---- */

int case_verdict(struct kiln_case_ctx *t, struct verdict *v)
{
    int rc = CASE_PASS;
    const char *why = v->reason ? v->reason : "";
    switch (v->kind) {
    case VERDICT_PASS:
        if (v->reason) case_log(t, "%s", why);
        break;
    case VERDICT_FAIL: rc = case_fail(t, "%s", why); break;
    case VERDICT_SKIP: rc = case_skip(t, "%s", why); break;
    case VERDICT_NOTHING: {
        struct ynode *policy = suite_policy(t);
        if (!policy) {
            rc = CASE_FAIL;
            break;
        }
        /* skip or fail: policy_load refused anything else */
        const struct ynode *p = policy_get(policy, "cases", "nothing_to_examine");
        if (p && streq(p->scalar, "fail")) rc = case_fail(t, "nothing to examine: %s (policy: cases.nothing_to_examine is fail)", why);
        else rc = case_skip(t, "nothing to examine: %s", why);
        break;
    }
    }
    verdict_free(v);
    return rc;
}

/* ---- guest output ---- */

int guest_capture(struct kiln_case_ctx *t, struct kiln_node *n, const char *cmd, struct gcap *c)
{
    *c = (struct gcap){0};
    int r = case_sh_on(t, n ? n : t->node, cmd, &c->out, &c->err);
    if (!c->out) c->out = xstrdup("");
    if (!c->err) c->err = xstrdup("");
    if (r < 0) {
        gcap_free(c);
        return case_fail(t, "cannot run a command on %s: %s", (n ? n : t->node)->name, strerror(-r)), r;
    }
    c->status = r;
    return 0;
}

void gcap_free(struct gcap *c)
{
    free(c->out);
    free(c->err);
    *c = (struct gcap){0};
}

int guest_read_files(struct kiln_case_ctx *t, struct kiln_node *n, const char *globs, struct gfiles *files)
{
    *files = (struct gfiles){0};
    _cleanup_free_ char *cmd = gfiles_command(globs);
    struct gcap c;
    if (guest_capture(t, n, cmd, &c) < 0) return CASE_FAIL;
    int rc = CASE_PASS;
    if (c.status != 0) {
        _cleanup_free_ char *why = gcap_why(&c);
        rc = case_fail(t, "cannot read %s on %s: %s", globs, (n ? n : t->node)->name, why);
    } else {
        gfiles_parse(c.out, files);
    }
    gcap_free(&c);
    return rc;
}

/* ---- facts ---- */

/* Facts hold for one boot of the node. */
static struct node_facts *node_facts_of(struct kiln_node *n)
{
    if (!n->boot_id) node_read_boot_id(n);
    if (!n->facts.boot_id || !streq(n->facts.boot_id, n->boot_id)) {
        free(n->facts.boot_id);
        n->facts = (struct node_facts){.boot_id = xstrdup(n->boot_id ? n->boot_id : "?"), .family = -1, .systemd = -1};
    }
    return &n->facts;
}

static struct node_facts *facts(struct kiln_case_ctx *t)
{
    return node_facts_of(t->node);
}

/* The os-release text, then after a marker line which package databases exist: those decide
 * only for distributions os-release does not place (busybox has dpkg and rpm applets that are
 * not package managers, so the tools must answer and the database must be there). */
#define FAMILY_PROBE                                                                                                  \
    "for f in /etc/os-release /usr/lib/os-release; do if [ -e $f ]; then cat $f || exit 1; break; fi; done; "          \
    "printf '\\n\\036databases\\n'; "                                                                                 \
    "if dpkg-query --version >/dev/null 2>&1 && [ -f /var/lib/dpkg/status ]; then echo has-dpkg; fi; "                \
    "if rpm --version 2>/dev/null | grep -q '^RPM version' && { [ -d /var/lib/rpm ] || [ -d /usr/lib/sysimage/rpm ]; }; " \
    "then echo has-rpm; fi; exit 0"

/* Returns the family (cached for the boot) or -1 with the case failed when os-release cannot be read. */
static int probe_family(struct kiln_case_ctx *t)
{
    struct node_facts *f = facts(t);
    if (f->family >= 0) return f->family;
    struct gcap c;
    if (guest_capture(t, NULL, FAMILY_PROBE, &c) < 0) return -1;
    if (c.status != 0) {
        _cleanup_free_ char *why = gcap_why(&c);
        case_fail(t, "cannot read os-release on %s: %s", t->node->name, why);
        gcap_free(&c);
        return -1;
    }
    char *dbs = strstr(c.out, "\n\036databases\n");
    if (dbs) *dbs = 0;
    _cleanup_free_ char *id = os_release_value(c.out, "ID"), *like = os_release_value(c.out, "ID_LIKE");
    enum pkg_family fam = family_from_os_release(id, like);
    if (fam == FAMILY_OTHER && dbs) {
        if (strstr(dbs + 1, "has-dpkg")) fam = FAMILY_DEB;
        else if (strstr(dbs + 1, "has-rpm")) fam = FAMILY_RPM;
    }
    snprintf(f->os_id, sizeof f->os_id, "%s", id && *id ? id : "unknown");
    case_log(t, "os-release ID=%s ID_LIKE=%s: %s family", f->os_id, like ? like : "",
             fam == FAMILY_DEB ? "deb" : fam == FAMILY_RPM ? "rpm" : "no package");
    f->family = fam;
    gcap_free(&c);
    return fam;
}

enum pkg_family guest_family(struct kiln_case_ctx *t, char *id, size_t idsz)
{
    int fam = probe_family(t);
    if (id) snprintf(id, idsz, "%s", facts(t)->os_id[0] ? facts(t)->os_id : "unknown");
    return fam < 0 ? FAMILY_OTHER : (enum pkg_family)fam;
}

int guest_need_family(struct kiln_case_ctx *t, enum pkg_family *fam)
{
    int f = probe_family(t);
    if (f < 0) return CASE_FAIL;
    *fam = (enum pkg_family)f;
    const char *id = facts(t)->os_id;
    if (*fam == FAMILY_OTHER)
        return case_skip(t, "%s is neither deb- nor rpm-based (os-release ID, ID_LIKE) and has no dpkg or rpm database", id);
    /* the family's database must answer: a missing or damaged one is a finding, not another family */
    /* an image built with packages.package_manager: remove says so (kiln's marker, written at
     * build): its database stays for SBOMs, but no case can ask the tools, which is no defect */
    const char *list = *fam == FAMILY_DEB
        ? "if ! command -v dpkg-query >/dev/null 2>&1 && [ -e /" PKGMGR_REMOVED_MARKER " ]; then exit 4; fi; "
          "[ -f /var/lib/dpkg/status ] || { echo '/var/lib/dpkg/status does not exist' >&2; exit 3; }; "
          "dpkg-query -W -f '${Package}\\n'"
        : "if ! command -v rpm >/dev/null 2>&1 && [ -e /" PKGMGR_REMOVED_MARKER " ]; then exit 4; fi; "
          "d=$(rpm --eval '%{_dbpath}') || exit 1; "
          "[ -d \"$d\" ] || { echo \"$d does not exist\" >&2; exit 3; }; rpm -qa --qf '%{NAME}\\n'";
    struct gcap c;
    if (guest_capture(t, NULL, list, &c) < 0) return CASE_FAIL;
    if (c.status == 4) {
        gcap_free(&c);
        return case_skip(t, "%s was built without its package manager (packages.package_manager: remove; /%s lists "
                            "what went): the package database is still read by kiln sbom and kiln inspect", id,
                         PKGMGR_REMOVED_MARKER);
    }
    struct verdict v = {0};
    decide_package_database(*fam, id, &c, &v);
    gcap_free(&c);
    return case_verdict(t, &v);
}

bool guest_has_systemd(struct kiln_case_ctx *t)
{
    struct node_facts *f = facts(t);
    if (f->systemd < 0)
        f->systemd = case_sh(t, "test -d /run/systemd/system && command -v systemctl >/dev/null", NULL) == 0;
    return f->systemd == 1;
}

bool guest_has_cmd(struct kiln_case_ctx *t, const char *cmd)
{
    _cleanup_free_ char *q = shell_quote(cmd);
    _cleanup_free_ char *c = xasprintf("command -v %s >/dev/null 2>&1", q);
    return case_sh(t, c, NULL) == 0;
}

#define HELPER_REMOTE "/var/tmp/kiln-guest"

static const struct kiln_arch *arch_of_elf(uint16_t machine)
{
    size_t n;
    const struct kiln_arch *all = kiln_arch_all(&n);
    for (size_t i = 0; i < n; i++)
        if (all[i].elf_machine == machine) return &all[i];
    return NULL;
}

int guest_helper_pick(const struct kiln_arch *a, const char *const *cands, size_t n, char **path, char **reterr)
{
    struct sbuf why = {0};
    for (size_t i = 0; i < n; i++) {
        if (!cands[i]) continue;
        uint16_t m = 0;
        int r = elf_machine_of(cands[i], &m);
        if (r == 0 && m == a->elf_machine) {
            sbuf_free(&why);
            *path = xstrdup(cands[i]);
            return 0;
        }
        const struct kiln_arch *other = r == 0 ? arch_of_elf(m) : NULL;
        sbuf_printf(&why, "%s%s ", why.len ? "; " : "", cands[i]);
        if (other) sbuf_printf(&why, "is an %s program", other->name);
        else if (r == 0) sbuf_printf(&why, "is a program for ELF machine %u", (unsigned)m);
        else if (r == -ENOEXEC) sbuf_puts(&why, "is not an ELF program");
        else sbuf_printf(&why, "cannot be read: %s", fs_strerror(r));
    }
    _cleanup_free_ char *var = guest_helper_env_name(a);
    int r = err_setf(reterr, -ENOEXEC,
                     "kiln has no kiln-guest for %s guests (%s): build guest/*.c statically for %s "
                     "(meson.build's kiln-guest with a compiler for it) and name the program in %s, or install it "
                     "as kiln-guest-%s beside kiln",
                     a->name, why.len ? why.s : "no candidate", a->name, var, a->name);
    sbuf_free(&why);
    return r;
}

char *guest_helper_env_name(const struct kiln_arch *a)
{
    char *v = xasprintf("KILN_GUEST_HELPER_%s", a->name);
    for (char *p = v; *p; p++) *p = (char)toupper((unsigned char)*p);
    return v;
}

int guest_helper_for_arch(const struct kiln_arch *a, char **path, char **reterr)
{
    _cleanup_free_ char *var = guest_helper_env_name(a);
    _cleanup_free_ char *name = xasprintf("kiln-guest-%s", a->name);
    _cleanup_free_ char *named = kiln_guest_file_path(name);
    _cleanup_free_ char *generic = kiln_guest_helper_path();
    const char *env = getenv(var);
    const char *cands[] = {env && *env ? env : NULL, named, generic};
    return guest_helper_pick(a, cands, ARRAY_SIZE(cands), path, reterr);
}

int guest_arch(struct kiln_case_ctx *t, struct kiln_node *n, const struct kiln_arch **arch)
{
    struct node_facts *f = node_facts_of(n);
    if (!f->arch[0]) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        int r = case_sh_on(t, n, "uname -m", &out, &err);
        if (r != 0)
            return case_fail(t, "cannot read %s's architecture: `uname -m` %s %d: %s", n->name,
                             r < 0 ? "failed" : "exited", r < 0 ? -r : r, err ? strstrip(err) : "");
        snprintf(f->arch, sizeof f->arch, "%s", strstrip(out));
    }
    *arch = kiln_arch_find(f->arch);
    if (!*arch) return case_skip(t, "%s is an %s machine, an architecture kiln has no kiln-guest for", n->name, f->arch);
    return CASE_PASS;
}

int guest_helper_local(struct kiln_case_ctx *t, struct kiln_node *n, char **local, const struct kiln_arch **arch)
{
    int rc = guest_arch(t, n, arch);
    if (rc != CASE_PASS) return rc;
    _cleanup_free_ char *why = NULL;
    if (guest_helper_for_arch(*arch, local, &why) < 0) return case_skip(t, "%s: %s", n->name, why);
    return CASE_PASS;
}

int guest_helper(struct kiln_case_ctx *t, const char **remote)
{
    return guest_helper_on(t, t->node, remote);
}

int guest_helper_on(struct kiln_case_ctx *t, struct kiln_node *n, const char **remote)
{
    *remote = NULL;
    struct node_facts *f = node_facts_of(n);
    if (f->helper) return *remote = HELPER_REMOTE, CASE_PASS;
    _cleanup_free_ char *local = NULL;
    const struct kiln_arch *a;
    int rc = guest_helper_local(t, n, &local, &a);
    if (rc != CASE_PASS) return rc;
    int r = node_upload_file(n, local, HELPER_REMOTE, 0755);
    if (r < 0) return case_fail(t, "cannot upload the guest helper %s to %s: %s", local, n->name, strerror(-r));
    f->helper = true;
    *remote = HELPER_REMOTE;
    return CASE_PASS;
}

char *helper_value(const char *out, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, kl) && p[kl] == '=') return xstrndup(p + kl + 1, strcspn(p + kl + 1, "\n"));
    return NULL;
}

char *console_findings(struct kiln_node *n, uint64_t mark)
{
    if (!n->console) return NULL;
    struct console_event *ev;
    size_t nev = console_events(n->console, mark, &ev);
    char *r = NULL;
    if (nev) {
        _cleanup_free_ char *more = nev > 1 ? xasprintf(" (+%zu more, see nodes/%s/console.log)", nev - 1, n->name)
                                            : xstrdup("");
        r = xasprintf("[%s] %s%s", ev[0].pattern, ev[0].line, more);
    }
    console_events_free(ev, nev);
    return r;
}

int guest_sh_ok(struct kiln_case_ctx *t, const char *what, const char *cmd, char **out)
{
    _cleanup_free_ char *err = NULL;
    int r = case_sh_on(t, t->node, cmd, out, &err);
    if (r == 0) return 0;
    if (r < 0) return r;
    if (strchr(cmd, '\n') || strlen(cmd) > 100)
        return case_fail(t, "%s: exited %d: %s", what, r, err ? strstrip(err) : "");
    return case_fail(t, "%s: `%s` exited %d: %s", what, cmd, r, err ? strstrip(err) : "");
}

static pthread_mutex_t policy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ynode *policy_cache;
static char *policy_cache_path;

/* Merges profiles.<name> of the policy over its base (maps key by key, lists appended). */
static int policy_apply_profile(struct ynode *p, const char *name, const char *path, char **reterr)
{
    struct ynode *profiles = y_get(p, "profiles");
    for (size_t i = 0; profiles && profiles->kind == YN_MAP && i < profiles->n; i += 2) {
        if (!streq(profiles->items[i]->scalar, name)) continue;
        struct ynode *prof = profiles->items[i + 1];
        profiles->items[i + 1] = NULL;
        if (!prof || prof->kind != YN_MAP) {
            ynode_free(prof);
            return err_setf(reterr, -EINVAL, "%s: profiles.%s is not a mapping", path, name);
        }
        ynode_merge(p, prof); /* p is a map: merged in place */
        return 0;
    }
    struct sbuf names = {0};
    for (size_t i = 0; profiles && profiles->kind == YN_MAP && i < profiles->n; i += 2)
        sbuf_printf(&names, "%s%s", i ? ", " : "", profiles->items[i]->scalar);
    err_setf(reterr, 0, "policy_profile: %s has no profile \"%s\" (it has: %s)", path, name, names.s ? names.s : "none");
    sbuf_free(&names);
    return -ENOENT;
}

/* ---- the policy's shape ----
 * The suites look values up in the tree (policy_get); the table below checks on load that each
 * section and key is one they read and holds the kind they read, so a misspelt key or a list
 * where a word belongs fails kiln check with file:line:col instead of being ignored by a case.
 * Values are read into this scratch, which is thrown away. */
struct policy_scratch {
    char *s;
    char **list;
    size_t nlist;
    bool b;
    int e;
    long l;
};

#define P_STR(k) {k, YF_STR, offsetof(struct policy_scratch, s)}
#define P_LIST(k) {k, YF_STR_LIST, offsetof(struct policy_scratch, list), offsetof(struct policy_scratch, nlist)}
#define P_BOOL(k) {k, YF_BOOL, offsetof(struct policy_scratch, b)}

/* the cases' own rule, in their words: skip or fail */
static void field_nothing(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                          void *target)
{
    (void)f, (void)target;
    if (n->kind != YN_SCALAR || !(streq(n->scalar, "skip") || streq(n->scalar, "fail")))
        diag_add(p->d, n, NULL, "%s is \"%.80s\", expected skip or fail", path, n->kind == YN_SCALAR ? n->scalar : "?");
}

/* a number (seconds, MB/s, microseconds) above zero; arg non-NULL: zero allowed */
static void field_number(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                         void *target)
{
    (void)target;
    double v = 0;
    if (n->kind != YN_SCALAR || !parse_double(n->scalar, &v) || v < 0 || (!f->arg && v == 0))
        diag_add(p->d, n, path, "expected a number %s, got %s", f->arg ? "of at least 0" : "above 0",
                 n->kind == YN_SCALAR ? n->scalar : ynode_kind_name(n));
}

/* NAME: [allowed values] for each name (sshd -T keys, sysctls) */
static void field_allowed(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                          void *target)
{
    struct policy_scratch *sc = target;
    if (!y_expect(p->d, n, path, YN_MAP)) return;
    (void)f;
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        _cleanup_free_ char *kp = ypath(path, n->items[i]->scalar);
        y_str_list(p->d, n->items[i + 1], kp, &sc->list, &sc->nlist);
    }
}

#define P_SECTION(k, ...) {k, YF_MAP, 0, .sub = &(const struct yschema){.fields = (const struct yfield[]){__VA_ARGS__, {0}}}}

static const struct yschema policy_base_schema = {
    .fields = (const struct yfield[]){
        P_SECTION("cases", {"nothing_to_examine", YF_CUSTOM, 0, .parse = field_nothing}),
        P_SECTION("kernel", P_LIST("dmesg_ignore")),
        P_SECTION("time", P_BOOL("require_synchronized"), {"max_drift_s", YF_CUSTOM, 0, .parse = field_number},
                  {"max_drift_unsynchronized_tcg_s", YF_CUSTOM, 0, .parse = field_number}),
        P_SECTION("security", {"sshd", YF_CUSTOM, 0, .parse = field_allowed}, {"sysctl", YF_CUSTOM, 0, .parse = field_allowed},
                  P_LIST("world_writable_allow"), P_LIST("suid_allow"), P_LIST("login_users"), P_LIST("password_allow"),
                  {"mac", YF_MAP, 0, .sub = &(const struct yschema){.fields = (const struct yfield[]){P_STR("deb"), P_STR("rpm"), {0}}}}),
        P_SECTION("storage", {"swap", YF_ENUM, offsetof(struct policy_scratch, e),
                              .names = (const char *const[]){"any", "required", "forbidden", NULL}}),
        P_SECTION("hpc", {"rdma_write_bw_min_mb_s", YF_CUSTOM, 0, .parse = field_number, .arg = "0"},
                  {"rdma_read_lat_max_us", YF_CUSTOM, 0, .parse = field_number}),
        P_SECTION("network", P_LIST("resolve"), {"mtu", YF_LONG, offsetof(struct policy_scratch, l), .min = 68, .max = 65535}),
        P_SECTION("containers", P_BOOL("kubelet_node")),
        {"profiles", YF_SKIP, 0},
        {0}},
};

/* profiles: NAME: a policy of the same shape (without profiles of its own) */
static void check_profiles(const struct yparse *p, const struct ynode *profiles, void *scratch)
{
    if (!y_expect(p->d, profiles, "profiles", YN_MAP)) return;
    for (size_t i = 0; i + 1 < profiles->n; i += 2) {
        const struct ynode *prof = profiles->items[i + 1];
        _cleanup_free_ char *pp = ypath("profiles", profiles->items[i]->scalar);
        if (!yschema_apply(p, prof, pp, &policy_base_schema, scratch)) continue;
        if (y_get(prof, "profiles")) diag_add(p->d, y_get(prof, "profiles"), pp, "a profile holds no profiles of its own");
    }
}

/* The policy's shape, diagnostics in d. */
static void policy_check(const struct ynode *root, struct diags *d)
{
    struct policy_scratch sc = {0};
    const struct yparse p = {d, NULL};
    if (yschema_apply(&p, root, "", &policy_base_schema, &sc) && y_get(root, "profiles"))
        check_profiles(&p, y_get(root, "profiles"), &sc);
    free(sc.s);
    for (size_t i = 0; i < sc.nlist; i++) free(sc.list[i]);
    free(sc.list);
}

struct ynode *policy_load(const char *custom, const char *profile, char **reterr)
{
    _cleanup_free_ char *path = custom ? xstrdup(custom) : kiln_data_path("policy.yml");
    struct diags d = {0};
    struct ynode *p = yaml_load_file(path, &d);
    if (p && p->kind == YN_MAP) policy_check(p, &d);
    if (d.n) {
        /* the policy's own error keeps its place in the policy file */
        const struct diag *g = &d.v[0];
        if (g->line)
            err_setf(reterr, 0, "cannot load the policy: %s:%d:%d: %s%s%s", g->file, g->line, g->col, g->path,
                     *g->path ? ": " : "", g->msg);
        else err_setf(reterr, 0, "cannot load the policy %s: %s", path, g->msg);
        diags_free(&d);
        ynode_free(p);
        return NULL;
    }
    diags_free(&d);
    int r = 0;
    if (p->kind != YN_MAP) r = err_setf(reterr, -EINVAL, "the policy %s is not a mapping", path);
    else if (profile) r = policy_apply_profile(p, profile, path, reterr);
    if (r < 0) {
        ynode_free(p);
        return NULL;
    }
    return p;
}

struct ynode *suite_policy(struct kiln_case_ctx *t)
{
    const char *custom = t->plat && t->plat->rb ? t->plat->rb->policy : NULL;
    const char *profile = t->plat && t->plat->rb ? t->plat->rb->policy_profile : NULL;
    _cleanup_free_ char *key = xasprintf("%s#%s", custom ? custom : "", profile ? profile : "");
    pthread_mutex_lock(&policy_lock);
    if (!policy_cache || !streq(policy_cache_path, key)) {
        _cleanup_free_ char *why = NULL;
        struct ynode *p = policy_load(custom, profile, &why);
        if (!p) {
            pthread_mutex_unlock(&policy_lock);
            case_fail(t, "%s", why);
            return NULL;
        }
        ynode_free(policy_cache);
        free(policy_cache_path);
        policy_cache = p;
        policy_cache_path = xstrdup(key);
    }
    struct ynode *p = policy_cache;
    pthread_mutex_unlock(&policy_lock);
    return p;
}

const struct ynode *policy_get(struct ynode *policy, const char *section, const char *key)
{
    return y_get(y_get(policy, section), key);
}

bool policy_bool(struct ynode *policy, const char *section, const char *key, bool def)
{
    struct diags d = {0};
    bool v = def;
    const struct ynode *n = policy_get(policy, section, key);
    if (n) y_bool(&d, n, key, &v);
    diags_free(&d);
    return v;
}

double policy_number(struct ynode *policy, const char *section, const char *key, double def)
{
    const struct ynode *n = policy_get(policy, section, key);
    double v;
    return n && n->kind == YN_SCALAR && parse_double(n->scalar, &v) ? v : def;
}

char *guest_private_up(struct kiln_case_ctx *t, struct kiln_node *n, int i)
{
    _cleanup_free_ char *nic = NULL, *err = NULL;
    case_sh_on(t, n,
               "for n in /sys/class/net/*; do case $(cat $n/address) in " KILN_PRIVATE_MAC_PREFIX
               ":*) echo \"${n##*/} $(cat $n/address)\";; esac; done",
               &nic, NULL);
    char ifname[64], mac[32];
    if (!nic || sscanf(nic, "%63s %31s", ifname, mac) != 2) {
        case_fail(t, "%s has no NIC with a MAC starting " KILN_PRIVATE_MAC_PREFIX " (the private network)", n->name);
        return NULL;
    }
    /* Whatever manages the image's links must leave this one to kiln. systemd-networkd applies
     * the first .network file (by name, across /etc, /run, /usr/lib) that matches a link, so a
     * stock image's DHCP file for e* would claim the NIC: kiln's runtime file matches the MAC
     * and sorts before any name an image uses. NetworkManager is told to leave the device
     * alone; ifupdown touches only what /etc/network/interfaces names. */
    _cleanup_free_ char *cmd = xasprintf(
        "if systemctl is-active -q systemd-networkd 2>/dev/null; then "
        "mkdir -p /run/systemd/network && printf '[Match]\\nMACAddress=%s\\n\\n[Link]\\nRequiredForOnline=no\\n\\n"
        "[Network]\\nAddress=" PRIV_NET ".%d/24\\nDHCP=no\\nLinkLocalAddressing=no\\nIPv6AcceptRA=no\\n' "
        "> /run/systemd/network/00-kiln-private.network && "
        "networkctl reload && networkctl reconfigure %s; "
        "else "
        "if command -v nmcli >/dev/null 2>&1 && nmcli -t -f RUNNING general 2>/dev/null | grep -q running; then "
        "nmcli device set %s managed no || exit 1; fi; "
        "ip link set %s up && ip addr replace " PRIV_NET ".%d/24 dev %s; fi; "
        "for k in $(seq 1 40); do ip -o -4 addr show dev %s | grep -q ' " PRIV_NET ".%d/' && exit 0; sleep 0.25; done; "
        "echo \"no address after 10 s: $(ip -o addr show dev %s)\" >&2; exit 1",
        mac, i + 1, ifname, ifname, ifname, i + 1, ifname, ifname, i + 1, ifname);
    if (case_sh_on(t, n, cmd, NULL, &err) != 0) {
        case_fail(t, "%s: cannot put " PRIV_NET ".%d/24 on %s: %s", n->name, i + 1, ifname, err ? strstrip(err) : "");
        return NULL;
    }
    case_log(t, "%s: %s (%s) is " PRIV_NET ".%d/24", n->name, ifname, mac, i + 1);
    return xstrdup(ifname);
}
