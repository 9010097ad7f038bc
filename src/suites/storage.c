/* Area storage: the root filesystem, stable device names, disks added at run time,
 * NVMe, filesystem health, swap, I/O as metrics, and an iSCSI LUN the platform serves. */
#include <errno.h>

#include "node/node.h"
#include "platform/platform.h"
#include "suites/decide.h"
#include "suites/decide_containers.h"
#include "util/timeutil.h"
#include "util/util.h"
#include "util/yaml.h"

KILN_CASE(verify_rootfs,
          .area = "storage", .priority = 1, .timeout_s = 120,
          .description = "The root filesystem is a real disk filesystem, mounted read-write, with at least 10% free",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *mnt = NULL, *df = NULL;
    if (guest_sh_ok(t, "read /proc/mounts", "awk '$2 == \"/\" {print $1, $3, $4}' /proc/mounts | tail -n 1", &mnt))
        return CASE_FAIL;
    strstrip(mnt);
    case_log(t, "root: %s", mnt);
    if (startswith(mnt, "rootfs ") || strstr(mnt, " tmpfs ") || strstr(mnt, " ramfs "))
        return case_skip(t, "the root is an initramfs (%s), not a disk filesystem", mnt);
    char dev[256], fstype[64], opts[512];
    if (sscanf(mnt, "%255s %63s %511s", dev, fstype, opts) != 3) return case_fail(t, "cannot parse the root mount: %s", mnt);
    _cleanup_free_ char *padded = xasprintf(",%s,", opts);
    if (strstr(padded, ",ro,")) return case_fail(t, "the root filesystem %s (%s) is mounted read-only", dev, fstype);
    if (guest_sh_ok(t, "df", "df -Pk / | tail -n 1", &df)) return CASE_FAIL;
    unsigned long long size = 0, used = 0, avail = 0;
    if (sscanf(df, "%*s %llu %llu %llu", &size, &used, &avail) != 3 || !size) return case_fail(t, "cannot parse df: %s", df);
    case_metric(t, "root_size", (double)size / 1048576.0, "GiB");
    case_metric(t, "root_free", (double)avail / 1048576.0, "GiB");
    return case_metric_check(t, "root_free_pct", 100.0 * (double)avail / (double)size, "%", 10, true);
}

KILN_CASE(verify_fstab_stable_names,
          .area = "storage", .priority = 1, .timeout_s = 60,
          .description = "/etc/fstab mounts by UUID, PARTUUID or LABEL, never by /dev/sdX, /dev/vdX or /dev/nvmeXnY",
          .tags = KILN_TAGS("fast"))
{
    struct gcap c;
    if (guest_capture(t, NULL, "[ -e /etc/fstab ] || exit 3; cat /etc/fstab", &c) < 0) return CASE_FAIL;
    struct verdict v = {0};
    decide_fstab(&c, &v);
    gcap_free(&c);
    return case_verdict(t, &v);
}

/* Waits for a block device whose serial is `serial`; returns "vdX" or NULL. */
static char *wait_for_disk(struct kiln_case_ctx *t, const char *serial, int seconds)
{
    _cleanup_free_ char *cmd = xasprintf(
        "for i in $(seq %d); do for s in /sys/block/*/serial; do "
        "[ \"$(cat $s 2>/dev/null)\" = '%s' ] && { d=${s%%/serial}; echo ${d##*/}; exit 0; }; done; sleep 0.5; done; exit 1",
        seconds * 2, serial);
    char *out = NULL;
    if (case_sh(t, cmd, &out) != 0) {
        free(out);
        return NULL;
    }
    strstrip(out);
    return out;
}

/* A disk kiln gave the VM empty must still be unused when a case writes to it: an image that
 * formats, mounts or swaps on whatever disk it finds would lose its data to the case, and the
 * case would measure the image's filesystem. udev settles first, so whatever the image does
 * when a disk appears has happened. Returns CASE_PASS or fails. */
static int disk_unused(struct kiln_case_ctx *t, const char *dev, const char *what)
{
    _cleanup_free_ char *probe = xasprintf(
        "command -v udevadm >/dev/null 2>&1 && udevadm settle -t 10; "
        "for p in /sys/block/%s /sys/block/%s/%s*; do [ -e \"$p/dev\" ] || continue; n=${p##*/}; m=$(cat \"$p/dev\") || exit 1; "
        "awk -v m=\"$m\" -v n=\"$n\" '$3 == m {print \"mounted /dev/\" n, $5}' /proc/self/mountinfo || exit 1; "
        "awk -v n=\"/dev/$n\" 'NR > 1 && $1 == n {print \"swap\", n}' /proc/swaps || exit 1; "
        "for h in \"$p\"/holders/*; do [ -e \"$h\" ] && echo \"held /dev/$n ${h##*/}\"; done; done; exit 0",
        dev, dev, dev);
    struct gcap use;
    if (guest_capture(t, NULL, probe, &use) < 0) return CASE_FAIL;
    struct verdict v = {0};
    decide_disk_unused(dev, what, &use, &v);
    gcap_free(&use);
    if (v.kind == VERDICT_PASS) {
        verdict_free(&v);
        return CASE_PASS;
    }
    return case_verdict(t, &v);
}

