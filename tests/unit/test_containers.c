/* Area containers' decisions and verify_iscsi_login's from canned guest output (the detection
 * and facts commands' lines, kiln-guest ctr-probe and hog, the kernel's memory cgroup OOM
 * report as Linux 6.1 prints it, open-iscsi 2.1.8's iscsiadm), each a pass, a failure naming
 * its evidence and what cannot be decided; and the OCI image archive kiln loads into a
 * runtime, read back with libarchive: every digest names the bytes it points at. */
#include <archive.h>
#include <errno.h>
#include <signal.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/oci_archive.h"
#include "model/arch.h"
#include "platform/iscsi.h"
#include "suites/common.h"
#include "suites/decide_containers.h"
#include "tap.h"
#include "verdicts.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/util.h"

static void test_runtime(void)
{
    struct verdict v = {0};
    enum ctr_runtime rt;
    struct gcap c = cap(0, "ctr\ndocker=0 docker_daemon=0 podman=0 ctr=1 containerd_sock=1\n", NULL);
    expect(decide_container_runtime(&c, &rt, &v), &v, VERDICT_PASS, "ctr", "runtime: containerd alone");
    is_int(rt, RUNTIME_CONTAINERD, "runtime: containerd is ctr");
    c = cap(0, "podman\ndocker=0 docker_daemon=0 podman=1 ctr=0 containerd_sock=0\n", NULL);
    expect(decide_container_runtime(&c, &rt, &v), &v, VERDICT_PASS, NULL, "runtime: podman");
    is_int(rt, RUNTIME_PODMAN, "runtime: podman is podman");
    c = cap(0, "docker\ndocker=1 docker_daemon=1 podman=0 ctr=1 containerd_sock=1\n", NULL);
    expect(decide_container_runtime(&c, &rt, &v), &v, VERDICT_PASS, NULL, "runtime: docker over its containerd");
    is_int(rt, RUNTIME_DOCKER, "runtime: docker first");
    c = cap(0, "none\ndocker=0 docker_daemon=0 podman=0 ctr=1 containerd_sock=0\n", NULL);
    expect(decide_container_runtime(&c, &rt, &v), &v, VERDICT_FAIL,
           "ctr is installed but /run/containerd/containerd.sock is not a socket", "runtime: containerd not running");
    is_int(rt, RUNTIME_STOPPED, "runtime: installed but stopped when the socket is missing");
    c = cap(0, "none\ndocker=1 docker_daemon=0 podman=0 ctr=0 containerd_sock=0\n", NULL);
    expect(decide_container_runtime(&c, &rt, &v), &v, VERDICT_FAIL, "its daemon does not answer", "runtime: dockerd down");
    c = cap(0, "none\ndocker=0 docker_daemon=0 podman=0 ctr=0 containerd_sock=0\n", NULL);
    expect(decide_container_runtime(&c, &rt, &v), &v, VERDICT_NOTHING, "no container runtime", "runtime: none at all");
    /* "xctr=1" is not ctr=1 */
    c = cap(0, "none\nxctr=1\n", NULL);
    expect(decide_container_runtime(&c, &rt, &v), &v, VERDICT_NOTHING, NULL, "runtime: whole words only");
    c = cap(0, "rkt\n", NULL);
    expect(decide_container_runtime(&c, &rt, &v), &v, VERDICT_SKIP, "printed \"rkt\"", "runtime: unknown output");
    c = cap(127, "", "sh: 1: syntax error");
    expect(decide_container_runtime(&c, &rt, &v), &v, VERDICT_SKIP, "syntax error", "runtime: detection failed");
}

static void test_run(void)
{
    struct verdict v = {0};
    struct gcap load = cap(0, "unpacking docker.io/kiln/probe:1 (sha256:ab...)...done\n", NULL);
    struct gcap run = cap(3, "kiln-container 42-7\n", NULL);
    expect(decide_container_run(&load, &run, 3, "42-7", &v), &v, VERDICT_PASS, "exited 3", "run: token and status");
    run = cap(0, "kiln-container 42-7\n", NULL);
    expect(decide_container_run(&load, &run, 3, "42-7", &v), &v, VERDICT_FAIL, "expected exit status 3",
           "run: the runtime swallowed the exit status");
    run = cap(3, "kiln-container 42-77\n", NULL);
    expect(decide_container_run(&load, &run, 3, "42-7", &v), &v, VERDICT_FAIL, "did not print \"kiln-container 42-7\"",
           "run: another token is not ours");
    run = cap(1, "", "ctr: failed to create shim task: OCI runtime create failed: runc create failed");
    expect(decide_container_run(&load, &run, 3, "42-7", &v), &v, VERDICT_FAIL, "runc create failed",
           "run: runc's error is the evidence");
    load = cap(1, "", "ctr: content digest sha256:00: not found");
    expect(decide_container_run(&load, &run, 3, "42-7", &v), &v, VERDICT_FAIL,
           "loading the image archive into the runtime exited 1: ctr: content digest", "run: a failed import");
}

