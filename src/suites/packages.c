/* Area packages: the package database, installed files, the running kernel's package,
 * and installed versions against a vulnerability feed. deb (dpkg) and rpm alike. */
#include <errno.h>

#include "platform/platform.h"
#include "suites/common.h"
#include "suites/version.h"
#include "util/util.h"
#include "util/yaml.h"

KILN_CASE(verify_package_db,
          .area = "packages", .priority = 1, .timeout_s = 300,
          .description = "The package database is consistent (dpkg --audit, rpm --verifydb)",
          .tags = KILN_TAGS("fast"))
{
    enum guest_family fam;
    if (guest_need_family(t, &fam)) return CASE_SKIP;
    _cleanup_free_ char *out = NULL;
    if (fam == FAMILY_DEB) {
        if (guest_sh_ok(t, "dpkg --audit", "dpkg --audit", &out)) return CASE_FAIL;
        if (*strstrip(out)) return case_fail(t, "dpkg --audit reports half-installed or unconfigured packages: %s", out);
        _cleanup_free_ char *count = NULL;
        case_sh(t, "dpkg-query -W -f '.' | wc -c", &count);
        case_metric(t, "packages", count ? strtod(count, NULL) : 0, "");
        return CASE_PASS;
    }
    if (guest_sh_ok(t, "rpm database check", "rpmdb --verifydb 2>&1 || rpm --verifydb 2>&1", &out)) return CASE_FAIL;
    _cleanup_free_ char *count = NULL;
    if (guest_sh_ok(t, "rpm -qa", "rpm -qa | wc -l", &count)) return CASE_FAIL;
    case_metric(t, "packages", strtod(count, NULL), "");
    return CASE_PASS;
}

KILN_CASE(verify_package_files,
          .area = "packages", .priority = 2, .timeout_s = 600,
          .description = "Files installed by packages are unmodified, configuration files aside (dpkg --verify, rpm -Va)")
{
    enum guest_family fam;
    if (guest_need_family(t, &fam)) return CASE_SKIP;
    _cleanup_free_ char *out = NULL;
    /* dpkg --verify: "??5?????? c /etc/x" ("c" marks a conffile); rpm -Va: "S.5....T.  c /etc/x" */
    const char *cmd = fam == FAMILY_DEB ? "dpkg --verify 2>&1; true" : "rpm -Va 2>&1; true";
    case_sh(t, cmd, &out);
    size_t bad = 0;
    struct sbuf list = {0};
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char flags[32], kind[8], path[1024];
        int n = sscanf(l, "%31s %7s %1023s", flags, kind, path);
        bool conf = n == 3 && streq(kind, "c");
        const char *file = n == 3 ? path : n >= 2 ? kind : l;
        if (conf || strchr(flags, '5') == NULL) continue; /* only content changes of non-config files count */
        case_log(t, "modified: %s", l);
        if (bad++ < 6) sbuf_printf(&list, "%s%s", bad > 1 ? ", " : "", file);
    }
    int rc = bad ? case_fail(t, "%zu packaged file(s) changed since installation: %s%s", bad, list.s, bad > 6 ? ", ..." : "")
                 : CASE_PASS;
    sbuf_free(&list);
    return rc;
}

KILN_CASE(verify_running_kernel_packaged,
          .area = "packages", .priority = 1, .timeout_s = 120,
          .description = "The running kernel belongs to an installed package",
          .tags = KILN_TAGS("fast"))
{
    enum guest_family fam;
    if (guest_need_family(t, &fam)) return CASE_SKIP;
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
    enum guest_family fam;
    if (guest_need_family(t, &fam)) return CASE_SKIP;
    struct diags d = {0};
    struct ynode *root = yaml_load_file(feed, &d);
    const struct ynode *adv = y_get(root, "advisories");
    if (!root || !adv || adv->kind != YN_SEQ) {
        int r = case_fail(t, "cannot read advisories from %s: %s", feed, d.n ? d.v[0].msg : "needs a list under \"advisories:\"");
        diags_free(&d);
        ynode_free(root);
        return r;
    }
    diags_free(&d);
    _cleanup_free_ char *installed = NULL;
    case_sh(t, fam == FAMILY_DEB ? "dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\\n' | awk '$1 == \"ii\" {print $2, $3}'"
                                 : "rpm -qa --qf '%{NAME} %|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\\n'",
            &installed);
    const char *famname = fam == FAMILY_DEB ? "deb" : "rpm";
    size_t bad = 0, checked = 0;
    struct sbuf list = {0};
    for (size_t i = 0; i < adv->n; i++) {
        const struct ynode *a = adv->items[i];
        const struct ynode *pk = y_get(a, "package"), *fx = y_get(a, "fixed"), *id = y_get(a, "id"), *fm = y_get(a, "family");
        if (!pk || !fx || pk->kind != YN_SCALAR || fx->kind != YN_SCALAR) continue;
        if (fm && fm->kind == YN_SCALAR && !streq(fm->scalar, famname)) continue;
        _cleanup_free_ char *needle = xasprintf("\n%s ", pk->scalar);
        _cleanup_free_ char *hay = xasprintf("\n%s", installed ? installed : "");
        char *at = strstr(hay, needle);
        if (!at) continue;
        at += strlen(needle);
        _cleanup_free_ char *ver = xstrndup(at, strcspn(at, "\n"));
        checked++;
        int c = fam == FAMILY_DEB ? version_cmp_deb(ver, fx->scalar) : version_cmp_rpm(ver, fx->scalar);
        case_log(t, "%s %s %s %s (fixed in %s)", id && id->scalar ? id->scalar : "advisory", pk->scalar, ver,
                 c < 0 ? "VULNERABLE" : "ok", fx->scalar);
        if (c < 0 && bad++ < 6)
            sbuf_printf(&list, "%s%s %s < %s (%s)", bad > 1 ? "; " : "", pk->scalar, ver, fx->scalar,
                        id && id->scalar ? id->scalar : "advisory");
    }
    case_metric(t, "advisories_matched", (double)checked, "");
    int rc = bad ? case_fail(t, "%zu installed package(s) have known vulnerabilities: %s", bad, list.s) : CASE_PASS;
    sbuf_free(&list);
    ynode_free(root);
    return rc;
}
