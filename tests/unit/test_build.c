/* The image build's shape: the stage table, the package-family vtable, the events a build
 * reports (the library prints nothing) and kiln build's lines for them. The stages themselves
 * run in tests/integration/image*.sh (they need root, mmdebstrap and a package mirror). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/common.h"
#include "image/build_int.h"
#include "image/spec.h"
#include "tap.h"
#include "util/fs.h"
#include "util/util.h"

static char dir[] = "/tmp/kiln-test-build-XXXXXX";

static struct image_spec *load(const char *text)
{
    _cleanup_free_ char *p = path_join(dir, "spec.yml");
    write_file_atomic(p, text, strlen(text), 0644);
    struct diags d = {0};
    struct image_spec *s = NULL;
    if (spec_load(p, NULL, &s, &d) < 0) ok(false, "spec loads: %s", d.n ? d.v[0].msg : "?");
    diags_free(&d);
    return s;
}

#define SPEC_HEAD "name: t\nversion: 1.0.0\n"

/* The stages a spec runs, space-separated, in order, with --format only_output (-1: none). */
static char *stage_names_for(const struct image_spec *s, int only_output)
{
    size_t n;
    const struct build_stage *st = build_stages(&n);
    struct sbuf b = {0};
    const struct build_opts o = {.only_output = only_output};
    for (size_t i = 0; i < n; i++)
        if (!st[i].enabled || st[i].enabled(s, &o)) sbuf_printf(&b, "%s%s", b.len ? " " : "", st[i].name);
    return sbuf_steal(&b);
}

/* The same with the spec's outputs. */
static char *stage_names(const struct image_spec *s)
{
    return stage_names_for(s, -1);
}

/* A rootfs archive alone (the spec's output: [tar], also wsl: true, or --format tar) makes no
 * ESP, root filesystem or disk: about 1.4 GB of /var/tmp and their time for nothing. */
static void test_stages_tar(void)
{
    struct image_spec *tar = load(SPEC_HEAD "base: { family: deb, suite: bookworm }\noutput: [tar]\n");
    struct image_spec *wsl = load(SPEC_HEAD "base: { family: deb, suite: bookworm }\noutput: [tar]\nwsl: true\n");
    struct image_spec *both = load(SPEC_HEAD "base: { family: deb, suite: bookworm }\noutput: [qcow2, tar]\n");
    struct image_spec *imm = load(SPEC_HEAD "base: { family: deb, suite: bookworm }\noutput: [tar]\n"
                                  "packages: { install: [linux-image-amd64, dracut, libcryptsetup12] }\n"
                                  "storage: { layout: immutable, size: 2G }\n");
    if (tar && wsl && both && imm) {
        _cleanup_free_ char *a = stage_names(tar), *b = stage_names(wsl), *c = stage_names(both),
                            *d = stage_names_for(both, OUT_TAR), *e = stage_names_for(tar, OUT_QCOW2),
                            *f = stage_names(imm);
        is_str(a, "rootfs customize outputs manifest", "output: [tar]: no disk stages");
        is_str(b, "rootfs customize outputs manifest", "wsl: true: the same");
        is_str(c, "rootfs customize root-fs esp disk outputs manifest", "a disk and the archive: all seven");
        is_str(d, "rootfs customize outputs manifest", "--format tar on a spec with a disk: no disk stages");
        is_str(e, "rootfs customize root-fs esp disk outputs manifest", "--format qcow2 on a tar spec: the disk's");
        is_str(f, "rootfs customize usr root-fs esp disk outputs manifest",
               "the immutable layout keeps them (its /usr image and update payload)");
        /* a rootfs archive alone needs no kernel (fresh-user finding: output [tar] without
         * linux-image-amd64 failed in customize, "the image has no kernel in /boot") */
        struct build_opts all = {.only_output = -1}, as_tar = {.only_output = OUT_TAR}, as_qcow2 = {.only_output = OUT_QCOW2};
        ok(!build_needs_kernel(tar, &all) && !build_needs_kernel(wsl, &all), "output: [tar]: no kernel needed");
        ok(build_needs_kernel(both, &all), "output: [qcow2, tar]: the disk needs one");
        ok(!build_needs_kernel(both, &as_tar), "--format tar on a spec with a disk: none needed");
        ok(build_needs_kernel(tar, &as_qcow2), "--format qcow2 on a tar spec: needed");
        ok(build_needs_kernel(imm, &all), "the immutable layout's archive: needed (its /usr image and update payload)");
    }
    spec_free(tar), spec_free(wsl), spec_free(both), spec_free(imm);
}