static const char host_probe[] = "pid=812\nns.pid=pid:[4026531836]\nns.mnt=mnt:[4026531841]\nns.net=net:[4026531840]\n"
                                 "ns.uts=uts:[4026531838]\nns.cgroup=cgroup:[4026531835]\nhostname=kiln-container-host\n"
                                 "root_fs=ext4\ncgroup=/user.slice\nmemory.max=max\ncpu.max=max 100000\n";
static const char ctr_probe[] = "pid=1\nns.pid=pid:[4026532205]\nns.mnt=mnt:[4026532202]\nns.net=net:[4026532207]\n"
                                "ns.uts=uts:[4026532203]\nns.cgroup=cgroup:[4026532206]\nhostname=kiln-1\n"
                                "root_fs=overlay\ncgroup=/\nmemory.max=67108864\ncpu.max=50000 100000\n";

static void test_isolation(void)
{
    struct verdict v = {0};
    struct gcap c = cap(0, ctr_probe, NULL);
    expect(decide_container_isolation(host_probe, &c, 67108864, "50000 100000", &v), &v, VERDICT_PASS,
           "memory.max 67108864", "isolation: all of it");
    /* --net-host: the network namespace is the guest's */
    _cleanup_free_ char *shared = xstrdup(ctr_probe);
    memcpy(strstr(shared, "net:[4026532207]"), "net:[4026531840]", 16);
    c = cap(0, shared, NULL);
    expect(decide_container_isolation(host_probe, &c, 67108864, "50000 100000", &v), &v, VERDICT_FAIL,
           "shares the guest's net namespace (net:[4026531840])", "isolation: a shared network namespace");
    /* cgroup v1 or no memory controller: the file is not there */
    c = cap(0, "pid=1\nns.pid=pid:[1]\nns.mnt=mnt:[2]\nns.net=net:[3]\nns.uts=uts:[4]\nroot_fs=overlay\ncgroup=-\n"
               "memory.max=-\ncpu.max=50000 100000\n", NULL);
    expect(decide_container_isolation(host_probe, &c, 67108864, "50000 100000", &v), &v, VERDICT_FAIL,
           "memory.max of its cgroup (-) is -, expected 67108864", "isolation: no memory.max");
    c = cap(0, "pid=7\nns.pid=pid:[1]\nns.mnt=mnt:[2]\nns.net=net:[3]\nns.uts=uts:[4]\nroot_fs=vfs\ncgroup=/\n"
               "memory.max=67108864\ncpu.max=max 100000\n", NULL);
    expect(decide_container_isolation(host_probe, &c, 67108864, "50000 100000", &v), &v, VERDICT_FAIL,
           "its process is pid 7, not 1 of its own PID namespace, cpu.max of its cgroup is \"max 100000\", expected "
           "\"50000 100000\", its root is on vfs, expected overlay", "isolation: every finding named");
    c = cap(125, "", "Error: OCI runtime error: crun: opening file `memory.max` for writing: No such file");
    expect(decide_container_isolation(host_probe, &c, 67108864, "50000 100000", &v), &v, VERDICT_FAIL,
           "the probe container exited 125: Error: OCI runtime error", "isolation: the runtime refused the limit");
}

static const char kmsg_memcg[] =
    "[  301.5] kiln-oom-mark 42-7\n"
    "[  305.1] kiln-guest invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"
    "[  305.2] memory: usage 65536kB, limit 65536kB, failcnt 37\n"
    "[  305.3] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=kiln-42-7,mems_allowed=0,"
    "oom_memcg=/kiln/kiln-42-7,task_memcg=/kiln/kiln-42-7,task=kiln-guest,pid=1419,uid=0\n"
    "[  305.4] Memory cgroup out of memory: Killed process 1419 (kiln-guest) total-vm:66800kB, anon-rss:64324kB, "
    "file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:176kB oom_score_adj:0\n";

