/* The built-in cases' decisions, from canned guest output: for each, a pass, a failure
 * naming the evidence, and what cannot be decided (skip or nothing to examine). */
#include <math.h>

#include "run/case.h"
#include "platform/platform.h"
#include "runbook/runbook.h"
#include "suites/common.h"
#include "suites/decide.h"
#include "tap.h"
#include "util/fs.h"
#include "util/util.h"
#include "util/yaml.h"

static bool near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

/* A command's canned result. */
static struct gcap cap(int status, const char *out, const char *err)
{
    return (struct gcap){.status = status, .out = (char *)out, .err = (char *)(err ? err : "")};
}

static struct ynode *yaml(const char *text)
{
    struct diags d = {0};
    struct ynode *n = yaml_load_string("test", text, strlen(text), &d);
    if (!n) diags_print(&d, stderr);
    diags_free(&d);
    return n;
}

/* Checks kind and, for a non-pass, that the reason holds want. */
static void expect(enum verdict_kind got, struct verdict *v, enum verdict_kind kind, const char *want, const char *what)
{
    static const char *const names[] = {"pass", "fail", "skip", "nothing"};
    _cleanup_free_ char *r = xstrdup(v->reason ? v->reason : "");
    for (char *c = r; *c; c++)
        if (*c == '\n') *c = '|';
    ok(got == kind && v->kind == kind, "%s: %s (got %s: %s)", what, names[kind], names[v->kind], r);
    if (want) has(v->reason ? v->reason : "", want, what);
    verdict_free(v);
}

#define RS "\036"

static void test_common(void)
{
    struct gfiles f;
    gfiles_parse(RS "/etc/a\none\ntwo" RS "not a marker\n" RS "/etc/b\n\n" RS "/etc/empty\n", &f);
    is_int(f.n, 3, "gfiles: three files");
    is_str(f.v[0].path, "/etc/a", "gfiles: first path");
    is_str(f.v[0].text, "one\ntwo" RS "not a marker\n", "gfiles: a marker inside a line is content");
    is_str(gfiles_get(&f, "/etc/b")->text, "\n", "gfiles: second file");
    is_str(gfiles_get(&f, "/etc/empty")->text, "", "gfiles: empty file");
    ok(!gfiles_get(&f, "/etc/c"), "gfiles: absent file");
    gfiles_free(&f);
    gfiles_parse(NULL, &f);
    is_int(f.n, 0, "gfiles: no output");

    const char *osr = "NAME=\"Debian GNU/Linux\"\nID=debian\n# ID=fedora\nID_LIKE='rhel  fedora'\nX=\"a\\\"b\" # c\n";
    _cleanup_free_ char *id = os_release_value(osr, "ID"), *like = os_release_value(osr, "ID_LIKE"),
                        *x = os_release_value(osr, "X"), *none = os_release_value(osr, "VERSION");
    is_str(id, "debian", "os-release: plain value, a comment line ignored");
    is_str(like, "rhel  fedora", "os-release: single quotes");
    is_str(x, "a\"b", "os-release: escaped quote, trailing comment");
    ok(!none, "os-release: absent key");
    ok(family_from_os_release("debian", NULL) == FAMILY_DEB, "family: debian");
    ok(family_from_os_release("pop", "ubuntu debian") == FAMILY_DEB, "family: ID_LIKE");
    ok(family_from_os_release("kiln-rpm", "rhel fedora") == FAMILY_RPM, "family: the rpm test guest");
    ok(family_from_os_release("opensuse-leap", "suse opensuse") == FAMILY_RPM, "family: openSUSE");
    ok(family_from_os_release("kiln-busybox", NULL) == FAMILY_OTHER, "family: busybox is neither");
    ok(family_from_os_release(NULL, NULL) == FAMILY_OTHER, "family: no os-release");
    ok(family_from_os_release("debianish", "fedoraish") == FAMILY_OTHER, "family: whole words only");

    struct verdict v = {0};
    struct gcap c = cap(0, "dpkg\nbash\n", NULL);
    expect(decide_package_database(FAMILY_DEB, "debian", &c, &v), &v, VERDICT_PASS, "2 installed", "db: two packages");
    c = cap(3, "", "/var/lib/dpkg/status does not exist\n");
    expect(decide_package_database(FAMILY_DEB, "debian", &c, &v), &v, VERDICT_FAIL,
           "debian is deb-based but its dpkg database is missing (exited 3: /var/lib/dpkg/status does not exist)",
           "db: missing status file is a failure, not another family");
    c = cap(1, "", "error: cannot open Packages database in /var/lib/rpm\n");
    expect(decide_package_database(FAMILY_RPM, "fedora", &c, &v), &v, VERDICT_FAIL,
           "cannot be read: exited 1: error: cannot open Packages database", "db: rpm cannot open it");
    c = cap(0, "bash\n", "error: rpmdbNextIterator: skipping h#     7 blob size(0): BAD\n");
    expect(decide_package_database(FAMILY_RPM, "fedora", &c, &v), &v, VERDICT_FAIL, "damaged: error: rpmdbNextIterator",
           "db: rpm's complaint on a zero exit");
    c = cap(0, "\n", NULL);
    expect(decide_package_database(FAMILY_RPM, "fedora", &c, &v), &v, VERDICT_FAIL, "lists no installed package",
           "db: empty database");
    c = cap(127, "", "sh: dpkg-query: not found\n");
    expect(decide_package_database(FAMILY_DEB, "ubuntu", &c, &v), &v, VERDICT_FAIL, "dpkg is not installed",
           "db: no dpkg");
}

#define PASSWD                                                                                           \
    RS "/etc/passwd\nroot:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" \
       "sync:x:4:65534:sync:/bin:/bin/sync\nalice:x:1000:1000::/home/alice:/bin/bash\n"

static void test_accounts(void)
{
    struct verdict v = {0};
    struct gfiles f;
    struct ynode *allow = yaml("[root, alice]");

    gfiles_parse(PASSWD RS "/etc/shadow\nroot:*:1::::::\nalice:!$6$x$y:1::::::\ndaemon:*:1::::::\n", &f);
    expect(decide_login_users(&f, allow, NULL, &v), &v, VERDICT_PASS, NULL, "login users: the policy's");
    expect(decide_empty_passwords(&f, &v), &v, VERDICT_PASS, NULL, "empty passwords: none");
    expect(decide_password_hashes(&f, NULL, &v), &v, VERDICT_PASS, NULL, "hashes: a locked hash is no password");
    gfiles_free(&f);

    gfiles_parse(PASSWD "svc:x:990:990::/srv:\n" RS "/etc/shadow\nroot::1::::::\n", &f);
    expect(decide_login_users(&f, allow, NULL, &v), &v, VERDICT_FAIL, "svc (empty shell field: /bin/sh)",
           "login users: an empty shell field is /bin/sh");
    expect(decide_login_users(&f, allow, "svc", &v), &v, VERDICT_PASS, NULL,
           "login users: the account provisioning made is not the image's");
    expect(decide_empty_passwords(&f, &v), &v, VERDICT_FAIL, "root (/etc/shadow)", "empty passwords: shadow");
    gfiles_free(&f);

    gfiles_parse(RS "/etc/passwd\nroot:x:0:0:root:/root:/bin/sh\nguest::1001:1001::/home/guest:/usr/sbin/nologin\n"
                 RS "/etc/shadow\nroot:*:1::::::\n",
                 &f);
    expect(decide_empty_passwords(&f, &v), &v, VERDICT_FAIL, "guest (/etc/passwd)",
           "empty passwords: an empty passwd field (no shadow entry) is read too");
    gfiles_free(&f);

    gfiles_parse(PASSWD RS "/etc/shadow\nroot:$6$salt$c2VjcmV0aGFzaA:1::::::\nalice:abcdefghijklm:1::::::\n"
                 RS "/var/lib/extrausers/passwd\nbob:x:1001:1001::/home/bob:/bin/sh\n"
                 RS "/var/lib/extrausers/shadow\nbob:$y$j9T$salt$hash:1::::::\n",
                 &f);
    expect(decide_password_hashes(&f, NULL, &v), &v, VERDICT_FAIL, "root (/etc/shadow, $6$ hash), alice (/etc/shadow, DES hash), "
           "bob (/var/lib/extrausers/shadow, $y$ hash)", "hashes: usable hashes named by account and scheme");
    struct ynode *pw_allow = yaml("[root, alice, bob]");
    expect(decide_password_hashes(&f, pw_allow, &v), &v, VERDICT_PASS, NULL, "hashes: the policy allows them");
    ynode_free(pw_allow);
    decide_password_hashes(&f, NULL, &v);
    ok(!strstr(v.reason, "c2VjcmV0aGFzaA"), "hashes: the hash itself is not in the reason");
    verdict_free(&v);
    gfiles_free(&f);

    gfiles_parse(RS "/etc/shadow\nroot:*:1::::::\n", &f);
    expect(decide_login_users(&f, allow, NULL, &v), &v, VERDICT_NOTHING, "no /etc/passwd", "login users: no passwd");
    expect(decide_empty_passwords(&f, &v), &v, VERDICT_NOTHING, "no /etc/passwd", "empty passwords: no passwd");
    gfiles_free(&f);
    ynode_free(allow);
}