static void test_stages(void)
{
    struct image_spec *std = load(SPEC_HEAD "base: { family: deb, suite: bookworm }\n");
    struct image_spec *imm = load(SPEC_HEAD "base: { family: deb, suite: bookworm }\n"
                                  "packages: { install: [linux-image-amd64, dracut, libcryptsetup12] }\n"
                                  "storage: { layout: immutable, size: 2G }\n");
    if (std && imm) {
        _cleanup_free_ char *a = stage_names(std), *b = stage_names(imm);
        /* the names tests/integration/image.sh and image_immutable.sh look for, in README.md's order */
        is_str(a, "rootfs customize root-fs esp disk outputs manifest", "standard layout: seven stages");
        is_str(b, "rootfs customize usr root-fs esp disk outputs manifest", "immutable layout: usr after customize");
    }
    spec_free(std);
    spec_free(imm);
}

static void test_families(void)
{
    const struct pkg_family_ops *deb = pkg_family_ops(FAMILY_DEB), *rpm = pkg_family_ops(FAMILY_RPM);
    ok(deb->family == FAMILY_DEB && rpm->family == FAMILY_RPM, "each family's vtable is its own");
    is_str(deb->name, "deb", "deb: name (manifest, SBOMs, pkgdb)");
    is_str(rpm->name, "rpm", "rpm: name");
    is_str(deb->db_path, "var/lib/dpkg", "deb: dpkg's database");
    is_str(rpm->db_path, "usr/lib/sysimage/rpm", "rpm: the database where Fedora keeps it");
    is_str(deb->pkg_cache, "build/debs", "deb: .debs cached in build/debs (image.sh hashes them there)");
    is_str(rpm->pkg_cache, "build/dnf", "rpm: dnf's cache");
    is_str(deb->initrd_tool, "initramfs-tools", "deb: initrd tool");
    is_str(rpm->initrd_tool, "dracut", "rpm: initrd tool");
    _cleanup_free_ char *k1 = deb->kernel_packages(kiln_arch_find("x86_64"));
    _cleanup_free_ char *k2 = deb->kernel_packages(kiln_arch_find("aarch64"));
    _cleanup_free_ char *k3 = rpm->kernel_packages(kiln_arch_find("aarch64"));
    is_str(k1, "linux-image-amd64 (and initramfs-tools)", "deb kernel, x86_64");
    is_str(k2, "linux-image-arm64 (and initramfs-tools)", "deb kernel, aarch64: Debian's arch name");
    is_str(k3, "kernel-core", "rpm kernel");
    is_str(pkg_family_name(FAMILY_DEB), "deb", "pkg_family_name deb");
    ok(pkg_family_name(FAMILY_OTHER) == NULL, "pkg_family_name: no name for another family");
}

/* The tree maker's copies of the build host's files (fresh-user finding: every deb image kept
 * the builder's /etc/resolv.conf, "nameserver 10.255.255.53" mode 0755, and /etc/hostname, as
 * mmdebstrap copies them in): deb lists both, rpm none; host_copies_remove takes a regular file
 * no package lists, and leaves a symlink (systemd-resolved's stub) and a file a package lists. */