static void test_oom(void)
{
    struct verdict v = {0};
    struct gcap hog = cap(137, "hog=1\nhog=2\nhog=61\nhog=62\n", NULL);
    expect(decide_container_oom(&hog, 64, 256, kmsg_memcg, "cpuset cpu io memory pids\n", &v), &v, VERDICT_PASS,
           "after 62 of 256 MiB (limit 64 MiB): [  305.4] Memory cgroup out of memory: Killed process 1419 (kiln-guest)",
           "oom: killed inside its cgroup");
    hog = cap(0, "hog=1\nhog=255\nhog=256\nhog done=256\n", NULL);
    expect(decide_container_oom(&hog, 64, 256, "", "cpuset cpu io pids\n", &v), &v, VERDICT_FAIL,
           "allocated 256 of 256 MiB under a 64 MiB memory limit and exited 0: the limit is not enforced (the memory "
           "controller is not enabled: /sys/fs/cgroup/cgroup.controllers is \"cpuset cpu io pids\")",
           "oom: cgroup_disable=memory");
    hog = cap(137, "hog=1\nhog=200\n", NULL);
    expect(decide_container_oom(&hog, 64, 256, kmsg_memcg, "memory\n", &v), &v, VERDICT_FAIL,
           "reached 200 MiB before it was killed, over its 64 MiB limit", "oom: killed far past the limit");
    hog = cap(137, "hog=1\nhog=60\n", NULL);
    expect(decide_container_oom(&hog, 64, 256,
                                "Out of memory: Killed process 1419 (kiln-guest) total-vm:66800kB\n", "memory", &v),
           &v, VERDICT_FAIL, "the guest's global OOM killer ended the container", "oom: the global OOM killer");
    expect(decide_container_oom(&hog, 64, 256, "[  301.5] kiln-oom-mark 42-7\n", "memory", &v), &v, VERDICT_FAIL,
           "shows no memory cgroup OOM kill of kiln-guest", "oom: killed by something else");
    /* hostile counts: a negative or shrinking one passed as "after -5 of 256 MiB" or hid 300 MiB */
    hog = cap(137, "hog=1\nhog=-5\n", NULL);
    expect(decide_container_oom(&hog, 64, 256, kmsg_memcg, "memory", &v), &v, VERDICT_SKIP,
           "cannot decide: the memory hog printed hog=-5 after hog=1 (its count of MiB only grows)", "oom: a negative count");
    hog = cap(137, "hog=1\nhog=300\nhog=10\n", NULL);
    expect(decide_container_oom(&hog, 64, 256, kmsg_memcg, "memory", &v), &v, VERDICT_SKIP,
           "printed hog=10 after hog=300", "oom: a count that shrinks");
    hog = cap(137, "hog=1\nhog=99999999999999999999\nhog=60\n", NULL);
    expect(decide_container_oom(&hog, 64, 256, kmsg_memcg, "memory", &v), &v, VERDICT_PASS, "after 60 of 256 MiB",
           "oom: a count past a long is not a count");
    hog = cap(1, "", "ctr: failed to create shim task: cannot set memory limit");
    expect(decide_container_oom(&hog, 64, 256, "", "cpu io pids", &v), &v, VERDICT_FAIL,
           "the memory hog exited 1: ctr: failed to create shim task: cannot set memory limit after 0 MiB",
           "oom: the limit could not be set");
}

static const char facts_ok[] = "swaps=0\nswap_ok=0\nbridge_nf=1\nip_forward=1\ncgroup_fs=cgroup2fs\n"
                               "cri_socket=/run/containerd/containerd.sock\ncgroup_driver=systemd\n";

