/* The architecture table, `arch` in specs and runbooks, the manifest's arch read back for a
 * built image, and the accelerator choice for a guest of another architecture. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include "model/arch.h"
#include "model/artifact.h"
#include "image/disk.h"
#include "image/gpt.h"
#include "image/manifest.h"
#include "image/spec.h"
#include "platform/accel.h"
#include "platform/qemu.h"
#include "runbook/runbook.h"
#include "tap.h"
#include "util/fs.h"
#include "util/util.h"

static char dir[] = "/tmp/kiln-arch-XXXXXX";

/* The driver's configuration of a loaded runbook, or an empty one when it is another type. */
static const struct kiln_qemu_conf *qemu_of(const struct kiln_runbook *rb)
{
    static const struct kiln_qemu_conf none;
    return rb && streq(rb->platform.type, "qemu") ? rb->platform.conf : &none;
}

static char *put(const char *name, const char *text)
{
    char *p = path_join(dir, name);
    write_file_atomic(p, text, strlen(text), 0644);
    return p;
}

/* The first diagnostic as "file:line:col: path: message", or "(loaded)". */
static char *first_diag(int r, const struct diags *d)
{
    if (r == 0) return xstrdup("(loaded)");
    return xasprintf("%s:%d:%d: %s: %s", strrchr(d->v[0].file, '/') + 1, d->v[0].line, d->v[0].col, d->v[0].path,
                     d->v[0].msg);
}

/* The artifact table: each file kiln build writes maps to the kind its manifest says (the
 * chain of suffix tests build.c had), the spec's outputs and the disk formats are its rows,
 * and qemu gets its own driver names. */
static void test_artifacts(void)
{
    static const char *const files[][2] = {
        {"debian-server-1.0.0.raw", "raw"},           {"debian-server-1.0.0.qcow2", "qcow2"},
        {"debian-server-1.0.0.vhd", "vhd-fixed"},     {"debian-server-1.0.0-dynamic.vhd", "vhd"},
        {"debian-server-1.0.0.tar.zst", "tar"},       {"debian-server-1.0.0.vmlinuz", "kernel"},
        {"debian-server-1.0.0.initrd", "initrd"},     {"debian-server-1.0.0.usr.img", "usr"},
        {"debian-server-1.0.0.usr.verity", "usr-verity"}};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        const struct kiln_artifact *a = artifact_by_file(files[i][0]);
        is_str(a ? a->name : NULL, files[i][1], files[i][0]);
    }
    ok(artifact_by_file("x-1.0.img") == NULL && artifact_by_file("x-1.0.tar") == NULL && artifact_by_file(NULL) == NULL,
       "a file kiln build does not write has no kind");
    ok(artifact_by_name("vhd-fixed") == &kiln_artifacts[ARTIFACT_VHD_FIXED] && artifact_by_name("vhd-dynamic") == NULL &&
           artifact_by_name(NULL) == NULL,
       "artifact_by_name: the manifest's spelling only");
    ok(artifact_is_disk("raw") && artifact_is_disk("qcow2") && artifact_is_disk("vhd-fixed") && artifact_is_disk("vhd"),
       "raw, qcow2 and both VHDs are disks");
    ok(!artifact_is_disk("tar") && !artifact_is_disk("kernel") && !artifact_is_disk("usr") && !artifact_is_disk(NULL),
       "the tarball, the kernel and the /usr image are not");
    is_str(kiln_artifacts[ARTIFACT_VHD].qemu, "vpc", "qemu reads VHD with its vpc driver");
    const char *outs[] = {"raw", "qcow2", "vhd-fixed", "vhd", "tar"};
    for (int o = 0; o < OUT_COUNT; o++) is_str(spec_output_name(o), outs[o], "spec_output_name");
    is_str(spec_output_name(OUT_COUNT), "?", "spec_output_name past the end");
    for (int f = 0; f < DISK_FORMAT_COUNT; f++) {
        is_str(disk_format_name(f), outs[f], "disk_format_name");
        is_int(disk_format_parse(outs[f]), f, "disk_format_parse reads it back");
    }
    is_int(disk_format_parse("vhd-dynamic"), DISK_VHD_DYNAMIC, "disk_format_parse: vhd-dynamic is vhd");
    is_int(disk_format_parse("tar"), -1, "disk_format_parse: tar is no disk format");
    is_int(disk_format_parse("vmdk"), -1, "disk_format_parse: vmdk is unknown");
}

