/* QEMU platform: one qemu process per node, a qcow2 overlay over the (never modified)
 * image, user-mode networking with an SSH forward on a port the kernel picks (read back
 * through QMP: no race), the serial console in a file from the first byte, and SSH keys
 * offered both as a systemd credential (SMBIOS type 11) and a cloud-init NoCloud seed.
 * A node that needs a TPM gets its own swtpm (TPM 2.0 over CRB), one process per power-on
 * on the same state directory; Secure Boot is OVMF's SMM build with a copy of a variable
 * store that has keys enrolled. A node that needs a GPU gets a host PCI device bound to
 * vfio-pci (platform.qemu.gpu, $KILN_GPU) of its own. Feature rdma is the private network,
 * over which the hpc cases bring up soft-RoCE (rdma_rxe) in the guests. An environment that
 * needs iSCSI gets its own tgtd (iscsi.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <jansson.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/console.h"
#include "platform/accel.h"
#include "platform/platform.h"
#include "platform/qemu.h"
#include "platform/iscsi.h"
#include "platform/l2hub.h"
#include "platform/mqtap.h"
#include "platform/ntp.h"
#include "platform/vfio.h"
#include "image/disk.h"
#include "image/imagecheck.h"
#include "model/artifact.h"
#include "image/manifest.h"
#include "platform/qmp.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/util.h"

#define MAX_NICS 4
#define MAX_DISKS 8
#define DATA_DISK_MB 1024
#define MAX_HOT_DISKS 4
#define ISCSI_LUN_BYTES (256ull << 20) /* sparse: costs the host what the guest writes */

static const struct kiln_qemu_conf *qemu_conf(const struct kiln_platform_ctx *p)
{
    return p->rb->platform.conf;
}

struct qemu_priv {
    const struct kiln_arch *arch; /* the guests': qemu binary, machine, firmware, console */
    char *fw_code;                /* UEFI firmware code as the machine takes it */
    atomic_bool kvm;
    const char *kvm_cpu; /* -cpu under KVM: platform.qemu.cpu_model or "host" */
    char *image_format;
    struct ntp_server *ntp; /* the guests' time source, when port 123 was free */
    char *swtpm;            /* the swtpm program; NULL: none, so feature tpm is not offered */
    char *swtpm_why;        /* why not (find_program's reason), else NULL */
    char *tgtd, *tgtadm;    /* tgt's programs; NULL: feature iscsi is not offered */
    char *tgt_why;          /* why not (find_program's reason), else NULL */
    const char *fw_vars;    /* the variable store each node starts from a copy of */
    pid_t update_pid;       /* kiln serve --gallery for platform.qemu.update; 0: none */
    char **gpus;            /* host PCI devices that can be passed through */
    size_t ngpus;
    atomic_bool *gpu_used;  /* gpus[i] is given to a node */
    char *gpu_why;          /* why no device can be passed through (ngpus 0) */
};

/* env->priv: what an environment shares */
struct qemu_env {
    struct l2hub *hub; /* with a private network */
    char *hub_path;
    struct iscsi_target iscsi; /* with feature iscsi */
};

struct qemu_node {
    pid_t pid;       /* 0 while powered off */
    struct qmp *qmp;
    char *work;      /* per-node work dir: overlay, seed, qmp socket */
    int hot_disks;
    struct mqtap mq;
    pid_t swtpm_pid; /* this power-on's TPM, 0 when none runs */
    int gpu;         /* index into qemu_priv.gpus, -1 when none */
    bool kvm;        /* what this node was started with */
    int64_t powered_on_ms;
    uint64_t console_at_power_on;
    int power_ons;
    /* what a power-on needs again */
    struct kiln_platform_ctx *p;
    struct kiln_env *env;
};

static const char *first_existing(const char *const *paths)
{
    for (; *paths; paths++)
        if (file_exists(*paths)) return *paths;
    return NULL;
}

/* The guests' architecture: the runbook's, else the one the image's manifest records (an image
 * kiln built), else x86_64; *from says which. A runbook naming another than the manifest is an
 * error: -EINVAL, the message in *reterr and the runbook key it is about in *key. */
static int guest_arch_of(const struct kiln_qemu_conf *q, const struct kiln_arch **out, const char **from,
                         const char **key, char **reterr)
{
    const char *artifact = q->image ? q->image : q->kernel;
    const struct kiln_arch *built = NULL;
    _cleanup_free_ char *why = NULL;
    int r = manifest_arch_for(artifact, &built, &why);
    *key = q->arch ? "platform.qemu.arch" : q->image ? "platform.qemu.image" : "platform.qemu.kernel";
    if (r == -EINVAL) return err_setf(reterr, -EINVAL, "platform.qemu: %s; set platform.qemu.arch", why);
    if (q->arch && built && q->arch != built)
        return err_setf(reterr, -EINVAL,
                        "platform.qemu.arch is %s but %s was built for %s (its manifest says so); fix the arch or the image",
                        q->arch->name, artifact, built->name);
    *out = q->arch ? q->arch : built ? built : kiln_arch_default();
    *from = q->arch ? "platform.qemu.arch" : built ? "from the image's manifest" : "the default";
    return 0;
}

static int guest_arch(const struct kiln_qemu_conf *q, const struct kiln_arch **out, char **reterr)
{
    const char *key, *from;
    int r = guest_arch_of(q, out, &from, &key, reterr);
    if (r < 0) return r;
    log_info("qemu: %s guests (%s)", (*out)->name, from);
    return 0;
}

/* The firmware code as the machine takes it: a machine that wants pflash devices of one size
 * (virt: 64 MiB) gets a padded copy of smaller code in the run's work dir. */
static int firmware_code(struct kiln_platform_ctx *p, struct qemu_priv *qp, char **reterr)
{
    const char *code = qemu_conf(p)->secure_boot != SB_OFF ? qp->arch->fw_code_secure
                                                                   : first_existing(qp->arch->fw_code);
    struct stat st;
    if (!qp->arch->pflash_bytes || (stat(code, &st) == 0 && (uint64_t)st.st_size == qp->arch->pflash_bytes)) {
        qp->fw_code = xstrdup(code);
        return 0;
    }
    if (stat(code, &st) < 0 || (uint64_t)st.st_size > qp->arch->pflash_bytes)
        return err_setf(reterr, -EINVAL, "platform.qemu.firmware: %s is larger than the %llu MiB pflash of a %s %s machine",
                        code, (unsigned long long)(qp->arch->pflash_bytes >> 20), qp->arch->name, qp->arch->machine);
    qp->fw_code = path_join(p->work_dir, "efi-code.fd");
    char *cp[] = {"cp", (char *)code, qp->fw_code, NULL};
    if (proc_run(cp, 60000, NULL) != 0 || truncate(qp->fw_code, (off_t)qp->arch->pflash_bytes) < 0)
        return err_setf(reterr, -EIO, "platform.qemu.firmware: cannot make a padded copy of %s in %s", code, p->work_dir);
    return 0;
}

/* Why guests of arch cannot boot with Secure Boot, or NULL when they can. */
static char *secure_boot_unoffered(const struct kiln_arch *arch)
{
    if (arch->fw_code_secure) return NULL;
    return xasprintf("platform.qemu.secure_boot: kiln offers Secure Boot for x86_64 guests only, these are %s; "
                     "remove secure_boot", arch->name);
}

/* platform.qemu.secure_boot: the SMM firmware build and the chosen variable store. */
static int secure_boot_firmware(const struct kiln_qemu_conf *q, struct qemu_priv *qp, char **reterr)
{
    _cleanup_free_ char *no = secure_boot_unoffered(qp->arch);
    if (no) return err_setf(reterr, -EINVAL, "%s", no);
    qp->fw_vars = q->secure_boot == SB_MS         ? qp->arch->fw_vars_ms
                  : q->secure_boot == SB_SNAKEOIL ? qp->arch->fw_vars_snakeoil
                                                  : q->secure_boot_vars;
    for (const char *f = qp->arch->fw_code_secure; f; f = f == qp->arch->fw_code_secure ? qp->fw_vars : NULL)
        if (!file_exists(f))
            return err_setf(reterr, -ENOENT, "platform.qemu.secure_boot: %s does not exist (%s; apt-get install %s)", f,
                            f == qp->fw_vars && q->secure_boot == SB_FILE ? "the runbook names it"
                                                                         : "Secure Boot firmware",
                            qp->arch->fw_package);
    return 0;
}

/* A helper program (swtpm, tgtd, tgtadm): $VAR when set (a path; empty or missing: the
 * feature is not offered), else the first executable NAME in $PATH or /usr/sbin (where tgt
 * installs, outside an ordinary user's PATH). NULL when there is none, with *reterr (when reterr
 * is not NULL) saying which: $VAR set empty, $VAR naming no executable, or missing (the phrase
 * the caller gives, e.g. "tgt is not installed (apt-get install tgt: tgtd, tgtadm)"). */
#define NO_SWTPM "swtpm is not installed (apt-get install swtpm)"