static void test_sshd(void)
{
    struct verdict v = {0};
    struct ynode *want = yaml("{permitrootlogin: [\"no\", prohibit-password], permitemptypasswords: [\"no\"]}");
    struct gfiles f;
    gfiles_parse(PASSWD, &f);
    char **users = sshd_test_users(&f, 6);
    is_str(users[0], "root", "sshd users: root first");
    is_str(users[1], "alice", "sshd users: login accounts");
    ok(!users[2], "sshd users: nologin and sync left out");
    for (size_t i = 0; users[i]; i++) free(users[i]);
    free(users);
    gfiles_free(&f);
    gfiles_parse(RS "/etc/passwd\nroot:x:0:0::/root:/bin/sh\n", &f);
    users = sshd_test_users(&f, 6);
    is_str(users[1], "kiln-user", "sshd users: a made-up ordinary user when root is the only one");
    for (size_t i = 0; users[i]; i++) free(users[i]);
    free(users);
    gfiles_free(&f);

    char *names[] = {"root", "alice"};
    struct gcap ok_out[] = {cap(0, "port 22\npermitrootlogin without-password\npermitemptypasswords no\n", NULL),
                            cap(0, "permitrootlogin without-password\npermitemptypasswords no\n", NULL)};
    struct ynode *want2 = yaml("{permitrootlogin: [\"no\", prohibit-password, without-password], permitemptypasswords: [\"no\"]}");
    expect(decide_sshd(names, ok_out, 2, want2, &v), &v, VERDICT_PASS, NULL, "sshd: both users allowed");
    struct gcap match_out[] = {cap(0, "permitrootlogin yes\npermitemptypasswords no\n", NULL), ok_out[1]};
    expect(decide_sshd(names, match_out, 2, want2, &v), &v, VERDICT_FAIL,
           "sshd -T for user root: permitrootlogin is \"yes\", policy allows no, prohibit-password, without-password",
           "sshd: a Match block for root is seen");
    struct gcap alice_out[] = {ok_out[0], cap(0, "permitrootlogin no\n", NULL)};
    expect(decide_sshd(names, alice_out, 2, want2, &v), &v, VERDICT_FAIL,
           "for user alice: permitemptypasswords is \"(not set)\"", "sshd: a key missing for a user");
    struct gcap global_out[] = {cap(0, "permitrootlogin yes\npermitemptypasswords no\n", NULL),
                                cap(0, "permitrootlogin yes\npermitemptypasswords no\n", NULL)};
    expect(decide_sshd(names, global_out, 2, want2, &v), &v, VERDICT_FAIL, "sshd -T for user root: permitrootlogin is \"yes\"",
           "sshd: root login judged for root");
    decide_sshd(names, global_out, 2, want2, &v);
    ok(!strstr(v.reason, "alice"), "sshd: PermitRootLogin is not judged for another user");
    verdict_free(&v);
    struct gcap broken[] = {cap(255, "", "/etc/ssh/sshd_config line 9: Bad configuration option: Matsch\n"), ok_out[1]};
    expect(decide_sshd(names, broken, 2, want2, &v), &v, VERDICT_FAIL, "Bad configuration option",
           "sshd: sshd -T failing is an error, not a pass");
    ynode_free(want2);

    gfiles_parse(RS "412\n/usr/sbin/dropbear\n-F\n-E\n-R\n-s\n-p\n22\n", &f);
    expect(decide_dropbear(&f, want, &v), &v, VERDICT_PASS, NULL, "dropbear: -s");
    gfiles_free(&f);
    gfiles_parse(RS "412\n/usr/sbin/dropbear\n-FEs\n-p\n22\n", &f);
    expect(decide_dropbear(&f, want, &v), &v, VERDICT_PASS, NULL, "dropbear: -s among combined flags");
    gfiles_free(&f);
    gfiles_parse(RS "77\n/usr/sbin/dropbear\n-F\n-r\n/etc/dropbear/keys\n-p\n22\n", &f);
    expect(decide_dropbear(&f, want, &v), &v, VERDICT_FAIL,
           "dropbear (pid 77: /usr/sbin/dropbear -F -r /etc/dropbear/keys -p 22): permitrootlogin is \"yes\"",
           "dropbear: an argument ending in s is not -s");
    gfiles_free(&f);
    gfiles_parse(RS "77\n/usr/sbin/dropbear\n-F\n-s\n" RS "90\ndropbear\n-F\n-p\n2222\n", &f);
    expect(decide_dropbear(&f, want, &v), &v, VERDICT_FAIL, "pid 90", "dropbear: every process, not the first");
    gfiles_free(&f);
    gfiles_parse(RS "5\ndropbear\n-s\n-B\n" RS "6\ndropbear\n-g\n-B\n", &f);
    expect(decide_dropbear(&f, want, &v), &v, VERDICT_FAIL, "pid 6: dropbear -g -B): permitemptypasswords is \"yes\"",
           "dropbear: -B allows blank passwords unless -s");
    gfiles_free(&f);
    struct ynode *hardened = yaml("{passwordauthentication: [\"no\"], x11forwarding: [\"no\"]}");
    gfiles_parse(RS "5\ndropbear\n-w\n", &f);
    expect(decide_dropbear(&f, hardened, &v), &v, VERDICT_FAIL, "passwordauthentication is \"yes\"",
           "dropbear: password logins without -s");
    gfiles_free(&f);
    gfiles_parse(RS "5\ndropbear\n-s\n", &f);
    expect(decide_dropbear(&f, hardened, &v), &v, VERDICT_SKIP, "no setting matching sshd's x11forwarding",
           "dropbear: a policy key it has no equivalent of");
    gfiles_free(&f);
    gfiles_parse("", &f);
    expect(decide_dropbear(&f, want, &v), &v, VERDICT_NOTHING, "no dropbear", "dropbear: none running");
    gfiles_free(&f);
    ynode_free(hardened);
    ynode_free(want);
}

#define KILN_KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKilnKilnKiln kiln"

static void test_credentials(void)
{
    struct verdict v = {0};
    struct gfiles f;
    gfiles_parse(RS "/root/.ssh/authorized_keys\n# provisioned\n" KILN_KEY "\n" RS "/home/debian/.ssh/authorized_keys\n"
                 "no-port-forwarding,command=\"echo 'Please login as debian'; sleep 10\" " KILN_KEY "\n",
                 &f);
    expect(decide_authorized_keys(&f, KILN_KEY, &v), &v, VERDICT_PASS, NULL,
           "authorized keys: kiln's key, also behind options with quoted blanks");
    gfiles_free(&f);
    gfiles_parse(RS "/root/.ssh/authorized_keys\n" KILN_KEY "\nssh-rsa AAAAB3NzaBaked builder@ci\n", &f);
    expect(decide_authorized_keys(&f, KILN_KEY, &v), &v, VERDICT_FAIL, "/root/.ssh/authorized_keys: ssh-rsa builder@ci",
           "authorized keys: a shipped key named with its file and comment");
    gfiles_free(&f);
    gfiles_parse(RS "/etc/ssh/authorized_keys/ops\nfrom=\"10.0.0.0/8\" ecdsa-sha2-nistp256 AAAAE2Vj\n", &f);
    expect(decide_authorized_keys(&f, KILN_KEY, &v), &v, VERDICT_FAIL, "ecdsa-sha2-nistp256 (no comment)",
           "authorized keys: with options, no comment");
    gfiles_free(&f);
    gfiles_parse("", &f);
    expect(decide_authorized_keys(&f, KILN_KEY, &v), &v, VERDICT_SKIP, "takes keys from elsewhere",
           "authorized keys: kiln's own key not found: cannot judge");
    gfiles_free(&f);

    gfiles_parse(RS "/etc/passwd\nroot:x:0:0::/root:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n", &f);
    _cleanup_free_ char *paths = authorized_keys_paths(&f, "port 22\nauthorizedkeysfile .ssh/authorized_keys /etc/ssh/keys/%u %h/.ssh/k_%U %%x\n");
    is_str(paths, "'/root/.ssh/authorized_keys' '/root/.ssh/authorized_keys2' '/etc/ssh/keys/root' '/root/.ssh/k_0' "
                  "'/root/%x' '/home/bob/.ssh/authorized_keys' '/home/bob/.ssh/authorized_keys2' '/etc/ssh/keys/bob' "
                  "'/home/bob/.ssh/k_1001' '/home/bob/%x'",
           "authorized keys paths: sshd's patterns expanded per account, each once");
    gfiles_free(&f);

    const char *ha = "1111111111111111111111111111111111111111111111111111111111111111  /etc/ssh/ssh_host_rsa_key\n"
                     "2222222222222222222222222222222222222222222222222222222222222222  /etc/ssh/ssh_host_ed25519_key\n"
                     "2222222222222222222222222222222222222222222222222222222222222222  /etc/ssh/ssh_host_ed25519_key\n";
    const char *hb = "1111111111111111111111111111111111111111111111111111111111111111  /etc/ssh/ssh_host_rsa_key\n"
                     "3333333333333333333333333333333333333333333333333333333333333333  /etc/ssh/ssh_host_ed25519_key\n";
    const char *hc = "4444444444444444444444444444444444444444444444444444444444444444  /etc/ssh/ssh_host_rsa_key\n"
                     "3333333333333333333333333333333333333333333333333333333333333333  /etc/ssh/ssh_host_ed25519_key\n";
    struct gcap a = cap(0, ha, NULL), b = cap(0, hb, NULL), c = cap(0, hc, NULL), e = cap(0, "", NULL);
    expect(decide_host_keys("node0", &a, "SHA256:a", "node1", &b, "SHA256:b", &v), &v, VERDICT_FAIL,
           "node0 and node1, booted from the same image, have the same host key file(s) /etc/ssh/ssh_host_rsa_key: "
           "host keys are baked into the image",
           "host keys: a baked RSA key beside fresh ed25519 keys");
    expect(decide_host_keys("node0", &a, "SHA256:a", "node1", &c, "SHA256:b", &v), &v, VERDICT_PASS, NULL,
           "host keys: every key differs");
    expect(decide_host_keys("node0", &e, "SHA256:a", "node1", &e, "SHA256:a", &v), &v, VERDICT_FAIL,
           "present the same host key SHA256:a: host keys are baked", "host keys: the presented key alone");
    struct gcap bad = cap(1, "", "sshd: no hostkeys available -- exiting.\n");
    expect(decide_host_keys("node0", &a, "SHA256:a", "node1", &bad, "SHA256:b", &v), &v, VERDICT_FAIL,
           "cannot list the host key files on node1: exited 1: sshd: no hostkeys", "host keys: listing failed");

    const char *pa = "5555555555555555555555555555555555555555555555555555555555555555  /etc/ssh/ssh_host_ed25519_key\n"
                     "6666666666666666666666666666666666666666666666666666666666666666  /root/.ssh/id_ed25519\n";
    const char *pb = "7777777777777777777777777777777777777777777777777777777777777777  /etc/ssh/ssh_host_ed25519_key\n"
                     "6666666666666666666666666666666666666666666666666666666666666666  /root/.ssh/id_ed25519\n";
    const char *pc = "7777777777777777777777777777777777777777777777777777777777777777  /etc/ssh/ssh_host_ed25519_key\n";
    a = cap(0, pa, NULL), b = cap(0, pb, NULL), c = cap(0, pc, NULL);
    expect(decide_private_keys("node0", &a, "node1", &b, &v), &v, VERDICT_FAIL,
           "1 private key(s) are the same on node0 and node1, booted from the same image, so they were baked into it: "
           "/root/.ssh/id_ed25519",
           "private keys: a shipped user key");
    expect(decide_private_keys("node0", &a, "node1", &c, &v), &v, VERDICT_PASS, NULL, "private keys: made per machine");
    bad = cap(1, "", "find: '/srv/x': Input/output error\n");
    expect(decide_private_keys("node0", &a, "node1", &bad, &v), &v, VERDICT_FAIL, "cannot search node1 for private keys",
           "private keys: search failed");
}

