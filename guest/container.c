/* kiln-guest commands run inside a container (area containers): kiln packs this static binary
 * alone into the image it loads into the guest's runtime, so the container needs nothing else.
 *
 *   ctr-probe            what the container sees: pid=, ns.{pid,mnt,net,uts,cgroup}=, hostname=,
 *                        root_fs= (the type of the filesystem at /), cgroup=, memory.max=, cpu.max=
 *   ctr-exit CODE TOKEN  prints "kiln-container TOKEN" and exits CODE (the runtime must pass both on)
 *   hog MB               allocates and touches MB MiB one at a time, printing hog=N after each;
 *                        hog done=MB when all of it fit (a memory limit below MB was not enforced)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"

/* The first line of path without its newline, or "-" when unreadable. */
static void first_line(const char *path, char *buf, size_t sz)
{
    FILE *f = fopen(path, "re");
    if (!f || !fgets(buf, (int)sz, f)) snprintf(buf, sz, "-");
    else buf[strcspn(buf, "\n")] = 0;
    if (f) fclose(f);
}

/* The type of the filesystem mounted last at "/" (proc_pid_mountinfo(5): the type follows " - "). */
static void root_fs(char *buf, size_t sz)
{
    snprintf(buf, sz, "-");
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char mnt[1024];
        if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 || strcmp(mnt, "/") != 0) continue;
        const char *sep = strstr(line, " - ");
        char type[64];
        if (sep && sscanf(sep + 3, "%63s", type) == 1) snprintf(buf, sz, "%s", type);
    }
    fclose(f);
}

/* A cgroup v2 file of this process's cgroup: under its path (no cgroup namespace), else at the
 * mount's root (a cgroup namespace makes the root the container's own cgroup). */
static void cgroup_file(const char *cg, const char *name, char *buf, size_t sz)
{
    char path[2048];
    snprintf(path, sizeof path, "/sys/fs/cgroup%s/%s", strcmp(cg, "/") == 0 ? "" : cg, name);
    if (access(path, R_OK) != 0) snprintf(path, sizeof path, "/sys/fs/cgroup/%s", name);
    first_line(path, buf, sz);
}

static int cmd_ctr_probe(void)
{
    printf("pid=%d\n", (int)getpid());
    static const char *const ns[] = {"pid", "mnt", "net", "uts", "cgroup"};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        char path[64], target[256];
        snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i]);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        printf("ns.%s=%s\n", ns[i], n > 0 ? target : "-");
    }
    char buf[1024];
    if (gethostname(buf, sizeof buf) != 0) snprintf(buf, sizeof buf, "-");
    printf("hostname=%s\n", buf);
    root_fs(buf, sizeof buf);
    printf("root_fs=%s\n", buf);
    /* cgroup v2: the single line "0::PATH" */
    char cg[1024] = "-";
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[1200];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) snprintf(cg, sizeof cg, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
    if (f) fclose(f);
    printf("cgroup=%s\n", cg);
    cgroup_file(cg, "memory.max", buf, sizeof buf);
    printf("memory.max=%s\n", buf);
    cgroup_file(cg, "cpu.max", buf, sizeof buf);
    printf("cpu.max=%s\n", buf);
    return 0;
}

static int cmd_hog(long mb)
{
    alarm(300); /* never outlive the case, whatever the limit does */
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (long i = 1; i <= mb; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("hog malloc failed at %ld\n", i);
            return 1;
        }
        memset(p, (int)(i & 0xff) | 1, 1 << 20); /* touched: the pages are charged to the cgroup */
        printf("hog=%ld\n", i);
    }
    printf("hog done=%ld\n", mb);
    return 0;
}

int cmd_container(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "ctr-probe") == 0) return cmd_ctr_probe();
    if (argc == 4 && strcmp(argv[1], "ctr-exit") == 0) {
        printf("kiln-container %s\n", argv[3]);
        return (int)strtol(argv[2], NULL, 10) & 0xff;
    }
    if (argc == 3 && strcmp(argv[1], "hog") == 0) return cmd_hog(strtol(argv[2], NULL, 10));
    return -1;
}