static char *find_program(const char *var, const char *name, const char *missing, char **reterr)
{
    const char *env = getenv(var);
    if (env && !*env) {
        err_setf(reterr, 0, "$%s is set empty (unset it to use %s from $PATH)", var, name);
        return NULL;
    }
    if (env && access(env, X_OK) == 0) return xstrdup(env);
    if (env) {
        err_setf(reterr, 0, "$%s=%s is not an executable file (%s)", var, env, strerror(errno));
        return NULL;
    }
    const char *path = getenv("PATH");
    _cleanup_free_ char *dirs = xasprintf("%s:/usr/sbin", path ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char *f = path_join(d, name);
        if (access(f, X_OK) == 0) return f;
        free(f);
    }
    err_setf(reterr, 0, "%s", missing);
    return NULL;
}

unsigned kiln_qemu_host_features(const struct kiln_arch *arch, char **reterr)
{
    unsigned f = 0;
    struct sbuf b = {0};
    if (!arch) arch = kiln_arch_host() ? kiln_arch_host() : kiln_arch_default();
    if (first_existing(arch->fw_code) && first_existing(arch->fw_vars)) f |= FEAT_UEFI;
    else sbuf_printf(&b, "no uefi: no %s firmware (apt-get install %s); ", arch->name, arch->fw_package);
    /* the TPM as deploy would start it: the same swtpm, and it must run */
    _cleanup_free_ char *why = NULL;
    _cleanup_free_ char *sw = find_program("KILN_SWTPM", "swtpm", NO_SWTPM, &why), *out = NULL;
    char *argv[] = {sw, "socket", "--tpm2", "--print-capabilities", NULL};
    int rc = sw ? proc_run(argv, 10000, &out) : -ENOENT;
    if (rc == 0 && out && strstr(out, "\"tpm-2.0\"")) f |= FEAT_TPM;
    else if (!sw) sbuf_printf(&b, "no tpm: %s; ", why ? why : NO_SWTPM);
    else sbuf_printf(&b, "no tpm: %s socket --tpm2 --print-capabilities did not answer (exit %d); ", sw, rc);
    /* Secure Boot as platform.qemu.secure_boot: ms boots it: the SMM build and Microsoft's keys */
    struct stat st;
    if (arch->fw_code_secure && arch->fw_vars_ms && stat(arch->fw_code_secure, &st) == 0 && st.st_size > 0 &&
        stat(arch->fw_vars_ms, &st) == 0 && st.st_size > 0)
        f |= FEAT_SECURE_BOOT;
    else sbuf_printf(&b, "no secure-boot: %s", arch->fw_code_secure ? "no OVMF Secure Boot build with Microsoft's keys (apt-get install ovmf)"
                                                                  : "kiln offers it for x86_64 guests only");
    err_setf(reterr, 0, "%s", b.s ? b.s : "");
    sbuf_free(&b);
    return f;
}

#define UPDATE_SERVER_START_MS 60000 /* an ASan build on a loaded host takes seconds to start */

/* platform.qemu.update: kiln serve --gallery on a loopback port the kernel picks (the server's
 * "listening on" line names it: no race), its database in the run's work dir, its log in the
 * run dir. Guests reach it as 10.0.2.2:PORT (user-mode networking maps that address to the
 * host's loopback); their updaters are pointed there by the system credential
 * kiln-updater.conf (docs/updates.md). A tracked child: it ends on every exit path. */
static int update_server_start(struct kiln_platform_ctx *p, struct qemu_priv *qp, char **reterr)
{
    const struct kiln_qemu_update *u = &qemu_conf(p)->update;
    if (!u->gallery) return 0;
    _cleanup_free_ char *gyml = path_join(u->gallery, "gallery.yml");
    if (!file_exists(gyml))
        return err_setf(reterr, -ENOENT,
                        "platform.qemu.update.gallery: %s is not a gallery (no gallery.yml); make one with kiln gallery "
                        "init and kiln publish (examples/update-images.sh)",
                        u->gallery);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return err_setf(reterr, -EIO, "platform.qemu.update: cannot find kiln's own program: %s", strerror(errno));
    self[n] = 0;
    struct kiln_update_server *us = xcalloc(1, sizeof *us);
    us->data = path_join(p->work_dir, "update-server");
    us->log = path_join(p->run_dir, "update-server.log");
    us->gallery = u->gallery, us->name = u->name, us->channel = u->channel, us->target = u->target, us->broken = u->broken;
    us->untrusted_key = u->untrusted_key;
    p->update = us;
    char *argv[] = {self, "serve", "--listen", "127.0.0.1:0", "--data", us->data, "--gallery", (char *)u->gallery, NULL};
    int fd = open(us->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return err_setf(reterr, -EIO, "platform.qemu.update: cannot write %s: %s", us->log, strerror(errno));
    int r = proc_spawn(argv, -1, fd, fd, &qp->update_pid);
    close(fd);
    if (r < 0) return err_setf(reterr, r, "platform.qemu.update: cannot start kiln serve: %s", strerror(-r));
    int64_t deadline = now_ms() + UPDATE_SERVER_START_MS;
    while (now_ms() < deadline && !kiln_interrupted) {
        char *text = NULL;
        int status = 0;
        unsigned port = 0;
        read_file(us->log, 1 << 20, &text, NULL);
        const char *at = text ? strstr(text, "listening on http://127.0.0.1:") : NULL;
        if (at && sscanf(at + strlen("listening on http://127.0.0.1:"), "%u", &port) == 1 && port > 0 && port < 65536) {
            free(text);
            us->url = xasprintf("http://127.0.0.1:%u/v1/update/", port);
            us->guest_url = xasprintf("http://10.0.2.2:%u/v1/update/", port);
            log_info("qemu: update server for %s in channel %s at %s (guests: %s), gallery %s, log %s", u->name, u->channel,
                     us->url, us->guest_url, u->gallery, us->log);
            return 0;
        }
        if (proc_wait(qp->update_pid, 0, &status) == 0) {
            qp->update_pid = 0;
            err_setf(reterr, -EIO, "platform.qemu.update: kiln serve --gallery %s exited (%d) before listening: %s",
                     u->gallery, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text ? strstrip(text) : "");
            free(text);
            return -EIO;
        }
        free(text);
        sleep_ms(200);
    }
    return err_setf(reterr, -ETIMEDOUT, "platform.qemu.update: kiln serve did not start listening within %d s (see %s)",
                    UPDATE_SERVER_START_MS / 1000, us->log);
}

static void update_server_stop(struct kiln_platform_ctx *p, struct qemu_priv *qp)
{
    if (qp->update_pid > 0) proc_kill(qp->update_pid, 5000);
    qp->update_pid = 0;
    struct kiln_update_server *us = p->update;
    if (!us) return;
    free(us->url), free(us->guest_url), free(us->data), free(us->log);
    free(us);
    p->update = NULL;
}

/* The GPUs the runbook names (platform.qemu.gpu) and the host declares ($KILN_GPU: PCI
 * addresses separated by commas or blanks), each once; those that cannot be passed through
 * are left out, with the first reason kept for the cases that need one. */
static void find_gpus(const struct kiln_qemu_conf *q, struct qemu_priv *qp)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < q->ngpu; i++) *APPEND(names, n, cap) = xstrdup(q->gpu[i]);
    const char *env = getenv("KILN_GPU");
    _cleanup_free_ char *list = xstrdup(env ? env : "");
    char *save = NULL;
    for (char *w = strtok_r(list, ", \t", &save); w; w = strtok_r(NULL, ", \t", &save)) *APPEND(names, n, cap) = xstrdup(w);
    qp->gpus = xcalloc(n ? n : 1, sizeof *qp->gpus);
    qp->gpu_used = xcalloc(n ? n : 1, sizeof *qp->gpu_used);
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t k = 0; k < qp->ngpus; k++) dup |= streq(qp->gpus[k], names[i]);
        _cleanup_free_ char *why = NULL;
        if (dup) {
            free(names[i]);
        } else if (vfio_device_check("/sys", "/dev", names[i], &why) == 0) {
            log_info("qemu: %s can be passed through (vfio-pci) to a node that needs a GPU", names[i]);
            qp->gpus[qp->ngpus++] = names[i];
        } else {
            /* platform.qemu.gpu's names come first and were checked as the runbook loaded */
            const char *from = i >= q->ngpu ? "$KILN_GPU: " : "";
            log_warn("qemu: GPU %s%s: %s", from, names[i], why);
            if (!qp->gpu_why) qp->gpu_why = xasprintf("%s%s", from, why);
            free(names[i]);
        }
    }
    free(names);
    if (!qp->ngpus && !qp->gpu_why)
        qp->gpu_why = xstrdup("no host PCI device is named for passthrough (platform.qemu.gpu, or the host's $KILN_GPU: "
                              "a device bound to vfio-pci)");
}

/* What qemu_init refuses in the configuration and the files it names (not the host's firmware,
 * KVM or helper programs): an image kiln cannot read, an arch its manifest contradicts, Secure
 * Boot for an arch without it. */
