/* Area security: what an attacker would look for first. Values come from the policy
 * (data/policy.yml, or the runbook's policy: file). */
#include <errno.h>

#include "node/node.h"
#include "platform/platform.h"
#include "suites/common.h"
#include "util/util.h"
#include "util/yaml.h"

/* Policy list lookup: is value one of security.<key>? */
static bool in_list(const struct ynode *list, const char *value)
{
    if (!list) return false;
    if (list->kind == YN_SCALAR) return streq(list->scalar, value);
    for (size_t i = 0; list->kind == YN_SEQ && i < list->n; i++)
        if (list->items[i]->kind == YN_SCALAR && streq(list->items[i]->scalar, value)) return true;
    return false;
}

static char *list_text(const struct ynode *list)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "");
    for (size_t i = 0; list && list->kind == YN_SEQ && i < list->n; i++)
        sbuf_printf(&b, "%s%s", i ? ", " : "", list->items[i]->scalar ? list->items[i]->scalar : "?");
    if (list && list->kind == YN_SCALAR) sbuf_puts(&b, list->scalar);
    return sbuf_steal(&b);
}

/* Lines of out that no prefix in the policy list matches; joined for a reason. */
static size_t not_allowed(char *out, const struct ynode *allow, bool by_prefix, struct sbuf *bad)
{
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (!*l) continue;
        bool ok = false;
        for (size_t i = 0; allow && allow->kind == YN_SEQ && i < allow->n && !ok; i++) {
            const char *a = allow->items[i]->scalar;
            ok = a && (by_prefix ? startswith(l, a) : streq(l, a));
        }
        if (ok) continue;
        if (n++ < 8) sbuf_printf(bad, "%s%s", n > 1 ? ", " : "", l);
    }
    return n;
}

KILN_CASE(verify_sshd_config,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "The SSH server's effective settings (sshd -T) match the policy: no password logins, root not by password",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    const struct ynode *want = policy_get(policy, "security", "sshd");
    if (guest_has_cmd(t, "sshd") || case_sh(t, "test -x /usr/sbin/sshd", NULL) == 0) {
        _cleanup_free_ char *out = NULL;
        if (guest_sh_ok(t, "read the effective sshd configuration", "/usr/sbin/sshd -T 2>&1 || sshd -T", &out))
            return CASE_FAIL;
        for (size_t i = 0; want && want->kind == YN_MAP && i < want->n; i += 2) {
            const char *key = want->items[i]->scalar;
            _cleanup_free_ char *needle = xasprintf("\n%s ", key);
            _cleanup_free_ char *hay = xasprintf("\n%s", out);
            char *at = strstr(hay, needle);
            _cleanup_free_ char *value = NULL;
            if (at) {
                at += strlen(needle);
                value = xstrndup(at, strcspn(at, "\n"));
            }
            if (!value || !in_list(want->items[i + 1], value)) {
                _cleanup_free_ char *allowed = list_text(want->items[i + 1]);
                return case_fail(t, "sshd -T: %s is \"%s\", policy allows %s", key, value ? value : "(not set)", allowed);
            }
            case_log(t, "sshd %s %s: ok", key, value);
        }
        return CASE_PASS;
    }
    _cleanup_free_ char *db = NULL;
    if (case_sh(t, "for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); "
                   "case \"$c\" in *dropbear*) echo \"$c\";; esac; done | head -n 1", &db) == 0 && db && *strstrip(db)) {
        case_log(t, "dropbear: %s", db);
        /* dropbear: -s disables password logins, -g disables them for root only */
        _cleanup_free_ char *padded = xasprintf(" %s ", db);
        if (!strstr(padded, " -s ") && !strstr(padded, "s "))
            return case_fail(t, "dropbear runs without -s, so it accepts password logins: %s", db);
        return CASE_PASS;
    }
    return case_skip(t, "no OpenSSH sshd or dropbear found on %s", t->node->name);
}

KILN_CASE(verify_no_empty_passwords,
          .area = "security", .priority = 1, .timeout_s = 60,
          .description = "No account in /etc/shadow has an empty password",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "read /etc/shadow", "test -r /etc/shadow && awk -F: '$2 == \"\" {print $1}' /etc/shadow", &out))
        return CASE_FAIL;
    if (*strstrip(out)) {
        for (char *p = out; *p; p++)
            if (*p == '\n') *p = ' ';
        return case_fail(t, "accounts with an empty password in /etc/shadow: %s", out);
    }
    return CASE_PASS;
}

KILN_CASE(verify_ssh_host_keys_unique,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Two VMs from the same image present different SSH host keys (none baked into the image)",
          .tags = KILN_TAGS("fast"),
          .requires = {.nodes = 2})
{
    if (t->env->nnodes < 2) return case_skip(t, "needs two nodes");
    _cleanup_free_ char *a = node_host_key_fingerprint(t->env->nodes[0]);
    _cleanup_free_ char *b = node_host_key_fingerprint(t->env->nodes[1]);
    if (!a || !b) return case_fail(t, "cannot read the host keys the nodes presented");
    case_log(t, "%s presents %s; %s presents %s", t->env->nodes[0]->name, a, t->env->nodes[1]->name, b);
    if (streq(a, b))
        return case_fail(t, "%s and %s, booted from the same image, present the same host key %s: "
                            "host keys are baked into the image",
                         t->env->nodes[0]->name, t->env->nodes[1]->name, a);
    return CASE_PASS;
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

KILN_CASE(verify_no_world_writable,
          .area = "security", .priority = 1, .timeout_s = 300,
          .description = "No world-writable file, and no world-writable directory without the sticky bit, on the root filesystem",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "search for world-writable paths",
                    "find / -xdev \\( -type f -perm -0002 \\) -o \\( -type d -perm -0002 ! -perm -1000 \\) 2>/dev/null | sort; true",
                    &out))
        return CASE_FAIL;
    struct sbuf bad = {0};
    size_t n = not_allowed(out, policy_get(policy, "security", "world_writable_allow"), true, &bad);
    int rc = n ? case_fail(t, "%zu world-writable path(s): %s%s", n, bad.s, n > 8 ? ", ..." : "") : CASE_PASS;
    sbuf_free(&bad);
    return rc;
}

