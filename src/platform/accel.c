/* Finds out whether KVM really runs guests. /dev/kvm can exist and open while guests
 * hang (nested setups without working virtualisation), so kiln boots a 512-byte boot
 * sector that waits for five timer ticks and leaves through isa-debug-exit. Working KVM
 * does that well under a second; if it has not finished in 2 s, kiln uses TCG. */
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

#define PROBE_DEADLINE_MS 2000
#define CACHE_TTL_S (24 * 3600)

static const unsigned char probe_code[] = {
    0xFB,             /* sti */
    0xB9, 0x05, 0x00, /* mov cx, 5 */
    0xF4,             /* hlt: wait for a timer tick */
    0xE2, 0xFD,       /* loop hlt */
    0xB0, 0x31,       /* mov al, 0x31 */
    0xE6, 0xF4,       /* out 0xf4, al: isa-debug-exit → exit status 99 */
    0xFA, 0xF4,       /* cli; hlt */
    0xEB, 0xFD,       /* jmp $-1 */
};

static char *cache_path(void)
{
    return kiln_cache_path("accel-probe");
}

static char *probe_key(void)
{
    struct stat st = {0};
    const char *qemu_paths[] = {"/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64"};
    for (size_t i = 0; i < ARRAY_SIZE(qemu_paths); i++)
        if (stat(qemu_paths[i], &st) == 0) break;
    struct utsname u;
    uname(&u);
    return xasprintf("%s %lld %lld", u.release, (long long)st.st_mtime, (long long)st.st_size);
}

static bool run_probe(const char *dir, char *detail, size_t sz)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        snprintf(detail, sz, "/dev/kvm not usable: %s", strerror(errno));
        return false;
    }
    _cleanup_free_ char *img = path_join(dir, "kvm-probe.img");
    unsigned char sector[512] = {0};
    memcpy(sector, probe_code, sizeof probe_code);
    sector[510] = 0x55;
    sector[511] = 0xAA;
    if (write_file_atomic(img, (const char *)sector, sizeof sector, 0644) < 0) {
        snprintf(detail, sz, "cannot write probe image");
        return false;
    }
    _cleanup_free_ char *drive = xasprintf("file=%s,format=raw,if=floppy", img);
    char *argv[] = {"qemu-system-x86_64", "-accel", "kvm", "-display", "none", "-nodefaults", "-no-user-config",
                    "-m", "16", "-drive", drive, "-device", "isa-debug-exit,iobase=0xf4,iosize=4", NULL};
    pid_t pid;
    int64_t t0 = now_ms();
    if (proc_spawn(argv, -1, -1, -1, &pid) < 0) {
        snprintf(detail, sz, "cannot start qemu-system-x86_64");
        return false;
    }
    int st;
    int r = proc_wait(pid, PROBE_DEADLINE_MS, &st);
    int64_t took = now_ms() - t0;
    unlink(img);
    if (r == -ETIMEDOUT) {
        proc_kill(pid, 200);
        snprintf(detail, sz, "KVM probe guest did not finish within %d ms", PROBE_DEADLINE_MS);
        return false;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 99) {
        snprintf(detail, sz, "KVM probe guest failed (status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return false;
    }
    snprintf(detail, sz, "KVM probe guest finished in %lld ms", (long long)took);
    return true;
}

bool accel_kvm_works(const char *work_dir, char *detail, size_t sz)
{
    _cleanup_free_ char *cache = cache_path();
    _cleanup_free_ char *key = probe_key();
    char *old = NULL;
    if (read_file(cache, 4096, &old, NULL) == 0) {
        long long when = 0;
        char verdict[8] = "", rest[512] = "";
        if (sscanf(old, "%lld %7s %511[^\n]", &when, verdict, rest) == 3 && wall_s() - when < CACHE_TTL_S) {
            char *sep = strstr(rest, " | ");
            if (sep && strncmp(rest, key, (size_t)(sep - rest)) == 0 && strlen(key) == (size_t)(sep - rest)) {
                snprintf(detail, sz, "%s (cached)", sep + 3);
                free(old);
                return streq(verdict, "kvm");
            }
        }
        free(old);
    }
    bool ok = run_probe(work_dir, detail, sz);
    _cleanup_free_ char *dir = path_dirname(cache);
    mkdir_p(dir, 0755);
    _cleanup_free_ char *line = xasprintf("%lld %s %s | %s\n", (long long)wall_s(), ok ? "kvm" : "tcg", key, detail);
    write_file_atomic(cache, line, strlen(line), 0644);
    return ok;
}