static int qemu_check_conf(const void *conf, const char **key, char **reterr)
{
    const struct kiln_qemu_conf *q = conf;
    if (q->image && file_exists(q->image)) {
        struct disk *d;
        char *err = NULL;
        if (disk_open(q->image, &d, &err) < 0) {
            *key = "platform.qemu.image";
            err_setf(reterr, 0, "platform.qemu.image: %s", err);
            free(err);
            return -EINVAL;
        }
        disk_close(d);
        /* what qemu_init says of an image it would boot from that has no partition table */
        struct kiln_image_facts f;
        _cleanup_free_ char *why = NULL;
        if (!q->kernel && kiln_image_check(q->image, &f, &why) < 0) {
            *key = "platform.qemu.image";
            return err_setf(reterr, -EINVAL, "platform.qemu.image: %s: %s; give a disk image with a partition table (raw, "
                                             "qcow2 or VHD, as kiln build writes), or a kernel to boot with platform.qemu.kernel",
                            q->image, why);
        }
    }
    const struct kiln_arch *arch;
    const char *from;
    int r = guest_arch_of(q, &arch, &from, key, reterr);
    if (r < 0 || q->secure_boot == SB_OFF || !(*reterr = secure_boot_unoffered(arch))) return r;
    *key = "platform.qemu.secure_boot";
    return -EINVAL;
}

static void qemu_fini(struct kiln_platform_ctx *p);

static int qemu_start(struct kiln_platform_ctx *p, char **reterr)
{
    const struct kiln_qemu_conf *q = qemu_conf(p);
    struct qemu_priv *qp = xcalloc(1, sizeof *qp);
    p->priv = qp;
    if (q->image) {
        if (!file_exists(q->image))
            return err_setf(reterr, -ENOENT, "platform.qemu.image: %s does not exist; build it first or fix the path",
                            q->image);
        /* kiln's own reader tells fixed VHDs (footer only) from raw, which qemu's probe cannot */
        struct disk *d;
        _cleanup_free_ char *err = NULL;
        if (disk_open(q->image, &d, &err) < 0) return err_setf(reterr, -EINVAL, "platform.qemu.image: %s", err);
        const char *fmt = kiln_artifacts[disk_format(d)].qemu;
        disk_close(d);
        qp->image_format = xstrdup(fmt);
        /* booted from (no kernel given), a file without a partition table never boots: said
         * now, not after boot_timeout_s of a blank console */
        struct kiln_image_facts f;
        _cleanup_free_ char *why = NULL;
        int r = q->kernel ? 0 : kiln_image_check(q->image, &f, &why);
        if (r < 0)
            return err_setf(reterr, -EINVAL,
                            "platform.qemu.image: %s: %s; give a disk image with a partition table (raw, qcow2 or VHD, as "
                            "kiln build writes), or a kernel to boot with platform.qemu.kernel",
                            q->image, why);
        if (!q->kernel && f.uefi_only && q->firmware != FW_UEFI)
            log_warn("platform.qemu.image: %s boots only through UEFI (an EFI system partition, no BIOS boot partition), and "
                     "platform.qemu.firmware is bios: set firmware: uefi",
                     q->image);
    }
    for (const char *f = q->kernel; f; f = f == q->kernel ? q->initrd : NULL)
        if (!file_exists(f)) return err_setf(reterr, -ENOENT, "platform.qemu: %s does not exist", f);
    if (guest_arch(q, &qp->arch, reterr) < 0) return -EINVAL;
    if (q->firmware == FW_UEFI && (!first_existing(qp->arch->fw_code) || !first_existing(qp->arch->fw_vars)))
        return err_setf(reterr, -ENOENT,
                        "platform.qemu.firmware is uefi but %s UEFI firmware is not installed (apt-get install %s)",
                        qp->arch->name, qp->arch->fw_package);
    qp->fw_vars = first_existing(qp->arch->fw_vars);
    if (q->secure_boot != SB_OFF && secure_boot_firmware(q, qp, reterr) < 0) return -EINVAL;
    if (q->firmware == FW_UEFI && firmware_code(p, qp, reterr) < 0) return -EIO;
    qp->swtpm = find_program("KILN_SWTPM", "swtpm", NO_SWTPM, &qp->swtpm_why);
    find_gpus(q, qp);
    if (qp->swtpm) log_debug("qemu: TPMs from %s", qp->swtpm);
    const char *no_tgt = "tgt is not installed (apt-get install tgt: tgtd, tgtadm)";
    qp->tgtd = find_program("KILN_TGTD", "tgtd", no_tgt, &qp->tgt_why);
    if (qp->tgtd) qp->tgtadm = find_program("KILN_TGTADM", "tgtadm", no_tgt, &qp->tgt_why);
    if (!qp->tgtd || !qp->tgtadm) {
        free(qp->tgtd);
        free(qp->tgtadm);
        qp->tgtd = qp->tgtadm = NULL;
    }
    _cleanup_free_ char *detail = NULL;
    qp->kvm_cpu = q->cpu_model ? q->cpu_model : "host";
    if (q->accel == ACCEL_TCG) {
        qp->kvm = false;
        detail = xstrdup("accel: tcg requested");
    } else {
        qp->kvm = accel_kvm_works(qp->arch, p->work_dir, qp->kvm_cpu, &detail);
        if (q->accel == ACCEL_KVM && !qp->kvm)
            return err_setf(reterr, -ENODEV,
                            "platform.qemu.accel is kvm but KVM does not work here (%s); use accel: auto or tcg", detail);
    }
    free(p->accel);
    p->accel = xstrdup(qp->kvm ? "kvm" : "tcg");
    log_info("qemu: using %s (%s)", p->accel, detail);
    _cleanup_free_ char *why = NULL;
    qp->ntp = ntp_server_start("127.0.0.1", 0, &why);
    if (qp->ntp) log_info("qemu: NTP time source for the guests at 10.0.2.2:123 (host clock)");
    else log_info("qemu: no NTP time source for the guests (%s)", why);
    if (update_server_start(p, qp, reterr) < 0) {
        /* kiln run calls fini only after a successful init */
        qemu_fini(p);
        return -EIO;
    }
    return 0;
}

/* The callers call fini only after an init that worked: one that failed frees what it made. */
static int qemu_init(struct kiln_platform_ctx *p, char **reterr)
{
    int r = qemu_start(p, reterr);
    if (r < 0) qemu_fini(p);
    return r;
}

static bool qemu_capable(struct kiln_platform_ctx *p, const struct kiln_req *need, char **reterr)
{
    const struct kiln_qemu_conf *q = qemu_conf(p);
    if (need->nics > MAX_NICS) return err_setf(reterr, false, "needs nics>=%d, qemu platform gives at most %d", need->nics, MAX_NICS);
    if (need->data_disks > MAX_DISKS)
        return err_setf(reterr, false, "needs data_disks>=%d, qemu platform gives at most %d", need->data_disks, MAX_DISKS);
    if ((need->features & FEAT_UEFI) && q->firmware != FW_UEFI)
        return err_setf(reterr, false, "needs feature uefi, platform.qemu.firmware is bios");
    if ((need->features & FEAT_MULTIQUEUE) && mqtap_unavailable())
        return err_setf(reterr, false, "needs feature multiqueue: %s", mqtap_unavailable());
    struct qemu_priv *qp = p->priv;
    if ((need->features & FEAT_GPU) && !qp->ngpus) return err_setf(reterr, false, "needs gpu: %s", qp->gpu_why);
    if ((need->features & FEAT_GPU) && (size_t)kiln_req_nodes(need) > qp->ngpus)
        return err_setf(reterr, false, "needs gpu: %d nodes each need a GPU of their own, the host passes through %zu",
                        kiln_req_nodes(need), qp->ngpus);
    if ((need->features & FEAT_TPM) && !qp->swtpm)
        return err_setf(reterr, false, "needs feature tpm, %s", qp->swtpm_why ? qp->swtpm_why : NO_SWTPM);
    if ((need->features & FEAT_ISCSI) && !qp->tgtd)
        return err_setf(reterr, false, "needs feature iscsi, %s", qp->tgt_why ? qp->tgt_why : "");
    if ((need->features & FEAT_SECURE_BOOT) && q->secure_boot == SB_OFF)
        return err_setf(reterr, false, "needs feature secure-boot, platform.qemu.secure_boot is not set (ms or snakeoil)");
    if ((need->features & FEAT_UPDATE) && !p->update)
        return err_setf(reterr, false, "needs feature update: set platform.qemu.update {gallery, name} (docs/updates.md)");
    long host_cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (need->cpus > 4 * host_cpus)
        return err_setf(reterr, false, "needs cpus>=%d, host has %ld (kiln allows up to 4x overcommit)", need->cpus, host_cpus);
    return true;
}

static void qemu_spec_for(struct kiln_platform_ctx *p, const struct kiln_req *need, struct kiln_req *spec)
{
    const struct kiln_qemu_conf *q = qemu_conf(p);
    *spec = *need;
    spec->nodes = kiln_req_nodes(need);
    spec->cpus = MAX(need->cpus, (int)q->cpus);
    spec->memory_mb = MAX(need->memory_mb, (int)q->memory_mb);
    spec->nics = MAX(need->nics, 1);
    spec->features |= FEAT_SERIAL_CONSOLE | FEAT_HOT_ADD_DISK;
    /* nodes of one environment always share a private segment: it costs one NIC */
    if (spec->nodes > 1) spec->features |= FEAT_PRIVATE_NET;
    /* soft-RoCE runs over Ethernet: the private segment carries it */
    if (spec->features & FEAT_RDMA) spec->features |= FEAT_PRIVATE_NET;
    if (q->firmware == FW_UEFI) spec->features |= FEAT_UEFI;
    if (q->secure_boot != SB_OFF) spec->features |= FEAT_SECURE_BOOT;
    if (p->update) spec->features |= FEAT_UPDATE;
}

