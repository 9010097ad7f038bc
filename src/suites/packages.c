/* Area packages: the package database, installed files, the running kernel's package,
 * and installed versions against a vulnerability feed. deb (dpkg) and rpm alike. */
#include <errno.h>

#include "platform/platform.h"
#include "suites/decide.h"
#include "suites/version.h"
#include "util/util.h"
#include "util/yaml.h"

enum verdict_kind decide_package_db(enum guest_family fam, const struct gcap *check, const struct gcap *deps,
                                    struct verdict *v)
{
    _cleanup_free_ char *out = xstrdup(check->out);
    strstrip(out);
    if (fam == FAMILY_DEB) {
        if (*out) return verdict_set(v, VERDICT_FAIL, "dpkg --audit reports half-installed or unconfigured packages: %s", out);
        if (check->status != 0) {
            _cleanup_free_ char *why = gcap_why(check);
            return verdict_set(v, VERDICT_FAIL, "dpkg --audit failed: %s", why);
        }
        return verdict_set(v, VERDICT_PASS, "dpkg --audit reports nothing");
    }
    if (check->status != 0) {
        _cleanup_free_ char *why = gcap_why(check);
        return verdict_set(v, VERDICT_FAIL, "the rpm database does not verify (rpmdb --verifydb): %s", why);
    }
    /* rpm -Va --nofiles: "Unsatisfied dependencies for P:" then one indented line each */
    _cleanup_free_ char *dout = xstrdup(deps->out);
    if (deps->status != 0 && *strstrip(dout)) {
        for (char *p = dout; *p; p++)
            if (*p == '\n' || *p == '\t') *p = ' ';
        return verdict_set(v, VERDICT_FAIL, "installed packages miss dependencies (rpm -Va --nofiles): %.400s", dout);
    }
    if (deps->status != 0) {
        _cleanup_free_ char *why = gcap_why(deps);
        return verdict_set(v, VERDICT_FAIL, "cannot check the installed packages' dependencies (rpm -Va --nofiles): %s", why);
    }
    return verdict_set(v, VERDICT_PASS, "the rpm database verifies and every dependency is installed");
}

KILN_CASE(verify_package_db,
          .area = "packages", .priority = 1, .timeout_s = 300,
          .description = "The package database is readable and consistent (dpkg --audit; rpmdb --verifydb and "
                         "every dependency installed)",
          .tags = KILN_TAGS("fast"))
{
    enum guest_family fam;
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

/* What each verify flag means (rpm(8) VERIFY OPTIONS; dpkg --verify prints the same format). */
static const char *verify_flag(char c)
{
    switch (c) {
    case 'S': return "size";
    case 'M': return "mode";
    case '5': return "digest";
    case 'D': return "device";
    case 'L': return "link";
    case 'U': return "owner";
    case 'G': return "group";
    case 'P': return "capabilities";
    default: return NULL;
    }
}

enum verdict_kind decide_package_files(enum guest_family fam, const struct gcap *verify, const char *mountpoints,
                                       struct verdict *v)
{
    const char *tool = fam == FAMILY_DEB ? "dpkg --verify" : "rpm -Va";
    /* rpm exits 1 when it lists a difference; anything else, or dpkg's non-zero, is an error */
    if (verify->status != 0 && !(fam == FAMILY_RPM && verify->status == 1 && *verify->out)) {
        _cleanup_free_ char *why = gcap_why(verify);
        return verdict_set(v, VERDICT_FAIL, "%s failed: %s", tool, why);
    }
    _cleanup_free_ char *mounts = xasprintf("\n%s\n", mountpoints ? mountpoints : "");
    struct sbuf list = {0};
    size_t bad = 0, lines = 0;
    const char *p = verify->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        if (!len) continue;
        _cleanup_free_ char *l = xstrndup(line, len);
        /* "FLAGS [ATTR] PATH": 9 flags (or "missing"), an attribute letter (c config, d doc,
         * g ghost, l license, r readme) or a blank, then the path */
        size_t fl = strcspn(l, " ");
        const char *rest = l + fl + strspn(l + fl, " ");
        char attr = ' ';
        if (rest[0] && rest[0] != '/' && rest[1] == ' ') attr = rest[0], rest += 1 + strspn(rest + 1, " ");
        bool missing = fl == 7 && !strncmp(l, "missing", 7);
        if (*rest != '/' || (!missing && (fl != 9 || strspn(l, ".SM5DLUGTP?") != 9))) {
            verdict_set(v, VERDICT_FAIL, "cannot read %s's line \"%s\"", tool, l);
            sbuf_free(&list);
            return v->kind;
        }
        lines++;
        /* configuration files are meant to change; ghost files are made at run time */
        if (attr == 'c' || attr == 'g') continue;
        /* a mount point shows the mounted filesystem's root, not the packaged directory */
        _cleanup_free_ char *needle = xasprintf("\n%s\n", rest);
        if (strstr(mounts, needle)) continue;
        struct sbuf what = {0};
        if (missing) sbuf_puts(&what, "missing");
        for (size_t i = 0; !missing && i < fl; i++)
            if (verify_flag(l[i])) sbuf_printf(&what, "%s%s", what.len ? ", " : "", verify_flag(l[i]));
        if (what.len) reason_item(&list, &bad, 6, "%s (%s)", rest, what.s);
        sbuf_free(&what);
    }
    if (bad) verdict_set(v, VERDICT_FAIL, "%zu packaged file(s) changed since installation: %s", bad, list.s);
    else verdict_set(v, VERDICT_PASS, "%s: %zu line(s), only configuration files, ghost files, mount points or times differ", tool, lines);
    sbuf_free(&list);
    return v->kind;
}