KILN_CASE(verify_suid_inventory,
          .area = "security", .priority = 2, .timeout_s = 300,
          .description = "Every set-user-ID and set-group-ID file is on the policy's allowlist",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "list SUID/SGID files",
                    "find / -xdev -type f \\( -perm -4000 -o -perm -2000 \\) 2>/dev/null | sort; true", &out))
        return CASE_FAIL;
    case_log(t, "SUID/SGID files:\n%s", out);
    struct sbuf bad = {0};
    size_t n = not_allowed(out, policy_get(policy, "security", "suid_allow"), false, &bad);
    int rc = n ? case_fail(t, "%zu SUID/SGID file(s) not on the allowlist: %s%s", n, bad.s, n > 8 ? ", ..." : "")
               : CASE_PASS;
    sbuf_free(&bad);
    return rc;
}

KILN_CASE(verify_kernel_hardening,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Kernel hardening sysctls (kptr_restrict, dmesg_restrict, randomize_va_space, ...) match the policy",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    const struct ynode *want = policy_get(policy, "security", "sysctl");
    struct sbuf bad = {0};
    size_t nbad = 0;
    for (size_t i = 0; want && want->kind == YN_MAP && i < want->n; i += 2) {
        const char *key = want->items[i]->scalar;
        _cleanup_free_ char *path = xstrdup(key);
        for (char *p = path; *p; p++)
            if (*p == '.') *p = '/';
        _cleanup_free_ char *cmd = xasprintf("cat /proc/sys/%s", path), *val = NULL;
        case_sh(t, cmd, &val);
        const char *v = val ? strstrip(val) : "";
        if (in_list(want->items[i + 1], v)) {
            case_log(t, "%s = %s: ok", key, v);
            continue;
        }
        _cleanup_free_ char *allowed = list_text(want->items[i + 1]);
        if (nbad++ < 8) sbuf_printf(&bad, "%s%s = %s (policy: %s)", nbad > 1 ? "; " : "", key, *v ? v : "missing", allowed);
    }
    int rc = nbad ? case_fail(t, "%zu sysctl(s) off policy: %s", nbad, bad.s) : CASE_PASS;
    sbuf_free(&bad);
    return rc;
}

KILN_CASE(verify_repos_signed,
          .area = "security", .priority = 1, .timeout_s = 120,
          .description = "Package repositories require signatures (no [trusted=yes], gpgcheck=1)",
          .tags = KILN_TAGS("fast"))
{
    enum guest_family fam;
    if (guest_need_family(t, &fam)) return CASE_SKIP;
    _cleanup_free_ char *out = NULL;
    if (fam == FAMILY_DEB) {
        case_sh(t, "grep -rnisE '\\[[^]]*(trusted=yes|allow-insecure=yes|allow-weak=yes)|^(Trusted|Allow-Insecure|Allow-Weak): *yes' "
                   "/etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; "
                   "grep -rnisE 'AllowUnauthenticated +\"?(true|1)|Allow-Insecure-Repositories +\"?(true|1)' /etc/apt/apt.conf.d/ 2>/dev/null; true",
                &out);
        if (out && *strstrip(out)) return case_fail(t, "apt accepts unsigned packages: %s", out);
        return CASE_PASS;
    }
    case_sh(t, "grep -nisE '^ *(gpgcheck|repo_gpgcheck) *= *(0|false|no)' /etc/yum.repos.d/*.repo /etc/dnf/dnf.conf "
               "/etc/yum.conf 2>/dev/null; true",
            &out);
    if (out && *strstrip(out)) return case_fail(t, "a repository turns signature checks off: %s", out);
    return CASE_PASS;
}

KILN_CASE(verify_login_users,
          .area = "security", .priority = 1, .timeout_s = 60,
          .description = "Only the policy's accounts have a login shell",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "read /etc/passwd",
                    "awk -F: '$7 !~ /(nologin|false|sync|shutdown|halt)$/ && $7 != \"\" {print $1}' /etc/passwd", &out))
        return CASE_FAIL;
    struct sbuf bad = {0};
    size_t n = not_allowed(out, policy_get(policy, "security", "login_users"), false, &bad);
    int rc = n ? case_fail(t, "account(s) with a login shell not in the policy: %s", bad.s) : CASE_PASS;
    sbuf_free(&bad);
    return rc;
}

KILN_CASE(verify_mac_policy,
          .area = "security", .priority = 2, .timeout_s = 60,
          .description = "The mandatory access control the policy names for this family (AppArmor, SELinux) is active",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    char id[64];
    enum guest_family fam = guest_family(t, id, sizeof id);
    const char *key = fam == FAMILY_DEB ? "deb" : fam == FAMILY_RPM ? "rpm" : NULL;
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