static void test_kubelet(void)
{
    struct verdict v = {0};
    expect(decide_kubelet_prerequisites(facts_ok, RUNTIME_CONTAINERD, false, &v), &v, VERDICT_PASS,
           "swap off, br_netfilter with bridge-nf-call-iptables 1, ip_forward 1, cgroup v2, systemd cgroup driver, CRI "
           "socket /run/containerd/containerd.sock", "kubelet: a container host");
    expect(decide_kubelet_prerequisites("swaps=1\nswap_ok=1\nbridge_nf=1\nip_forward=1\ncgroup_fs=cgroup2fs\n"
                                        "cri_socket=/run/containerd/containerd.sock\ncgroup_driver=systemd\n",
                                        RUNTIME_CONTAINERD, false, &v),
           &v, VERDICT_PASS, "swap configured", "kubelet: swap with failSwapOn: false");
    expect(decide_kubelet_prerequisites("swaps=1\nswap_ok=0\nbridge_nf=absent\nip_forward=0\ncgroup_fs=tmpfs\n"
                                        "cri_socket=/run/containerd/containerd.sock\ncgroup_driver=cgroupfs\n",
                                        RUNTIME_CONTAINERD, false, &v),
           &v, VERDICT_FAIL,
           "kubelet prerequisites not met: swap is on (1 area(s) in /proc/swaps) and kubelet is not configured for it "
           "(failSwapOn: false), net.bridge.bridge-nf-call-iptables is missing: br_netfilter is not loaded, "
           "net.ipv4.ip_forward is 0, expected 1 (pods are routed through the node), /sys/fs/cgroup is tmpfs, expected "
           "cgroup2fs (cgroup v2), the runtime's cgroup driver is cgroupfs, expected systemd (kubelet's cgroupDriver)",
           "kubelet: every unmet prerequisite named");
    expect(decide_kubelet_prerequisites("swaps=0\nswap_ok=0\nbridge_nf=0\nip_forward=1\ncgroup_fs=cgroup2fs\n"
                                        "cri_socket=none\ncgroup_driver=systemd\n", RUNTIME_PODMAN, false, &v),
           &v, VERDICT_FAIL, "bridge-nf-call-iptables is 0, expected 1, no CRI socket", "kubelet: podman has no CRI");
    expect(decide_kubelet_prerequisites("swaps=0\nswap_ok=0\nbridge_nf=absent\nip_forward=0\ncgroup_fs=cgroup2fs\n"
                                        "cri_socket=none\ncgroup_driver=unknown\n", RUNTIME_NONE, false, &v),
           &v, VERDICT_NOTHING, "not a kubelet node", "kubelet: no runtime, nothing to examine");
    expect(decide_kubelet_prerequisites("swaps=0\nswap_ok=0\nbridge_nf=absent\nip_forward=0\ncgroup_fs=cgroup2fs\n"
                                        "cri_socket=none\ncgroup_driver=unknown\n", RUNTIME_NONE, true, &v),
           &v, VERDICT_FAIL, "the policy says it is a kubelet node", "kubelet: the container-host profile requires one");
    expect(decide_kubelet_prerequisites("swaps=0\nswap_ok=0\nbridge_nf=1\nip_forward=0\ncgroup_fs=cgroup2fs\n"
                                        "cri_socket=none\ncgroup_driver=systemd\n", RUNTIME_STOPPED, true, &v),
           &v, VERDICT_FAIL, "net.ipv4.ip_forward is 0, expected 1 (pods are routed through the node), no CRI socket",
           "kubelet: containerd installed but stopped: each prerequisite still named");
    expect(decide_kubelet_prerequisites("swaps=0\nswap_ok=0\n", RUNTIME_CONTAINERD, false, &v), &v, VERDICT_SKIP,
           "no bridge_nf= line", "kubelet: output cut short");
}

#define IQN "iqn.2026-01.dev.kiln:env0"
#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SHB "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define HEAD                                                                                                          \
    "@step discover 0\n127.0.0.1:41234,1 " IQN "\n"                                                                   \
    "@step login 0\nLogging in to [iface: default, target: " IQN ", portal: 10.0.2.2,41234]\n"                        \
    "Login to [iface: default, target: " IQN ", portal: 10.0.2.2,41234] successful.\n"                                \
    "@step device 0\n/dev/sda\n@step partition 0\nsectors=524288\n/dev/sda1\n@step mkfs 0\n@step mount 0\n"
#define HEAD_TO_PARTITION "@step discover 0\n127.0.0.1:41234,1 " IQN "\n@step login 0\n\n@step device 0\n/dev/sda\n"
#define TAIL                                                                                                          \
    "@step logout 0\nLogging out of session [sid: 1, target: " IQN ", portal: 10.0.2.2,41234]\n"                      \
    "Logout of [sid: 1, target: " IQN ", portal: 10.0.2.2,41234] successful.\n@step sessions 0\n"

