/* kiln-guest: a small static helper kiln uploads to guests for checks that need native
 * code. No dependencies beyond the kernel. Subcommands print "key=value" lines.
 *
 *   vdso                 clock_gettime through the vDSO must not enter the kernel
 *   now                  the real-time clock as seconds.nanoseconds
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*vdso_gettime_fn)(clockid_t, struct timespec *);

/* Finds a symbol in the vDSO image the kernel mapped into this process. */
static void *vdso_sym(const char *name)
{
    uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (!base) return NULL;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
    uintptr_t load_offset = 0;
    const Elf64_Dyn *dyn = NULL;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && !load_offset) load_offset = base + ph[i].p_offset - ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC) dyn = (const Elf64_Dyn *)(base + ph[i].p_offset);
    }
    if (!dyn) return NULL;
    const Elf64_Sym *symtab = NULL;
    const char *strtab = NULL;
    const uint32_t *hash = NULL;
    for (const Elf64_Dyn *d = dyn; d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_SYMTAB) symtab = (const Elf64_Sym *)(load_offset + d->d_un.d_ptr);
        if (d->d_tag == DT_STRTAB) strtab = (const char *)(load_offset + d->d_un.d_ptr);
        if (d->d_tag == DT_HASH) hash = (const uint32_t *)(load_offset + d->d_un.d_ptr);
    }
    if (!symtab || !strtab || !hash) return NULL;
    uint32_t nsyms = hash[1];
    for (uint32_t i = 0; i < nsyms; i++)
        if (symtab[i].st_name && strcmp(strtab + symtab[i].st_name, name) == 0 && symtab[i].st_value)
            return (void *)(load_offset + symtab[i].st_value);
    return NULL;
}

/* From here on the clock_gettime and gettimeofday syscalls fail with ENOSYS. */
static int forbid_time_syscalls(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_gettime, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_gettimeofday, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int cmd_vdso(void)
{
    vdso_gettime_fn fn = (vdso_gettime_fn)vdso_sym("__vdso_clock_gettime");
    if (!fn) fn = (vdso_gettime_fn)vdso_sym("clock_gettime");
    if (!fn) {
        printf("vdso=absent\n");
        return 1;
    }
    struct timespec before;
    if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &before) < 0) return 2;
    if (forbid_time_syscalls() < 0) {
        printf("vdso=unknown\nerror=seccomp: %s\n", strerror(errno));
        return 2;
    }
    long probe = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &before);
    if (probe == 0) {
        printf("vdso=unknown\nerror=seccomp filter did not take effect\n");
        return 2;
    }
    int ok = 1;
    const struct { clockid_t id; const char *name; } clocks[] = {
        {CLOCK_REALTIME, "realtime"}, {CLOCK_MONOTONIC, "monotonic"}};
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec ts = {0};
        int r = fn(clocks[i].id, &ts);
        printf("%s=%s\n", clocks[i].name, r == 0 ? "vdso" : "syscall");
        if (r != 0) ok = 0;
    }
    printf("vdso=%s\n", ok ? "ok" : "falls-back-to-syscall");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "vdso") == 0) return cmd_vdso();
    if (argc >= 2 && strcmp(argv[1], "now") == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        printf("%lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
        return 0;
    }
    fprintf(stderr, "usage: kiln-guest vdso|now\n");
    return 64;
}