/* Partition, format, mount, write, remount, read back: returns CASE_PASS or fails. */
static int exercise_disk(struct kiln_case_ctx *t, const char *dev, const char *what)
{
    if (disk_unused(t, dev, what) != CASE_PASS) return CASE_FAIL;
    const char *helper;
    int hrc = guest_helper(t, &helper);
    if (hrc != CASE_PASS) return hrc;
    _cleanup_free_ char *part_cmd = xasprintf("%s mbr /dev/%s", helper, dev);
    if (guest_sh_ok(t, "write a partition table", part_cmd, NULL)) return CASE_FAIL;
    _cleanup_free_ char *part = NULL;
    _cleanup_free_ char *find = xasprintf(
        "for i in $(seq 20); do for p in /dev/%s1 /dev/%sp1; do [ -b $p ] && { echo $p; exit 0; }; done; sleep 0.5; done; exit 1",
        dev, dev);
    if (case_sh(t, find, &part) != 0) return case_fail(t, "no partition device appeared on /dev/%s after writing the MBR", dev);
    strstrip(part);
    _cleanup_free_ char *script = xasprintf(
        "set -e; p=%s; m=/mnt/kiln-disk-test; mkdir -p $m\n"
        "if command -v mkfs.ext4 >/dev/null; then mkfs.ext4 -q -F $p; else mke2fs -q $p; fi\n"
        "mount -t ext4 $p $m\n"
        "dd if=/dev/urandom of=$m/data bs=1M count=16 2>/dev/null\n"
        "a=$(sha256sum $m/data | cut -d' ' -f1); sync; umount $m\n"
        "echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true\n"
        "mount -t ext4 $p $m; b=$(sha256sum $m/data | cut -d' ' -f1); umount $m\n"
        "echo \"written=$a read=$b\"; [ \"$a\" = \"$b\" ]",
        part);
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "format, mount, write and read back", script, &out)) return CASE_FAIL;
    case_log(t, "%s: %s", part, strstrip(out));
    return CASE_PASS;
}

KILN_CASE(verify_hot_add_disk,
          .area = "storage", .priority = 1, .timeout_s = 300,
          .description = "A disk added to the running VM appears, and can be partitioned, formatted, mounted, written and read back intact",
          .requires = {.features = FEAT_HOT_ADD_DISK})
{
    if (!t->plat->ops->hot_add_disk) return case_skip(t, "the %s platform cannot add disks", t->plat->ops->name);
    _cleanup_free_ char *why = NULL;
    int idx = t->plat->ops->hot_add_disk(t->plat, t->node, 256, &why);
    if (idx < 0) return case_fail(t, "could not add a disk: %s", why);
    _cleanup_free_ char *serial = xasprintf("kiln-hot%d", idx);
    double t0 = now_s();
    _cleanup_free_ char *dev = wait_for_disk(t, serial, 30);
    if (!dev) return case_fail(t, "the guest did not see the added disk (serial %s) within 30 s", serial);
    case_metric(t, "hot_add_visible_after", now_s() - t0, "s");
    case_log(t, "added disk is /dev/%s", dev);
    _cleanup_free_ char *what = xasprintf("the disk added with serial %s", serial);
    return exercise_disk(t, dev, what);
}

KILN_CASE(verify_nvme,
          .area = "storage", .priority = 2, .timeout_s = 300,
          .description = "An NVMe namespace is detected and usable (partition, filesystem, data read back)",
          .requires = {.features = FEAT_NVME})
{
    _cleanup_free_ char *ns = NULL;
    if (case_sh(t, "for i in $(seq 20); do for d in /sys/block/nvme*n1; do [ -e $d ] && { echo ${d##*/}; exit 0; }; done; "
                   "sleep 0.5; done; exit 1", &ns) != 0)
        return case_fail(t, "no NVMe namespace under /sys/block (driver nvme loaded? %s)",
                         case_sh(t, "grep -q '^nvme ' /proc/modules", NULL) == 0 ? "yes" : "no");
    strstrip(ns);
    _cleanup_free_ char *model = NULL, *cmd = xasprintf("cat /sys/block/%s/device/model 2>/dev/null", ns);
    case_sh(t, cmd, &model);
    case_log(t, "NVMe namespace %s, model %s", ns, model ? strstrip(model) : "?");
    return exercise_disk(t, ns, "the NVMe namespace");
}