static void test_host_copies(void)
{
    const struct pkg_family_ops *deb = pkg_family_ops(FAMILY_DEB), *rpm = pkg_family_ops(FAMILY_RPM);
    ok(deb->host_copies && deb->host_copies[0] && streq(deb->host_copies[0], "etc/resolv.conf") && deb->host_copies[1] &&
           streq(deb->host_copies[1], "etc/hostname") && !deb->host_copies[2],
       "deb: mmdebstrap's copies of the host's /etc/resolv.conf and /etc/hostname");
    ok(!rpm->host_copies || !rpm->host_copies[0], "rpm: none");
    _cleanup_free_ char *t = path_join(dir, "hosttree"), *etc = path_join(t, "etc"), *info = path_join(t, "var/lib/dpkg/info");
    mkdir_p(etc, 0755), mkdir_p(info, 0755);
    _cleanup_free_ char *rc = path_join(etc, "resolv.conf"), *hn = path_join(etc, "hostname"), *lst = path_join(info, "x.list");
    write_file_atomic(rc, "nameserver 10.255.255.53\n", 25, 0755);
    write_file_atomic(hn, "builder\n", 8, 0644);
    int fd = open(t, O_PATH | O_DIRECTORY | O_CLOEXEC);
    is_int(host_copies_remove(rpm, fd), 0, "rpm: nothing removed");
    ok(file_exists(rc) && file_exists(hn), "rpm: ... both stay");
    is_int(host_copies_remove(deb, fd), 2, "deb: both host copies removed");
    ok(!file_exists(rc) && !file_exists(hn), "deb: ... neither is in the tree");
    write_file_atomic(lst, "/.\n/etc\n/etc/hostname\n", 22, 0644);
    write_file_atomic(hn, "owned\n", 6, 0644);
    ok(symlink("../run/systemd/resolve/stub-resolv.conf", rc) == 0, "a resolv.conf symlink");
    is_int(host_copies_remove(deb, fd), 0, "deb: a symlink and a file a package lists stay");
    struct stat st;
    ok(lstat(rc, &st) == 0 && S_ISLNK(st.st_mode) && file_exists(hn), "deb: ... both still there");
    close(fd);
}

/* Runs the --customize-hook deb_initrd_hook gives for spec text the way mmdebstrap runs a hook
 * (sh -c HOOK exec TREE) on a tree with two kernels' modules, one of them without its vmlinuz,
 * both initrd tools' postinst.d hooks and dracut; chroot is a stand-in on PATH that records each
 * call with the INITRD it was given. Returns the tree (free it) or NULL. */
