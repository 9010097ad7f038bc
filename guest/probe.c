/* kiln-guest: a small static helper kiln uploads to guests for checks that need native
 * code. No dependencies beyond the kernel. Subcommands print "key=value" lines.
 *
 *   vdso                 clock_gettime through the vDSO must not enter the kernel
 *   now                  the real-time clock as seconds.nanoseconds
 *   mbr DEV              writes an MBR with one Linux partition spanning DEV, re-reads partitions
 *   io DEV MB            O_DIRECT sequential write/read and 4 KiB random read/write on DEV's first MB MiB
 *   net-recv, net-send, net-echo, net-rr, ping: see net.c
 *   ctr-probe, ctr-exit, hog: see container.c (they run inside a container)
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
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

#include "guest.h"

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

static int cmd_mbr(const char *dev)
{
    int fd = open(dev, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "open %s: %s\n", dev, strerror(errno));
        return 1;
    }
    uint64_t bytes = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) < 0 || bytes < 4u << 20) {
        fprintf(stderr, "%s: cannot read its size or smaller than 4 MiB\n", dev);
        close(fd);
        return 1;
    }
    uint64_t sectors = bytes / 512, start = 2048, count = sectors - start;
    if (count > 0xFFFFFFFFu) count = 0xFFFFFFFFu;
    unsigned char mbr[512] = {0};
    uint32_t disk_id = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    memcpy(mbr + 440, &disk_id, 4);
    unsigned char *e = mbr + 446;
    e[0] = 0x00;                          /* not bootable */
    e[1] = 0xFE; e[2] = 0xFF; e[3] = 0xFF; /* CHS: use LBA */
    e[4] = 0x83;                          /* Linux */
    e[5] = 0xFE; e[6] = 0xFF; e[7] = 0xFF;
    uint32_t s32 = (uint32_t)start, c32 = (uint32_t)count;
    memcpy(e + 8, &s32, 4);
    memcpy(e + 12, &c32, 4);
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    if (pwrite(fd, mbr, sizeof mbr, 0) != (ssize_t)sizeof mbr || fsync(fd) < 0) {
        fprintf(stderr, "write %s: %s\n", dev, strerror(errno));
        close(fd);
        return 1;
    }
    int r = ioctl(fd, BLKRRPART);
    close(fd);
    printf("partition_start=%llu\npartition_sectors=%llu\nrereadpt=%s\n", (unsigned long long)start,
           (unsigned long long)count, r == 0 ? "ok" : strerror(errno));
    return r == 0 ? 0 : 1;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_io(const char *dev, long mb)
{
    if (mb < 4 || mb > 65536) {
        fprintf(stderr, "io: size must be 4..65536 MiB\n");
        return 64;
    }
    int fd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "open %s: %s\n", dev, strerror(errno));
        return 1;
    }
    size_t block = 1u << 20;
    unsigned char *buf;
    if (posix_memalign((void **)&buf, 4096, block)) return 1;
    for (size_t i = 0; i < block; i++) buf[i] = (unsigned char)(i * 131 + 7);
    uint64_t total = (uint64_t)mb << 20;
    double t0 = mono();
    for (uint64_t off = 0; off < total; off += block)
        if (pwrite(fd, buf, block, (off_t)off) != (ssize_t)block) goto fail;
    if (fsync(fd) < 0) goto fail;
    double t1 = mono();
    for (uint64_t off = 0; off < total; off += block)
        if (pread(fd, buf, block, (off_t)off) != (ssize_t)block) goto fail;
    double t2 = mono();
    uint64_t blocks4k = total / 4096, seed = 88172645463325252ull;
    long reads = 0, writes = 0;
    double until = mono() + 2.0;
    while (mono() < until) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        if (pread(fd, buf, 4096, (off_t)((seed % blocks4k) * 4096)) != 4096) goto fail;
        reads++;
    }
    double t3 = mono();
    until = t3 + 2.0;
    while (mono() < until) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        if (pwrite(fd, buf, 4096, (off_t)((seed % blocks4k) * 4096)) != 4096) goto fail;
        writes++;
    }
    if (fsync(fd) < 0) goto fail;
    double t4 = mono();
    printf("seq_write_mbps=%.1f\nseq_read_mbps=%.1f\nrand_read_iops=%.0f\nrand_write_iops=%.0f\n",
           (double)mb / (t1 - t0), (double)mb / (t2 - t1), (double)reads / (t3 - t2 > 0 ? t3 - t2 : 1),
           (double)writes / (t4 - t3 > 0 ? t4 - t3 : 1));
    free(buf);
    close(fd);
    return 0;
fail:
    fprintf(stderr, "io on %s: %s\n", dev, strerror(errno));
    free(buf);
    close(fd);
    return 1;
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
    if (argc == 3 && strcmp(argv[1], "mbr") == 0) return cmd_mbr(argv[2]);
    if (argc == 4 && strcmp(argv[1], "io") == 0) return cmd_io(argv[2], strtol(argv[3], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "net-recv") == 0) return cmd_net_recv(argv[2]);
    if (argc == 5 && strcmp(argv[1], "net-send") == 0) return cmd_net_send(argv[2], argv[3], strtol(argv[4], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "net-echo") == 0) return cmd_net_echo(argv[2]);
    if (argc == 5 && strcmp(argv[1], "net-rr") == 0) return cmd_net_rr(argv[2], argv[3], strtol(argv[4], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "ping") == 0) return cmd_ping(argv[2], strtol(argv[3], NULL, 10));
    int r = cmd_container(argc, argv);
    if (r >= 0) return r;
    fprintf(stderr, "usage: kiln-guest vdso | now | mbr DEV | io DEV MB | net-recv PORT | net-send HOST PORT MB |\n"
                    "                  net-echo PORT | net-rr HOST PORT N | ping ADDR N |\n"
                    "                  ctr-probe | ctr-exit CODE TOKEN | hog MB\n");
    return 64;
}