static void test_table(void)
{
    const struct kiln_arch *x = kiln_arch_find("x86_64"), *a = kiln_arch_find("aarch64");
    ok(x && a && x != a, "both architectures are in the table");
    if (!x || !a) return;
    ok(kiln_arch_default() == x, "the default is x86_64 (every spec and runbook before arch existed)");
    ok(!kiln_arch_find("arm64") && !kiln_arch_find("amd64") && !kiln_arch_find("") && !kiln_arch_find(NULL),
       "only uname -m spellings name an architecture");
    /* Debian's names and other cases are named, not guessed (hostile finding: "arm64" and
     * "AARCH64" got a bare "expected one of x86_64 | aarch64") */
    {
        const char *doc = "a: arm64\nb: AARCH64\nc: amd64\nd: aarch64\ne: riscv64\nf: [aarch64]\n";
        struct diags d = {0};
        struct ynode *y = yaml_load_string("arch.yml", doc, strlen(doc), &d);
        const struct kiln_arch *got = NULL;
        ok(y && !kiln_arch_y(&d, y_get(y, "a"), "a", &got) && !got, "arm64 is refused");
        ok(!kiln_arch_y(&d, y_get(y, "b"), "b", &got) && !kiln_arch_y(&d, y_get(y, "c"), "c", &got), "AARCH64 and amd64 too");
        ok(kiln_arch_y(&d, y_get(y, "d"), "d", &got) && got == a, "aarch64 is aarch64");
        ok(!kiln_arch_y(&d, y_get(y, "e"), "e", &got) && !kiln_arch_y(&d, y_get(y, "f"), "f", &got) && got == a,
           "an unknown name and a list are refused, *out untouched");
        ok(d.n == 5, "one diagnostic each (%zu)", d.n);
        if (d.n == 5) {
            is_str(d.v[0].msg, "\"arm64\" is Debian's name for aarch64: write aarch64 (kiln spells architectures as uname -m "
                               "does)", "arm64: the spelling meant");
            is_str(d.v[1].msg, "\"AARCH64\": write aarch64 (kiln spells architectures as uname -m does, in lower case)",
                   "AARCH64: the spelling meant");
            is_int(d.v[1].line, 2, "at its line");
            is_str(d.v[3].msg, "expected one of x86_64 | aarch64, got \"riscv64\"", "riscv64: the choices");
        }
        diags_free(&d);
        ynode_free(y);
    }
#if defined(__x86_64__)
    ok(kiln_arch_host() == x, "kiln built for x86_64 runs on x86_64");
#endif
    /* the facts the build and the QEMU platform look up */
    is_str(x->qemu, "qemu-system-x86_64", "x86_64 qemu binary");
    is_str(x->machine, "q35", "x86_64 machine");
    is_str(x->efi_boot, "BOOTX64.EFI", "x86_64 removable-media boot file (UEFI 3.5.1.1)");
    is_str(x->systemd_boot, "systemd-bootx64.efi", "x86_64 systemd-boot");
    is_str(x->gpt_root, "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "x86_64 root type (Discoverable Partitions)");
    is_str(x->debian, "amd64", "x86_64 is Debian's amd64");
    is_str(x->console, "ttyS0", "x86_64 console");
    ok(x->pflash_bytes == 0, "OVMF is used at its own size");
    is_str(a->qemu, "qemu-system-aarch64", "aarch64 qemu binary");
    is_str(a->machine, "virt", "aarch64 machine");
    is_str(a->efi_boot, "BOOTAA64.EFI", "aarch64 removable-media boot file (UEFI 3.5.1.1)");
    is_str(a->systemd_boot, "systemd-bootaa64.efi", "aarch64 systemd-boot");
    is_str(a->gpt_root, "B921B045-1DF0-41C3-AF44-4C6F280D3FAE", "aarch64 root type (Discoverable Partitions)");
    is_str(a->gpt_usr, "B0E01050-EE5F-4390-949A-9101B17104E9", "aarch64 usr type");
    is_str(a->gpt_usr_verity, "6E11A4E7-FBCA-4DED-B9E9-E1A512BB664E", "aarch64 usr-verity type");
    is_str(a->debian, "arm64", "aarch64 is Debian's arm64");
    is_str(a->rpm, "aarch64", "aarch64 in rpm");
    is_str(a->console, "ttyAMA0", "aarch64 console is the PL011 UART");
    is_str(a->fw_code[0], "/usr/share/AAVMF/AAVMF_CODE.fd", "AAVMF code");
    is_str(a->fw_vars[0], "/usr/share/AAVMF/AAVMF_VARS.fd", "AAVMF variables");
    ok(a->pflash_bytes == 64ull << 20, "virt's pflash devices are 64 MiB");
    /* every name the parsers accept is in the table, and the other way round */
    size_t n, k = 0;
    const struct kiln_arch *all = kiln_arch_all(&n);
    for (const char *const *name = kiln_arch_names(); *name; name++, k++)
        ok(k < n && kiln_arch_find(*name) == &all[k], "name %s is table entry %zu", *name, k);
    is_int(k, n, "as many names as table entries");
    /* inspect and the manifest name the per-architecture partition types */
    struct guid g;
    ok(guid_parse(a->gpt_root, &g) && gpt_type_name(&g) && streq(gpt_type_name(&g), "root-arm64"), "root-arm64 named");
    ok(guid_parse(a->gpt_usr_verity, &g) && gpt_type_name(&g) && streq(gpt_type_name(&g), "usr-arm64-verity"),
       "usr-arm64-verity named");
    ok(guid_parse(x->gpt_root, &g) && gpt_type_name(&g) && streq(gpt_type_name(&g), "root-x86-64"), "root-x86-64 named");
}

static const char *spec_head = "name: t\nversion: 1.0.0\n";
/* systemd-boot-efi: a disk of another arch than the host's needs the image's own systemd-boot */
static const char *spec_tail =
    "base: { family: deb, suite: bookworm }\npackages: { install: [openssh-server, systemd-boot-efi] }\n";

static char *spec_with(const char *name, const char *arch_line, struct image_spec **out)
{
    _cleanup_free_ char *text = xasprintf("%s%s%s", spec_head, arch_line, spec_tail);
    _cleanup_free_ char *p = put(name, text);
    struct diags d = {0};
    *out = NULL;
    int r = spec_load(p, NULL, out, &d);
    char *s = first_diag(r, &d);
    diags_free(&d);
    return s;
}

static void test_spec(void)
{
    struct image_spec *s;
    _cleanup_free_ char *r1 = spec_with("s1.yml", "", &s);
    ok(streq(r1, "(loaded)") && s && s->arch == kiln_arch_find("x86_64"), "a spec without arch builds x86_64");
    spec_free(s);
    _cleanup_free_ char *r2 = spec_with("s2.yml", "arch: aarch64\n", &s);
    ok(streq(r2, "(loaded)") && s && s->arch == kiln_arch_find("aarch64"), "arch: aarch64");
    spec_free(s);
    _cleanup_free_ char *r3 = spec_with("s3.yml", "arch: arm64\n", &s);
    is_str(r3, "s3.yml:3:7: arch: \"arm64\" is Debian's name for aarch64: write aarch64 (kiln spells architectures as "
               "uname -m does)",
           "a Debian spelling is refused at file:line:col, naming the spelling meant");
    spec_free(s);
    _cleanup_free_ char *r4 = spec_with("s4.yml", "arch: [aarch64]\n", &s);
    has(r4, "s4.yml:3:7: arch: expected one of x86_64 | aarch64", "a list is refused");
    spec_free(s);
}

static char *runbook_with(const char *name, const char *qemu_extra, struct kiln_runbook **rb)
{
    _cleanup_free_ char *text = xasprintf("platform:\n  type: qemu\n  qemu:\n    kernel: /k\n%s", qemu_extra);
    _cleanup_free_ char *p = put(name, text);
    struct diags d = {0};
    *rb = NULL;
    int r = runbook_load(p, NULL, 0, rb, &d);
    char *s = first_diag(r, &d);
    diags_free(&d);
    return s;
}

static void test_runbook(void)
{
    struct kiln_runbook *rb;
    _cleanup_free_ char *r1 = runbook_with("r1.yml", "", &rb);
    ok(streq(r1, "(loaded)") && rb && !qemu_of(rb)->arch, "no arch: decided at run time (manifest, else x86_64)");
    runbook_free(rb);
    _cleanup_free_ char *r2 = runbook_with("r2.yml", "    arch: aarch64\n", &rb);
    ok(streq(r2, "(loaded)") && rb && qemu_of(rb)->arch == kiln_arch_find("aarch64"), "platform.qemu.arch: aarch64");
    runbook_free(rb);
    _cleanup_free_ char *r3 = runbook_with("r3.yml", "    arch: riscv64\n", &rb);
    is_str(r3, "r3.yml:5:11: platform.qemu.arch: expected one of x86_64 | aarch64, got \"riscv64\"",
           "unknown arch refused at file:line:col");
    runbook_free(rb);
}

static void test_manifest(void)
{
    const struct kiln_arch *a = NULL;
    _cleanup_free_ char *why = NULL;
    const char *m = "{\"name\":\"d\",\"arch\":\"aarch64\",\"artifacts\":[{\"file\":\"d-1.qcow2\"},{\"file\":\"d-1.vmlinuz\"}]}";
    ok(manifest_arch_parse(m, strlen(m), "d-1.qcow2", &a, &why) == 0 && a == kiln_arch_find("aarch64"),
       "a manifest listing the image gives its arch");
    a = NULL;
    ok(manifest_arch_parse(m, strlen(m), "d-1.vmlinuz", &a, &why) == 0 && a == kiln_arch_find("aarch64"),
       "the kernel artifact too (direct kernel boot)");
    is_int(manifest_arch_parse(m, strlen(m), "other.qcow2", &a, &why), -ENOENT, "another image: not this one's");
    const char *old = "{\"artifacts\":[{\"file\":\"d-1.raw\"}]}";
    a = NULL;
    ok(manifest_arch_parse(old, strlen(old), "d-1.raw", &a, &why) == 0 && a == kiln_arch_find("x86_64"),
       "a manifest without arch predates it: x86_64");
    const char *bad = "{\"arch\":\"sparc\",\"artifacts\":[{\"file\":\"d-1.raw\"}]}";
    is_int(manifest_arch_parse(bad, strlen(bad), "d-1.raw", &a, &why), -EINVAL, "unknown arch is an error");
    is_str(why, "\"arch\" is \"sparc\", which kiln does not know (known: x86_64, aarch64)", "and says which");
    const char *num = "{\"arch\":7,\"artifacts\":[{\"file\":\"d-1.raw\"}]}";
    is_int(manifest_arch_parse(num, strlen(num), "d-1.raw", &a, &why), -EINVAL, "a non-string arch too");
    is_int(manifest_arch_parse("[1]", 3, "d-1.raw", &a, &why), -EBADMSG, "not an object");
    is_int(manifest_arch_parse("{\"a\":1,\"a\":2}", 13, "x", &a, &why), -EBADMSG, "duplicate keys refused");

    /* on disk: the manifest beside the image that lists it, whatever else lies there */
    _cleanup_free_ char *img = put("d-1.qcow2", "not a disk");
    _cleanup_free_ char *m1 = put("d-1.manifest.json", m);
    _cleanup_free_ char *m2 = put("a-junk.manifest.json", "{ not json");
    _cleanup_free_ char *m3 = put("b-other.manifest.json", "{\"arch\":\"sparc\",\"artifacts\":[{\"file\":\"b.raw\"}]}");
    a = NULL;
    ok(manifest_arch_for(img, &a, &why) == 0 && a == kiln_arch_find("aarch64"),
       "found beside the image among unrelated and broken manifests");
    _cleanup_free_ char *lone = put("lone.raw", "x");
    is_int(manifest_arch_for(lone, &a, &why), -ENOENT, "an image no manifest lists");
    has(why, "lists lone.raw", "says which image had none");
    _cleanup_free_ char *braw = put("b.raw", "x");
    is_int(manifest_arch_for(braw, &a, &why), -EINVAL, "its manifest's unknown arch is an error");
    has(why, "b-other.manifest.json: \"arch\" is \"sparc\"", "naming the manifest");
}

static void test_accel(void)
{
    _cleanup_free_ char *detail = NULL;
#if defined(__x86_64__)
    /* no probe runs: a probe would need /dev/kvm and qemu and leave a cache file */
    ok(!accel_kvm_works(kiln_arch_find("aarch64"), dir, "host", &detail), "no KVM for an aarch64 guest here");
    is_str(detail, "KVM cannot run an aarch64 guest on an x86_64 host", "and why, without probing");
    _cleanup_free_ char *cache = path_join(dir, "cache/accel-probe");
    ok(!file_exists(cache), "no verdict cached for it");
    /* kiln worker asks with no CPU model: that is "host", the model kiln run probes with, so a
     * verdict cached by kiln run answers it (it once ran qemu with "-cpu" and no value) */
    struct stat st = {0};
    if (stat("/usr/bin/qemu-system-x86_64", &st) != 0) stat("/usr/local/bin/qemu-system-x86_64", &st);
    struct utsname u;
    uname(&u);
    _cleanup_free_ char *line = xasprintf("%lld tcg %s %lld %lld cpu=host | planted verdict\n", (long long)time(NULL), u.release,
                                          (long long)st.st_mtime, (long long)st.st_size);
    _cleanup_free_ char *cdir = path_join(dir, "cache");
    mkdir_p(cdir, 0755);
    ok(write_file_atomic(cache, line, strlen(line), 0644) == 0, "a verdict for -cpu host planted");
    free(detail);
    detail = NULL;
    ok(!accel_kvm_works(kiln_arch_find("x86_64"), dir, NULL, &detail), "no CPU model: the planted tcg verdict");
    is_str(detail, "planted verdict (cached)", "read from the cache, no probe run");
#endif
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    _cleanup_free_ char *cache = path_join(dir, "cache");
    setenv("KILN_CACHE", cache, 1);
    test_table();
    test_artifacts();
    test_spec();
    test_runbook();
    test_manifest();
    test_accel();
    rm_rf(dir);
    return tap_done();
}
