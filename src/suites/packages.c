/* Area packages: the package database, installed files, the running kernel's package,
 * and installed versions against a vulnerability feed. deb (dpkg) and rpm alike. */
#include <errno.h>

#include "platform/platform.h"
#include "suites/decide.h"
#include "util/util.h"
#include "util/yaml.h"

KILN_CASE(verify_package_db,
          .area = "packages", .priority = 1, .timeout_s = 300,
          .description = "The package database is readable and consistent (dpkg --audit; rpmdb --verifydb and "
                         "every dependency installed)",
          .tags = KILN_TAGS("fast"))
{
    enum pkg_family fam;
    int r = guest_need_family(t, &fam);
    if (r != CASE_PASS) return r;
    struct gcap check, deps = {0};
    if (guest_capture(t, NULL, fam == FAMILY_DEB ? "dpkg --audit"
                                                 : "if command -v rpmdb >/dev/null 2>&1; then rpmdb --verifydb; "
                                                   "else rpm --verifydb; fi",
                      &check) < 0)
        return CASE_FAIL;
    if (fam == FAMILY_RPM && guest_capture(t, NULL, "rpm -Va --nofiles --noscripts", &deps) < 0) {
        gcap_free(&check);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_package_db(fam, &check, &deps, &v);
    gcap_free(&check);
    gcap_free(&deps);
    if (v.kind == VERDICT_PASS) {
        _cleanup_free_ char *count = NULL;
        if (guest_sh_ok(t, "count the installed packages",
                        fam == FAMILY_DEB ? "dpkg-query -W -f '.'" : "rpm -qa --qf '.'", &count)) {
            verdict_free(&v);
            return CASE_FAIL;
        }
        case_metric(t, "packages", (double)strlen(strstrip(count)), "");
    }
    return case_verdict(t, &v);
}

KILN_CASE(verify_package_files,
          .area = "packages", .priority = 2, .timeout_s = 600,
          .description = "Files installed by packages are unmodified, configuration files aside: missing files, content, "
                         "and (rpm; dpkg records only digests) mode, owner, size and link target (dpkg --verify, rpm -Va)")
{
    enum pkg_family fam;
    int r = guest_need_family(t, &fam);
    if (r != CASE_PASS) return r;
    struct gcap verify, mounts;
    if (guest_capture(t, NULL, fam == FAMILY_DEB ? "dpkg --verify" : "rpm -Va --nodeps --noscripts", &verify) < 0)
        return CASE_FAIL;
    if (guest_capture(t, NULL, "awk '{print $5}' /proc/self/mountinfo", &mounts) < 0) {
        gcap_free(&verify);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    if (mounts.status != 0) {
        _cleanup_free_ char *why = gcap_why(&mounts);
        verdict_set(&v, VERDICT_FAIL, "cannot read the mount points (/proc/self/mountinfo): %s", why);
    } else {
        decide_package_files(fam, &verify, mounts.out, &v);
    }
    if (*verify.out) case_log(t, "%s", verify.out);
    gcap_free(&verify);
    gcap_free(&mounts);
    return case_verdict(t, &v);
}

KILN_CASE(verify_running_kernel_packaged,
          .area = "packages", .priority = 1, .timeout_s = 120,
          .description = "The running kernel belongs to an installed package",
          .tags = KILN_TAGS("fast"))
{
    enum pkg_family fam;
    int need = guest_need_family(t, &fam);
    if (need != CASE_PASS) return need;
    _cleanup_free_ char *rel = NULL, *owner = NULL;
    if (guest_sh_ok(t, "uname", "uname -r", &rel)) return CASE_FAIL;
    strstrip(rel);
    _cleanup_free_ char *cmd = fam == FAMILY_DEB ? xasprintf("dpkg -S /lib/modules/%s/modules.order 2>&1 || dpkg -S /boot/vmlinuz-%s 2>&1", rel, rel)
                                                 : xasprintf("rpm -qf /lib/modules/%s/vmlinuz 2>&1 || rpm -qf /boot/vmlinuz-%s 2>&1", rel, rel);
    int r = case_sh(t, cmd, &owner);
    if (r != 0) return case_fail(t, "no installed package owns kernel %s: %s", rel, owner ? strstrip(owner) : "");
    case_log(t, "kernel %s from %s", rel, strstrip(owner));
    return CASE_PASS;
}

KILN_CASE(verify_vulnerable_packages,
          .area = "packages", .priority = 1, .timeout_s = 300,
          .description = "No installed package is older than the fixed version of an advisory in the runbook's vulnerability feed",
          .tags = KILN_TAGS("fast"))
{
    const char *feed = t->plat->rb->vulnerability_feed;
    if (!feed) return case_skip(t, "the runbook names no vulnerability_feed");
    enum pkg_family fam;
    int r = guest_need_family(t, &fam);
    if (r != CASE_PASS) return r;
    struct diags d = {0};
    struct ynode *root = yaml_load_file(feed, &d);
    const struct ynode *adv = y_get(root, "advisories");
    if (!root || !adv || adv->kind != YN_SEQ) {
        r = case_fail(t, "cannot read advisories from %s: %s", feed, d.n ? d.v[0].msg : "needs a list under \"advisories:\"");
        diags_free(&d);
        ynode_free(root);
        return r;
    }
    diags_free(&d);
    struct gcap installed;
    if (guest_capture(t, NULL, fam == FAMILY_DEB ? "dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\\n'"
                                                 : "rpm -qa --qf '%{NAME} %|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\\n'",
                      &installed) < 0) {
        ynode_free(root);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    size_t matched;
    decide_vulnerable_packages(fam, &installed, adv, &v, &matched);
    gcap_free(&installed);
    ynode_free(root);
    case_metric(t, "advisories_matched", (double)matched, "");
    return case_verdict(t, &v);
}
