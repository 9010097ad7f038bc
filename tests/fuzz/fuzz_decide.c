/* Every built-in case's decision on arbitrary guest output: the input is split at NUL bytes
 * into up to three texts (a command's stdout, its stderr or a second command's output, a
 * third text), the second byte is the exit status, and each decide function reads them. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suites/decide.h"
#include "suites/decide_containers.h"
#include "suites/decide_cvm.h"
#include "suites/decide_hpc.h"
#include "util/util.h"
#include "util/yaml.h"

static const char policy_text[] =
    "sshd: {permitrootlogin: [\"no\", prohibit-password], passwordauthentication: [\"no\"], x11forwarding: [\"no\"]}\n"
    "allow: [root, /tmp/]\n"
    "sysctl: {kernel.randomize_va_space: [\"2\"], kernel.printk: [\"4 4 1 7\"]}\n"
    "advisories: [{id: A, package: bash, fixed: \"5.2\"}, {id: B, package: openssh-server, family: deb, fixed: \"1:9\"}]\n";

static struct ynode *policy(void)
{
    static struct ynode *p;
    if (!p) {
        struct diags d = {0};
        p = yaml_load_string("fuzz", policy_text, sizeof policy_text - 1, &d);
        diags_free(&d);
        if (!p) abort();
    }
    return p;
}

static void run(struct verdict *v)
{
    /* every verdict has a kind, and every kind but a pass a reason */
    if (v->kind != VERDICT_PASS && !v->reason) abort();
    verdict_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = xmalloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    const char *part[3] = {buf, "", ""};
    size_t np = 1;
    for (size_t i = 0; i < size && np < 3; i++)
        if (!buf[i]) part[np++] = buf + i + 1;
    int status = size > 1 ? data[1] % 4 == 0 ? 0 : data[1] : 0;
    struct ynode *p = policy();
    const struct ynode *sshd = y_get(p, "sshd"), *allow = y_get(p, "allow"), *sysctl = y_get(p, "sysctl"),
                      *adv = y_get(p, "advisories");
    struct gcap a = {.status = status, .out = (char *)part[0], .err = (char *)part[1]};
    struct gcap b = {.status = 0, .out = (char *)part[1], .err = (char *)part[2]};
    struct verdict v = {0};
    struct gfiles f;
    gfiles_parse(part[0], &f);

    char *id = os_release_value(part[0], "ID"), *like = os_release_value(part[0], "ID_LIKE");
    family_from_os_release(id, like);
    free(id);
    free(like);
    decide_package_database(FAMILY_RPM, "x", &a, &v), run(&v);

    decide_login_users(&f, allow, "kiln", &v), run(&v);
    decide_empty_passwords(&f, &v), run(&v);
    decide_password_hashes(&f, allow, &v), run(&v);
    char **users = sshd_test_users(&f, 3);
    size_t nu = 0;
    while (users[nu]) nu++;
    struct gcap *outs = xcalloc(nu, sizeof *outs);
    for (size_t i = 0; i < nu; i++) outs[i] = i ? b : a;
    decide_sshd(users, outs, nu, sshd, &v), run(&v);
    for (size_t i = 0; i < nu; i++) free(users[i]);
    free(users);
    free(outs);
    free(authorized_keys_paths(&f, part[1]));
    decide_dropbear(&f, sshd, &v), run(&v);
    decide_authorized_keys(&f, part[2], &v), run(&v);
    decide_host_keys("a", &a, part[2], "b", &b, part[2], &v), run(&v);
    decide_private_keys("a", &a, "b", &b, &v), run(&v);
    decide_path_list(&a, allow, status & 1, "paths", &v), run(&v);
    decide_sysctls(&a, sysctl, &v), run(&v);
    decide_apt_repos(&f, &b, &v), run(&v);
    decide_rpm_repos(&f, &v), run(&v);
    free(rpm_repo_dirs(&f));

    size_t n;
    decide_nics(&a, &v, &n), run(&v);
    decide_default_route(&a, &v), run(&v);
    decide_resolve("x", &a, part[1], &v), run(&v);
    decide_hostname(&b, &a, &v), run(&v);
    decide_mtu(&a, 1500, &v), run(&v);

    int synced;
    decide_vdso(&a, &b, "hpet", part[2], status & 1, 2, &v), run(&v);
    decide_cgroup_v2(&a, &b, status & 1, &v), run(&v);
    decide_module_cycle("m", &b, &a, &v), run(&v);
    decide_entropy(&a, &v), run(&v);
    decide_time_sync(&a, status & 1, &v, &synced), run(&v);

    double mib;
    decide_fstab(&a, &v), run(&v);
    decide_fs_errors(&b, &a, &v), run(&v);
    decide_swap(&b, &a, part[1], part[2], &v, &mib), run(&v);
    decide_disk_unused("vdb", "disk", &a, &v), run(&v);
    decide_boot_finished(&a, &b, 120, &v), run(&v);
    long ncpu;
    decide_cpu_count(&a, part[1], part[2], 2, &v, &ncpu), run(&v);
    double mem;
    decide_memory(&a, part[1], part[2], 1024, &v, &mem), run(&v);

    decide_package_db(status & 1 ? FAMILY_DEB : FAMILY_RPM, &b, &a, &v), run(&v);
    decide_package_files(status & 1 ? FAMILY_DEB : FAMILY_RPM, &a, part[1], &v), run(&v);
    decide_vulnerable_packages(status & 1 ? FAMILY_DEB : FAMILY_RPM, &a, adv, &v, &n), run(&v);

    decide_failed_units(&a, &b, 1, &v), run(&v);
    decide_kernel_cmdline(part[1], status & 1 ? NULL : part[2], "qemu.append", &v), run(&v);
    decide_clean_shutdown(status & 2 ? part[2] : NULL, true, &a, status & 1, &v), run(&v);
    decide_generalized(&b, &a, &b, &v), run(&v);

    decide_tpm_present(&f, status & 1, status & 2 ? &b : NULL, &v), run(&v);
    struct gcap c = {.status = status & 4 ? 1 : 0, .out = (char *)part[2], .err = (char *)""};
    decide_measured_boot(!(status & 8), &a, &c, &v), run(&v);
    decide_secure_boot(&a, status & 2 ? &b : NULL, &c, &v), run(&v);
    decide_unsigned_kernel_refused("kiln-unsigned.conf", status & 1 ? NULL : part[1], part[2], &v), run(&v);
    decide_unsigned_probe_skip(status & 1 ? NULL : part[1], &v), run(&v);
    decide_grub_unsigned_refused("/k/linux-kiln-unsigned", status & 1 ? NULL : part[1], part[2], &v), run(&v);
    decide_pcr4_change(&a, &c, "x", &v), run(&v);
    char luks[64];
    if (cvm_luks_device(part[2], luks, sizeof luks) && !memchr(luks, 0, sizeof luks)) abort();
    decide_encrypted_root("/dev/vda2", &a, &c, &b, &v), run(&v);
    decide_pcr7_seal("/dev/vda2", &a, &c, &v), run(&v);

    char dev[16];
    double d1, d2;
    int gpus;
    decide_rdma_link("n", part[2], &c, &a, dev, sizeof dev, &v), run(&v);
    /* a figure read from a guest is a rate, size or time: never negative, never infinite */
    d1 = d2 = NAN;
    if (decide_pingpong("t", "s", &a, "c", &b, 500, &v, &d1, &d2) == VERDICT_PASS && (d1 < 0 || d2 < 0 || isinf(d1) || isinf(d2)))
        abort();
    run(&v);
    if (perftest_value(part[0], part[1], &d1) && !(d1 >= 0 && isfinite(d1))) abort();
    if (decide_perftest("t", part[2], &c, &a, &v, &d1) == VERDICT_PASS && !(d1 >= 0 && isfinite(d1))) abort();
    run(&v);
    decide_crashkernel(status & 1 ? NULL : part[0], part[1], part[2], &v, &d1), run(&v);
    decide_kdump_armed(status & 1 ? NULL : part[2], status & 2 ? NULL : &a, &v), run(&v);
    decide_vmcore(&b, &a, &v), run(&v);
    decide_gpu_visible(&a, status & 2 ? NULL : &b, &v, &gpus), run(&v);
    decide_gpu_driver(&a, status & 2 ? NULL : &c, &v), run(&v);
    enum ctr_runtime rt;
    decide_container_runtime(&a, &rt, &v), run(&v);
    decide_container_run(&b, &a, 3, part[2], &v), run(&v);
    decide_container_isolation(part[2], &a, 67108864, "50000 100000", &v), run(&v);
    decide_container_oom(&a, 64, 256, part[1], part[2], &v), run(&v);
    decide_kubelet_prerequisites(part[0], (enum ctr_runtime)(status & 3), status & 4, &v), run(&v);
    decide_iscsi_login(part[0], part[1], &v), run(&v);

    gfiles_free(&f);
    free(buf);
    return 0;
}