static void test_iscsi(void)
{
    struct verdict v = {0};
    expect(decide_iscsi_login(HEAD "@step write 0\n" SHA "  -\n@step remount 0\n@step read 0\n" SHA "  -\n" TAIL, IQN,
                              &v),
           &v, VERDICT_PASS, "discovered " IQN ", logged in, partitioned, formatted, wrote and read back data (SHA-256 "
                             "9f86d081884c7d65...), logged out", "iscsi: the whole round");
    expect(decide_iscsi_login(HEAD "@step write 0\n" SHA "  -\n@step remount 0\n@step read 0\n" SHB "  -\n" TAIL, IQN,
                              &v),
           &v, VERDICT_FAIL, "the LUN returned other data: SHA-256 " SHB " read back after a remount, " SHA " written",
           "iscsi: a LUN that loses writes");
    expect(decide_iscsi_login("@step discover 0\n127.0.0.1:41234,1 " IQN "\n@step login 0\n\n@step device 0\n/dev/sda\n"
                              "@step partition 1\nmbr on /dev/disk/by-path/ip-10.0.2.2:41234-iscsi-" IQN "-lun-1: "
                              "Operation not permitted\n" TAIL, IQN, &v),
           &v, VERDICT_FAIL, "iSCSI partition failed (exit 1): mbr on /dev/disk/by-path/", "iscsi: a read-only LUN");
    expect(decide_iscsi_login(HEAD_TO_PARTITION "@step partition 1\npartition_start=2048\npartition_sectors=522240\n"
                              "rereadpt=ok\nno /dev/disk/by-path/ip-10.0.2.2:41234-iscsi-" IQN "-lun-1-part1 after 30 s\n"
                              TAIL, IQN, &v),
           &v, VERDICT_FAIL, "iSCSI partition failed (exit 1): partition_start=2048 / partition_sectors=522240 / "
           "rereadpt=ok / no /dev/disk/by-path/", "iscsi: a LUN that loses the partition table, the step's output named");
    expect(decide_iscsi_login(HEAD "@step write 0\n" SHA "  -\n@step remount 32\nmount: /run/kiln-iscsi: wrong fs type, "
                              "bad option, bad superblock on /dev/sda1.\n       dmesg(1) may have more information after "
                              "failed mount system call.\n" TAIL, IQN, &v),
           &v, VERDICT_FAIL, "iSCSI remount failed (exit 32): mount: /run/kiln-iscsi: wrong fs type, bad option, bad "
           "superblock on /dev/sda1. / dmesg(1) may have", "iscsi: mount's error, not only its closing hint");
    expect(decide_iscsi_login("@step discover 21\niscsiadm: cannot make connection to 10.0.2.2: Connection refused\n"
                              "@step logout 0\nnever logged in\n@step sessions 0\niscsiadm: No active sessions.\n", IQN, &v),
           &v, VERDICT_FAIL, "iSCSI discover failed (exit 21): iscsiadm: cannot make connection", "iscsi: no target");
    expect(decide_iscsi_login("@step discover 0\n127.0.0.1:41234,1 iqn.2026-01.dev.kiln:other\n", IQN, &v), &v,
           VERDICT_FAIL, "discovery did not list the target " IQN, "iscsi: another target");
    expect(decide_iscsi_login(HEAD "@step write 0\n" SHA "  -\n@step remount 0\n@step read 0\n" SHA "  -\n"
                              "@step logout 0\n@step sessions 0\ntcp: [1] 10.0.2.2:41234,1 " IQN " (non-flash)\n", IQN, &v),
           &v, VERDICT_FAIL, "a session to " IQN " remains after logout", "iscsi: a session left");
    expect(decide_iscsi_login(HEAD "@step write 0\n" SHA "  -\n@step remount 1\numount: /run/kiln-iscsi: target is busy\n"
                              "@step logout 8\niscsiadm: Could not logout\n@step sessions 0\n", IQN, &v),
           &v, VERDICT_FAIL, "iSCSI remount failed (exit 1): umount: /run/kiln-iscsi: target is busy; the logout failed "
                             "too (exit 8)", "iscsi: a failed logout is named too");
    expect(decide_iscsi_login(HEAD, IQN, &v), &v, VERDICT_SKIP, "printed no write step", "iscsi: output cut short");
    expect(decide_iscsi_login("", IQN, &v), &v, VERDICT_SKIP, "printed no discover step", "iscsi: no output");
}

/* The archive's members by name (data allocated), read with libarchive. */
struct member {
    char *name;
    char *data;
    size_t len;
    unsigned mode;
};

static size_t read_members(const char *path, struct member *m, size_t max)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    size_t n = 0;
    if (archive_read_open_filename(a, path, 10240) != ARCHIVE_OK) return archive_read_free(a), 0;
    struct archive_entry *e;
    while (n < max && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        m[n].name = xstrdup(archive_entry_pathname(e));
        m[n].len = (size_t)archive_entry_size(e);
        m[n].mode = archive_entry_perm(e);
        m[n].data = xmalloc(m[n].len + 1);
        m[n].data[archive_read_data(a, m[n].data, m[n].len) < 0 ? 0 : m[n].len] = 0;
        n++;
    }
    archive_read_free(a);
    return n;
}

static const struct member *member(const struct member *m, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (streq(m[i].name, name)) return &m[i];
    return NULL;
}

static char *sha256_of(const void *data, size_t len)
{
    unsigned char md[32];
    EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
    struct sbuf b = {0};
    sbuf_puts(&b, "sha256:");
    for (int i = 0; i < 32; i++) sbuf_printf(&b, "%02x", md[i]);
    return sbuf_steal(&b);
}

/* The blob a descriptor names, checked against its digest and size. */
static const struct member *blob(const struct member *m, size_t n, json_t *desc, const char *what)
{
    const char *digest = json_string_value(json_object_get(desc, "digest"));
    _cleanup_free_ char *path = xasprintf("blobs/sha256/%s", digest ? digest + 7 : "?");
    const struct member *b = member(m, n, path);
    ok(b != NULL, "oci: the %s blob %s is in the archive", what, path);
    if (!b) return NULL;
    _cleanup_free_ char *got = sha256_of(b->data, b->len);
    is_str(got, digest, what);
    is_int(json_integer_value(json_object_get(desc, "size")), b->len, what);
    return b;
}

