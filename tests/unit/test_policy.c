/* The suites' policy: data/policy.yml's base accepts distributions' defaults; a runbook's
 * policy_profile merges a profile over it; an unknown profile fails the case naming the
 * profiles there are. */
#include "run/case.h"
#include "model/results.h"
#include "platform/platform.h"
#include "suites/common.h"
#include "tap.h"
#include "util/util.h"

static const struct ynode *sysctl_of(struct ynode *p, const char *key)
{
    const struct ynode *m = policy_get(p, "security", "sysctl");
    return m ? y_get(m, key) : NULL;
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
    return tap_done();
}
