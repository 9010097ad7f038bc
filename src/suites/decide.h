/* The decisions of the built-in cases: pure functions of captured guest output (and the
 * policy) in src/suites/decide.c, called by the cases in src/suites/<area>.c, unit-tested
 * with canned outputs in tests/unit/test_suites.c and fuzzed by tests/fuzz/fuzz_decide.c.
 * Every one returns the verdict's kind and fills v: a failure's
 * reason names the evidence, SKIP says why the output cannot decide, NOTHING what was
 * missing (the policy's cases.nothing_to_examine turns it into a skip or a failure).
 *
 * Inputs named "files" are struct gfiles as guest_read_files() captures them (path and
 * content of each file that exists); inputs named by a command are that command's struct
 * gcap (exit status, stdout, stderr). Policy arguments are the policy's nodes (may be NULL). */
#pragma once
#include "suites/common.h"

struct ynode;

/* ---- security ---- */

/* Accounts come from /etc/passwd and /etc/shadow (and /var/lib/extrausers/ when present).
 * provisioned: the account the platform made to log in (its admin user; NULL for none), which
 * is not the image's. */
enum verdict_kind decide_login_users(const struct gfiles *accounts, const struct ynode *allow, const char *provisioned,
                                     struct verdict *v);
enum verdict_kind decide_empty_passwords(const struct gfiles *accounts, struct verdict *v);
/* Accounts holding a usable password hash that the allow list does not name. */
enum verdict_kind decide_password_hashes(const struct gfiles *accounts, const struct ynode *allow, struct verdict *v);
/* Names sshd -T should be asked about: root, every account with a login shell (up to max),
 * and, when none but root has one, a made-up ordinary user; NULL-terminated, allocated. */
char **sshd_test_users(const struct gfiles *accounts, size_t max);
/* `sshd -T -C user=U,...` for each of users[i] in out[i], against the policy's
 * security.sshd (key → allowed values). */
enum verdict_kind decide_sshd(char *const *users, const struct gcap *out, size_t n, const struct ynode *want,
                              struct verdict *v);
/* Each running dropbear's argv (files: path = pid, text = one argument a line). */
enum verdict_kind decide_dropbear(const struct gfiles *procs, const struct ynode *want, struct verdict *v);
/* authorized_keys files that exist (files) against the key kiln provisioned ("type base64 ..."). */
enum verdict_kind decide_authorized_keys(const struct gfiles *files, const char *kiln_pubkey, struct verdict *v);
/* Files authorized keys may live in for each account: ~/.ssh/authorized_keys{,2} and sshd's
 * AuthorizedKeysFile patterns (%h %u %U %%; relative to the home), each once, shell-quoted
 * and space-separated for guest_read_files(). sshd_t: `sshd -T` output or NULL. */
char *authorized_keys_paths(const struct gfiles *accounts, const char *sshd_t);
/* "SHA256  PATH" lines of the host key files (a, b: each node's listing) and the SHA256
 * fingerprints each node's SSH server presented (fp_a, fp_b, may be NULL). */
enum verdict_kind decide_host_keys(const char *name_a, const struct gcap *a, const char *fp_a, const char *name_b,
                                   const struct gcap *b, const char *fp_b, struct verdict *v);
/* "SHA256  PATH" lines of the files holding private keys on two nodes from the same image. */
enum verdict_kind decide_private_keys(const char *name_a, const struct gcap *a, const char *name_b,
                                      const struct gcap *b, struct verdict *v);
/* A find listing (one path a line) against allow (prefixes when by_prefix, else exact paths);
 * what names the finding ("world-writable path(s)"). */
enum verdict_kind decide_path_list(const struct gcap *find, const struct ynode *allow, bool by_prefix,
                                   const char *what, struct verdict *v);
/* "KEY<TAB>VALUE" lines (an empty value: no such sysctl) against security.sysctl. */
enum verdict_kind decide_sysctls(const struct gcap *values, const struct ynode *want, struct verdict *v);
/* apt: sources files (one-line .list and deb822 .sources) and `apt-config dump`. */
enum verdict_kind decide_apt_repos(const struct gfiles *sources, const struct gcap *dump, struct verdict *v);
/* dnf/yum/tdnf/zypper: main configuration files and .repo files (INI). */
enum verdict_kind decide_rpm_repos(const struct gfiles *files, struct verdict *v);
/* Repository directories dnf reads, from the main configuration's reposdir (shell words). */
char *rpm_repo_dirs(const struct gfiles *main_conf);