static char *run_initrd_hook(const char *name, const char *spec_text, int *rc)
{
    struct image_spec *s = load(spec_text);
    if (!s) return NULL;
    char *t = xasprintf("%s/%s", dir, name);
    const char *dirs[] = {"lib/modules/6.1.0-9-amd64", "lib/modules/6.1.0-8-amd64", "boot", "etc/kernel/postinst.d",
                          "etc/initramfs-tools", "usr/bin", "bin"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        _cleanup_free_ char *d = path_join(t, dirs[i]);
        mkdir_p(d, 0755);
    }
    const char *exe[] = {"usr/bin/dracut", "etc/kernel/postinst.d/initramfs-tools", "etc/kernel/postinst.d/dracut"};
    for (size_t i = 0; i < ARRAY_SIZE(exe); i++) {
        _cleanup_free_ char *f = path_join(t, exe[i]);
        write_file_atomic(f, "#!/bin/sh\n", 10, 0755);
    }
    _cleanup_free_ char *k = path_join(t, "boot/vmlinuz-6.1.0-9-amd64");
    write_file_atomic(k, "", 0, 0644);
    /* the stand-in chroot: ROOT env -u INITRD HOOK VERSION IMAGE, recorded with the INITRD it saw */
    _cleanup_free_ char *fake = path_join(t, "bin/chroot");
    const char *script = "#!/bin/sh\necho \"$* INITRD=${INITRD-unset}\" >> \"$1/chroot.log\"\n";
    write_file_atomic(fake, script, strlen(script), 0755);
    _cleanup_free_ char *hook = deb_initrd_hook(s);
    const char *body = startswith(hook, "--customize-hook=") ? hook + strlen("--customize-hook=") : "exit 99";
    _cleanup_free_ char *bin = path_join(t, "bin");
    _cleanup_free_ char *path = xasprintf("%s:/usr/bin:/bin", bin);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("PATH", path, 1);
        setenv("INITRD", "No", 1); /* as rootfs_deb runs mmdebstrap */
        execl("/bin/sh", "sh", "-c", body, "exec", t, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    spec_free(s);
    return t;
}

static char *read_in(const char *t, const char *rel)
{
    _cleanup_free_ char *p = path_join(t, rel);
    char *text = NULL;
    size_t len;
    return read_file(p, 1 << 20, &text, &len) == 0 ? text : NULL;
}

/* boot.initrd_modules and the initrd made once (rootfs_deb.c): vm writes MODULES=list, a hook
 * adding the VM drivers and dracut's exclusive driver list; most writes neither; both make each
 * kernel's initrd once, through the tool's own postinst.d hook, with INITRD unset. */
static void test_initrd_hook(void)
{
    int rc = -1;
    _cleanup_free_ char *vm = run_initrd_hook("vm", SPEC_HEAD "base: { family: deb, suite: bookworm }\n", &rc);
    ok(rc == 0, "vm: the hook runs (exit %d)", rc);
    _cleanup_free_ char *log = vm ? read_in(vm, "chroot.log") : NULL;
    _cleanup_free_ char *want = xasprintf("%s/vm env -u INITRD /etc/kernel/postinst.d/initramfs-tools 6.1.0-9-amd64 "
                                          "/boot/vmlinuz-6.1.0-9-amd64 INITRD=No\n%s/vm env -u INITRD "
                                          "/etc/kernel/postinst.d/dracut 6.1.0-9-amd64 /boot/vmlinuz-6.1.0-9-amd64 INITRD=No\n",
                                          dir, dir);
    is_str(log, want, "each tool's hook once for the kernel with a vmlinuz, told to unset INITRD; none for modules alone");
    _cleanup_free_ char *conf = vm ? read_in(vm, "etc/initramfs-tools/conf.d/90-kiln-initrd-modules") : NULL;
    ok(conf && strstr(conf, "\nMODULES=list\n"), "vm: initramfs-tools gets MODULES=list");
    _cleanup_free_ char *ih = vm ? read_in(vm, "etc/initramfs-tools/hooks/kiln-vm-drivers") : NULL;
    _cleanup_free_ char *add = xasprintf("\nmanual_add_modules %s\n", KILN_VM_INITRD_DRIVERS);
    ok(ih && startswith(ih, "#!/bin/sh\n") && strstr(ih, add), "vm: its hook adds the VM drivers");
    ok(ih && strstr(ih, "virtio_blk") && strstr(ih, "hv_storvsc") && strstr(ih, " nvme ") && strstr(ih, "dm_verity"),
       "vm: virtio-blk, storvsc, NVMe and dm-verity among them");
    _cleanup_free_ char *hookp = vm ? path_join(vm, "etc/initramfs-tools/hooks/kiln-vm-drivers") : NULL;
    struct stat st;
    ok(hookp && stat(hookp, &st) == 0 && (st.st_mode & 0111), "vm: the hook is executable (mkinitramfs runs it)");
    _cleanup_free_ char *dc = vm ? read_in(vm, KILN_VM_DRACUT_CONF_PATH) : NULL;
    is_str(dc, KILN_VM_DRACUT_CONF, "vm: dracut's configuration is rpm's (one text)");
    ok(dc && strstr(dc, "hostonly=\"no\"\n") && strstr(dc, "drivers=\" virtio_pci "), "vm: dracut: no host-only, a driver list");
    _cleanup_free_ char *most = run_initrd_hook("most", SPEC_HEAD "base: { family: deb, suite: bookworm }\n"
                                                          "boot: { initrd_modules: most }\n", &rc);
    ok(rc == 0, "most: the hook runs (exit %d)", rc);
    _cleanup_free_ char *mlog = most ? read_in(most, "chroot.log") : NULL;
    ok(mlog && strstr(mlog, "postinst.d/initramfs-tools 6.1.0-9-amd64") && !strstr(mlog, "6.1.0-8"),
       "most: the initrd is made once too");
    _cleanup_free_ char *mconf = most ? path_join(most, "etc/initramfs-tools/conf.d/90-kiln-initrd-modules") : NULL;
    _cleanup_free_ char *mdc = most ? path_join(most, KILN_VM_DRACUT_CONF_PATH) : NULL;
    ok(mconf && !file_exists(mconf) && mdc && !file_exists(mdc), "most: the tools keep their own defaults");
}

/* kiln build's lines, byte for byte what the build printed itself before it reported events
 * (the integration tests grep them). */
static char *line(const struct build_event *e, const struct image_spec *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    build_event_fprint(f, e, s);
    fclose(f);
    return buf;
}

static void test_lines(void)
{
    struct image_spec *s = load(SPEC_HEAD "base: { family: deb, suite: bookworm }\n");
    if (!s) return;
    struct { struct build_event e; const char *want, *what; } cases[] = {
        {{.kind = BUILD_STAGE_BEGIN, .stage = "rootfs", .index = 1, .count = 7}, "kiln build: [1/7] rootfs ...\n", "begin"},
        {{.kind = BUILD_STAGE_END, .stage = "root-fs", .index = 3, .count = 7, .seconds = 4.31, .text = "(ext4 1.9G)"},
         "kiln build: [3/7] root-fs" "   " " " "    4.3" " s  (ext4 1.9G)\n", "end: name in 10 columns, seconds in 7, the note"},
        {{.kind = BUILD_STAGE_END, .stage = "customize", .index = 2, .count = 8, .seconds = 0.3},
         "kiln build: [2/8] customize      0.3 s\n", "end without a note"},
        {{.kind = BUILD_INFO, .stage = "customize", .text = "os.network: dhcp through x"},
         "kiln build: customize: os.network: dhcp through x\n", "info"},
        {{.kind = BUILD_NOTE, .stage = "customize", .text = "first_boot.grow_root: y"},
         "kiln build: customize: note: first_boot.grow_root: y\n", "note"},
        {{.kind = BUILD_WARNING, .stage = "rootfs", .text = "cannot read the state"},
         "kiln build: rootfs: warning: cannot read the state\n", "a stage's warning"},
        {{.kind = BUILD_WARNING, .text = "nothing configures a network interface"},
         "kiln build: warning: nothing configures a network interface\n", "the image's warning"},
        {{.kind = BUILD_ERROR, .stage = "esp", .text = "the kernel is gone"}, "kiln build: esp: the kernel is gone\n", "error"},
        /* the log is named by BUILD_LOG_KEPT alone: the work directory's copy is deleted */
        {{.kind = BUILD_ERROR, .stage = "rootfs", .text = "`false` failed (exit 1); its last output:", .output = "  ...\nE: x\n"},
         "kiln build: rootfs: `false` failed (exit 1); its last output:\n  ...\nE: x\n",
         "a failed command: its output, no path into the work directory"},
        {{.kind = BUILD_DONE, .seconds = 43.04, .path = "out/t-1.0.0"}, "kiln build: t 1.0.0 built in 43.0 s → out/t-1.0.0.*\n", "done"},
        {{.kind = BUILD_LOG_KEPT, .path = "out/t-1.0.0.build.log"}, "kiln build: failed; the build log is kept at out/t-1.0.0.build.log\n",
         "log kept"},
        /* --out DIR and error texts are printed, not obeyed: an OSC title, a newline in a path */
        {{.kind = BUILD_DONE, .seconds = 1, .path = "o\033]0;owned\007\nut/t-1.0.0"},
         "kiln build: t 1.0.0 built in 1.0 s → o\\x1b]0;owned\\x07\\x0aut/t-1.0.0.*\n", "done: the path's control bytes escaped"},
        {{.kind = BUILD_ERROR, .stage = "rootfs", .text = "cannot read /x\033[2J", .output = "E: \033[31m\xff\n"},
         "kiln build: rootfs: cannot read /x\\x1b[2J\nE: \\x1b[31m\\xff\n", "error: its text and output escaped, lines kept"},
        {{.kind = BUILD_PROGRESS, .stage = "rootfs", .step = true, .text = "installing 68 packages"},
         "kiln build: rootfs: installing 68 packages\n", "a progress step: a line of its own"},
        {{.kind = BUILD_PROGRESS, .stage = "outputs", .text = "writing t-1.0.0.qcow2", .done = 1, .total = 2}, "",
         "a live update: no line (build_event_show draws it on a terminal)"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *got = line(&cases[i].e, s);
        is_str(got, cases[i].want, cases[i].what);
    }
    /* a locale that is not UTF-8 (a new user saw "→" drawn as mojibake under LANG=C) */
    setenv("LC_ALL", "C", 1);
    _cleanup_free_ char *ascii = line(&(struct build_event){.kind = BUILD_DONE, .seconds = 2, .path = "out/t-1.0.0"}, s);
    is_str(ascii, "kiln build: t 1.0.0 built in 2.0 s -> out/t-1.0.0.*\n", "the C locale: an ASCII arrow");
    setenv("LC_ALL", "C.UTF-8", 1);
    spec_free(s);
}

struct seen {
    struct sbuf kinds, texts;
};

static void record(const struct build_event *e, void *userdata)
{
    struct seen *v = userdata;
    sbuf_printf(&v->kinds, "%d ", (int)e->kind);
    sbuf_printf(&v->texts, "%s: %s|", e->stage ? e->stage : "-", e->text ? e->text : "-");
}

/* A build that cannot start reports it as an event, through the options' callback, and leaves
 * no work directory behind. */
static void test_events(void)
{
    struct image_spec *s = load(SPEC_HEAD "base: { family: deb, suite: bookworm }\n");
    if (!s) return;
    _cleanup_free_ char *tmp = path_join(dir, "tmp"), *blocker = path_join(dir, "file");
    _cleanup_free_ char *out = path_join(blocker, "out");
    mkdir_p(tmp, 0755);
    write_file_atomic(blocker, "x", 1, 0644);
    const char *old = getenv("TMPDIR");
    _cleanup_free_ char *saved = old ? xstrdup(old) : NULL;
    setenv("TMPDIR", tmp, 1);
    struct seen v = {0};
    struct build_opts o = {.out_dir = out, .only_output = -1, .source_date_epoch = 1750000000, .on_event = record,
                           .userdata = &v};
    int r = image_build(s, &o);
    if (saved) setenv("TMPDIR", saved, 1);
    else unsetenv("TMPDIR");
    if (geteuid() == 0) {
        is_int(r, -ENOTDIR, "an output directory that cannot be made fails the build (-ENOTDIR: kiln build exits 2)");
        _cleanup_free_ char *want = xasprintf("setup: cannot create the output directory %s: Not a directory (a file stands "
                                              "at that path or one of its parents: give another --out)|", out);
        is_str(v.texts.s, want, "one error event, under setup, naming the directory");
        is_str(v.kinds.s, "5 ", "it is a BUILD_ERROR, and the only event");
    } else {
        is_int(r, -EPERM, "not root: refused");
        has(v.texts.s, "spec: building the package tree needs root", "the refusal says what to do");
    }
    /* without a callback the same build says nothing at all: the library never prints */
    _cleanup_free_ char *errf = path_join(dir, "stderr");
    fflush(stderr);
    int saved_err = dup(2), fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    setenv("TMPDIR", tmp, 1);
    o.on_event = NULL;
    r = image_build(s, &o);
    if (saved) setenv("TMPDIR", saved, 1);
    else unsetenv("TMPDIR");
    fflush(stderr);
    dup2(saved_err, 2);
    close(saved_err);
    char *said = NULL;
    size_t said_len = 0;
    read_file(errf, 1 << 20, &said, &said_len);
    ok(r < 0 && said && said_len == 0, "no callback: the failed build wrote nothing to stderr (%zu bytes)", said_len);
    free(said);
    DIR *d = opendir(tmp);
    int left = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) left += startswith(de->d_name, "kiln-build-");
    if (d) closedir(d);
    is_int(left, 0, "no work directory left in TMPDIR");
    sbuf_free(&v.kinds);
    sbuf_free(&v.texts);
    spec_free(s);
}

struct pm_seen {
    struct sbuf out; /* the BUILD_ERROR's output */
    int errors;
};

static void record_error(const struct build_event *e, void *userdata)
{
    struct pm_seen *v = userdata;
    if (e->kind != BUILD_ERROR) return;
    v->errors++;
    if (e->output) sbuf_puts(&v->out, e->output);
}

/* A build context that runs commands alone: its log in dir/NAME, its errors to v. */
static void pm_ctx(struct build_ctx *c, struct build_opts *o, struct pm_seen *v, char *log)
{
    *o = (struct build_opts){.on_event = record_error, .userdata = v};
    *c = (struct build_ctx){.opts = o, .log_path = log, .stage = "rootfs"};
    c->log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
}

/* The package manager prints the repositories' text (names, versions, scriptlets' output): when
 * it fails, the end of its output is shown on the terminal, escaped and bounded; when it exits,
 * the watch ends even though a process it left behind keeps writing to the pipe. */
static void test_pkgmgr_hostile(void)
{
    _cleanup_free_ char *log = path_join(dir, "pm.log");
    struct pm_seen v = {0};
    struct build_opts o;
    struct build_ctx c;
    pm_ctx(&c, &o, &v, log);
    /* a 10 MB line, an OSC title, then a screen clear with no newline: it dies mid-line */
    char *evil[] = {"sh", "-c", "head -c 10485760 /dev/zero | tr '\\0' a; printf '\\nUnpacking \\033]0;owned\\007x (1) ...\\n"
                    "\\033[2J'; exit 1", NULL};
    is_int(build_run_pkgmgr(&c, "rootfs", evil, NULL), -EIO, "a failing package manager fails the step");
    is_int(v.errors, 1, "one error, with the output's tail");
    const char *out = v.out.s ? v.out.s : "";
    ok(!strchr(out, '\033') && !strchr(out, '\007'), "no escape sequence of the output reaches the terminal");
    has(out, "Unpacking \\x1b]0;owned\\x07x (1) ...\n", "the line shown with its control bytes escaped");
    ok(v.out.len < 4096, "the 10 MB line is cut: %zu bytes shown", v.out.len);
    ok(startswith(out, "  ...\naaaa"), "the tail begins with the long line's end, after a mark for what was left out");
    ok(v.out.len && out[v.out.len - 1] == '\n', "the last line, cut off by the exit, still ends the output's last line");
    close(c.log_fd);
    sbuf_free(&v.out);

    /* a daemon a scriptlet started: writes every 10 ms until told to stop (or 30 s). Before the
     * fix the watch read on for as long as it wrote (each pause under 200 ms) */
    _cleanup_free_ char *pidf = path_join(dir, "spam.pid"), *stop = path_join(dir, "spam.stop");
    _cleanup_free_ char *script = xasprintf("timeout 30 sh -c 'trap \"\" PIPE; echo $$ > %s; while [ ! -e %s ]; do "
                                            "echo tick; sleep 0.01; done' & while [ ! -s %s ]; do sleep 0.01; done; exit 0",
                                            pidf, stop, pidf);
    char *daemon[] = {"sh", "-c", script, NULL};
    v = (struct pm_seen){0};
    pm_ctx(&c, &o, &v, log);
    is_int(build_run_pkgmgr(&c, "rootfs", daemon, NULL), 0, "the package manager's exit status");
    _cleanup_free_ char *pidtext = NULL;
    long pid = 0;
    if (read_file(pidf, 64, &pidtext, NULL) < 0 || !parse_long(strstrip(pidtext), &pid)) pid = 0;
    ok(pid > 1 && kill((pid_t)pid, 0) == 0,
       "the watch ended when the package manager exited, while what it left behind still wrote (pid %ld)", pid);
    write_file_atomic(stop, "", 0, 0644);
    for (int i = 0; i < 500 && pid > 1 && kill((pid_t)pid, 0) == 0; i++) usleep(10000);
    close(c.log_fd);
    sbuf_free(&v.out);
}

/* boot.secure_boot: distro's grub.cfg: each word of the command line its own argument of
 * GRUB's linux, so the kernel gets root=, rw and console= as three parameters (one quoted
 * argument, which GRUB passes on in double quotes, left the kernel with no root= and its
 * console on tty0: the image booted to nothing on the serial console). */
static void test_grub_cfg(void)
{
    _cleanup_free_ char *a = grub_cfg_text("/img/6.1.0-57-amd64/linux", "/img/6.1.0-57-amd64/initrd",
                                           "root=PARTUUID=2f33ad9e-8fb1-4548-99f4-40244754c15c rw console=ttyS0");
    is_str(a, "set timeout=0\nlinux '/img/6.1.0-57-amd64/linux' 'root=PARTUUID=2f33ad9e-8fb1-4548-99f4-40244754c15c' "
              "'rw' 'console=ttyS0'\ninitrd '/img/6.1.0-57-amd64/initrd'\nboot\n",
           "grub.cfg: one single-quoted argument per word");
    /* the spec's own spacing (runs of spaces, a tab) makes no empty argument; $ and ; stay literal */
    _cleanup_free_ char *b = grub_cfg_text("/k", "/i", "root=PARTUUID=x rw  \tfoo=$bar;baz ");
    is_str(b, "set timeout=0\nlinux '/k' 'root=PARTUUID=x' 'rw' 'foo=$bar;baz'\ninitrd '/i'\nboot\n",
           "grub.cfg: runs of blanks separate words, no empty argument, GRUB specials quoted");
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    setenv("LC_ALL", "C.UTF-8", 1); /* "→" in the lines below; test_lines checks the C locale's "->" */
    test_stages();
    test_stages_tar();
    test_families();
    test_host_copies();
    test_initrd_hook();
    test_lines();
    test_events();
    test_pkgmgr_hostile();
    test_grub_cfg();
    rm_rf(dir);
    return tap_done();
}
