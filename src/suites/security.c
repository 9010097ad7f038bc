/* Area security: what an attacker would look for first, and the credentials an image must
 * not ship. Values come from the policy (data/policy.yml, or the runbook's policy: file).
 * Each case captures guest output; a pure decide_*() function (decide.c) judges it. */
#include <errno.h>

#include "node/node.h"
#include "platform/platform.h"
#include "suites/decide.h"
#include "util/util.h"
#include "util/yaml.h"

/* Account databases: libnss-extrausers' copies beside /etc's. */
#define ACCOUNT_FILES "/etc/passwd /etc/shadow /var/lib/extrausers/passwd /var/lib/extrausers/shadow"

/* sshd -T -C stands for a client from outside: RFC 5737's documentation address. */
#define SSHD_TEST_SPEC "host=kiln-client.invalid,addr=203.0.113.1"
#define HAS_SSHD "command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ]"

static int read_accounts(struct kiln_case_ctx *t, struct gfiles *acc)
{
    return guest_read_files(t, NULL, ACCOUNT_FILES, acc);
}

KILN_CASE(verify_sshd_config,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "The SSH server's effective settings match the policy for root and each login account "
                         "(sshd -T -C, so Match blocks apply; dropbear's command line)",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    const struct ynode *want = policy_get(policy, "security", "sshd");
    bool openssh = case_sh(t, HAS_SSHD, NULL) == 0;
    struct verdict v = {0};
    if (openssh) {
        struct gfiles acc;
        if (read_accounts(t, &acc)) return CASE_FAIL;
        char **users = sshd_test_users(&acc, 6);
        gfiles_free(&acc);
        size_t n = 0;
        while (users[n]) n++;
        struct gcap *out = xcalloc(n, sizeof *out);
        int rc = CASE_PASS;
        for (size_t i = 0; i < n && rc == CASE_PASS; i++) {
            _cleanup_free_ char *spec = xasprintf("user=%s," SSHD_TEST_SPEC, users[i]);
            _cleanup_free_ char *q = shell_quote(spec);
            _cleanup_free_ char *cmd = xasprintf("PATH=$PATH:/usr/sbin sshd -T -C %s", q);
            if (guest_capture(t, NULL, cmd, &out[i]) < 0) rc = CASE_FAIL;
        }
        if (rc == CASE_PASS) decide_sshd(users, out, n, want, &v);
        for (size_t i = 0; i < n; i++) {
            gcap_free(&out[i]);
            free(users[i]);
        }
        free(out);
        free(users);
        if (rc != CASE_PASS) return rc;
        if (v.kind != VERDICT_PASS) return case_verdict(t, &v);
    }
    /* dropbear: every process named so (the listener and its sessions), each argv word a line */
    struct gcap procs;
    if (guest_capture(t, NULL, "for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = dropbear ] || continue; "
                               "printf '\\036%s\\n' \"${p#/proc/}\"; tr '\\0' '\\n' < $p/cmdline; echo; done; exit 0",
                      &procs) < 0)
        return CASE_FAIL;
    struct gfiles db;
    gfiles_parse(procs.out, &db);
    gcap_free(&procs);
    if (db.n) {
        verdict_free(&v);
        decide_dropbear(&db, want, &v);
    }
    gfiles_free(&db);
    if (!openssh && v.kind == VERDICT_PASS && !v.reason) {
        verdict_free(&v);
        return case_skip(t, "no OpenSSH sshd or dropbear found on %s", t->node->name);
    }
    return case_verdict(t, &v);
}

KILN_CASE(verify_no_empty_passwords,
          .area = "security", .priority = 1, .timeout_s = 60,
          .description = "No account has an empty password (/etc/passwd, /etc/shadow, libnss-extrausers' files)",
          .tags = KILN_TAGS("fast"))
{
    struct gfiles acc;
    if (read_accounts(t, &acc)) return CASE_FAIL;
    struct verdict v = {0};
    decide_empty_passwords(&acc, &v);
    gfiles_free(&acc);
    return case_verdict(t, &v);
}

KILN_CASE(verify_no_password_hashes,
          .area = "security", .priority = 1, .timeout_s = 60,
          .description = "No account holds a usable password hash unless the policy lists it (security.password_allow): "
                         "an image ships no passwords",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    struct gfiles acc;
    if (read_accounts(t, &acc)) return CASE_FAIL;
    struct verdict v = {0};
    decide_password_hashes(&acc, policy_get(policy, "security", "password_allow"), &v);
    gfiles_free(&acc);
    return case_verdict(t, &v);
}