KILN_CASE(verify_package_files,
          .area = "packages", .priority = 2, .timeout_s = 600,
          .description = "Files installed by packages are unmodified, configuration files aside: missing files, content, "
                         "and (rpm; dpkg records only digests) mode, owner, size and link target (dpkg --verify, rpm -Va)")
{
    enum guest_family fam;
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
    enum guest_family fam;
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

enum verdict_kind decide_vulnerable_packages(enum guest_family fam, const struct gcap *installed, const struct ynode *adv,
                                             struct verdict *v, size_t *matched)
{
    *matched = 0;
    if (installed->status != 0) {
        _cleanup_free_ char *why = gcap_why(installed);
        return verdict_set(v, VERDICT_FAIL, "cannot list the installed packages: %s", why);
    }
    const char *famname = fam == FAMILY_DEB ? "deb" : "rpm";
    size_t bad = 0, packages = 0;
    struct sbuf list = {0};
    /* deb: "STATUS NAME VERSION" (dpkg's db:Status-Abbrev); rpm: "NAME [EPOCH:]VERSION-RELEASE" */
    const char *p = installed->out, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        _cleanup_free_ char *l = xstrndup(line, len);
        char st[8] = "ii", name[256], ver[256];
        int n = fam == FAMILY_DEB ? sscanf(l, "%7s %255s %255s", st, name, ver) : sscanf(l, "%255s %255s", name, ver);
        if (n != (fam == FAMILY_DEB ? 3 : 2)) continue;
        /* dpkg: not-installed and config-files-only states hold no code */
        if (st[1] == 'n' || st[1] == 'c') continue;
        packages++;
        for (size_t i = 0; adv && adv->kind == YN_SEQ && i < adv->n; i++) {
            const struct ynode *a = adv->items[i];
            const struct ynode *pk = y_get(a, "package"), *fx = y_get(a, "fixed"), *id = y_get(a, "id"), *fm = y_get(a, "family");
            if (!pk || !fx || pk->kind != YN_SCALAR || fx->kind != YN_SCALAR || !streq(pk->scalar, name)) continue;
            if (fm && fm->kind == YN_SCALAR && !streq(fm->scalar, famname)) continue;
            (*matched)++;
            int c = fam == FAMILY_DEB ? version_cmp_deb(ver, fx->scalar) : version_cmp_rpm(ver, fx->scalar);
            if (c < 0 && bad++ < 6)
                sbuf_printf(&list, "%s%s %s < %s (%s)", bad > 1 ? "; " : "", name, ver, fx->scalar,
                            id && id->kind == YN_SCALAR ? id->scalar : "advisory");
        }
    }
    if (!packages) verdict_set(v, VERDICT_FAIL, "the package list is empty: the %s database answered with no installed package", famname);
    else if (bad) verdict_set(v, VERDICT_FAIL, "%zu installed package(s) have known vulnerabilities: %s", bad, list.s);
    else verdict_set(v, VERDICT_PASS, "%zu advisor%s matched among %zu installed package(s), none vulnerable", *matched,
                     *matched == 1 ? "y" : "ies", packages);
    sbuf_free(&list);
    return v->kind;
}

KILN_CASE(verify_vulnerable_packages,
          .area = "packages", .priority = 1, .timeout_s = 300,
          .description = "No installed package is older than the fixed version of an advisory in the runbook's vulnerability feed",
          .tags = KILN_TAGS("fast"))
{
    const char *feed = t->plat->rb->vulnerability_feed;
    if (!feed) return case_skip(t, "the runbook names no vulnerability_feed");
    enum guest_family fam;
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