/* ---- network ---- */

/* "NAME OPERSTATE CARRIER ADDRESS..." lines; count gets the NICs seen. */
enum verdict_kind decide_nics(const struct gcap *c, struct verdict *v, size_t *count);
enum verdict_kind decide_default_route(const struct gcap *route, struct verdict *v);
/* getent/nslookup's answer for name; resolv_conf (may be NULL) names the resolvers in a failure. */
enum verdict_kind decide_resolve(const char *name, const struct gcap *answer, const char *resolv_conf, struct verdict *v);
/* /proc/sys/kernel/hostname, and /etc/hostname (exit 3: no such file). */
enum verdict_kind decide_hostname(const struct gcap *kernel, const struct gcap *etc, struct verdict *v);
/* "NAME MTU" lines of the device-backed NICs. */
enum verdict_kind decide_mtu(const struct gcap *c, long want, struct verdict *v);

/* ---- kernel ---- */

/* The processor count of /proc/cpuinfo against the vCPUs given; offline
 * (/sys/devices/system/cpu/offline) and cmdline (/proc/cmdline) name why some are missing. */
enum verdict_kind decide_cpu_count(const struct gcap *count, const char *offline, const char *cmdline, int given,
                                   struct verdict *v, long *n);
/* MemTotal in KiB against the memory given (75%..100% of it passes); crash_bytes
 * (/sys/kernel/kexec_crash_size) and cmdline name where the rest went; mib gets MemTotal. */
enum verdict_kind decide_memory(const struct gcap *memtotal, const char *crash_bytes, const char *cmdline, double given_mb,
                                struct verdict *v, double *mib);
/* kiln-guest's vdso probe, and dmesg (read only when the probe failed; status 0 otherwise
 * unused), the clock source and kernel command line, whether the VM runs under TCG. */
enum verdict_kind decide_vdso(const struct gcap *helper, const struct gcap *dmesg, const char *clocksource,
                              const char *cmdline, bool tcg, int cpus, struct verdict *v);
/* /proc/filesystems and /proc/mounts. */
enum verdict_kind decide_cgroup_v2(const struct gcap *filesystems, const struct gcap *mounts, bool systemd,
                                   struct verdict *v);
/* modprobe (and the check that the module is listed), then its removal. */
enum verdict_kind decide_module_cycle(const char *module, const struct gcap *load, const struct gcap *unload,
                                      struct verdict *v);
/* The byte count read from /dev/random within timeout 10 (status 124: it blocked). */
enum verdict_kind decide_entropy(const struct gcap *read, struct verdict *v);
/* systemd-analyze time after up to waited_s s of `systemctl is-system-running --wait`, and
 * (when it did not report) systemctl list-jobs --no-legend: the jobs still running name what
 * holds the boot. */
enum verdict_kind decide_boot_finished(const struct gcap *analyze, const struct gcap *jobs, int waited_s, struct verdict *v);
/* The time probe's "service=NAME" and "sync=yes|no|unknown via=TOOL" lines; synced gets
 * 1, 0 or -1 (cannot tell). */
enum verdict_kind decide_time_sync(const struct gcap *probe, bool require_sync, struct verdict *v, int *synced);
/* The drift bound in seconds: bound, or unsynced_tcg_bound for a clock not known to be
 * synchronised under TCG. */
double time_drift_bound(int synced, bool tcg, double bound, double unsynced_tcg_bound);

/* ---- storage ---- */

/* /etc/fstab (exit 3: no such file). */
enum verdict_kind decide_fstab(const struct gcap *fstab, struct verdict *v);
/* "DEVICE COUNT" lines of /sys/fs/ext4/<dev>/errors_count, and dmesg. */
enum verdict_kind decide_fs_errors(const struct gcap *counts, const struct gcap *dmesg, struct verdict *v);
/* /proc/swaps, /etc/fstab (exit 3: none), "SPEC PATH" lines naming the device or file each
 * swap entry of fstab resolves to on the guest (NULL: not known; then only paths as written
 * are matched) and the policy's storage.swap (any, required, forbidden); total_mib gets the
 * active swap. */
enum verdict_kind decide_swap(const struct gcap *swaps, const struct gcap *fstab, const char *resolved, const char *policy,
                              struct verdict *v, double *total_mib);
/* The disk-use probe's lines for /dev/dev and its partitions (src/suites/storage.c: "mounted
 * DEV MOUNTPOINT", "swap DEV", "held DEV HOLDER"); what names the disk ("serial kiln-data0"). */