KILN_CASE(verify_no_authorized_keys,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "No account has an authorized SSH key other than the one kiln provisioned for this run: "
                         "an image ships no keys",
          .tags = KILN_TAGS("fast"))
{
    struct gfiles acc;
    if (read_accounts(t, &acc)) return CASE_FAIL;
    struct gcap sshd = {0};
    if (case_sh(t, HAS_SSHD, NULL) == 0) {
        if (guest_capture(t, NULL, "PATH=$PATH:/usr/sbin sshd -T -C user=root," SSHD_TEST_SPEC, &sshd) < 0) {
            gfiles_free(&acc);
            return CASE_FAIL;
        }
        if (sshd.status != 0) {
            _cleanup_free_ char *why = gcap_why(&sshd);
            gcap_free(&sshd);
            gfiles_free(&acc);
            return case_fail(t, "cannot read sshd's AuthorizedKeysFile (sshd -T): %s", why);
        }
    }
    _cleanup_free_ char *paths = authorized_keys_paths(&acc, sshd.out);
    gcap_free(&sshd);
    gfiles_free(&acc);
    struct gfiles keys = {0};
    if (*paths && guest_read_files(t, NULL, paths, &keys)) return CASE_FAIL;
    for (size_t i = 0; i < keys.n; i++) case_log(t, "read %s", keys.v[i].path);
    struct verdict v = {0};
    decide_authorized_keys(&keys, t->plat->pubkey, &v);
    gfiles_free(&keys);
    return case_verdict(t, &v);
}

/* The SHA-256 of every host key file sshd is configured with and of the usual OpenSSH and
 * dropbear locations: only hashes leave the guest. */
#define HOST_KEY_LIST                                                                                           \
    "keys=; if " HAS_SSHD "; then c=$(PATH=$PATH:/usr/sbin sshd -T) || exit 1; "                               \
    "keys=$(echo \"$c\" | awk '$1 == \"hostkey\" {print $2}'); fi; "                                          \
    "for f in $keys /etc/ssh/ssh_host_*_key /etc/dropbear/dropbear_*_host_key; do [ -f \"$f\" ] || continue; " \
    "sha256sum \"$f\" || exit 1; done; exit 0"