static int run_tool(char *const argv[], char **reterr)
{
    char *out = NULL;
    int r = proc_run(argv, 60000, &out);
    if (r != 0) err_setf(reterr, 0, "%s failed (%d): %s", argv[0], r, out ? strstrip(out) : "");
    free(out);
    return r == 0 ? 0 : -EIO;
}

/* The user-mode NICs' MACs: 52:54:00, the node's number, the NIC's index (the guest's NIC
 * cases and the seed's network-config both go by them). */
static char *nic_mac(const struct kiln_node *n, int i)
{
    int id = atoi(n->name + 4);
    return xasprintf("52:54:00:%02x:%02x:%02x", (id >> 8) & 0xff, id & 0xff, i);
}

/* cloud-init NoCloud seed: a FAT image labelled CIDATA, made without mounting anything.
 * network-config (cloud-init's format version 2, the netplan schema) gives every user-mode NIC
 * DHCP, as a cloud's metadata does for every NIC it attaches; without it cloud-init's fallback
 * configures only the first NIC. The NICs are matched by MAC; the IDs are Azure's ethN
 * convention, which only renderers that name devices themselves (ENI, sysconfig) apply. NICs
 * after the first are optional, so boot does not wait on them. The private and multiqueue NICs
 * are left to the cases that use them. */
static int make_seed(struct kiln_platform_ctx *p, struct kiln_node *n, int nics, const char *work, char **reterr)
{
    const char *user = p->rb->platform.admin_username;
    _cleanup_free_ char *ud_path = path_join(work, "user-data");
    _cleanup_free_ char *md_path = path_join(work, "meta-data");
    _cleanup_free_ char *nc_path = path_join(work, "network-config");
    struct sbuf nc = {0};
    sbuf_puts(&nc, "version: 2\nethernets:\n");
    for (int i = 0; i < nics; i++) {
        _cleanup_free_ char *mac = nic_mac(n, i);
        sbuf_printf(&nc, "  eth%d:\n    match: { macaddress: \"%s\" }\n    dhcp4: true\n%s", i, mac,
                    i ? "    optional: true\n" : "");
    }
    struct sbuf ud = {0};
    sbuf_printf(&ud, "#cloud-config\ndisable_root: false\nssh_pwauth: false\nssh_authorized_keys:\n  - %s\n",
                p->pubkey);
    /* exactly the accounts kiln needs: cloud-init's implicit "default" user (debian, fedora,
     * ...) would be an account provisioning made and the security checks then find */
    if (!streq(user, "root"))
        sbuf_printf(&ud, "users:\n  - name: %s\n    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n"
                         "    shell: /bin/sh\n    ssh_authorized_keys:\n      - %s\n", user, p->pubkey);
    else
        sbuf_puts(&ud, "users: []\n");
    _cleanup_free_ char *md = xasprintf("instance-id: kiln-%s-%d\nlocal-hostname: %s\n", n->name, (int)getpid(), n->name);
    int r = write_file_atomic(ud_path, ud.s, ud.len, 0600);
    sbuf_free(&ud);
    if (r == 0) r = write_file_atomic(nc_path, nc.s, nc.len, 0644);
    sbuf_free(&nc);
    if (r < 0 || write_file_atomic(md_path, md, strlen(md), 0644) < 0)
        return err_setf(reterr, -EIO, "cannot write cloud-init seed files in %s", work);
    _cleanup_free_ char *img = path_join(work, "seed.img");
    char *mk[] = {"mkfs.vfat", "-n", "CIDATA", "-C", img, "2048", NULL};
    if (run_tool(mk, reterr) < 0) return -EIO;
    char *cp[] = {"mcopy", "-i", img, ud_path, md_path, nc_path, "::/", NULL};
    return run_tool(cp, reterr);
}

/* A kernel command line holding a secret goes to qemu in a 0600 file (-readconfig, section
 * [machine]), not in argv, which every local user reads. qemu's config reader takes a
 * double-quoted value without '"' on a line of at most 1023 bytes. */
static int append_config(const char *work, const char *append, char **path, char **reterr)
{
    if (strpbrk(append, "\"\n") || strlen(append) > 1000)
        return err_setf(reterr, -EINVAL, "platform.qemu.append holds a secret, so it goes to qemu in a file, where it cannot "
                                 "hold '\"' or a newline nor pass 1000 bytes");
    *path = path_join(work, "machine.cfg");
    _cleanup_free_ char *text = xasprintf("[machine]\n  append = \"%s\"\n", append);
    int r = write_file_atomic(*path, text, strlen(text), 0600);
    if (r < 0) {
        err_setf(reterr, 0, "cannot write %s: %s", *path, strerror(-r));
        free(*path);
        *path = NULL;
    }
    return r;
}

/* qemu's argument vector plus the strings it owns; freed on every return path. */
struct qargv {
    char *v[160];
    size_t n;
    char *owned[64];
    size_t no;
};

static void qargv_free(struct qargv *a)
{
    for (size_t i = 0; i < a->no; i++) free(a->owned[i]);
    a->no = 0;
}

static int qemu_power_check(struct kiln_node *n, char **reterr);
static int qemu_power_cycle(struct kiln_node *n, char **reterr);
static double qemu_since_power_on(struct kiln_node *n, int64_t *console_bytes);

/* Everything a node needs before its first power-on: work dir, firmware variables, overlay,
 * data disks, cloud-init seed. Kept across power cycles. */
static int qemu_prepare_node(struct kiln_platform_ctx *p, struct kiln_env *env, struct kiln_node *n, char **reterr)
{
    const struct kiln_qemu_conf *q = qemu_conf(p);
    struct qemu_priv *qp = p->priv;
    struct qemu_node *qn = xcalloc(1, sizeof *qn);
    n->priv = qn;
    n->power_check = qemu_power_check;
    n->power_cycle = qemu_power_cycle;
    n->since_power_on = qemu_since_power_on;
    qn->p = p;
    qn->env = env;
    qn->kvm = qp->kvm;
    qn->gpu = -1;
    qn->work = path_join(p->work_dir, n->name);
    mkdir_p(qn->work, 0700);
    n->have = env->spec;
    n->have.nodes = 0;
    if (q->firmware == FW_UEFI) {
        _cleanup_free_ char *vars = path_join(qn->work, "efi-vars.fd");
        char *cp[] = {"cp", (char *)qp->fw_vars, vars, NULL};
        if (run_tool(cp, reterr) < 0) return -EIO;
        if (qp->arch->pflash_bytes && truncate(vars, (off_t)qp->arch->pflash_bytes) < 0)
            return err_setf(reterr, -errno, "cannot size %s to the machine's pflash: %s", vars, strerror(errno));
    }
    if (q->image) {
        _cleanup_free_ char *overlay = path_join(qn->work, "overlay.qcow2");
        char *mk[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-F", qp->image_format, "-b", (char *)q->image,
                      overlay, NULL};
        if (run_tool(mk, reterr) < 0) return -EIO;
    }
    for (int i = 0; i < env->spec.data_disks; i++) {
        _cleanup_free_ char *disk = xasprintf("%s/data%d.qcow2", qn->work, i);
        _cleanup_free_ char *size = xasprintf("%dM", DATA_DISK_MB);
        char *mk[] = {"qemu-img", "create", "-q", "-f", "qcow2", disk, size, NULL};
        if (run_tool(mk, reterr) < 0) return -EIO;
    }
    if (env->spec.features & FEAT_NVME) {
        _cleanup_free_ char *disk = path_join(qn->work, "nvme0.qcow2");
        char *mk[] = {"qemu-img", "create", "-q", "-f", "qcow2", disk, "1G", NULL};
        if (run_tool(mk, reterr) < 0) return -EIO;
        n->have.features |= FEAT_NVME;
    }
    if (env->spec.features & FEAT_GPU) {
        /* a device goes to one VM at a time */
        for (size_t i = 0; i < qp->ngpus && qn->gpu < 0; i++) {
            bool free_dev = false;
            if (atomic_compare_exchange_strong(&qp->gpu_used[i], &free_dev, true)) qn->gpu = (int)i;
        }
        if (qn->gpu < 0)
            return err_setf(reterr, -EBUSY, "needs gpu: all %zu passed-through device(s) are given to other nodes", qp->ngpus);
    }
    if (env->spec.features & FEAT_TPM) {
        /* the TPM's persistent state (seeds, NV indices) outlives each swtpm: one per power-on */
        _cleanup_free_ char *state = path_join(qn->work, "tpm");
        if (mkdir_p(state, 0700) < 0) return err_setf(reterr, -EIO, "cannot make %s: %s", state, strerror(errno));
    }
    return make_seed(p, n, env->spec.nics, qn->work, reterr);
}

