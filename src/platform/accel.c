/* Finds out whether KVM really runs guests. /dev/kvm can exist and open while guests
 * hang: nested setups without working virtualisation, or a kvm-pvm module, which runs a
 * 16-bit boot loop but leaves a q35 guest in long mode without progress. So the probe is a
 * guest shaped like the real ones (kvm_probe.S) on the same machine type and CPU model, and
 * the QEMU platform still watches the first real guest (KILN_KVM_LIFE_WINDOW_S). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "platform/accel.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/util.h"

/* Working KVM finishes the probe in well under a second; a slow start-up on a loaded host
 * still fits. Only hosts where KVM does not work pay the whole deadline, once a day. */
#define PROBE_DEADLINE_MS 5000
#define CACHE_TTL_S (24 * 3600)

extern const unsigned char kiln_kvm_probe[], kiln_kvm_probe_end[];

static char *cache_path(void)
{
    return kiln_cache_path("accel-probe");
}

static char *probe_key(const char *cpu_model)
{
    struct stat st = {0};
    const char *qemu_paths[] = {"/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64"};
    for (size_t i = 0; i < ARRAY_SIZE(qemu_paths); i++)
        if (stat(qemu_paths[i], &st) == 0) break;
    struct utsname u;
    uname(&u);
    return xasprintf("%s %lld %lld cpu=%s", u.release, (long long)st.st_mtime, (long long)st.st_size, cpu_model);
}

static bool run_probe(const char *dir, const char *cpu_model, char **detail)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        return err_setf(detail, false, "/dev/kvm not usable: %s", strerror(errno));
    }
    _cleanup_free_ char *img = path_join(dir, "kvm-probe.img");
    unsigned char sector[512] = {0};
    size_t len = (size_t)(kiln_kvm_probe_end - kiln_kvm_probe);
    if (len > 510) {
        return err_setf(detail, false, "KVM probe guest is %zu bytes, more than a boot sector holds", len);
    }
    memcpy(sector, kiln_kvm_probe, len);
    sector[510] = 0x55;
    sector[511] = 0xAA;
    if (write_file_atomic(img, (const char *)sector, sizeof sector, 0644) < 0) {
        return err_setf(detail, false, "cannot write probe image");
    }
    _cleanup_free_ char *drive = xasprintf("file=%s,format=raw,if=floppy", img);
    char *argv[] = {"qemu-system-x86_64", "-machine", "q35,accel=kvm", "-cpu", (char *)cpu_model, "-display", "none",
                    "-nodefaults", "-no-user-config", "-m", "16", "-drive", drive,
                    "-device", "isa-debug-exit,iobase=0xf4,iosize=4", NULL};
    pid_t pid;
    int64_t t0 = now_ms();
    if (proc_spawn(argv, -1, -1, -1, &pid) < 0) {
        return err_setf(detail, false, "cannot start qemu-system-x86_64");
    }
    int st;
    int r = proc_wait(pid, PROBE_DEADLINE_MS, &st);
    int64_t took = now_ms() - t0;
    unlink(img);
    if (r == -ETIMEDOUT) {
        proc_kill(pid, 200);
        return err_setf(detail, false, "KVM probe guest (long mode, paging, timer interrupts; q35, -cpu %s) did not finish within %d ms",
                 cpu_model, PROBE_DEADLINE_MS);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 99) {
        return err_setf(detail, false, "KVM probe guest (q35, -cpu %s) failed: qemu %s %d", cpu_model,
                 WIFEXITED(st) ? "exited with status" : "was killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
    return err_setf(detail, true, "KVM probe guest (q35, -cpu %s) finished in %lld ms", cpu_model, (long long)took);
}

static void cache_store(const char *key, bool kvm, const char *detail)
{
    _cleanup_free_ char *cache = cache_path();
    _cleanup_free_ char *dir = path_dirname(cache);
    mkdir_p(dir, 0755);
    _cleanup_free_ char *line = xasprintf("%lld %s %s | %s\n", (long long)wall_s(), kvm ? "kvm" : "tcg", key, detail);
    if (write_file_atomic(cache, line, strlen(line), 0644) < 0) log_debug("cannot write %s", cache);
}

bool accel_kvm_works(const struct kiln_arch *guest, const char *work_dir, const char *cpu_model, char **detail)
{
    const struct kiln_arch *host = kiln_arch_host();
    if (guest != host) {
        return err_setf(detail, false, "KVM cannot run an %s guest on an %s host", guest->name, host ? host->name : "other");
    }
    if (guest != kiln_arch_find("x86_64")) {
        return err_setf(detail, false, "kiln's KVM probe is an x86_64 guest; %s guests run under TCG", guest->name);
    }
    if (!cpu_model) cpu_model = "host";
    _cleanup_free_ char *cache = cache_path();
    _cleanup_free_ char *key = probe_key(cpu_model);
    char *old = NULL;
    if (read_file(cache, 4096, &old, NULL) == 0) {
        long long when = 0;
        char verdict[8] = "", rest[512] = "";
        if (sscanf(old, "%lld %7s %511[^\n]", &when, verdict, rest) == 3 && wall_s() - when < CACHE_TTL_S) {
            char *sep = strstr(rest, " | ");
            if (sep && strncmp(rest, key, (size_t)(sep - rest)) == 0 && strlen(key) == (size_t)(sep - rest)) {
                err_setf(detail, 0, "%s (cached)", sep + 3);
                free(old);
                return streq(verdict, "kvm");
            }
        }
        free(old);
    }
    bool ok = run_probe(work_dir, cpu_model, detail);
    cache_store(key, ok, *detail);
    return ok;
}

void accel_kvm_failed(const char *cpu_model, const char *detail)
{
    if (!cpu_model) cpu_model = "host";
    _cleanup_free_ char *key = probe_key(cpu_model);
    cache_store(key, false, detail);
}