KILN_CASE(verify_ssh_host_keys_unique,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Two VMs from the same image have different SSH host keys, every type of them (none baked into the image)",
          .tags = KILN_TAGS("fast"),
          .requires = {.nodes = 2})
{
    if (t->env->nnodes < 2) return case_skip(t, "needs two nodes");
    struct kiln_node *na = t->env->nodes[0], *nb = t->env->nodes[1];
    _cleanup_free_ char *fa = node_host_key_fingerprint(na);
    _cleanup_free_ char *fb = node_host_key_fingerprint(nb);
    case_log(t, "%s presents %s; %s presents %s", na->name, fa ? fa : "?", nb->name, fb ? fb : "?");
    struct gcap a, b;
    if (guest_capture(t, na, HOST_KEY_LIST, &a) < 0) return CASE_FAIL;
    if (guest_capture(t, nb, HOST_KEY_LIST, &b) < 0) {
        gcap_free(&a);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_host_keys(na->name, &a, fa, nb->name, &b, fb, &v);
    gcap_free(&a);
    gcap_free(&b);
    return case_verdict(t, &v);
}

/* Files holding private keys: PEM blocks of every kind (OpenSSH, PKCS#1/#8, EC, encrypted;
 * the BEGIN line a whole line, which a binary quoting it is not), PuTTY keys and WireGuard's
 * PrivateKey= lines among text files under 1 MiB (-I where grep has it), plus GnuPG
 * secret key stores and dropbear's binary host keys by name; /usr (the distribution's
 * packages) aside but /usr/local searched. A grep error counts unless it was about files
 * gone since find listed them (grep runs again on those still there); it comes back as a
 * marked line because busybox's find ignores what -exec ... + returns, and runs such a batch
 * only at the top level of its expression (hence two walks). Prints "SHA256  PATH". */
#define PRIVATE_KEY_SEARCH \
    "pat='^-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----[[:space:]]*$|^PuTTY-User-Key-File-[0-9]+:|^[[:space:]]*PrivateKey[[:space:]]*='\n" \
    "I=; grep -qI x /dev/null 2>/dev/null; [ $? -eq 1 ] && I=I\n" \
    "g='grep -l'$I'E -e \"$0\" -- \"$@\" 2>/dev/null; [ $? -le 1 ] && exit 0; p=$0; for f; do shift; [ -e \"$f\" ] && set -- \"$@\" \"$f\"; done; e=$(grep -l'$I'E -e \"$p\" -- \"$@\" 2>&1 >/dev/null); [ $? -le 1 ] || echo \"kiln-grep-failed: $e\"'\n" \
    "x='-path /usr -o -path /proc -o -path /sys -o -path /dev -o -path /run'\n" \
    "s() { find \"$1\" -xdev \\( $x \\) -prune -o -type f -size -1024k -exec sh -c \"$g\" \"$pat\" {} + &&\n" \
    "      find \"$1\" -xdev \\( $x \\) -prune -o -type f \\( -name secring.gpg -o -path '*/private-keys-v1.d/*' -o -name 'dropbear_*_host_key' \\) -print; }\n" \
    "l=$(s /) || exit 1\n" \
    "u=; if [ -d /usr/local ]; then u=$(s /usr/local) || exit 1; fi\n" \
    "case \"$l$u\" in *kiln-grep-failed:*) printf '%s\\n%s\\n' \"$l\" \"$u\" | grep 'kiln-grep-failed:' >&2; exit 1;; esac\n" \
    "printf '%s\\n%s\\n' \"$l\" \"$u\" | while IFS= read -r f; do [ -n \"$f\" ] || continue; sha256sum \"$f\" || exit 1; done\n"

KILN_CASE(verify_no_baked_private_keys,
          .area = "security", .priority = 1, .timeout_s = 600,
          .description = "No private key (SSH, TLS, PuTTY, WireGuard, GnuPG, dropbear) is the same on two VMs from the "
                         "same image: keys are made on each machine, never shipped",
          .tags = KILN_TAGS("fast"),
          .requires = {.nodes = 2})
{
    if (t->env->nnodes < 2) return case_skip(t, "needs two nodes");
    struct kiln_node *na = t->env->nodes[0], *nb = t->env->nodes[1];
    struct gcap a, b;
    if (guest_capture(t, na, PRIVATE_KEY_SEARCH, &a) < 0) return CASE_FAIL;
    if (guest_capture(t, nb, PRIVATE_KEY_SEARCH, &b) < 0) {
        gcap_free(&a);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_private_keys(na->name, &a, nb->name, &b, &v);
    gcap_free(&a);
    gcap_free(&b);
    return case_verdict(t, &v);
}

KILN_CASE(verify_machine_id_unique,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Each VM gets its own /etc/machine-id on first boot",
          .tags = KILN_TAGS("fast"),
          .requires = {.nodes = 2})
{
    if (t->env->nnodes < 2) return case_skip(t, "needs two nodes");
    if (!guest_has_systemd(t)) {
        /* other inits may still keep one (D-Bus, journald-less logging, the rpm test guest) */
        if (case_sh(t, "test -s /etc/machine-id", NULL) != 0)
            return case_skip(t, "no systemd on %s and no /etc/machine-id: nothing uses one", t->node->name);
        case_log(t, "no systemd on %s, but it keeps an /etc/machine-id: checking it", t->node->name);
    }
    char *ids[2] = {0};
    for (int i = 0; i < 2; i++) {
        case_sh_on(t, t->env->nodes[i], "cat /etc/machine-id", &ids[i], NULL);
        if (ids[i]) strstrip(ids[i]);
    }
    int rc = CASE_PASS;
    for (int i = 0; i < 2 && rc == CASE_PASS; i++) {
        size_t len = ids[i] ? strlen(ids[i]) : 0;
        if (len != 32 || strspn(ids[i], "0123456789abcdef") != 32)
            rc = case_fail(t, "%s: /etc/machine-id is \"%s\", expected 32 hex digits", t->env->nodes[i]->name,
                           ids[i] ? ids[i] : "");
    }
    if (rc == CASE_PASS && streq(ids[0], ids[1]))
        rc = case_fail(t, "%s and %s share machine-id %s: the image ships a machine-id", t->env->nodes[0]->name,
                       t->env->nodes[1]->name, ids[0]);
    free(ids[0]);
    free(ids[1]);
    return rc;
}

/* find over the root filesystem; its status and stderr are kept (decide_path_list). */
static int path_list_case(struct kiln_case_ctx *t, const char *find, const char *allow_key, bool by_prefix,
                          const char *what, bool log_list)
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    struct gcap c;
    if (guest_capture(t, NULL, find, &c) < 0) return CASE_FAIL;
    if (log_list) case_log(t, "found:\n%s", c.out);
    struct verdict v = {0};
    decide_path_list(&c, policy_get(policy, "security", allow_key), by_prefix, what, &v);
    gcap_free(&c);
    return case_verdict(t, &v);
}

KILN_CASE(verify_no_world_writable,
          .area = "security", .priority = 1, .timeout_s = 300,
          .description = "No world-writable file, and no world-writable directory without the sticky bit, on the root filesystem",
          .tags = KILN_TAGS("fast"))
{
    return path_list_case(t, "find / -xdev \\( \\( -type f -perm -0002 \\) -o \\( -type d -perm -0002 ! -perm -1000 \\) \\) -print",
                          "world_writable_allow", true, "world-writable path(s)", false);
}

KILN_CASE(verify_suid_inventory,
          .area = "security", .priority = 2, .timeout_s = 300,
          .description = "Every set-user-ID and set-group-ID file is on the policy's allowlist",
          .tags = KILN_TAGS("fast"))
{
    return path_list_case(t, "find / -xdev -type f \\( -perm -4000 -o -perm -2000 \\) -print", "suid_allow", false,
                          "SUID/SGID file(s) not on the allowlist", true);
}

KILN_CASE(verify_kernel_hardening,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Kernel hardening sysctls (kptr_restrict, dmesg_restrict, randomize_va_space, ...) match the policy",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    const struct ynode *want = policy_get(policy, "security", "sysctl");
    struct sbuf keys = {0};
    sbuf_puts(&keys, "");
    for (size_t i = 0; want && want->kind == YN_MAP && i < want->n; i += 2) {
        _cleanup_free_ char *q = shell_quote(want->items[i]->scalar);
        sbuf_printf(&keys, " %s", q);
    }
    /* a sysctl the kernel lacks prints an empty value; one it has but will not show fails */
    _cleanup_free_ char *cmd = xasprintf("for k in%s; do f=/proc/sys/$(echo \"$k\" | tr . /); "
                                         "if [ -e \"$f\" ]; then v=$(cat \"$f\") || exit 1; else v=; fi; "
                                         "printf '%%s\\t%%s\\n' \"$k\" \"$v\"; done", keys.s);
    sbuf_free(&keys);
    struct gcap c;
    if (guest_capture(t, NULL, cmd, &c) < 0) return CASE_FAIL;
    case_log(t, "%s", c.out);
    struct verdict v = {0};
    decide_sysctls(&c, want, &v);
    gcap_free(&c);
    return case_verdict(t, &v);
}

KILN_CASE(verify_repos_signed,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Package repositories require signatures: apt (sources, deb822 .sources, apt.conf options) and "
                         "dnf/yum/zypper (gpgcheck, with the main configuration's default)",
          .tags = KILN_TAGS("fast"))
{
    char id[64];
    enum pkg_family fam = guest_family(t, id, sizeof id);
    if (fam == FAMILY_OTHER) return case_skip(t, "%s is neither deb- nor rpm-based: no apt or dnf repositories", id);
    struct verdict v = {0};
    if (fam == FAMILY_DEB) {
        struct gcap dump, src;
        if (guest_capture(t, NULL, "apt-config dump", &dump) < 0) return CASE_FAIL;
        if (dump.status == 127) {
            gcap_free(&dump);
            verdict_set(&v, VERDICT_NOTHING, "%s has no apt (apt-config is not installed)", id);
            return case_verdict(t, &v);
        }
        /* where apt reads its sources, as apt itself resolves Dir::Etc */
        _cleanup_free_ char *files = gfiles_command("\"$SL\" \"$SP\"*.list \"$SP\"*.sources");
        _cleanup_free_ char *cmd = xasprintf(
            "eval \"$(apt-config shell SL Dir::Etc::sourcelist/f SP Dir::Etc::sourceparts/d)\" || exit 1; %s", files);
        if (guest_capture(t, NULL, cmd, &src) < 0) {
            gcap_free(&dump);
            return CASE_FAIL;
        }
        if (src.status != 0) {
            _cleanup_free_ char *why = gcap_why(&src);
            gcap_free(&dump);
            gcap_free(&src);
            return case_fail(t, "cannot read apt's sources: %s", why);
        }
        struct gfiles sources;
        gfiles_parse(src.out, &sources);
        for (size_t i = 0; i < sources.n; i++) case_log(t, "apt sources: %s", sources.v[i].path);
        decide_apt_repos(&sources, &dump, &v);
        gfiles_free(&sources);
        gcap_free(&dump);
        gcap_free(&src);
        return case_verdict(t, &v);
    }
    struct gfiles main_conf, repos;
    if (guest_read_files(t, NULL, "/etc/dnf/dnf.conf /etc/yum.conf /etc/tdnf/tdnf.conf /etc/zypp/zypp.conf", &main_conf))
        return CASE_FAIL;
    _cleanup_free_ char *dirs = rpm_repo_dirs(&main_conf);
    _cleanup_free_ char *globs = xasprintf("%s /etc/zypp/repos.d/*.repo", dirs);
    if (guest_read_files(t, NULL, globs, &repos)) {
        gfiles_free(&main_conf);
        return CASE_FAIL;
    }
    for (size_t i = 0; i < repos.n; i++) {
        case_log(t, "repository file: %s", repos.v[i].path);
        struct gfile *f = APPEND(main_conf.v, main_conf.n, main_conf.cap);
        *f = repos.v[i];
    }
    free(repos.v);
    decide_rpm_repos(&main_conf, &v);
    gfiles_free(&main_conf);
    return case_verdict(t, &v);
}

KILN_CASE(verify_login_users,
          .area = "security", .priority = 1, .timeout_s = 60,
          .description = "Only the policy's accounts have a login shell (an empty shell field is /bin/sh)",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    struct gfiles acc;
    if (read_accounts(t, &acc)) return CASE_FAIL;
    struct verdict v = {0};
    /* the admin user kiln had the platform make (cloud-init) is provisioning's, not the image's */
    const char *admin = t->plat && t->plat->rb ? t->plat->rb->platform.admin_username : NULL;
    decide_login_users(&acc, policy_get(policy, "security", "login_users"), admin, &v);
    gfiles_free(&acc);
    return case_verdict(t, &v);
}

KILN_CASE(verify_mac_policy,
          .area = "security", .priority = 2, .timeout_s = 60,
          .description = "The mandatory access control the policy names for this family (AppArmor, SELinux) is active",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    char id[64];
    enum pkg_family fam = guest_family(t, id, sizeof id);
    const char *key = pkg_family_name(fam);
    if (!key) return case_skip(t, "%s is neither deb- nor rpm-based: no MAC policy applies", id);
    const struct ynode *want = policy_get(policy, "security", "mac");
    want = y_get(want, key);
    if (!want || want->kind != YN_SCALAR || streq(want->scalar, "none"))
        return case_skip(t, "the policy asks no MAC for %s systems", key);
    _cleanup_free_ char *lsm = NULL;
    case_sh(t, "cat /sys/kernel/security/lsm 2>/dev/null", &lsm);
    case_log(t, "active LSMs: %s", lsm ? lsm : "?");
    const char *mac = want->scalar;
    if (!lsm || !*strstrip(lsm))
        return case_fail(t, "cannot tell whether %s is active: /sys/kernel/security/lsm is missing or empty "
                            "(is securityfs mounted on /sys/kernel/security?)", mac);
    if (!strstr(lsm, mac)) return case_fail(t, "%s is not an active LSM (/sys/kernel/security/lsm: %s)", mac, lsm);
    if (streq(mac, "selinux")) {
        _cleanup_free_ char *enf = NULL;
        case_sh(t, "cat /sys/fs/selinux/enforce 2>/dev/null", &enf);
        if (!enf || !streq(strstrip(enf), "1")) return case_fail(t, "SELinux is not enforcing (/sys/fs/selinux/enforce: %s)", enf ? enf : "missing");
    }
    return CASE_PASS;
}