/* Ends this power-on's swtpm. Its persistent state is on disk already (swtpm writes it on
 * every change), so SIGTERM loses only what a power cut loses. */
static void swtpm_stop(struct qemu_node *qn)
{
    if (qn->swtpm_pid > 0) proc_kill(qn->swtpm_pid, 1000);
    qn->swtpm_pid = 0;
}

/* Starts a swtpm for this power-on on the node's TPM state and waits for its control
 * socket: swtpm ends when qemu sends it CMD_SHUTDOWN on exit, so each power-on needs one. */
static int swtpm_start(struct kiln_node *n, struct qemu_node *qn, const char *sock, char **reterr)
{
    struct qemu_priv *qp = qn->p->priv;
    swtpm_stop(qn);
    unlink(sock);
    _cleanup_free_ char *state = xasprintf("dir=%s/tpm,mode=0600", qn->work);
    _cleanup_free_ char *ctrl = xasprintf("type=unixio,path=%s,mode=0600", sock);
    _cleanup_free_ char *logp = path_join(n->dir, "swtpm.log");
    /* swtpm 0.7 refuses --log fd=2: its log and its stderr append to the same file */
    _cleanup_free_ char *logarg = xasprintf("file=%s,level=1", logp);
    char *argv[] = {qp->swtpm, "socket", "--tpm2", "--tpmstate", state, "--ctrl", ctrl, "--log", logarg, NULL};
    FILE *lf = fopen(logp, qn->power_ons ? "ae" : "we");
    int r = proc_spawn(argv, -1, lf ? fileno(lf) : -1, lf ? fileno(lf) : -1, &qn->swtpm_pid);
    if (lf) fclose(lf);
    if (r < 0) {
        qn->swtpm_pid = 0;
        return err_setf(reterr, r, "cannot start %s: %s", qp->swtpm, strerror(-r));
    }
    for (int64_t deadline = now_ms() + 5000; !file_exists(sock); usleep(20000)) {
        bool exited = proc_wait(qn->swtpm_pid, 0, NULL) == 0;
        if (kiln_interrupted && !exited) {
            swtpm_stop(qn);
            return err_setf(reterr, -EINTR, "%s: interrupted while swtpm started", n->name);
        }
        if (exited || now_ms() > deadline) {
            if (exited) qn->swtpm_pid = 0; /* reaped: its pid may be another process's now */
            swtpm_stop(qn);
            char *log = NULL;
            read_file(logp, 2048, &log, NULL);
            err_setf(reterr, 0, "%s: swtpm %s without its control socket %s: %s", n->name,
                     exited ? "exited" : "ran 5 s", sock, log ? strstrip(log) : "");
            free(log);
            return -EIO;
        }
    }
    return 0;
}

#define ARG(s) (a->v[a->n++] = (char *)(s))
#define OWN(s) (a->owned[a->no++] = (s))

/* The machine: firmware mode, CPUs, memory, the serial console into console_raw, QMP on
 * qmp_sock, and the empty root ports disks are hot-plugged into. */
