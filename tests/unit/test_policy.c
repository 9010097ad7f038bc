/* The suites' policy: data/policy.yml's base accepts distributions' defaults; a runbook's
 * policy_profile merges a profile over it; an unknown profile fails the case naming the
 * profiles there are. */
#include "run/case.h"
#include "model/results.h"
#include "platform/platform.h"
#include "suites/common.h"
#include "tap.h"
#include "util/fs.h"
#include "util/util.h"

static const struct ynode *sysctl_of(struct ynode *p, const char *key)
{
    const struct ynode *m = policy_get(p, "security", "sysctl");
    return m ? y_get(m, key) : NULL;
}

/* A custom policy's shape is checked on load: what a case would ignore is named there. */
static void test_shapes(void)
{
    char dir[] = "/tmp/kiln-test-policy-XXXXXX";
    if (!ok(mkdtemp(dir) != NULL, "temp dir")) return;
    const struct { const char *yaml, *why; } bad[] = {
        {"cases: { nothing_to_examin: fail }\n",
         "p.yml:1:10: cases.nothing_to_examin: unknown key \"nothing_to_examin\"; did you mean \"nothing_to_examine\"?"},
        {"security:\n  suid_allow: { /usr/bin/su: yes }\n",
         "p.yml:2:15: security.suid_allow: expected a string or a list of strings, got a mapping"},
        {"security: { sysctl: { kernel.x: { a: 1 } } }\n",
         "p.yml:1:33: security.sysctl.kernel.x: expected a string or a list of strings, got a mapping"},
        {"time: { max_drift_s: soon }\n", "p.yml:1:22: time.max_drift_s: expected a number above 0, got soon"},
        {"hpc: { rdma_write_bw_min_mb_s: -1 }\n", "p.yml:1:32: hpc.rdma_write_bw_min_mb_s: expected a number of at least 0, got -1"},
        /* hostile finding: strtod read a hex float as a bound (0x10 seconds) */
        {"time: { max_drift_s: 0x10 }\n", "p.yml:1:22: time.max_drift_s: expected a number above 0, got 0x10"},
        {"time: { max_drift_s: .inf }\n", "p.yml:1:22: time.max_drift_s: expected a number above 0, got .inf"},
        {"network: { mtu: 9 }\n", "p.yml:1:17: network.mtu: 9 is out of range (68 to 65535)"},
        {"storage: { swap: sometimes }\n", "p.yml:1:18: storage.swap: expected one of any | required | forbidden"},
        {"profiles:\n  strict:\n    secutiry: {}\n", "p.yml:3:5: profiles.strict.secutiry: unknown key \"secutiry\"; did you mean \"security\"?"},
        {"profiles:\n  strict: [a]\n", "p.yml:2:11: profiles.strict: expected a mapping, got a list"},
    };
    _cleanup_free_ char *pf = path_join(dir, "p.yml");
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        write_file_atomic(pf, bad[i].yaml, strlen(bad[i].yaml), 0644);
        _cleanup_free_ char *why = NULL;
        struct ynode *p = policy_load(pf, NULL, &why);
        ok(p == NULL, "a policy of the wrong shape is refused on load");
        has(why, bad[i].why, "the reason names the key at file:line:col");
        ynode_free(p);
    }
    const char *fine = "cases: { nothing_to_examine: fail }\nnetwork: { mtu: 9000 }\nprofiles: { loose: { storage: { swap: any } } }\n";
    write_file_atomic(pf, fine, strlen(fine), 0644);
    _cleanup_free_ char *why = NULL;
    struct ynode *p = policy_load(pf, "loose", &why);
    ok(p && !why, "a policy of the right shape loads with its profile");
    ynode_free(p);
    unlink(pf);
    rmdir(dir);
}