static void test_oci_archive(void)
{
    char dir[] = "/tmp/kiln-test-oci.XXXXXX";
    if (!mkdtemp(dir)) return;
    static const char bin[] = "\177ELF not really, but bytes";
    struct oci_file f = {"bin/kiln-guest", bin, sizeof bin - 1, 0755};
    _cleanup_free_ char *one = path_join(dir, "one.tar"), *two = path_join(dir, "two.tar");
    char cfg[72], cfg2[72];
    _cleanup_free_ char *why = NULL;
    is_int(oci_archive_write(one, "docker.io/kiln/probe:1", "amd64", &f, 1, cfg, &why), 0, "oci: written");
    is_int(oci_archive_write(two, "docker.io/kiln/probe:1", "amd64", &f, 1, cfg2, &why), 0, "oci: again");
    _cleanup_free_ char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    read_file(one, 1 << 20, &a, &al);
    read_file(two, 1 << 20, &b, &bl);
    ok(al > 0 && al == bl && !memcmp(a, b, al), "oci: the same files give the same bytes (%zu)", al);
    is_str(cfg, cfg2, "oci: the same config digest");

    struct member m[16] = {0};
    size_t n = read_members(one, m, 16);
    const struct member *layout = member(m, n, "oci-layout"), *index = member(m, n, "index.json");
    ok(layout && strstr(layout->data, "\"imageLayoutVersion\":\"1.0.0\""), "oci: oci-layout 1.0.0");
    json_t *ix = index ? json_loads(index->data, 0, NULL) : NULL;
    json_t *md = json_array_get(json_object_get(ix, "manifests"), 0);
    is_str(json_string_value(json_object_get(json_object_get(md, "annotations"), "io.containerd.image.name")),
           "docker.io/kiln/probe:1", "oci: containerd's name annotation");
    is_str(json_string_value(json_object_get(json_object_get(md, "platform"), "architecture")), "amd64",
           "oci: the platform");
    const struct member *mb = blob(m, n, md, "manifest");
    json_t *man = mb ? json_loads(mb->data, 0, NULL) : NULL;
    const struct member *cb = blob(m, n, json_object_get(man, "config"), "config");
    json_t *layer_desc = json_array_get(json_object_get(man, "layers"), 0);
    is_str(json_string_value(json_object_get(layer_desc, "mediaType")), "application/vnd.oci.image.layer.v1.tar",
           "oci: an uncompressed layer");
    const struct member *lb = blob(m, n, layer_desc, "layer");
    json_t *conf = cb ? json_loads(cb->data, 0, NULL) : NULL;
    _cleanup_free_ char *cfg_digest = cb ? sha256_of(cb->data, cb->len) : NULL;
    is_str(cfg, cfg_digest ? cfg_digest : "", "oci: the config digest handed back is the config blob's");
    _cleanup_free_ char *ld = lb ? sha256_of(lb->data, lb->len) : NULL;
    is_str(json_string_value(json_array_get(json_object_get(json_object_get(conf, "rootfs"), "diff_ids"), 0)),
           ld ? ld : "", "oci: the diff_id is the uncompressed layer's digest");
    /* docker's manifest.json names the same blobs */
    const struct member *dm = member(m, n, "manifest.json");
    json_t *dj = dm ? json_loads(dm->data, 0, NULL) : NULL;
    _cleanup_free_ char *cpath = cfg_digest ? xasprintf("blobs/sha256/%s", cfg_digest + 7) : NULL;
    is_str(json_string_value(json_object_get(json_array_get(dj, 0), "Config")), cpath ? cpath : "",
           "oci: docker's Config is the config blob");
    is_str(json_string_value(json_array_get(json_object_get(json_array_get(dj, 0), "RepoTags"), 0)), "kiln/probe:1",
           "oci: docker's tag without docker.io/");
    /* the layer holds the file, executable, under its parent directory */
    if (lb) {
        _cleanup_free_ char *lp = path_join(dir, "layer.tar");
        write_file_atomic(lp, lb->data, lb->len, 0600);
        struct member l[16] = {0};
        size_t ln = read_members(lp, l, 16);
        const struct member *k = member(l, ln, "bin/kiln-guest");
        ok(k && k->len == sizeof bin - 1 && !memcmp(k->data, bin, k->len) && k->mode == 0755,
           "oci: bin/kiln-guest in the layer, 0755, its bytes");
        ok(member(l, ln, "bin/") && member(l, ln, "proc/") && member(l, ln, "dev/"), "oci: bin/, proc/, dev/ in the layer");
        for (size_t i = 0; i < ln; i++) free(l[i].name), free(l[i].data);
    }
    json_decref(ix);
    json_decref(man);
    json_decref(conf);
    json_decref(dj);
    for (size_t i = 0; i < n; i++) free(m[i].name), free(m[i].data);
    is_str(oci_goarch("x86_64"), "amd64", "oci: x86_64 is amd64");
    is_str(oci_goarch("aarch64"), "arm64", "oci: aarch64 is arm64");
    rm_rf(dir);
}