static void args_machine(struct qargv *a, struct kiln_node *n, const char *console_raw, const char *qmp_sock)
{
    struct qemu_node *qn = n->priv;
    const struct kiln_qemu_conf *q = qemu_conf(qn->p);
    struct qemu_priv *qp = qn->p->priv;
    ARG(qp->arch->qemu);
    ARG("-name"), ARG(OWN(xasprintf("kiln-%s", n->name)));
    /* the Secure Boot firmware keeps its variables safe from the OS only in SMM */
    bool secure = q->secure_boot != SB_OFF;
    ARG("-machine"), ARG(OWN(xasprintf("%s,accel=%s%s", qp->arch->machine, qn->kvm ? "kvm" : "tcg",
                                       secure ? ",smm=on" : "")));
    if (secure) ARG("-global"), ARG("driver=cfi.pflash01,property=secure,value=on");
    ARG("-cpu"), ARG(qn->kvm ? qp->kvm_cpu : q->cpu_model ? q->cpu_model : qp->arch->tcg_cpu);
    ARG("-smp"), ARG(OWN(xasprintf("%d", qn->env->spec.cpus)));
    ARG("-m"), ARG(OWN(xasprintf("%d", qn->env->spec.memory_mb)));
    ARG("-nodefaults"), ARG("-no-user-config"), ARG("-display"), ARG("none");
    /* the guest's reset ends qemu: kiln powers it on again (see the top of this file) */
    ARG("-no-reboot");
    /* qemu writes the raw console privately; the scanner copies it, secrets masked, to the run dir */
    /* it holds what the guest printed, secrets unmasked: 0600 (qemu would create it 0644) */
    int rawfd = open(console_raw, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (rawfd >= 0) close(rawfd);
    ARG("-chardev"), ARG(OWN(xasprintf("file,id=con0,path=%s,append=on", console_raw)));
    ARG("-serial"), ARG("chardev:con0");
    ARG("-qmp"), ARG(OWN(xasprintf("unix:%s,server=on,wait=off", qmp_sock)));
    ARG("-device"), ARG("virtio-rng-pci");
    /* q35's root bus cannot hot-plug: empty root ports take the disks added at run time */
    for (int i = 0; i < MAX_HOT_DISKS; i++)
        ARG("-device"), ARG(OWN(xasprintf("pcie-root-port,id=hp%d,bus=pcie.0,chassis=%d,slot=0", i, 10 + i)));
}

/* The NICs: user-mode ones (the first forwards SSH), the private segment through l2_sock, the
 * multiqueue tap (a new one per power-on). */
static int args_nics(struct qargv *a, struct kiln_node *n, const char *l2_sock, char **reterr)
{
    struct qemu_node *qn = n->priv;
    const struct kiln_env *env = qn->env;
    int id = atoi(n->name + 4);
    /* the management NIC first: it gets the first PCI slot and so the first name (eth0, the
     * lowest enpXsY) that images configure for DHCP */
    for (int i = 0; i < env->spec.nics; i++) {
        if (i == 0) ARG("-netdev"), ARG("user,id=net0,hostfwd=tcp:127.0.0.1:0-:22");
        else ARG("-netdev"), ARG(OWN(xasprintf("user,id=net%d,net=10.0.%d.0/24", i, 2 + i)));
        _cleanup_free_ char *mac = nic_mac(n, i);
        ARG("-device"), ARG(OWN(xasprintf("virtio-net-pci,netdev=net%d,mac=%s", i, mac)));
    }
    if (env->spec.features & FEAT_PRIVATE_NET) {
        ARG("-netdev"), ARG(OWN(xasprintf("dgram,id=l2,local.type=unix,local.path=%s,remote.type=unix,remote.path=%s",
                                          l2_sock, ((struct qemu_env *)env->priv)->hub_path)));
        ARG("-device"), ARG(OWN(xasprintf("virtio-net-pci,netdev=l2,mac=" KILN_PRIVATE_MAC_PREFIX ":%02x:%02x:%02x",
                                          (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff)));
    }
    if (env->spec.features & FEAT_MULTIQUEUE) {
        int queues = MAX(2, MIN(env->spec.cpus, MQTAP_MAX_QUEUES));
        mqtap_close(&qn->mq); /* a tap device lives as long as its queues: a new one per power-on */
        if (mqtap_open(&qn->mq, queues, reterr) < 0) return -EIO;
        struct sbuf fds = {0};
        for (int i = 0; i < qn->mq.nqueues; i++) sbuf_printf(&fds, "%s%d", i ? ":" : "", qn->mq.fds[i]);
        ARG("-netdev"), ARG(OWN(xasprintf("tap,id=mq,fds=%s,vhost=off", fds.s)));
        sbuf_free(&fds);
        ARG("-device"), ARG(OWN(xasprintf("virtio-net-pci,netdev=mq,mq=on,vectors=%d,mac=" KILN_MULTIQUEUE_MAC_PREFIX
                                          ":%02x:%02x:%02x", 2 * queues + 2, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff)));
    }
    return 0;
}

/* The host devices: this power-on's TPM (its swtpm started now), the passed-through GPU. */
static int args_devices(struct qargv *a, struct kiln_node *n, char **reterr)
{
    struct qemu_node *qn = n->priv;
    struct qemu_priv *qp = qn->p->priv;
    if (qn->env->spec.features & FEAT_TPM) {
        _cleanup_free_ char *tpm_sock = path_join(qn->work, "swtpm.sock");
        if (swtpm_start(n, qn, tpm_sock, reterr) < 0) return -EIO;
        ARG("-chardev"), ARG(OWN(xasprintf("socket,id=chrtpm,path=%s", tpm_sock)));
        ARG("-tpmdev"), ARG("emulator,id=tpm0,chardev=chrtpm");
        ARG("-device"), ARG("tpm-crb,tpmdev=tpm0");
    }
    if (qn->gpu >= 0) ARG("-device"), ARG(OWN(xasprintf("vfio-pci,host=%s", qp->gpus[qn->gpu])));
    return 0;
}

/* The storage qemu_prepare_node made: UEFI code and variables, the image's overlay, the data
 * disks, the NVMe disk. */
static void args_disks(struct qargv *a, struct qemu_node *qn)
{
    const struct kiln_qemu_conf *q = qemu_conf(qn->p);
    struct qemu_priv *qp = qn->p->priv;
    if (q->firmware == FW_UEFI) {
        ARG("-drive"), ARG(OWN(xasprintf("if=pflash,format=raw,unit=0,readonly=on,file=%s", qp->fw_code)));
        ARG("-drive"), ARG(OWN(xasprintf("if=pflash,format=raw,unit=1,file=%s/efi-vars.fd", qn->work)));
    }
    if (q->image) {
        ARG("-drive"), ARG(OWN(xasprintf("if=none,id=root,file=%s/overlay.qcow2,format=qcow2,cache=unsafe,discard=unmap",
                                         qn->work)));
        /* with -kernel the firmware boots the kernel; bootindex 0 would clash with it */
        ARG("-device"), ARG(q->kernel ? "virtio-blk-pci,drive=root" : "virtio-blk-pci,drive=root,bootindex=0");
    }
    for (int i = 0; i < qn->env->spec.data_disks; i++) {
        ARG("-drive"), ARG(OWN(xasprintf("if=none,id=data%d,file=%s/data%d.qcow2,format=qcow2,cache=unsafe", i,
                                         qn->work, i)));
        ARG("-device"), ARG(OWN(xasprintf("virtio-blk-pci,drive=data%d,serial=kiln-data%d", i, i)));
    }
    if (qn->env->spec.features & FEAT_NVME) {
        ARG("-drive"), ARG(OWN(xasprintf("if=none,id=nvme0,file=%s/nvme0.qcow2,format=qcow2,cache=unsafe", qn->work)));
        ARG("-device"), ARG("nvme,drive=nvme0,serial=kilnnvme0");
    }
}

/* What the guest is told: the direct-boot kernel and its command line (one holding a secret
 * in a 0600 file), root's SSH key and the updater's server as systemd credentials, the
 * cloud-init seed. */
static int args_provision(struct qargv *a, struct qemu_node *qn, char **reterr)
{
    struct kiln_platform_ctx *p = qn->p;
    const struct kiln_qemu_conf *q = qemu_conf(p);
    struct qemu_priv *qp = p->priv;
    if (q->kernel) {
        ARG("-kernel"), ARG(q->kernel);
        if (q->initrd) ARG("-initrd"), ARG(q->initrd);
        /* owned by a: the default outlives this block (it was freed here, then read) */
        const char *append = q->append ? q->append : OWN(xasprintf("console=%s", qp->arch->console));
        char *cfg = NULL;
        if (!secret_contains(append)) ARG("-append"), ARG(append);
        else if (append_config(qn->work, append, &cfg, reterr) < 0) return -EINVAL;
        else ARG("-readconfig"), ARG(OWN(cfg));
    }
    /* systemd (and kiln's busybox test image) read root's key from this credential */
    _cleanup_free_ char *keyline = xasprintf("%s\n", p->pubkey);
    _cleanup_free_ char *b64 = base64_encode(keyline, strlen(keyline));
    ARG("-smbios"), ARG(OWN(xasprintf("type=11,value=io.systemd.credential.binary:ssh.authorized_keys.root=%s", b64)));
    if (p->update) {
        /* kiln-updater's provisioning override: this run's server, and the channel the cases roll out */
        _cleanup_free_ char *conf = xasprintf("server=%s\nchannel=%s\n", p->update->guest_url, p->update->channel);
        _cleanup_free_ char *cb64 = base64_encode(conf, strlen(conf));
        ARG("-smbios"), ARG(OWN(xasprintf("type=11,value=io.systemd.credential.binary:kiln-updater.conf=%s", cb64)));
    }
    ARG("-drive"), ARG(OWN(xasprintf("if=none,id=seed,file=%s/seed.img,format=raw,readonly=on", qn->work)));
    ARG("-device"), ARG("virtio-blk-pci,drive=seed");
    return 0;
}

#undef ARG
#undef OWN

/* nodes/<name>/qemu-cmdline.txt (and the debug log): the command line, secrets masked. */
static void write_cmdline(const struct kiln_node *n, const struct qargv *a)
{
    struct sbuf cmdline = {0};
    for (size_t i = 0; i < a->n; i++) sbuf_printf(&cmdline, "%s%s", i ? " " : "", a->v[i]);
    _cleanup_free_ char *cmdfile = path_join(n->dir, "qemu-cmdline.txt");
    _cleanup_free_ char *masked = secret_mask(cmdline.s);
    write_file_atomic(cmdfile, masked, strlen(masked), 0644);
    log_debug("%s: %s", n->name, masked);
    sbuf_free(&cmdline);
}

/* Connects to the started qemu's QMP and reads the host port it forwards to the guest's SSH
 * (the kernel picked it: no race) into n->port. why gets qemu's log when QMP never came up. */
static int connect_qmp(struct kiln_node *n, const char *qmp_sock, const char *qlog, char **reterr)
{
    struct qemu_node *qn = n->priv;
    qn->qmp = qmp_open(qmp_sock, 10000);
    if (!qn->qmp) {
        char *err = NULL;
        read_file(qlog, 4096, &err, NULL);
        err_setf(reterr, 0, "qemu did not start: %s", err ? strstrip(err) : "no QMP socket");
        free(err);
        return -EIO;
    }
    _cleanup_free_ char *usernet = qmp_hmp(qn->qmp, "info usernet");
    regex_t rx;
    regcomp(&rx, "HOST_FORWARD\\][ \t]+[0-9]+[ \t]+[0-9.]+[ \t]+([0-9]+)", REG_EXTENDED);
    regmatch_t m[2];
    if (!usernet || regexec(&rx, usernet, 2, m, 0) != 0) {
        regfree(&rx);
        return err_setf(reterr, -EIO, "cannot find the SSH forward port in QMP 'info usernet'");
    }
    regfree(&rx);
    n->port = atoi(usernet + m[1].rm_so);
    free(n->host);
    n->host = xstrdup("127.0.0.1");
    return 0;
}

/* Starts the node's qemu (first boot or after a power-off): same disks and firmware
 * variables, the console appended to the same file, QMP and the SSH port found again. */
static int qemu_power_on(struct kiln_node *n, char **reterr)
{
    struct qemu_node *qn = n->priv;
    struct qemu_priv *qp = qn->p->priv;
    _cleanup_free_ char *console_raw = path_join(qn->work, "console.raw");
    _cleanup_free_ char *qmp_sock = path_join(qn->work, "qmp.sock");
    _cleanup_free_ char *l2_sock = path_join(qn->work, "l2.sock");
    unlink(qmp_sock);
    unlink(l2_sock);
    qmp_close(qn->qmp);
    qn->qmp = NULL;

    /* the order is the guest's PCI order: NICs before disks, the management NIC first */
    __attribute__((cleanup(qargv_free))) struct qargv a = {0};
    args_machine(&a, n, console_raw, qmp_sock);
    if (args_nics(&a, n, l2_sock, reterr) < 0 || args_devices(&a, n, reterr) < 0) return -EIO;
    args_disks(&a, qn);
    if (args_provision(&a, qn, reterr) < 0) return -EINVAL;
    a.v[a.n] = NULL;
    write_cmdline(n, &a);

    _cleanup_free_ char *qlog = path_join(n->dir, "qemu.log");
    FILE *ql = fopen(qlog, qn->power_ons ? "ae" : "we");
    uint64_t console_before = n->console ? console_bytes(n->console) : 0;
    if (n->console) console_boot_reset(n->console);
    int r = proc_spawn(a.v, -1, ql ? fileno(ql) : -1, ql ? fileno(ql) : -1, &qn->pid);
    mqtap_release_queues(&qn->mq); /* qemu holds its own copies of the queues now */
    if (ql) fclose(ql);
    if (r < 0) {
        qn->pid = 0;
        swtpm_stop(qn);
        return err_setf(reterr, r, "cannot start %s: %s", qp->arch->qemu, strerror(-r));
    }
    qn->power_ons++;
    qn->powered_on_ms = now_ms();
    qn->console_at_power_on = console_before;
    if (!n->console) {
        _cleanup_free_ char *console = path_join(n->dir, "console.log");
        n->console = console_start(console_raw, console, qn->p->patterns);
    }
    if (connect_qmp(n, qmp_sock, qlog, reterr) < 0) return -EIO;
    /* later power-ons are part of a reboot: the case log tells them */
    log_full(qn->power_ons > 1 ? LOG_DEBUG : LOG_INFO, 0, "%s: qemu pid %d (%s), ssh on 127.0.0.1:%d, console %s/console.log",
             n->name, (int)qn->pid, qn->kvm ? "kvm" : "tcg", n->port, n->dir);
    return 0;
}

/* Ends the node's qemu: asks through QMP, then signals. */
static void qemu_power_off(struct qemu_node *qn)
{
    if (qn->pid > 0) {
        if (qn->qmp) {
            char *err = NULL;
            json_decref(qmp_call(qn->qmp, "quit", NULL, &err));
            free(err);
        }
        if (proc_wait(qn->pid, 3000, NULL) < 0) proc_kill(qn->pid, 2000);
    }
    swtpm_stop(qn);
    qn->pid = 0;
    qmp_close(qn->qmp);
    qn->qmp = NULL;
}

/* 1 when qemu has exited (reaped; its status in *status), 0 while it runs. */
static int qemu_exited(struct qemu_node *qn, int *status)
{
    if (qn->pid <= 0) return 1;
    if (proc_wait(qn->pid, 0, status) == -ETIMEDOUT) return 0;
    qn->pid = 0;
    qmp_close(qn->qmp);
    qn->qmp = NULL;
    return 1;
}

static int qemu_power_check(struct kiln_node *n, char **reterr)
{
    struct qemu_node *qn = n->priv;
    if (!qn) return err_setf(reterr, -ENOTCONN, "%s has no VM", n->name);
    int status = 0;
    if (!qemu_exited(qn, &status)) return 0;
    /* with -no-reboot the guest's reset or power-off ends qemu with status 0; anything else
     * is qemu failing, which a new power-on would hide */
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *qlog = NULL;
        _cleanup_free_ char *qpath = path_join(n->dir, "qemu.log");
        read_file(qpath, 2048, &qlog, NULL);
        err_setf(reterr, 0, "qemu ended with %s %d: %s", WIFEXITED(status) ? "status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), qlog ? strstrip(qlog) : "");
        free(qlog);
        return -EIO;
    }
    int r = qemu_power_on(n, reterr);
    return r < 0 ? r : 1;
}

static int qemu_power_cycle(struct kiln_node *n, char **reterr)
{
    struct qemu_node *qn = n->priv;
    if (!qn) return err_setf(reterr, -ENOTCONN, "%s has no VM", n->name);
    /* for the guest a power cut; qemu still gets to write its qcow2 metadata out when it answers */
    qemu_power_off(qn);
    return qemu_power_on(n, reterr);
}

static double qemu_since_power_on(struct kiln_node *n, int64_t *console_bytes_since)
{
    struct qemu_node *qn = n->priv;
    if (!qn || qn->pid <= 0) {
        if (console_bytes_since) *console_bytes_since = -1;
        return -1;
    }
    if (console_bytes_since)
        *console_bytes_since = n->console ? (int64_t)(console_bytes(n->console) - qn->console_at_power_on) : -1;
    return (double)(now_ms() - qn->powered_on_ms) / 1000.0;
}

/* Reads of the boot disk since power-on (QMP query-blockstats), -1 when unknown. */
static long long root_disk_reads(struct qemu_node *qn)
{
    if (!qn->qmp) return -1;
    char *err = NULL;
    json_t *r = qmp_call(qn->qmp, "query-blockstats", NULL, &err);
    free(err);
    if (!r) return -1;
    long long reads = -1;
    size_t i;
    json_t *dev;
    json_array_foreach(r, i, dev) {
        const char *name = json_string_value(json_object_get(dev, "device"));
        if (!name || !streq(name, "root")) continue;
        json_t *ops = json_object_get(json_object_get(dev, "stats"), "rd_operations");
        if (json_is_integer(ops)) reads = json_integer_value(ops);
    }
    json_decref(r);
    return reads;
}

/* Seconds of CPU time qemu's threads used so far (vCPUs included), -1 when unknown. */
static double qemu_cpu_s(pid_t pid)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
    char *stat = NULL;
    if (read_file(path, 4096, &stat, NULL) < 0) return -1;
    const char *p = strrchr(stat, ')');
    unsigned long long ut = 0, st = 0;
    int got = p ? sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) : 0;
    free(stat);
    return got == 2 ? (double)(ut + st) / (double)sysconf(_SC_CLK_TCK) : -1;
}