int main(void)
{
    struct kiln_runbook rb = {0};
    struct kiln_platform_ctx plat = {.rb = &rb};
    struct kiln_result res = {0};
    struct kiln_case_ctx t = {.plat = &plat, .res = &res};

    struct ynode *base = suite_policy(&t);
    ok(base != NULL, "the shipped policy loads");
    ok(sysctl_of(base, "kernel.randomize_va_space") != NULL, "base: ASLR is checked");
    ok(sysctl_of(base, "kernel.kptr_restrict") == NULL, "base: kptr_restrict (0 on Debian) is not");
    ok(sysctl_of(base, "net.ipv4.conf.all.accept_redirects") == NULL, "base: ICMP redirects (distro default) are not");
    ok(y_get(policy_get(base, "security", "sshd"), "passwordauthentication") == NULL,
       "base: password authentication (on in Debian and Fedora) is not");
    ok(y_get(policy_get(base, "security", "sshd"), "permitrootlogin") != NULL, "base: root login with a password is");
    /* SUID files stock images ship (tier 2 on the NetworkManager stock image failed on polkit's) */
    const struct ynode *suid = policy_get(base, "security", "suid_allow");
    ok(policy_in_list(suid, "/usr/lib/polkit-1/polkit-agent-helper-1"), "base: polkit's agent helper (Debian polkitd)");
    ok(policy_in_list(suid, "/usr/bin/pkexec") && policy_in_list(suid, "/usr/bin/fusermount3") &&
           policy_in_list(suid, "/usr/lib/openssh/ssh-keysign") && policy_in_list(suid, "/usr/sbin/unix_chkpwd"),
       "base: pkexec, fusermount3, ssh-keysign, unix_chkpwd");
    ok(!policy_in_list(suid, "/usr/bin/find") && !policy_in_list(suid, "/usr/bin/bash"),
       "base: a SUID find or bash is still a finding");

    ok(policy_get(base, "containers", "kubelet_node") && streq(policy_get(base, "containers", "kubelet_node")->scalar, "false"),
       "base: a guest need not be a kubelet node");

    rb.policy_profile = "hardened";
    struct ynode *hard = suite_policy(&t);
    ok(hard != NULL, "the hardened profile loads");
    const struct ynode *kptr = sysctl_of(hard, "kernel.kptr_restrict");
    ok(kptr && kptr->kind == YN_SEQ && kptr->n == 2, "hardened: kptr_restrict must be 1 or 2");
    ok(sysctl_of(hard, "kernel.randomize_va_space") != NULL, "hardened keeps the base's keys");
    ok(y_get(policy_get(hard, "security", "sshd"), "passwordauthentication") != NULL, "hardened: password authentication");
    ok(y_get(policy_get(hard, "security", "sshd"), "permitrootlogin") != NULL, "hardened keeps the base's sshd keys");

    const struct ynode *fwd = sysctl_of(hard, "net.ipv4.ip_forward");
    ok(fwd && fwd->kind == YN_SEQ && fwd->n == 1 && streq(fwd->items[0]->scalar, "0"), "hardened: ip_forward is flagged");

    rb.policy_profile = "container-host";
    struct ynode *ch = suite_policy(&t);
    ok(ch != NULL, "the container-host profile loads");
    fwd = sysctl_of(ch, "net.ipv4.ip_forward");
    ok(fwd && fwd->kind == YN_SEQ && fwd->n == 1 && streq(fwd->items[0]->scalar, "1"), "container-host: ip_forward is required");
    ok(sysctl_of(ch, "net.bridge.bridge-nf-call-iptables") != NULL, "container-host: bridged traffic through iptables");
    ok(policy_get(ch, "containers", "kubelet_node") && streq(policy_get(ch, "containers", "kubelet_node")->scalar, "true"),
       "container-host: every node is a kubelet node");

    rb.policy_profile = "paranoid";
    ok(suite_policy(&t) == NULL, "an unknown profile fails");
    has(res.reason, "has no profile \"paranoid\" (it has: hardened, container-host)", "naming the profiles there are");
    free(res.reason);

    test_shapes();
    return tap_done();
}