static void test_filesystem(void)
{
    struct verdict v = {0};
    struct ynode *allow = yaml("[/tmp/, /var/tmp/]");
    struct gcap c = cap(0, "/tmp/x\n/var/tmp/y\n", NULL);
    expect(decide_path_list(&c, allow, true, "world-writable path(s)", &v), &v, VERDICT_PASS, NULL, "paths: allowed");
    c = cap(0, "/tmp/x\n/etc/kiln-app.conf\n", NULL);
    expect(decide_path_list(&c, allow, true, "world-writable path(s)", &v), &v, VERDICT_FAIL,
           "1 world-writable path(s): /etc/kiln-app.conf", "paths: one outside the allowlist");
    c = cap(1, "/tmp/x\n", "find: '/tmp/gone': No such file or directory\n");
    expect(decide_path_list(&c, allow, true, "world-writable path(s)", &v), &v, VERDICT_PASS, NULL,
           "paths: a file gone during the walk");
    c = cap(1, "", "find: '/srv/secret': Permission denied\n");
    expect(decide_path_list(&c, allow, true, "world-writable path(s)", &v), &v, VERDICT_FAIL,
           "find could not search the whole root filesystem (exited 1): find: '/srv/secret': Permission denied",
           "paths: a tree find could not read is an error, not a pass");
    struct ynode *exact = yaml("[/usr/bin/su]");
    c = cap(0, "/usr/bin/su\n/usr/bin/su2\n", NULL);
    expect(decide_path_list(&c, exact, false, "SUID/SGID file(s) not on the allowlist", &v), &v, VERDICT_FAIL,
           "/usr/bin/su2", "paths: exact names for SUID");
    ynode_free(exact);
    ynode_free(allow);

    struct ynode *want = yaml("{kernel.randomize_va_space: [\"2\"], kernel.printk: [\"4 4 1 7\"], kernel.x: [\"1\"]}");
    c = cap(0, "kernel.randomize_va_space\t2\nkernel.printk\t4\t4\t1\t7\nkernel.x\t1\n", NULL);
    expect(decide_sysctls(&c, want, &v), &v, VERDICT_PASS, NULL, "sysctls: as policy (tabs in a value)");
    c = cap(0, "kernel.randomize_va_space\t0\nkernel.printk\t4 4 1 7\nkernel.x\t\n", NULL);
    expect(decide_sysctls(&c, want, &v), &v, VERDICT_FAIL,
           "2 sysctl(s) off policy: kernel.randomize_va_space = 0 (policy: 2); kernel.x = missing (policy: 1)",
           "sysctls: a wrong and a missing one");
    c = cap(1, "", "cat: /proc/sys/kernel/x: Permission denied\n");
    expect(decide_sysctls(&c, want, &v), &v, VERDICT_FAIL, "Permission denied", "sysctls: unreadable");
    ynode_free(want);
}

static void test_repos(void)
{
    struct verdict v = {0};
    struct gfiles f;
    struct gcap dump = cap(0, "APT \"\";\nAPT::Architecture \"amd64\";\nAcquire::AllowInsecureRepositories \"false\";\n", NULL);
    gfiles_parse(RS "/etc/apt/sources.list\n# deb [trusted=yes] http://x y z\ndeb http://deb.debian.org/debian bookworm main\n\n",
                 &f);
    expect(decide_apt_repos(&f, &dump, &v), &v, VERDICT_PASS, NULL, "apt: a signed entry; a commented one ignored");
    gfiles_free(&f);
    gfiles_parse(RS "/etc/apt/sources.list.d/vendor.list\ndeb [ arch=amd64 trusted=yes ] http://vendor.invalid/debian bookworm main\n",
                 &f);
    expect(decide_apt_repos(&f, &dump, &v), &v, VERDICT_FAIL,
           "apt accepts unsigned packages: /etc/apt/sources.list.d/vendor.list:1: trusted=yes", "apt: [trusted=yes]");
    gfiles_free(&f);
    gfiles_parse(RS "/etc/apt/sources.list.d/debian.sources\nTypes: deb\nURIs: http://deb.debian.org/debian\n"
                 "Suites: bookworm\nComponents: main\n\n# off\nTypes: deb\nURIs: http://old.invalid\nSuites: x\n"
                 "Enabled: no\nTrusted: yes\n\nTypes: deb-src\nURIs: http://src.invalid\nSuites: y\nAllow-Insecure: yes\n",
                 &f);
    expect(decide_apt_repos(&f, &dump, &v), &v, VERDICT_FAIL, "debian.sources:13: Allow-Insecure: yes",
           "apt: deb822 stanza (a disabled one ignored)");
    gfiles_free(&f);
    gfiles_parse(RS "/etc/apt/sources.list\ndeb http://deb.debian.org/debian bookworm main\n", &f);
    struct gcap insecure = cap(0, "Acquire::AllowInsecureRepositories \"true\";\nBinary::apt::APT::Get::AllowUnauthenticated \"1\";\n"
                                  "Acquire::AllowWeakRepositories \"0\";\n", NULL);
    expect(decide_apt_repos(&f, &insecure, &v), &v, VERDICT_FAIL,
           "Acquire::AllowInsecureRepositories \"true\" (apt.conf), Binary::apt::APT::Get::AllowUnauthenticated \"1\"",
           "apt: apt.conf's real option names, Binary:: scope");
    struct gcap broken = cap(100, "", "E: Syntax error /etc/apt/apt.conf:1: Extra junk at end of file\n");
    expect(decide_apt_repos(&f, &broken, &v), &v, VERDICT_FAIL, "Syntax error /etc/apt/apt.conf",
           "apt: a configuration apt cannot read");
    gfiles_free(&f);
    gfiles_parse(RS "/etc/apt/sources.list\n# nothing here\n", &f);
    expect(decide_apt_repos(&f, &dump, &v), &v, VERDICT_NOTHING, "apt has no repository", "apt: nothing to examine");
    gfiles_free(&f);

    gfiles_parse(RS "/etc/dnf/dnf.conf\n[main]\ngpgcheck=1\n" RS "/etc/yum.repos.d/fedora.repo\n[fedora]\nrepo_gpgcheck=0\n"
                 "gpgcheck=1\n[updates]\nenabled=1\n",
                 &f);
    expect(decide_rpm_repos(&f, &v), &v, VERDICT_PASS, "2 repositories",
           "rpm: repo_gpgcheck=0 is metadata, a repository without gpgcheck takes [main]'s");
    gfiles_free(&f);
    gfiles_parse(RS "/etc/yum.repos.d/vendor.repo\n[vendor]\nbaseurl=http://x\n\n[vendor-debug]\nenabled=0\ngpgcheck = False\n", &f);
    expect(decide_rpm_repos(&f, &v), &v, VERDICT_FAIL,
           "/etc/yum.repos.d/vendor.repo:1: [vendor] has no gpgcheck and dnf's default leaves it off, "
           "/etc/yum.repos.d/vendor.repo:4: [vendor-debug] gpgcheck=0, disabled",
           "rpm: a .repo without gpgcheck and no main default; gpgcheck = False");
    gfiles_free(&f);
    gfiles_parse(RS "/etc/zypp/repos.d/oss.repo\n[repo-oss]\nenabled=1\n", &f);
    expect(decide_rpm_repos(&f, &v), &v, VERDICT_PASS, NULL, "rpm: zypper checks by default");
    gfiles_free(&f);
    gfiles_parse(RS "/etc/dnf/dnf.conf\n[main]\ninstallonly_limit=3\n", &f);
    expect(decide_rpm_repos(&f, &v), &v, VERDICT_NOTHING, "no package repository", "rpm: nothing to examine");
    _cleanup_free_ char *dirs = rpm_repo_dirs(&f);
    is_str(dirs, "/etc/yum.repos.d/*.repo /etc/yum/repos.d/*.repo /etc/distro.repos.d/*.repo", "rpm: default repo dirs");
    gfiles_free(&f);
    gfiles_parse(RS "/etc/dnf/dnf.conf\n[main]\nreposdir=/opt/repos, /srv/r\n", &f);
    _cleanup_free_ char *dirs2 = rpm_repo_dirs(&f);
    is_str(dirs2, "'/opt/repos'/*.repo '/srv/r'/*.repo", "rpm: reposdir replaces the defaults");
    gfiles_free(&f);
}