/* The target's start under a signal, with stand-ins for tgtd and tgtadm: it stops at once
 * with -EINTR and leaves no LUN file (hostile finding: SIGINT while tgtd started kept kiln
 * polling tgtadm, which cannot run once interrupted, for the whole 10 s and then reported
 * -EIO); a tgtd that exits at start is refused as well, leaving nothing. */
static void test_iscsi_start_interrupted(void)
{
    char dir[] = "/tmp/kiln-test-iscsi-XXXXXX";
    if (!ok(mkdtemp(dir) != NULL, "iscsi: a temporary directory")) return;
    _cleanup_free_ char *tgtd = path_join(dir, "tgtd"), *tgtd_exits = path_join(dir, "tgtd-exits");
    _cleanup_free_ char *tgtadm = path_join(dir, "tgtadm"), *lun = path_join(dir, "lun.img"), *log = path_join(dir, "log");
    write_file_atomic(tgtd, "#!/bin/sh\nexec sleep 30\n", 24, 0755);
    write_file_atomic(tgtd_exits, "#!/bin/sh\necho no portal\nexit 1\n", 33, 0755);
    write_file_atomic(tgtadm, "#!/bin/sh\nexit 1\n", 18, 0755);
    struct iscsi_target t;
    _cleanup_free_ char *why = NULL;
    kiln_interrupted = SIGINT;
    int r = iscsi_target_start(&t, tgtd, tgtadm, lun, 1 << 20, "iqn.2026-01.dev.kiln:t", log, &why);
    kiln_interrupted = 0;
    ok(r == -EINTR, "iscsi: a signal during tgtd's start is -EINTR (%d: %s)", r, why);
    ok(!file_exists(lun) && t.pid == 0, "iscsi: ... with no LUN file and no tgtd left");
    r = iscsi_target_start(&t, tgtd_exits, tgtadm, lun, 1 << 20, "iqn.2026-01.dev.kiln:t", log, &why);
    is_int(r, -EIO, "iscsi: a tgtd that exits at start is an error");
    has(why, "tgtd exited at start: no portal", "iscsi: ... with its output");
    ok(!file_exists(lun) && t.pid == 0, "iscsi: ... leaving nothing");
    rm_rf(dir);
}

/* tgtd's management port is one tgtd accepts (fresh-user finding: kiln picked -C ports in
 * 20000-59999, tgt 1.0.85 takes 0-32767 only, and a run's tgtd log had 19 refusals "-C argument
 * value '42111' out of range" before a launch worked): every pick, for any pid and each of the
 * 32 attempts, lies in 1000-32767, and the picks still spread (attempts differ). */
static void test_iscsi_ctl_port(void)
{
    int bad = 0, lo = 1 << 30, hi = 0;
    for (unsigned seed = 1; seed < 4194304u; seed += 7919u)
        for (int a = 0; a < 32; a++) {
            int c = iscsi_ctl_port(seed, a);
            bad += c < 1000 || c > 32767;
            lo = c < lo ? c : lo, hi = c > hi ? c : hi;
        }
    ok(bad == 0, "iscsi: every management port is in tgtd's range 1000-32767 (%d outside; seen %d-%d)", bad, lo, hi);
    ok(iscsi_ctl_port(4242, 0) != iscsi_ctl_port(4242, 1), "iscsi: a second attempt tries another port");
}

/* An ELF header's first 20 bytes: class 64-bit, the byte order, e_machine at 18. */
static char *elf_file(const char *dir, const char *name, bool big, unsigned machine)
{
    unsigned char h[64] = {0x7f, 'E', 'L', 'F', 2, big ? 2 : 1, 1};
    h[16] = big ? 0 : 2, h[17] = big ? 2 : 0;
    h[18] = (unsigned char)(big ? machine >> 8 : machine & 0xff);
    h[19] = (unsigned char)(big ? machine & 0xff : machine >> 8);
    char *p = path_join(dir, name);
    write_file_atomic(p, (const char *)h, sizeof h, 0755);
    return p;
}

/* kiln-guest for a guest's architecture, chosen by the ELF machine of each candidate (review
 * finding: the containers cases uploaded the x86_64 build to aarch64 guests and reported its
 * exec failure as the verdict). A program for another architecture is never chosen; with none
 * for the guest's the reason names each candidate and how to provide one. */