KILN_CASE(verify_no_fs_errors,
          .area = "storage", .priority = 1, .timeout_s = 60,
          .description = "No filesystem reports errors (ext4 error counters, kernel log)",
          .tags = KILN_TAGS("fast"))
{
    struct gcap counts, dmesg;
    if (guest_capture(t, NULL, "for f in /sys/fs/ext4/*/errors_count; do [ -e \"$f\" ] || continue; "
                               "c=$(cat \"$f\") || exit 1; d=${f%/errors_count}; echo \"${d##*/} $c\"; done",
                      &counts) < 0)
        return CASE_FAIL;
    if (guest_capture(t, NULL, "dmesg", &dmesg) < 0) {
        gcap_free(&counts);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_fs_errors(&counts, &dmesg, &v);
    gcap_free(&counts);
    gcap_free(&dmesg);
    return case_verdict(t, &v);
}

KILN_CASE(verify_swap,
          .area = "storage", .priority = 2, .timeout_s = 60,
          .description = "Swap matches the policy, and every swap entry in /etc/fstab that boot activates is active",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    const struct ynode *want = policy_get(policy, "storage", "swap");
    struct gcap swaps, fstab, resolved = {0};
    if (guest_capture(t, NULL, "cat /proc/swaps", &swaps) < 0) return CASE_FAIL;
    if (guest_capture(t, NULL, "[ -e /etc/fstab ] || exit 3; cat /etc/fstab", &fstab) < 0) {
        gcap_free(&swaps);
        return CASE_FAIL;
    }
    /* /proc/swaps names the device a UUID=, LABEL= or /dev/disk/... entry resolved to */
    if (fstab.status == 0 &&
        guest_capture(t, NULL, "awk '$1 !~ /^#/ && $3 == \"swap\" {print $1}' /etc/fstab | while read -r s; do "
                               "case $s in UUID=*) p=/dev/disk/by-uuid/${s#UUID=};; LABEL=*) p=/dev/disk/by-label/${s#LABEL=};; "
                               "PARTUUID=*) p=/dev/disk/by-partuuid/${s#PARTUUID=};; PARTLABEL=*) p=/dev/disk/by-partlabel/${s#PARTLABEL=};; "
                               "*) p=$s;; esac; echo \"$s $(readlink -f \"$p\" 2>/dev/null || echo \"$p\")\"; done",
                      &resolved) < 0) {
        gcap_free(&swaps);
        gcap_free(&fstab);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    double mib;
    decide_swap(&swaps, &fstab, resolved.status == 0 && resolved.out ? resolved.out : NULL,
                want && want->kind == YN_SCALAR ? want->scalar : "any", &v, &mib);
    gcap_free(&swaps);
    gcap_free(&fstab);
    gcap_free(&resolved);
    case_metric(t, "swap_total", mib, "MiB");
    return case_verdict(t, &v);
}

KILN_CASE(perf_storage_io,
          .area = "storage", .priority = 2, .timeout_s = 300, .category = "performance",
          .description = "Sequential MB/s and 4 KiB random IOPS on a data disk (O_DIRECT), as metrics",
          .requires = {.data_disks = 1})
{
    _cleanup_free_ char *dev = wait_for_disk(t, "kiln-data0", 10);
    if (!dev) return case_fail(t, "no data disk with serial kiln-data0");
    if (disk_unused(t, dev, "the data disk with serial kiln-data0") != CASE_PASS) return CASE_FAIL;
    const char *helper;
    int hrc = guest_helper(t, &helper);
    if (hrc != CASE_PASS) return hrc;
    _cleanup_free_ char *cmd = xasprintf("%s io /dev/%s 64", helper, dev), *out = NULL;
    if (guest_sh_ok(t, "measure I/O", cmd, &out)) return CASE_FAIL;
    static const struct { const char *key, *unit; } m[] = {
        {"seq_write_mbps", "MB/s"}, {"seq_read_mbps", "MB/s"}, {"rand_read_iops", "IOPS"}, {"rand_write_iops", "IOPS"}};
    for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
        _cleanup_free_ char *v = helper_value(out, m[i].key);
        double d;
        if (!v) return case_fail(t, "the helper did not report %s: %s", m[i].key, out);
        if (!parse_double(v, &d)) return case_fail(t, "the helper reported %s=\"%.40s\", not a number", m[i].key, v);
        case_metric(t, m[i].key, d, m[i].unit);
    }
    return CASE_PASS;
}

/* verify_iscsi_login's guest script: $1 portal, $2 IQN, $3 kiln-guest. Each step prints
 * "@step NAME RC" and its output (decide_iscsi_login reads them); the script stops at the
 * first failure, then logs out when it logged in, and always forgets the target's records.
 * Discovery lists the portal as the target sees itself (127.0.0.1 behind user-mode NAT), so
 * the login goes to a record made for the address the guest reaches. */
static const char ISCSI_SCRIPT[] =
    "P=$1; T=$2; H=$3; M=/run/kiln-iscsi; D=/dev/disk/by-path/ip-$P-iscsi-$T-lun-1\n"
    "step() { n=$1; shift; o=$(\"$@\" 2>&1); r=$?; echo \"@step $n $r\"; [ -n \"$o\" ] && printf '%s\\n' \"$o\"; return $r; }\n"
    "wait_dev() { i=0; while [ ! -b \"$1\" ] && [ $i -lt 30 ]; do udevadm settle >/dev/null 2>&1; sleep 1; i=$((i+1)); done; "
    "[ -b \"$1\" ] || { echo \"no $1 after ${i} s\"; return 1; }; readlink -f \"$1\"; }\n"
    "discover() { iscsiadm -m discovery -t sendtargets -p \"$P\"; }\n"
    "login() { iscsiadm -m node -o new -T \"$T\" -p \"$P\" >/dev/null && iscsiadm -m node -T \"$T\" -p \"$P\" --login; }\n"
    "partition() { \"$H\" mbr \"$D\" && wait_dev \"$D-part1\"; }\n"
    "mkfs_() { mkfs.ext4 -q -F \"$D-part1\"; }\n"
    "mount_() { mkdir -p $M && mount \"$D-part1\" $M; }\n"
    "write_() { head -c 8388608 /dev/urandom > $M/data && sync && sha256sum < $M/data; }\n"
    "remount() { umount $M && echo 3 > /proc/sys/vm/drop_caches && mount \"$D-part1\" $M; }\n"
    "read_() { sha256sum < $M/data; }\n"
    "logout_() { umount $M 2>/dev/null; iscsiadm -m node -T \"$T\" -p \"$P\" --logout; }\n"
    "sessions() { iscsiadm -m session 2>&1 | grep -F \"$T\"; return 0; }\n"
    "in=0\n"
    "step discover discover && step login login && in=1 && step device wait_dev \"$D\" && step partition partition && "
    "step mkfs mkfs_ && step mount mount_ && step write write_ && step remount remount && step read read_\n"
    "if [ $in = 1 ]; then step logout logout_; else echo '@step logout 0'; echo 'never logged in'; fi\n"
    "step sessions sessions\n"
    "iscsiadm -m node -o delete -T \"$T\" >/dev/null 2>&1; iscsiadm -m discoverydb -t sendtargets -p \"$P\" -o delete "
    ">/dev/null 2>&1; rmdir $M 2>/dev/null; exit 0\n";

KILN_CASE(verify_iscsi_login,
          .area = "storage", .priority = 3, .timeout_s = 420,
          .description = "The guest's iSCSI initiator (open-iscsi) discovers the platform's target, logs in, "
                         "partitions, formats, writes and reads back data with a checksum, and logs out",
          .requires = {.features = FEAT_ISCSI})
{
    const struct kiln_iscsi *is = t->env ? t->env->iscsi : NULL;
    if (!is) return case_skip(t, "the platform gave this environment no iSCSI target");
    struct gcap has = {0}, run = {0};
    if (guest_capture(t, NULL, "command -v iscsiadm", &has) < 0) return CASE_FAIL;
    int status = has.status;
    gcap_free(&has);
    if (status != 0) return case_skip(t, "the guest has no iSCSI initiator (iscsiadm: open-iscsi)");
    const char *helper;
    int hrc = guest_helper(t, &helper);
    if (hrc != CASE_PASS) return hrc;
    _cleanup_free_ char *script = shell_quote(ISCSI_SCRIPT), *portal = shell_quote(is->portal),
                       *iqn = shell_quote(is->iqn), *h = shell_quote(helper);
    _cleanup_free_ char *cmd = xasprintf("sh -c %s kiln-iscsi %s %s %s", script, portal, iqn, h);
    case_log(t, "target %s at %s (LUN 1: %llu MiB)", is->iqn, is->portal, (unsigned long long)(is->lun_bytes >> 20));
    if (guest_capture(t, NULL, cmd, &run) < 0) return CASE_FAIL;
    struct verdict v = {0};
    decide_iscsi_login(run.out, is->iqn, &v);
    gcap_free(&run);
    return case_verdict(t, &v);
}