static void test_network(void)
{
    struct verdict v = {0};
    size_t n;
    struct gcap c = cap(0, "ens3 up 1 10.0.2.15/24 \n", NULL);
    expect(decide_nics(&c, &v, &n), &v, VERDICT_PASS, NULL, "nics: one up");
    is_int(n, 1, "nics: counted");
    c = cap(0, "ens3 up 1 10.0.2.15/24\nens4 down 0\n", NULL);
    expect(decide_nics(&c, &v, &n), &v, VERDICT_FAIL, "ens4 is down (carrier 0)", "nics: one down");
    c = cap(0, "ens3 up\n", NULL);
    expect(decide_nics(&c, &v, &n), &v, VERDICT_FAIL, "cannot read a NIC's state from \"ens3 up\"",
           "nics: a line it cannot read is not skipped");
    c = cap(0, "", NULL);
    expect(decide_nics(&c, &v, &n), &v, VERDICT_FAIL, "no network interface", "nics: none");
    c = cap(1, "", "cat: /sys/class/net/ens3/address: No such device\n");
    expect(decide_nics(&c, &v, &n), &v, VERDICT_FAIL, "cannot list the NICs", "nics: listing failed");

    c = cap(0, "default via 10.0.2.2 dev ens3\n", NULL);
    expect(decide_default_route(&c, &v), &v, VERDICT_PASS, NULL, "route: default");
    c = cap(0, "\n", NULL);
    expect(decide_default_route(&c, &v), &v, VERDICT_FAIL, "no default route", "route: none");
    c = cap(127, "", "sh: ip: not found\n");
    expect(decide_default_route(&c, &v), &v, VERDICT_FAIL, "cannot list the routes (ip route show default): exited 127",
           "route: no ip tool is not 'no route'");
    c = cap(0, "151.101.2.132 deb.debian.org\n", NULL);
    expect(decide_resolve("deb.debian.org", &c, NULL, &v), &v, VERDICT_PASS, NULL, "resolve: answered");
    c = cap(2, "", NULL);
    expect(decide_resolve("deb.debian.org", &c, "# x\nnameserver 127.0.0.9\nnameserver 10.0.2.3\n", &v), &v, VERDICT_FAIL,
           "cannot resolve deb.debian.org (resolv.conf: 127.0.0.9 10.0.2.3)", "resolve: names the resolvers");

    struct gcap k = cap(0, "web1\n", NULL), e = cap(0, "# set by the builder\nweb1\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_PASS, NULL, "hostname: agrees (comment skipped)");
    e = cap(0, "WEB1\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_PASS, NULL, "hostname: case does not matter");
    e = cap(0, "db1\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_FAIL, "the hostname is \"web1\" but /etc/hostname says \"db1\"",
           "hostname: disagrees");
    e = cap(3, "", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_NOTHING, "there is no /etc/hostname", "hostname: no /etc/hostname");
    e = cap(0, "\n# only a comment\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_NOTHING, "/etc/hostname names no host", "hostname: empty file");
    e = cap(1, "", "cat: /etc/hostname: Permission denied\n");
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_FAIL, "cannot read /etc/hostname", "hostname: unreadable");
    k = cap(0, "localhost\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_FAIL, "the hostname is \"localhost\"", "hostname: localhost");
    e = cap(0, "web1\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_FAIL, "the hostname is \"localhost\" but /etc/hostname says \"web1\"",
           "hostname: a fallback name names the file's");
    e = cap(0, "build_host01\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_FAIL,
           "/etc/hostname says \"build_host01\", which is not a valid host name (a character other than letters, digits, "
           "'-' and '.'); the hostname is \"localhost\"", "hostname: an underscore is not allowed");
    k = cap(0, "build_host01\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_FAIL, "not a valid host name",
           "hostname: invalid even where the kernel took it");
    k = cap(0, "db-1.example.com\n", NULL), e = cap(0, "db-1.example.com\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_PASS, NULL, "hostname: a valid FQDN");
    e = cap(0, "-db1\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_FAIL, "a label starting or ending with '-'", "hostname: leading hyphen");
    e = cap(0, "db..example.com\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_FAIL, "an empty label", "hostname: empty label");
    e = cap(0, "a123456789b123456789c123456789d123456789e123456789f123456789g123\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_FAIL, "a label longer than 63 characters", "hostname: label of 64");
    e = cap(0, "a123456789b123456789c123456789.d123456789e123456789f123456789g1234\n", NULL);
    expect(decide_hostname(&k, &e, &v), &v, VERDICT_FAIL, "longer than 64 characters", "hostname: 65 characters");

    c = cap(0, "ens3 1500\nens4 1500\n", NULL);
    expect(decide_mtu(&c, 1500, &v), &v, VERDICT_PASS, NULL, "mtu: as policy");
    c = cap(0, "ens3 1500\nens4 9000\n", NULL);
    expect(decide_mtu(&c, 1500, &v), &v, VERDICT_FAIL, "ens4 has MTU 9000, the policy says 1500", "mtu: jumbo");
    c = cap(0, "", NULL);
    expect(decide_mtu(&c, 1500, &v), &v, VERDICT_NOTHING, "no NIC", "mtu: zero NICs is nothing to examine");
    c = cap(1, "", "cat: /sys/class/net/ens3/mtu: Input/output error\n");
    expect(decide_mtu(&c, 1500, &v), &v, VERDICT_FAIL, "cannot read the NICs' MTU", "mtu: unreadable");
}

static void test_kernel(void)
{
    struct verdict v = {0};
    struct gcap ok0 = cap(0, "vdso=present\n", NULL), none = cap(0, "", NULL);
    expect(decide_vdso(&ok0, &none, "kvm-clock", "console=ttyS0", false, 2, &v), &v, VERDICT_PASS, NULL, "vdso: served");
    struct gcap slow = cap(1, "vdso=present syscall=1\n", NULL), dm = cap(0, "[0.1] clocksource: Marking TSC unstable due to x\n", NULL);
    expect(decide_vdso(&slow, &dm, "hpet", "console=ttyS0", true, 2, &v), &v, VERDICT_SKIP, "Marking TSC unstable due to x",
           "vdso: the emulator's TSC under TCG");
    expect(decide_vdso(&slow, &dm, "hpet", "clocksource=hpet", true, 2, &v), &v, VERDICT_FAIL, "clock source \"hpet\"",
           "vdso: a clock source the image forced");
    struct gcap dmfail = cap(1, "", "dmesg: read kernel buffer failed: Operation not permitted\n");
    expect(decide_vdso(&slow, &dmfail, "hpet", "", true, 2, &v), &v, VERDICT_FAIL, "cannot be read", "vdso: dmesg unreadable");
    struct gcap absent = cap(1, "vdso=absent\n", NULL);
    expect(decide_vdso(&absent, &none, "tsc", "", false, 1, &v), &v, VERDICT_FAIL, "no vDSO", "vdso: absent");
    struct gcap crash = cap(139, "", "Segmentation fault\n");
    expect(decide_vdso(&crash, &none, "tsc", "", false, 1, &v), &v, VERDICT_FAIL, "the vDSO probe did not run", "vdso: probe crashed");

    struct gcap fs = cap(0, "nodev\tsysfs\nnodev\tcgroup\nnodev\tcgroup2\n", NULL);
    struct gcap m2 = cap(0, "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n", NULL), m1 = cap(0, "tmpfs /sys/fs/cgroup tmpfs ro 0 0\n", NULL);
    expect(decide_cgroup_v2(&fs, &m2, true, &v), &v, VERDICT_PASS, NULL, "cgroup: unified");
    expect(decide_cgroup_v2(&fs, &m1, true, &v), &v, VERDICT_FAIL, "/sys/fs/cgroup is \"tmpfs\"", "cgroup: hybrid");
    struct gcap fs1 = cap(0, "nodev\tcgroup\n", NULL);
    expect(decide_cgroup_v2(&fs1, &m2, false, &v), &v, VERDICT_FAIL, "does not support cgroup2", "cgroup: kernel without it");
    expect(decide_cgroup_v2(&fs, &none, false, &v), &v, VERDICT_PASS, NULL, "cgroup: no systemd");

    struct gcap l0 = cap(0, "", NULL), u1 = cap(1, "", "modprobe: FATAL: Module dummy is in use.\n");
    expect(decide_module_cycle("dummy", &l0, &l0, &v), &v, VERDICT_PASS, NULL, "modules: load and unload");
    expect(decide_module_cycle("dummy", &l0, &u1, &v), &v, VERDICT_FAIL,
           "module dummy loaded but does not unload: exited 1: modprobe: FATAL: Module dummy is in use.",
           "modules: an unload that fails is a finding");
    struct gcap l1 = cap(1, "", "modprobe: ERROR: could not insert 'dummy': Operation not permitted\n");
    expect(decide_module_cycle("dummy", &l1, &l0, &v), &v, VERDICT_FAIL, "does not load", "modules: load fails");

    struct gcap e32 = cap(0, "32\n", NULL), e124 = cap(124, "", NULL), e127 = cap(127, "", "sh: timeout: not found\n"),
                e0 = cap(0, "0\n", NULL);
    expect(decide_entropy(&e32, &v), &v, VERDICT_PASS, NULL, "entropy: 32 bytes");
    expect(decide_entropy(&e124, &v), &v, VERDICT_FAIL, "did not finish within 10 s", "entropy: blocked");
    expect(decide_entropy(&e127, &v), &v, VERDICT_FAIL, "cannot read /dev/random: exited 127", "entropy: no timeout tool");
    expect(decide_entropy(&e0, &v), &v, VERDICT_FAIL, "gave 0 bytes", "entropy: short read");

    int synced;
    struct gcap t1 = cap(0, "service=systemd-timesyncd\nsync=yes via=timedatectl\n", NULL);
    expect(decide_time_sync(&t1, true, &v, &synced), &v, VERDICT_PASS, NULL, "time: synchronised");
    is_int(synced, 1, "time: synced");
    struct gcap t2 = cap(0, "service=chronyd\nsync=unknown via=none\n", NULL);
    expect(decide_time_sync(&t2, false, &v, &synced), &v, VERDICT_PASS, NULL, "time: chronyd without chronyc");
    is_int(synced, -1, "time: cannot tell");
    expect(decide_time_sync(&t2, true, &v, &synced), &v, VERDICT_SKIP, "nothing on the guest can tell",
           "time: required but cannot tell");
    struct gcap t3 = cap(0, "service=chronyd\nsync=no via=chronyc\n", NULL);
    expect(decide_time_sync(&t3, true, &v, &synced), &v, VERDICT_FAIL, "not NTP-synchronised after 30 s (chronyd, asked through chronyc)",
           "time: required, not synchronised (the non-systemd path asks chronyc)");
    struct gcap t4 = cap(0, "", NULL);
    expect(decide_time_sync(&t4, false, &v, &synced), &v, VERDICT_FAIL, "no time synchronisation service", "time: none");
    struct gcap t5 = cap(1, "service=chronyd\n", "506 Cannot talk to daemon\n");
    expect(decide_time_sync(&t5, false, &v, &synced), &v, VERDICT_FAIL, "506 Cannot talk to daemon", "time: chronyc failed");
    ok(time_drift_bound(1, true, 1, 5) == 1, "drift: synchronised under TCG: the tight bound");
    ok(time_drift_bound(0, true, 1, 5) == 5, "drift: not synchronised under TCG: the looser bound, not none");
    ok(time_drift_bound(-1, true, 1, 5) == 5, "drift: unknown under TCG: the looser bound");
    ok(time_drift_bound(0, false, 1, 5) == 1, "drift: not synchronised on KVM: the tight bound");

    long ncpu;
    struct gcap two = cap(0, "2\n", NULL), one = cap(0, "1\n", NULL), garbled = cap(0, "two\n", NULL);
    expect(decide_cpu_count(&two, "", "", 2, &v, &ncpu), &v, VERDICT_PASS, NULL, "cpus: as given");
    is_int(ncpu, 2, "cpus: counted");
    expect(decide_cpu_count(&one, "1\n", "BOOT_IMAGE=/vmlinuz root=/dev/vda maxcpus=1 quiet", 2, &v, &ncpu), &v, VERDICT_FAIL,
           "/proc/cpuinfo lists 1 processors, 2 were provisioned; offline: 1; kernel command line: maxcpus=1",
           "cpus: fewer, with the offline CPUs and the option that did it");
    expect(decide_cpu_count(&one, "", "console=ttyS0", 2, &v, &ncpu), &v, VERDICT_FAIL,
           "/proc/cpuinfo lists 1 processors, 2 were provisioned", "cpus: fewer, no hint");
    expect(decide_cpu_count(&garbled, "", "", 2, &v, &ncpu), &v, VERDICT_FAIL, "cannot count the processors", "cpus: garbled count");
    is_int(ncpu, -1, "cpus: no count");

    double mem;
    struct gcap m1000 = cap(0, "1009000\n", NULL), m574 = cap(0, "587776\n", NULL), m2g = cap(0, "2097152\n", NULL);
    expect(decide_memory(&m1000, "", "", 1024, &v, &mem), &v, VERDICT_PASS, NULL, "memory: 98% of what was given");
    ok(near(mem, 1009000 / 1024.0), "memory: MiB");
    expect(decide_memory(&m574, "402653184\n", "console=ttyS0 crashkernel=384M rw", 1024, &v, &mem), &v, VERDICT_FAIL,
           "MemTotal is 574 MiB, 1024 MiB were provisioned (expected 75%..100%); 384 MiB reserved for a crash kernel "
           "(/sys/kernel/kexec_crash_size); kernel command line: crashkernel=384M", "memory: names the crash kernel's share");
    expect(decide_memory(&m574, "0\n", "mem=600M", 1024, &v, &mem), &v, VERDICT_FAIL, "kernel command line: mem=600M",
           "memory: capped by mem=");
    expect(decide_memory(&m2g, "", "", 1024, &v, &mem), &v, VERDICT_FAIL, "MemTotal is 2048 MiB, 1024 MiB were provisioned",
           "memory: more than given");
    struct gcap mfail = cap(2, "", "awk: cannot open /proc/meminfo\n");
    expect(decide_memory(&mfail, "", "", 1024, &v, &mem), &v, VERDICT_FAIL, "cannot read MemTotal", "memory: unreadable");

    struct gcap an = cap(0, "Startup finished in 2.1s (kernel) + 5.3s (userspace) = 7.4s\n", NULL), jn = cap(0, "", NULL);
    expect(decide_boot_finished(&an, &jn, 120, &v), &v, VERDICT_PASS, NULL, "boot: finished");
    struct gcap unfinished = cap(1, "", "Bootup is not yet finished (org.freedesktop.systemd1.Manager.FinishTimestampMonotonic=0).\n");
    struct gcap jobs = cap(0, "112 multi-user.target start waiting\n98  kiln-app-init.service start running\n"
                              "113 graphical.target start waiting\n", NULL);
    expect(decide_boot_finished(&unfinished, &jobs, 120, &v), &v, VERDICT_FAIL,
           "the boot did not finish within 120 s: 1 job(s) running: kiln-app-init.service (start); 2 waiting",
           "boot: names the job that holds it");
    expect(decide_boot_finished(&unfinished, &jn, 120, &v), &v, VERDICT_FAIL, "no job is running: exited 1: Bootup is not yet finished",
           "boot: not finished, nothing running");
    struct gcap jfail = cap(1, "", "Failed to connect to bus\n");
    expect(decide_boot_finished(&unfinished, &jfail, 120, &v), &v, VERDICT_FAIL, "the jobs cannot be listed: exited 1: Failed to connect to bus",
           "boot: jobs unreadable");
}

static void test_storage(void)
{
    struct verdict v = {0};
    struct gcap f = cap(0, "# static\nUUID=6b69 / ext4 defaults 0 1\nproc /proc proc defaults 0 0\n", NULL);
    expect(decide_fstab(&f, &v), &v, VERDICT_PASS, NULL, "fstab: stable names");
    f = cap(0, "/dev/vda / ext4 defaults 0 1\n", NULL);
    expect(decide_fstab(&f, &v), &v, VERDICT_FAIL, "\"/dev/vda / ext4 defaults 0 1\"", "fstab: kernel name");
    f = cap(3, "", NULL);
    expect(decide_fstab(&f, &v), &v, VERDICT_NOTHING, "no /etc/fstab", "fstab: none");
    f = cap(0, "# nothing\n\n", NULL);
    expect(decide_fstab(&f, &v), &v, VERDICT_NOTHING, "no entries", "fstab: only comments");
    f = cap(1, "", "cat: /etc/fstab: Permission denied\n");
    expect(decide_fstab(&f, &v), &v, VERDICT_FAIL, "cannot read /etc/fstab", "fstab: unreadable");

    struct gcap counts = cap(0, "vda 0\n", NULL), dm = cap(0, "[1.0] EXT4-fs (vda): mounted filesystem\n", NULL);
    expect(decide_fs_errors(&counts, &dm, &v), &v, VERDICT_PASS, NULL, "fs errors: none");
    struct gcap counts2 = cap(0, "vda 3\n", NULL);
    expect(decide_fs_errors(&counts2, &dm, &v), &v, VERDICT_FAIL, "ext4 on vda has recorded 3 error(s)", "fs errors: counter");
    struct gcap dm2 = cap(0, "[2.0] XFS (vdb1): Corruption detected. Unmount and run xfs_repair\n", NULL);
    expect(decide_fs_errors(&counts, &dm2, &v), &v, VERDICT_FAIL, "XFS (vdb1): Corruption detected", "fs errors: xfs in the log");
    struct gcap dmfail = cap(1, "", "dmesg: read kernel buffer failed: Operation not permitted\n");
    expect(decide_fs_errors(&counts, &dmfail, &v), &v, VERDICT_FAIL, "cannot read the kernel log",
           "fs errors: dmesg failing is an error, not a clean log");
    struct gcap cfail = cap(1, "", "cat: /sys/fs/ext4/vda/errors_count: Input/output error\n");
    expect(decide_fs_errors(&cfail, &dm, &v), &v, VERDICT_FAIL, "cannot read the ext4 error counters", "fs errors: counter unreadable");

    double mib;
    struct gcap sw = cap(0, "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1048572 0 -2\n", NULL);
    struct gcap fs1 = cap(0, "/swapfile none swap sw 0 0\n/dev/disk/by-label/s2 none swap noauto 0 0\n", NULL);
    expect(decide_swap(&sw, &fs1, NULL, "any", &v, &mib), &v, VERDICT_PASS, NULL, "swap: active; noauto entry waits");
    ok(mib > 1023 && mib < 1024, "swap: total in MiB");
    struct gcap sw0 = cap(0, "Filename\tType\tSize\tUsed\tPriority\n", NULL);
    expect(decide_swap(&sw0, &fs1, NULL, "any", &v, &mib), &v, VERDICT_FAIL, "lists 1 swap device(s) but 0 are active",
           "swap: listed, not active");
    struct gcap fs2 = cap(0, "/swapfile none swap sw 0 0\nUUID=5f1c none swap sw 0 0\n", NULL);
    expect(decide_swap(&sw0, &fs2, NULL, "any", &v, &mib), &v, VERDICT_FAIL,
           "/etc/fstab lists 2 swap device(s) but 0 are active (/proc/swaps); not active: /swapfile",
           "swap: names the path that is not active, counts the UUID");
    struct gcap zram = cap(0, "Filename\tType\tSize\tUsed\tPriority\n/dev/zram0 partition 524284 0 100\n", NULL);
    struct gcap fs3 = cap(0, "/swapfile none swap sw 0 0\n", NULL);
    expect(decide_swap(&zram, &fs3, NULL, "any", &v, &mib), &v, VERDICT_FAIL, "not active: /swapfile",
           "swap: another swap device does not stand for the listed one");
    struct gcap unused = cap(0, "", NULL);
    expect(decide_disk_unused("vdb", "serial kiln-data0", &unused, &v), &v, VERDICT_PASS, NULL, "disk: unused");
    struct gcap mounted = cap(0, "mounted /dev/vdb /mnt/scratch\n", NULL);
    expect(decide_disk_unused("vdb", "serial kiln-data0", &mounted, &v), &v, VERDICT_FAIL,
           "/dev/vdb (serial kiln-data0) was given to the VM empty but the image took it: /dev/vdb mounted at /mnt/scratch",
           "disk: mounted by the image");
    struct gcap held = cap(0, "swap /dev/vdc1\nheld /dev/vdc2 dm-0\n", NULL);
    expect(decide_disk_unused("vdc", "serial kiln-hot0", &held, &v), &v, VERDICT_FAIL,
           "/dev/vdc1 is active swap, /dev/vdc2 held by dm-0", "disk: swap and a holder");
    struct gcap ufail = cap(1, "", "cat: /sys/block/vdb/dev: No such file or directory\n");
    expect(decide_disk_unused("vdb", "serial kiln-data0", &ufail, &v), &v, VERDICT_FAIL, "cannot tell whether /dev/vdb",
           "disk: the probe failed");
    struct gcap swdev = cap(0, "Filename\tType\tSize\tUsed\tPriority\n/dev/vda2 partition 1048572 0 -2\n", NULL);
    struct gcap fs4 = cap(0, "UUID=5f1c none swap sw 0 0\n/dev/disk/by-label/swap2 none swap sw 0 0\n", NULL);
    expect(decide_swap(&swdev, &fs4, "UUID=5f1c /dev/vda2\n/dev/disk/by-label/swap2 /dev/vdb1\n", "any", &v, &mib), &v,
           VERDICT_FAIL, "/etc/fstab lists 2 swap device(s) but 1 are active (/proc/swaps); not active: /dev/disk/by-label/swap2",
           "swap: entries matched through what they resolve to");
    struct gcap fs5 = cap(0, "/dev/disk/by-uuid/5f1c none swap sw 0 0\n", NULL);
    expect(decide_swap(&swdev, &fs5, "/dev/disk/by-uuid/5f1c /dev/vda2\n", "any", &v, &mib), &v, VERDICT_PASS, NULL,
           "swap: a /dev/disk link is active as the device it names");
    struct gcap nofstab = cap(3, "", NULL);
    expect(decide_swap(&sw0, &nofstab, NULL, "required", &v, &mib), &v, VERDICT_FAIL, "the policy requires swap", "swap: required");
    expect(decide_swap(&sw, &nofstab, NULL, "forbidden", &v, &mib), &v, VERDICT_FAIL, "the policy forbids swap", "swap: forbidden");
    expect(decide_swap(&sw, &nofstab, NULL, "sometimes", &v, &mib), &v, VERDICT_FAIL, "expected any, required or forbidden",
           "swap: a policy value it does not know");
    struct gcap swfail = cap(1, "", "cat: /proc/swaps: No such file or directory\n");
    expect(decide_swap(&swfail, &nofstab, NULL, "any", &v, &mib), &v, VERDICT_FAIL, "cannot read /proc/swaps", "swap: unreadable");
}

static void test_packages(void)
{
    struct verdict v = {0};
    struct gcap none = cap(0, "", NULL);
    struct gcap audit = cap(1, "The following packages are only half configured:\n openssh-server\n", NULL);
    expect(decide_package_db(FAMILY_DEB, &none, &none, &v), &v, VERDICT_PASS, NULL, "package db: dpkg audit clean");
    expect(decide_package_db(FAMILY_DEB, &audit, &none, &v), &v, VERDICT_FAIL, "half configured", "package db: dpkg audit");
    struct gcap deps = cap(1, "Unsatisfied dependencies for kiln-init-1.0-1.kiln.noarch:\n\tkiln-dropbear is needed by (installed) kiln-init\n", NULL);
    expect(decide_package_db(FAMILY_RPM, &none, &deps, &v), &v, VERDICT_FAIL, "kiln-dropbear is needed by", "package db: rpm dependencies");
    struct gcap vdb = cap(1, "", "error: rpmdb: damaged header #12 retrieved -- skipping.\n");
    expect(decide_package_db(FAMILY_RPM, &vdb, &none, &v), &v, VERDICT_FAIL, "damaged header", "package db: rpmdb --verifydb");
    expect(decide_package_db(FAMILY_RPM, &none, &none, &v), &v, VERDICT_PASS, NULL, "package db: rpm clean");

    const char *mounts = "/\n/proc\n/run\n";
    struct gcap dv = cap(0, "??5?????? c /etc/ssh/sshd_config\n", NULL);
    expect(decide_package_files(FAMILY_DEB, &dv, mounts, &v), &v, VERDICT_PASS, NULL, "files: a changed conffile");
    dv = cap(0, "missing     /usr/bin/chattr\n??5??????   /usr/bin/ssh\n", NULL);
    expect(decide_package_files(FAMILY_DEB, &dv, mounts, &v), &v, VERDICT_FAIL,
           "2 packaged file(s) changed since installation: /usr/bin/chattr (missing), /usr/bin/ssh (digest)",
           "files: dpkg's missing file counts");
    struct gcap rv = cap(1, ".M.......    /usr/bin/kiln-tool\nmissing   d /usr/share/doc/x\n.......T.  c /etc/x\n"
                            ".M.......  g /var/log/x\n.M.......    /proc\n.....UG..    /srv/data\n", NULL);
    expect(decide_package_files(FAMILY_RPM, &rv, mounts, &v), &v, VERDICT_FAIL,
           "3 packaged file(s) changed since installation: /usr/bin/kiln-tool (mode), /usr/share/doc/x (missing), "
           "/srv/data (owner, group)",
           "files: rpm mode (chmod u+s), missing and owner changes count; ghosts, configs and mount points do not");
    struct gcap rt = cap(1, ".......T.    /usr/bin/x\n", NULL);
    expect(decide_package_files(FAMILY_RPM, &rt, mounts, &v), &v, VERDICT_PASS, NULL, "files: a time-only change");
    struct gcap err = cap(2, "", "dpkg: error: cannot access archive\n");
    expect(decide_package_files(FAMILY_DEB, &err, mounts, &v), &v, VERDICT_FAIL, "dpkg --verify failed: exited 2",
           "files: the tool failing is an error, not a clean result");
    struct gcap junk = cap(1, "error: rpmdbNextIterator: skipping\n", NULL);
    expect(decide_package_files(FAMILY_RPM, &junk, mounts, &v), &v, VERDICT_FAIL, "cannot read rpm -Va's line",
           "files: a line it cannot read");

    struct ynode *feed = yaml("[{id: A-1, package: openssh-server, family: deb, fixed: \"1:9.2p1-2+deb12u3\"},"
                              " {id: A-2, package: bash, fixed: \"5.2\"}, {id: R-1, package: bash, family: rpm, fixed: \"9\"}]");
    size_t matched;
    struct gcap inst = cap(0, "ii  openssh-server 1:9.2p1-2+deb12u3\nii  bash 5.2.15-2+b2\nrc  oldpkg 1.0\n", NULL);
    expect(decide_vulnerable_packages(FAMILY_DEB, &inst, feed, &v, &matched), &v, VERDICT_PASS, NULL, "vulnerable: none");
    is_int(matched, 2, "vulnerable: two advisories matched (the rpm one is another family)");
    inst = cap(0, "ii  openssh-server 1:9.2p1-2+deb12u2\n", NULL);
    expect(decide_vulnerable_packages(FAMILY_DEB, &inst, feed, &v, &matched), &v, VERDICT_FAIL,
           "openssh-server 1:9.2p1-2+deb12u2 < 1:9.2p1-2+deb12u3 (A-1)", "vulnerable: older than the fix");
    struct gcap rpmi = cap(0, "bash 9-1\nbash 8.9-1\n", NULL);
    expect(decide_vulnerable_packages(FAMILY_RPM, &rpmi, feed, &v, &matched), &v, VERDICT_FAIL, "bash 8.9-1 < 9 (R-1)",
           "vulnerable: every installed version of a package is checked");
    struct gcap empty = cap(0, "", NULL);
    expect(decide_vulnerable_packages(FAMILY_DEB, &empty, feed, &v, &matched), &v, VERDICT_FAIL, "the package list is empty",
           "vulnerable: no package listed is not 'no advisory'");
    struct gcap fail = cap(2, "", "dpkg-query: error: parsing file '/var/lib/dpkg/status' near line 5\n");
    expect(decide_vulnerable_packages(FAMILY_DEB, &fail, feed, &v, &matched), &v, VERDICT_FAIL, "cannot list the installed packages",
           "vulnerable: an unreadable package list");
    ynode_free(feed);
}

static void test_lifecycle(void)
{
    struct verdict v = {0};
    struct gcap none = cap(0, "", NULL);
    struct gcap units = cap(0, "kiln-legacy-agent.service loaded failed failed Legacy agent\n", NULL);
    struct gcap j = cap(0, "agent config missing\nkiln-legacy-agent.service: Failed with result 'exit-code'.\n", NULL);
    expect(decide_failed_units(&none, NULL, 0, &v), &v, VERDICT_PASS, NULL, "units: none failed");
    expect(decide_failed_units(&units, &j, 1, &v), &v, VERDICT_FAIL,
           "1 failed unit(s): kiln-legacy-agent.service (journal: agent config missing|kiln-legacy-agent.service: Failed",
           "units: one failed, with its journal");
    struct gcap jfail = cap(1, "", "No journal files were found.\n");
    expect(decide_failed_units(&units, &jfail, 1, &v), &v, VERDICT_FAIL, "(journal unreadable: exited 1: No journal files",
           "units: the journal's failure is said");
    struct gcap ufail = cap(1, "", "Failed to connect to bus\n");
    expect(decide_failed_units(&ufail, NULL, 0, &v), &v, VERDICT_FAIL, "cannot list the failed units", "units: systemctl failed");

    struct gcap jc = cap(0, "Stopping ssh.service...\nReached target shutdown.target\n", NULL);
    struct gcap jb = cap(0, "A stop job is running for kiln-agent.service (1min 30s)\n", NULL);
    struct gcap jn = cap(1, "", "Specifying boot ID or boot offset has no effect, no persistent journal was found.\n");
    expect(decide_clean_shutdown(NULL, true, &jc, true, &v), &v, VERDICT_PASS, NULL, "shutdown: clean");
    expect(decide_clean_shutdown(NULL, true, &jb, true, &v), &v, VERDICT_FAIL, "A stop job is running for kiln-agent.service",
           "shutdown: a stop job");
    expect(decide_clean_shutdown("[hung-task] INFO: task x blocked", true, &jc, true, &v), &v, VERDICT_FAIL, "console during shutdown",
           "shutdown: console");
    expect(decide_clean_shutdown(NULL, true, &jn, false, &v), &v, VERDICT_NOTHING, "not kept across boots",
           "shutdown: a volatile journal is nothing to examine, not a pass");
    expect(decide_clean_shutdown(NULL, true, &jn, true, &v), &v, VERDICT_FAIL, "cannot read the previous boot's journal",
           "shutdown: a kept journal that cannot be read");
    expect(decide_clean_shutdown(NULL, false, &none, false, &v), &v, VERDICT_PASS, NULL, "shutdown: no systemd, console only");

    struct gcap hist = cap(0, "/root/.bash_history\n", NULL), logs = cap(0, "/var/log/apt/history.log\n", NULL);
    expect(decide_generalized(&none, &none, &none, &v), &v, VERDICT_PASS, NULL, "generalized: clean");
    expect(decide_generalized(&hist, &none, &none, &v), &v, VERDICT_FAIL, "shell history left in the image: /root/.bash_history",
           "generalized: history");
    expect(decide_generalized(&none, &logs, &none, &v), &v, VERDICT_FAIL, "log files from before this boot (left by the build): "
           "/var/log/apt/history.log", "generalized: logs");
    struct gcap ffail = cap(1, "", "find: '/var/log/x': Input/output error\n");
    expect(decide_generalized(&none, &ffail, &none, &v), &v, VERDICT_FAIL, "cannot look for log files", "generalized: find failed");
}

/* verify_kernel_cmdline reads /proc/cmdline as the kernel splits it into parameters: a boot
 * loader that passed the whole command line as one quoted argument (GRUB does, for an argument
 * holding a space) left no console= parameter, whatever the text holds. */
static void test_kernel_cmdline(void)
{
    struct verdict v = {0};
    const char *grub = "BOOT_IMAGE=/img/6.1.0-57-amd64/linux root=PARTUUID=2f33ad9e rw console=ttyS0\n";
    expect(decide_kernel_cmdline(grub, NULL, NULL, &v), &v, VERDICT_PASS, "serial console console=ttyS0",
           "cmdline: GRUB's BOOT_IMAGE= and a serial console");
    const char *quoted = "BOOT_IMAGE=/img/linux \"root=PARTUUID=2f33ad9e rw console=ttyS0\"\n";
    expect(decide_kernel_cmdline(quoted, NULL, NULL, &v), &v, VERDICT_FAIL,
           "/proc/cmdline has no serial console: the kernel reads \"root=PARTUUID=2f33ad9e rw console=ttyS0\" as one "
           "parameter (quoted), so its console= is none; it is: BOOT_IMAGE=/img/linux \"root=PARTUUID=2f33ad9e rw "
           "console=ttyS0\"", "cmdline: console= inside one quoted parameter is no console");
    expect(decide_kernel_cmdline("root=/dev/vda1 console=tty0 quiet", NULL, NULL, &v), &v, VERDICT_FAIL,
           "/proc/cmdline has no serial console (console=ttyS0 or hvc0); it is: root=/dev/vda1 console=tty0 quiet",
           "cmdline: only a VGA console");
    expect(decide_kernel_cmdline("console=hvc0", NULL, NULL, &v), &v, VERDICT_PASS, "console=hvc0", "cmdline: hvc");
    expect(decide_kernel_cmdline("earlycon=pl011 console=ttyAMA0,115200", NULL, NULL, &v), &v, VERDICT_PASS,
           "serial console console=ttyAMA0,115200", "cmdline: PL011");
    expect(decide_kernel_cmdline("xconsole=ttyS0", NULL, NULL, &v), &v, VERDICT_FAIL, "no serial console",
           "cmdline: a parameter that merely ends in console=ttyS0");
    const char *got = "root=/dev/vda rw console=ttyS0 kiln.note=\"a b\" quiet";
    expect(decide_kernel_cmdline(got, "quiet kiln.note=\"a b\"", "qemu.append", &v), &v, VERDICT_PASS, NULL,
           "cmdline: each word asked for is a parameter, a quoted one whole");
    expect(decide_kernel_cmdline(got, "quiet  loglevel=3", "qemu.append", &v), &v, VERDICT_FAIL,
           "/proc/cmdline lacks \"loglevel=3\" from qemu.append; it is: root=/dev/vda rw console=ttyS0 kiln.note=\"a b\" quiet",
           "cmdline: a word asked for is missing");
    expect(decide_kernel_cmdline("root=/dev/vda \"quiet console=ttyS0\"", "quiet", "qemu.append", &v), &v, VERDICT_FAIL,
           "lacks \"quiet\" from qemu.append", "cmdline: a word inside a quoted parameter is not that parameter");
    expect(decide_kernel_cmdline("console=ttyS0 \"unterminated quote", "", "qemu.append", &v), &v, VERDICT_PASS, NULL,
           "cmdline: an unterminated quote runs to the end, the console before it counts");
}

/* The policy decides what "nothing to examine" becomes. */
static void test_nothing_policy(void)
{
    char dir[] = "/tmp/kiln-test-suites-XXXXXX";
    if (!ok(mkdtemp(dir) != NULL, "temp dir")) return;
    _cleanup_free_ char *strict = path_join(dir, "strict.yml"), *odd = path_join(dir, "odd.yml");
    write_file_atomic(strict, "cases: { nothing_to_examine: fail }\n", 36, 0644);
    write_file_atomic(odd, "cases: { nothing_to_examine: maybe }\n", 37, 0644);
    const char *policies[] = {NULL, strict, odd};
    const int want[] = {CASE_SKIP, CASE_FAIL, CASE_FAIL};
    const char *reason[] = {"nothing to examine: no NIC", "nothing to examine: no NIC (policy: cases.nothing_to_examine is fail)",
                            "cases.nothing_to_examine is \"maybe\", expected skip or fail"};
    for (size_t i = 0; i < 3; i++) {
        struct kiln_runbook rb = {.policy = (char *)policies[i]};
        struct kiln_platform_ctx plat = {.rb = &rb};
        struct kiln_result res = {0};
        struct kiln_case_ctx t = {.plat = &plat, .res = &res};
        struct verdict v = {0};
        verdict_set(&v, VERDICT_NOTHING, "no NIC");
        is_int(case_verdict(&t, &v), want[i], "nothing to examine: the policy's choice");
        has(res.reason ? res.reason : "", reason[i], "nothing to examine: the reason");
        free(res.reason);
    }
    unlink(strict);
    unlink(odd);
    rmdir(dir);
}

/* canned facts of a machine of debian-update (examples/update-images.sh) after update attempts */
static void test_update(void)
{
    struct verdict v = {0};
    const char *h1 = "3f2a000000000000000000000000000000000000000000000000000000000001";
    const char *h0 = "9c1e000000000000000000000000000000000000000000000000000000000000";
    char os1[] = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nIMAGE_ID=debian-update\nIMAGE_VERSION=1.0.1\n";
    char os0[] = "ID=debian\nIMAGE_ID=debian-update\nIMAGE_VERSION=\"1.0.0\"\n";
    char cmd1[512], cmd0[512];
    snprintf(cmd1, sizeof cmd1, "initrd=\\debian-update\\1.0.1\\initrd usrhash=%s systemd.verity_usr_data=PARTUUID=aa console=ttyS0\n", h1);
    snprintf(cmd0, sizeof cmd0, "usrhash=%s console=ttyS0\n", h0);
    struct update_facts f = {.os_release = os1, .cmdline = cmd1, .entries = "debian-update-6.1.0-57-amd64.conf\ndebian-update-1.0.1.conf\n"};
    expect(decide_update_applied("debian-update", "1.0.1", h1, &f, &v), &v, VERDICT_PASS, "blessed entry debian-update-1.0.1.conf",
           "apply: new version, its root hash, blessed");
    f.entries = "debian-update-6.1.0-57-amd64.conf\ndebian-update-1.0.1+2-1.conf\n";
    expect(decide_update_applied("debian-update", "1.0.1", h1, &f, &v), &v, VERDICT_FAIL,
           "its entry debian-update-1.0.1+2-1.conf still counts tries: it was not blessed", "apply: booted but not blessed");
    f.entries = "debian-update-1.0.10.conf\n";
    expect(decide_update_applied("debian-update", "1.0.1", h1, &f, &v), &v, VERDICT_FAIL, "no loader entry debian-update-1.0.1.conf",
           "apply: 1.0.10's entry is not 1.0.1's");
    f.entries = "debian-update-1.0.1.conf\n";
    f.cmdline = cmd0;
    expect(decide_update_applied("debian-update", "1.0.1", h1, &f, &v), &v, VERDICT_FAIL,
           "/proc/cmdline has usrhash=9c1e", "apply: the old root hash on the command line");
    f.os_release = os0, f.cmdline = cmd1;
    expect(decide_update_applied("debian-update", "1.0.1", h1, &f, &v), &v, VERDICT_FAIL,
           "/etc/os-release says IMAGE_VERSION=1.0.0 after the update, not 1.0.1", "apply: still the old version (quoted value)");
    f.os_release = "ID=debian\n";
    expect(decide_update_applied("debian-update", "1.0.1", h1, &f, &v), &v, VERDICT_FAIL, "IMAGE_VERSION=(none)",
           "apply: an os-release without IMAGE_VERSION");

    const char *m = "0123456789abcdef0123456789abcdef";
    struct update_failure fails[] = {{.machine = "ffff", .version = "1.0.0", .target = "1.0.2", .errorcode = 20},
                                     {.machine = m, .version = "1.0.0", .target = "1.0.2", .errorcode = 20}};
    f = (struct update_facts){.os_release = os0, .cmdline = cmd0,
                              .entries = "debian-update-6.1.0-57-amd64.conf\ndebian-update-1.0.2+0-3.conf\n"};
    expect(decide_update_rolled_back("debian-update", "1.0.0", "1.0.2", &f, m, fails, 2, true, "1 failure events on 1.0.2", &v), &v,
           VERDICT_PASS, "error 20 recorded, rollout paused: 1 failure events on 1.0.2", "rollback: fell back, recorded, paused");
    expect(decide_update_rolled_back("debian-update", "1.0.0", "1.0.2", &f, m, fails, 2, false, "", &v), &v, VERDICT_FAIL,
           "did not pause", "rollback: the rollout kept going");
    expect(decide_update_rolled_back("debian-update", "1.0.0", "1.0.2", &f, m, fails, 1, true, "", &v), &v, VERDICT_FAIL,
           "recorded no failure of 1.0.2 from machine 0123", "rollback: another machine's failure is not this one's");
    fails[1].errorcode = 14;
    expect(decide_update_rolled_back("debian-update", "1.0.0", "1.0.2", &f, m, fails, 2, true, "", &v), &v, VERDICT_FAIL,
           "error code 14, not 20", "rollback: the wrong error code");
    fails[1].errorcode = 20;
    f.entries = "debian-update-1.0.2+1-2.conf\n";
    expect(decide_update_rolled_back("debian-update", "1.0.0", "1.0.2", &f, m, fails, 2, true, "", &v), &v, VERDICT_FAIL,
           "still has tries left", "rollback: tries left");
    f.entries = "", f.os_release = os1;
    expect(decide_update_rolled_back("debian-update", "1.0.0", "1.0.2", &f, m, fails, 2, true, "", &v), &v, VERDICT_FAIL,
           "the machine runs 1.0.1, not 1.0.0", "rollback: not back on the old version");

    struct update_failure refused[] = {{.machine = m, .version = "1.0.0", .target = "1.0.1", .errorcode = 13}};
    f = (struct update_facts){.os_release = os0, .cmdline = cmd0, .entries = "debian-update-6.1.0-57-amd64.conf\n"};
    expect(decide_update_refused("debian-update", "1.0.0", "1.0.1", 13, &f, m, refused, 1, &v), &v, VERDICT_PASS,
           "refused with error 13", "tampered: refused, reported");
    expect(decide_update_refused("debian-update", "1.0.0", "1.0.1", 12, &f, m, refused, 1, &v), &v, VERDICT_FAIL,
           "reported error code 13 for 1.0.1, not 12", "tampered: another error code");
    expect(decide_update_refused("debian-update", "1.0.0", "1.0.1", 13, &f, m, refused, 0, &v), &v, VERDICT_FAIL,
           "recorded no failure", "tampered: nothing reported");
    f.entries = "debian-update-1.0.1+3.conf\n";
    expect(decide_update_refused("debian-update", "1.0.0", "1.0.1", 13, &f, m, refused, 1, &v), &v, VERDICT_FAIL,
           "the loader entry debian-update-1.0.1+3.conf points at the refused 1.0.1", "tampered: an entry points at it");

    f = (struct update_facts){.os_release = os0, .cmdline = cmd0, .entries = "debian-update-6.1.0-57-amd64.conf\n"};
    const char *said = "kiln-updater: checked http://10.0.2.2:40000/v1/update/: running 1.0.0, offered 1.0.1 (auto: false, not applied)\n";
    expect(decide_update_opted_out("debian-update", "1.0.0", "1.0.1", &f, said, &v), &v, VERDICT_PASS, "not applied (auto: false)",
           "opt-out: offered, not applied");
    expect(decide_update_opted_out("debian-update", "1.0.0", "1.0.1", &f, "kiln-updater: checked ...: running 1.0.0, noupdate\n", &v),
           &v, VERDICT_SKIP, "the check did not happen", "opt-out: nothing offered cannot decide");
    f.entries = "debian-update-1.0.1+3.conf\n";
    expect(decide_update_opted_out("debian-update", "1.0.0", "1.0.1", &f, said, &v), &v, VERDICT_FAIL,
           "with auto: false the updater wrote the entry", "opt-out: an entry written");
}

int main(void)
{
    ok(near(parse_systemd_duration("1.234s"), 1.234), "seconds");
    ok(near(parse_systemd_duration("345ms"), 0.345), "milliseconds");
    ok(near(parse_systemd_duration("1min 2.5s"), 62.5), "minutes and seconds");
    ok(near(parse_systemd_duration("2h 3min"), 7380), "hours and minutes");
    ok(near(parse_systemd_duration("12us"), 12e-6), "microseconds");
    ok(parse_systemd_duration("") < 0, "empty is garbage");
    ok(parse_systemd_duration("5 parsecs") < 0, "unknown unit is garbage");
    /* hostile guest output: "infs" became an infinite metric that results.json dropped the value of */
    ok(parse_systemd_duration("infs") < 0 && parse_systemd_duration("nanms") < 0, "inf and nan are garbage");
    ok(parse_systemd_duration("1e400s") < 0 && parse_systemd_duration("0x10s") < 0 && parse_systemd_duration("-5s") < 0,
       "exponents, hex and signs are garbage (systemd prints none)");
    ok(parse_systemd_duration("1.5s 1e3ms") < 0, "... in any part");
    {
        struct kiln_platform_ctx plat = {0};
        struct kiln_result res = {0};
        struct kiln_case_ctx t = {.plat = &plat, .res = &res};
        case_metric(&t, "seq_write_mbps", NAN, "MB/s");
        case_metric(&t, "boot_kernel", INFINITY, "s");
        case_metric(&t, "boot_total", 3.5, "s");
        ok(res.nmetrics == 1 && !strcmp(res.metrics[0].name, "boot_total"), "a metric that is not finite is not kept");
        is_int(case_metric_check(&t, "clock_drift_abs", NAN, "s", 1.0, false), CASE_FAIL, "nor passes a threshold");
        has(res.reason ? res.reason : "", "clock_drift_abs = nan s: not a finite number", "and says why");
        ok(res.nmetrics == 1, "and is not kept either");
        for (size_t i = 0; i < res.nmetrics; i++) free(res.metrics[i].name), free(res.metrics[i].unit);
        free(res.metrics);
        free(res.reason);
    }
    const char *hv = "listening=5201\nbytes=104857600\nsha256=ab12\nxbytes=1\n";
    _cleanup_free_ char *b = helper_value(hv, "bytes"), *h = helper_value(hv, "sha256"), *none = helper_value(hv, "byte");
    is_str(b, "104857600", "helper_value reads a key=value line");
    is_str(h, "ab12", "helper_value: last line");
    ok(!none && !helper_value(NULL, "bytes"), "helper_value: no partial keys, NULL output");
    test_common();
    test_accounts();
    test_sshd();
    test_credentials();
    test_filesystem();
    test_repos();
    test_network();
    test_kernel();
    test_storage();
    test_packages();
    test_lifecycle();
    test_kernel_cmdline();
    test_nothing_policy();
    test_update();
    return tap_done();
}