/* Whether the guest brought a NIC up: 1 when a virtio-net NIC's receive filter (QMP
 * query-rx-filter) holds a multicast address, which the guest's driver programs once an
 * interface is up (IPv6 joins all-nodes, IPv4 all-hosts); 0 when none does; -1 unknown. */
static int qemu_nic_up(struct qemu_node *qn)
{
    if (!qn->qmp) return -1;
    char *err = NULL;
    json_t *r = qmp_call(qn->qmp, "query-rx-filter", NULL, &err);
    free(err);
    if (!json_is_array(r)) {
        json_decref(r);
        return -1;
    }
    int up = 0;
    size_t i;
    json_t *nic;
    json_array_foreach(r, i, nic) {
        json_t *mc = json_object_get(nic, "multicast-table");
        if (json_array_size(mc) > 0) up = 1;
    }
    json_decref(r);
    return up;
}

/* Waits for SSH on a freshly deployed node. Under KVM, a guest that shows no sign of life
 * within KILN_KVM_LIFE_WINDOW_S, or whose qemu exits, sets *kvm_dead (with the evidence in
 * why) instead of waiting out the boot timeout. */
static int qemu_wait_ssh(struct kiln_platform_ctx *p, struct kiln_node *n, bool *kvm_dead, char **reterr)
{
    const struct kiln_qemu_conf *q = qemu_conf(p);
    struct qemu_node *qn = n->priv;
    int64_t deadline = now_ms() + q->boot_timeout_s * 1000;
    bool alive = !qn->kvm;
    _cleanup_free_ char *err = NULL, *unreachable = NULL;
    for (;;) {
        int left = (int)((deadline - now_ms()) / 1000);
        /* short attempts: a qemu that died, or a KVM guest without progress, is seen in time */
        int r = node_connect(n, MAX(MIN(left, alive ? 5 : 2), 1), &err);
        if (r == 0) return 0;
        if (r == -EPERM) {
            /* the boot timeout would only wait on: say why at once */
            err_setf(reterr, 0, "%s: %s. The image did not take the key kiln provisioned (cloud-init user-data on "
                     "the NoCloud seed, and the SMBIOS credential ssh.authorized_keys.root for systemd >= 252): it "
                     "may run neither, ship its own authorized_keys, or refuse this user (PermitRootLogin, "
                     "AllowUsers). Give the image one of those, or set platform.admin_username and "
                     "platform.admin_private_key_file to an account and key it accepts",
                     n->name, err);
            return r;
        }
        int status = 0;
        if (r == -ETIMEDOUT && qemu_exited(qn, &status)) {
            char *qlog = NULL;
            _cleanup_free_ char *qpath = path_join(n->dir, "qemu.log");
            read_file(qpath, 2048, &qlog, NULL);
            err_setf(reterr, 0, "%s: qemu (%s) exited with %s %d before SSH answered: %s", n->name,
                     qn->kvm ? "kvm" : "tcg", WIFEXITED(status) ? "status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), qlog ? strstrip(qlog) : "");
            free(qlog);
            if (qn->kvm) *kvm_dead = true;
            return -EIO;
        }
        if (r == -ETIMEDOUT && !alive) {
            int64_t bytes = 0;
            double up = qemu_since_power_on(n, &bytes);
            long long reads = root_disk_reads(qn);
            alive = bytes > 0 || reads > 0;
            if (!alive && up >= KILN_KVM_LIFE_WINDOW_S) {
                err_setf(reterr, 0, "%s: no sign of life under KVM after %.0f s (no console output, %s, no SSH; qemu "
                         "used %.1f s of CPU)", n->name, up, reads < 0 ? "no boot disk" : "no read of the boot disk",
                         qemu_cpu_s(qn->pid));
                *kvm_dead = true;
                return -EIO;
            }
            if (now_ms() < deadline) continue;
        }
        /* booted with nothing on the network: the boot timeout would only wait on */
        if (r == -ETIMEDOUT && n->console && q->booted_grace_s > 0 &&
            console_booted_unreachable(n->console, (double)q->booted_grace_s, -1, NULL) &&
            console_booted_unreachable(n->console, (double)q->booted_grace_s, qemu_nic_up(qn), &unreachable)) {
            return err_setf(reterr, -EHOSTUNREACH, "%s: %s (%s; platform.qemu.booted_grace_s: %ld)", n->name, unreachable,
                            err, q->booted_grace_s);
        }
        if (r == -ETIMEDOUT && now_ms() < deadline) continue;
        _cleanup_free_ char *tail = n->console ? console_tail(n->console, 8) : xstrdup("");
        const char *fatal = node_fatal(n);
        if (r == -EHOSTDOWN && fatal)
            err_setf(reterr, 0, "%s: %s", n->name, fatal);
        else if (r == -EINTR)
            err_setf(reterr, 0, "interrupted");
        else
            err_setf(reterr, 0, "%s: no SSH after %ld s (%s); last console lines:\n%s", n->name, q->boot_timeout_s, err,
                     tail);
        return r;
    }
}

static void qemu_destroy(struct kiln_platform_ctx *p, struct kiln_env *env);

/* Deploys env's nodes (made here, or kept from an attempt under KVM that was given up). */
static int qemu_deploy_once(struct kiln_platform_ctx *p, struct kiln_env *env, bool *kvm_dead, char **reterr)
{
    int count = kiln_req_nodes(&env->spec);
    if (!env->nodes) {
        env->nodes = xcalloc((size_t)count, sizeof *env->nodes);
        for (int i = 0; i < count; i++) env->nodes[env->nnodes++] = platform_new_node(p);
    }
    if (!env->priv) env->priv = xcalloc(1, sizeof(struct qemu_env));
    struct qemu_env *le = env->priv;
    if ((env->spec.features & FEAT_ISCSI) && !env->iscsi) {
        struct qemu_priv *qp = p->priv;
        _cleanup_free_ char *backing = xasprintf("%s/%s-iscsi-lun1.img", p->work_dir, env->name);
        _cleanup_free_ char *log = xasprintf("%s/%s-tgtd.log", p->run_dir, env->name);
        _cleanup_free_ char *iqn = xasprintf("iqn.2026-01.dev.kiln:%s", env->name);
        int r = iscsi_target_start(&le->iscsi, qp->tgtd, qp->tgtadm, backing, ISCSI_LUN_BYTES, iqn, log, reterr);
        if (r < 0) return r;
        env->iscsi = xcalloc(1, sizeof *env->iscsi);
        env->iscsi->portal = xasprintf("10.0.2.2:%d", le->iscsi.port);
        env->iscsi->iqn = xstrdup(iqn);
        env->iscsi->lun_bytes = ISCSI_LUN_BYTES;
        log_info("%s: iSCSI target %s on 127.0.0.1:%d (guests: %s), tgtd pid %d", env->name, iqn, le->iscsi.port,
                 env->iscsi->portal, (int)le->iscsi.pid);
    }
    if ((env->spec.features & FEAT_PRIVATE_NET) && !le->hub) {
        le->hub_path = xasprintf("%s/%s-l2.sock", p->work_dir, env->name);
        char **ports = xcalloc((size_t)count, sizeof *ports);
        for (int i = 0; i < count; i++) ports[i] = xasprintf("%s/%s/l2.sock", p->work_dir, env->nodes[i]->name);
        le->hub = l2hub_start(le->hub_path, ports, (size_t)count, reterr);
        strv_free(ports, (size_t)count);
        if (!le->hub) return -EIO;
    }
    for (size_t i = 0; i < env->nnodes; i++) {
        int r = qemu_prepare_node(p, env, env->nodes[i], reterr);
        if (r == 0) r = qemu_power_on(env->nodes[i], reterr);
        if (r < 0) return r;
    }
    for (size_t i = 0; i < env->nnodes; i++) {
        struct kiln_node *n = env->nodes[i];
        double t0 = now_s();
        int r = qemu_wait_ssh(p, n, kvm_dead, reterr);
        if (r < 0) return r;
        node_read_boot_id(n);
        log_info("%s: SSH ready after %.1f s", n->name, now_s() - t0);
    }
    return 0;
}

static int qemu_deploy(struct kiln_platform_ctx *p, struct kiln_env *env, char **reterr)
{
    const struct kiln_qemu_conf *q = qemu_conf(p);
    struct qemu_priv *qp = p->priv;
    bool kvm_dead = false;
    _cleanup_free_ char *evidence = NULL;
    int r = qemu_deploy_once(p, env, &kvm_dead, &evidence);
    if (r == 0) return r;
    if (!kvm_dead) return err_setf(reterr, r, "%s", evidence ? evidence : "");
    if (q->accel == ACCEL_KVM) {
        err_setf(reterr, 0, "platform.qemu.accel is kvm but KVM does not run this guest: %s; use accel: auto or tcg",
                 evidence);
        return -ENOTSUP; /* the runbook's choice: deploying again would not help */
    }
    /* auto: KVM passed the probe (or a cached verdict said so) but does not run real guests */
    if (atomic_exchange(&qp->kvm, false)) {
        accel_kvm_failed(qp->kvm_cpu, evidence);
        free(p->accel);
        p->accel = xstrdup("tcg");
    }
    log_warn("qemu: KVM does not run real guests here (%s); deploying %s again under TCG (slower) and remembering "
             "this for a day", evidence, env->name);
    qemu_destroy(p, env);
    kvm_dead = false;
    return qemu_deploy_once(p, env, &kvm_dead, reterr);
}

static int qemu_hot_add_disk(struct kiln_platform_ctx *p, struct kiln_node *n, int size_mb, char **reterr)
{
    (void)p;
    struct qemu_node *qn = n->priv;
    if (qn->hot_disks >= MAX_HOT_DISKS) return err_setf(reterr, -ENOSPC, "at most %d disks can be added to a VM", MAX_HOT_DISKS);
    int idx = qn->hot_disks++;
    _cleanup_free_ char *disk = xasprintf("%s/hot%d.qcow2", qn->work, idx);
    _cleanup_free_ char *size = xasprintf("%dM", size_mb);
    char *mk[] = {"qemu-img", "create", "-q", "-f", "qcow2", disk, size, NULL};
    if (run_tool(mk, reterr) < 0) return -EIO;
    char *err = NULL;
    _cleanup_free_ char *node_name = xasprintf("hot%d", idx);
    _cleanup_free_ char *dev_id = xasprintf("hotdev%d", idx);
    _cleanup_free_ char *serial = xasprintf("kiln-hot%d", idx);
    _cleanup_free_ char *bus = xasprintf("hp%d", idx);
    json_t *r = qmp_call(qn->qmp, "blockdev-add",
                         json_pack("{s:s,s:s,s:{s:s,s:s}}", "node-name", node_name, "driver", "qcow2", "file",
                                   "driver", "file", "filename", disk),
                         &err);
    if (!r) goto fail;
    json_decref(r);
    r = qmp_call(qn->qmp, "device_add",
                 json_pack("{s:s,s:s,s:s,s:s,s:s}", "driver", "virtio-blk-pci", "drive", node_name, "id", dev_id,
                           "serial", serial, "bus", bus),
                 &err);
    if (!r) goto fail;
    json_decref(r);
    return idx;
fail:
    err_setf(reterr, 0, "QMP hot-add failed: %s", err ? err : "?");
    free(err);
    return -EIO;
}

static void qemu_destroy(struct kiln_platform_ctx *p, struct kiln_env *env)
{
    struct qemu_priv *qp = p->priv;
    struct qemu_env *le = env ? env->priv : NULL;
    for (size_t i = 0; env && i < env->nnodes; i++) {
        struct kiln_node *n = env->nodes[i];
        struct qemu_node *qn = n->priv;
        node_disconnect(n);
        if (!qn) continue;
        qemu_power_off(qn);
        mqtap_close(&qn->mq);
        if (qn->gpu >= 0) atomic_store(&qp->gpu_used[qn->gpu], false);
        if (qn->work) rm_rf(qn->work);
        free(qn->work);
        free(qn);
        n->priv = NULL;
        if (n->console) {
            console_stop(n->console);
            n->console = NULL;
        }
    }
    if (le) {
        if (le->hub) {
            unsigned long frames = l2hub_stop(le->hub);
            log_debug("%s: private network carried %lu frame(s)", env->name, frames);
        }
        /* after the VMs: no initiator is left to retry against a target going away */
        iscsi_target_stop(&le->iscsi);
        free(le->hub_path);
        free(le);
        env->priv = NULL;
    }
    if (env && env->iscsi) {
        free(env->iscsi->portal);
        free(env->iscsi->iqn);
        free(env->iscsi);
        env->iscsi = NULL;
    }
}

static void qemu_fini(struct kiln_platform_ctx *p)
{
    struct qemu_priv *qp = p->priv;
    if (!qp) return;
    if (qp->ntp) log_info("qemu: the NTP source answered %llu request(s)", (unsigned long long)ntp_server_served(qp->ntp));
    ntp_server_stop(qp->ntp);
    update_server_stop(p, qp);
    free(qp->image_format);
    free(qp->fw_code);
    free(qp->swtpm);
    strv_free(qp->gpus, qp->ngpus);
    free(qp->gpu_used);
    free(qp->gpu_why);
    free(qp->tgtd);
    free(qp->tgt_why);
    free(qp->swtpm_why);
    free(qp->tgtadm);
    free(qp);
    p->priv = NULL;
}

static pid_t qemu_node_pid(struct kiln_platform_ctx *p, struct kiln_node *n)
{
    (void)p;
    struct qemu_node *qn = n->priv;
    return qn ? qn->pid : 0;
}

const struct kiln_platform platform_qemu = {
    .name = "qemu",
    .conf_needs = "an image or kernel",
    .caps = PLATFORM_CAP_PROVISIONS_SHAPE | PLATFORM_CAP_BOOTS_IMAGE,
    .parse_conf = qemu_conf_parse,
    .free_conf = qemu_conf_free,
    .tested_files = qemu_conf_tested_files,
    .kernel_args = qemu_conf_kernel_args,
    .check_conf = qemu_check_conf,
    .check_keys = (const char *const[]){"platform.qemu.image", "platform.qemu.kernel", "platform.qemu.arch",
                                        "platform.qemu.secure_boot", NULL},
    .uses_host_memory = true,
    .init = qemu_init,
    .capable = qemu_capable,
    .spec_for = qemu_spec_for,
    .deploy = qemu_deploy,
    .hot_add_disk = qemu_hot_add_disk,
    .node_pid = qemu_node_pid,
    .destroy = qemu_destroy,
    .fini = qemu_fini,
};