static void test_guest_helper_choice(void)
{
    char dir[] = "/tmp/kiln-test-helper-XXXXXX";
    if (!ok(mkdtemp(dir) != NULL, "helper: a temporary directory")) return;
    const struct kiln_arch *x86 = kiln_arch_find("x86_64"), *arm = kiln_arch_find("aarch64");
    _cleanup_free_ char *amd = elf_file(dir, "amd", false, 62), *a64 = elf_file(dir, "a64", false, 183);
    _cleanup_free_ char *a64be = elf_file(dir, "a64be", true, 183), *rv = elf_file(dir, "rv", false, 243);
    _cleanup_free_ char *sh = path_join(dir, "sh"), *none = path_join(dir, "none");
    write_file_atomic(sh, "#!/bin/sh\nexit 0\n-------------\n", 32, 0755);
    uint16_t m = 0;
    int rm = elf_machine_of(a64be, &m);
    ok(rm == 0 && m == 183, "helper: a big-endian header's machine (%u)", m);
    is_int(elf_machine_of(sh, &m), -ENOEXEC, "helper: a script is no ELF program");
    char *path = NULL, *why = NULL;
    const char *two[] = {amd, a64};
    ok(guest_helper_pick(arm, two, 2, &path, &why) == 0 && path && streq(path, a64), "helper: aarch64 gets the aarch64 build");
    free(path), path = NULL;
    ok(guest_helper_pick(x86, two, 2, &path, &why) == 0 && path && streq(path, amd), "helper: x86_64 gets the x86_64 build");
    free(path), path = NULL;
    const char *host_only[] = {NULL, amd};
    is_int(guest_helper_pick(arm, host_only, 2, &path, &why), -ENOEXEC, "helper: no aarch64 build is refused");
    ok(path == NULL, "helper: ... choosing nothing");
    has(why, "kiln has no kiln-guest for aarch64 guests", "helper: ... saying so");
    has(why, "amd is an x86_64 program", "helper: ... naming the wrong-arch candidate");
    has(why, "KILN_GUEST_HELPER_AARCH64", "helper: ... and how to provide one");
    free(why), why = NULL;
    const char *odd[] = {sh, rv, none};
    is_int(guest_helper_pick(arm, odd, 3, &path, &why), -ENOEXEC, "helper: no ELF, another machine, missing");
    has(why, "sh is not an ELF program", "helper: ... a script");
    has(why, "rv is a program for ELF machine 243", "helper: ... a machine kiln has no row for");
    has(why, "none cannot be read: No such file or directory", "helper: ... a missing file");
    free(why), why = NULL;
    /* the real candidates: the host's build serves x86_64 and never aarch64 */
    unsetenv("KILN_GUEST_HELPER");
    unsetenv("KILN_GUEST_HELPER_AARCH64");
    int r = guest_helper_for_arch(x86, &path, &why);
    ok(r == 0 && path && streq(path, KILN_GUEST_BUILD_PATH), "helper: x86_64 guests get the build's kiln-guest (%s)",
       path ? path : why);
    free(path), path = NULL;
    _cleanup_free_ char *arm_build = kiln_guest_file_path("kiln-guest-aarch64");
    if (!file_exists(arm_build)) {
        is_int(guest_helper_for_arch(arm, &path, &why), -ENOEXEC, "helper: the x86_64 build is not for aarch64 guests");
        has(why, KILN_GUEST_BUILD_PATH " is an x86_64 program", "helper: ... naming it");
        free(why), why = NULL;
    } else { /* meson.build's kiln-guest-aarch64, made with a cross compiler */
        r = guest_helper_for_arch(arm, &path, &why);
        ok(r == 0 && path && streq(path, arm_build), "helper: aarch64 guests get the build's kiln-guest-aarch64 (%s)",
           path ? path : why);
        rm = elf_machine_of(arm_build, &m);
        ok(rm == 0 && m == 183, "helper: ... an aarch64 program (machine %u)", m);
        free(path), path = NULL;
    }
    setenv("KILN_GUEST_HELPER_AARCH64", a64, 1);
    ok(guest_helper_for_arch(arm, &path, &why) == 0 && path && streq(path, a64), "helper: KILN_GUEST_HELPER_AARCH64 is used");
    free(path), path = NULL;
    setenv("KILN_GUEST_HELPER", a64, 1); /* the generic override, but an aarch64 program */
    is_int(guest_helper_for_arch(x86, &path, &why), -ENOEXEC, "helper: KILN_GUEST_HELPER of another arch is not run");
    has(why, "a64 is an aarch64 program", "helper: ... saying what it is");
    free(why), why = NULL;
    unsetenv("KILN_GUEST_HELPER");
    unsetenv("KILN_GUEST_HELPER_AARCH64");
    rm_rf(dir);
}

int main(void)
{
    test_runtime();
    test_run();
    test_isolation();
    test_oom();
    test_kubelet();
    test_iscsi();
    test_iscsi_start_interrupted();
    test_iscsi_ctl_port();
    test_oci_archive();
    test_guest_helper_choice();
    return tap_done();
}