enum verdict_kind decide_disk_unused(const char *dev, const char *what, const struct gcap *use, struct verdict *v);

/* ---- packages ---- */

/* deb: dpkg --audit (deps unused); rpm: rpmdb --verifydb and rpm -Va --nofiles (dependencies). */
enum verdict_kind decide_package_db(enum pkg_family fam, const struct gcap *check, const struct gcap *deps,
                                    struct verdict *v);
/* dpkg --verify / rpm -Va output, and the mount points (one a line) whose mode reflects
 * the mounted filesystem rather than the packaged directory. */
enum verdict_kind decide_package_files(enum pkg_family fam, const struct gcap *verify, const char *mountpoints,
                                       struct verdict *v);
/* The installed list (deb: "STATUS NAME VERSION", rpm: "NAME VERSION") against the feed's
 * advisories ({id, package, family, fixed}); matched gets the advisories that applied. */
enum verdict_kind decide_vulnerable_packages(enum pkg_family fam, const struct gcap *installed, const struct ynode *adv,
                                             struct verdict *v, size_t *matched);

/* ---- provisioning and lifecycle ---- */

/* systemctl list-units --state=failed, and journalctl for the first njournals of them. */
enum verdict_kind decide_failed_units(const struct gcap *units, const struct gcap *journals, size_t njournals,
                                      struct verdict *v);
/* Console findings since the reboot (NULL: none), and under systemd the previous boot's
 * journal (journalctl -b -1) with whether the journal is kept on disk. */
enum verdict_kind decide_clean_shutdown(const char *console, bool systemd, const struct gcap *journal, bool persistent,
                                        struct verdict *v);
/* The kernel command line (/proc/cmdline) has a serial console (console=ttyS*, ttyAMA* or
 * hvc*) and each word of want (NULL: none), which comes from the runbook's key want_from.
 * Words are the kernel's parameters (kernel/params.c next_arg): whitespace inside double
 * quotes does not end one, so "root=X console=ttyS0" is one parameter, not a console. */
enum verdict_kind decide_kernel_cmdline(const char *cmdline, const char *want, const char *want_from, struct verdict *v);
/* Paths (one a line) of shell histories, build-time logs and foreign cloud-init instances. */
enum verdict_kind decide_generalized(const struct gcap *history, const struct gcap *logs, const struct gcap *cloud,
                                     struct verdict *v);

/* ---- update (docs/updates.md) ---- */

/* A failure event the update server recorded (kiln rollout status's failures). */
struct update_failure {
    const char *machine, *version, *target; /* machine id, what it ran, the rollout's target */
    int errorcode;                          /* -1: none given */
};
/* The facts of one machine after an update attempt: /etc/os-release, /proc/cmdline and the
 * ESP's loader entries (file names, one a line). */
struct update_facts {
    const char *os_release, *cmdline, *entries;
};

/* The machine runs want (os-release IMAGE_VERSION), booted with want's root hash (usrhash= on
 * the command line, from the gallery's update.json) from name-want's entry, which is blessed:
 * NAME-WANT.conf, no +LEFT[-DONE] counter left. */
enum verdict_kind decide_update_applied(const char *name, const char *want, const char *roothash, const struct update_facts *f,
                                        struct verdict *v);
/* The machine fell back from bad to from by itself: it runs from, bad's entry has no tries left
 * (+0-DONE) or is gone, and the server recorded this machine's failure of bad with error code
 * 20 (rollback); paused/pause_reason: the rollout paused after the configured count. */
enum verdict_kind decide_update_rolled_back(const char *name, const char *from, const char *bad, const struct update_facts *f,
                                            const char *machine, const struct update_failure *fails, size_t nfails, bool paused,
                                            const char *pause_reason, struct verdict *v);
/* An update to bad was refused: the machine still runs from, no loader entry names bad, and
 * the server recorded this machine's failure of bad with want_code. */
enum verdict_kind decide_update_refused(const char *name, const char *from, const char *bad, int want_code,
                                        const struct update_facts *f, const char *machine, const struct update_failure *fails,
                                        size_t nfails, struct verdict *v);
/* With auto: false nothing was applied although offered was: the machine runs from, no entry
 * names offered, and the updater's log (journal) says it was offered and not applied. */
enum verdict_kind decide_update_opted_out(const char *name, const char *from, const char *offered, const struct update_facts *f,
                                          const char *updater_log, struct verdict *v);
