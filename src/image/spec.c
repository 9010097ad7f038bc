/* Image spec parser. Every value that ends up in a file or a command inside the image is
 * checked against a strict character set here, so later stages never quote user text into
 * a shell. */
#include "image/spec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>

#include "util/fs.h"
#include "util/util.h"

#define FIELD(map, key) y_get((map), (key))
#define SUBPATH(var, parent, key) _cleanup_free_ char *var = ypath((parent), (key))

static const char *const out_names[] = {"raw", "qcow2", "vhd-fixed", "vhd", "tar"};

const char *spec_output_name(enum image_output o) { return o < OUT_COUNT ? out_names[o] : "?"; }

bool spec_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0) || isinf(v)) return false;
    double mul = 1;
    switch (*end) {
    case 'K': case 'k': mul = 1024.0; end++; break;
    case 'M': case 'm': mul = 1024.0 * 1024; end++; break;
    case 'G': case 'g': mul = 1024.0 * 1024 * 1024; end++; break;
    case 'T': case 't': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    case 0: break;
    default: return false;
    }
    if (*end == 'i' && end[-1] != *s) end++;
    if (*end == 'B') end++;
    if (*end) return false;
    v *= mul;
    if (v > 16.0 * 1024 * 1024 * 1024 * 1024) return false;
    *out = (uint64_t)v;
    return true;
}

static bool charset(const char *s, const char *extra, bool alnum_first)
{
    if (!*s) return false;
    if (alnum_first && !isalnum((unsigned char)*s)) return false;
    for (const char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(extra, *c)) return false;
    return true;
}

/* A string checked against a charset; the message names what is allowed. */
static void checked_str(struct diags *d, const struct ynode *x, const char *path, const char *extra,
                        bool alnum_first, const char *what, char **out)
{
    char *v = NULL;
    if (!y_str(d, x, path, &v)) return;
    if (!charset(v, extra, alnum_first)) {
        diag_add(d, x, path, "\"%s\" is not a valid %s", v, what);
        free(v);
        return;
    }
    *out = v;
}

static void checked_list(struct diags *d, const struct ynode *x, const char *path, const char *extra,
                         const char *what, char ***out, size_t *n)
{
    if (!y_str_list(d, x, path, out, n)) return;
    for (size_t i = 0; i < *n; i++)
        if (!charset((*out)[i], extra, true)) {
            const struct ynode *at = x->kind == YN_SEQ && i < x->n ? x->items[i] : x;
            _cleanup_free_ char *p = ypath_index(path, i);
            diag_add(d, at, p, "\"%s\" is not a valid %s", (*out)[i], what);
        }
}

/* A path from the spec, made absolute (relative to the spec's directory): later stages hand
 * it to tools that run elsewhere (dnf's file:// URLs, chroot). */
static char *spec_path(const struct ynode *at, const char *p)
{
    _cleanup_free_ char *dir = path_dirname(at->file);
    _cleanup_free_ char *r = path_resolve(dir, p);
    if (r[0] == '/') return xstrdup(r);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return xstrdup(r);
    return path_join(cwd, r);
}

static bool no_control(const char *s)
{
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return false;
    return true;
}

static void parse_base(const struct ynode *n, struct image_spec *s, struct diags *d)
{
    static const char *const keys[] = {"family", "suite", "components", "mirror", "repos", "releasever", NULL};
    static const char *const fams[] = {"deb", "rpm", NULL};
    if (!y_expect(d, n, "base", YN_MAP)) return;
    y_check_keys(d, n, "base", keys);
    const struct ynode *x;
    int fam = 0;
    if ((x = FIELD(n, "family"))) y_enum(d, x, "base.family", fams, &fam);
    else diag_add(d, n, "base", "needs \"family\": deb (mmdebstrap) or rpm (dnf --installroot)");
    s->family = fam;
    if ((x = FIELD(n, "suite"))) checked_str(d, x, "base.suite", "-._", true, "suite name", &s->suite);
    if ((x = FIELD(n, "components"))) checked_list(d, x, "base.components", "-._", "component", &s->components, &s->ncomponents);
    if ((x = FIELD(n, "mirror"))) {
        if (y_str(d, x, "base.mirror", &s->mirror) &&
            (!charset(s->mirror, ":/._-~%+@", true) || !(startswith(s->mirror, "http://") || startswith(s->mirror, "https://") || startswith(s->mirror, "file:/"))))
            diag_add(d, x, "base.mirror", "\"%s\" is not an http(s):// or file:/ URL", s->mirror);
    }
    if ((x = FIELD(n, "releasever"))) checked_str(d, x, "base.releasever", "._-", true, "release version", &s->releasever);
    if ((x = FIELD(n, "repos")) && y_expect(d, x, "base.repos", YN_SEQ)) {
        static const char *const rkeys[] = {"name", "baseurl", "gpgkey", NULL};
        size_t cap = 0;
        for (size_t i = 0; i < x->n; i++) {
            const struct ynode *it = x->items[i];
            _cleanup_free_ char *p = ypath_index("base.repos", i);
            if (!y_expect(d, it, p, YN_MAP)) continue;
            y_check_keys(d, it, p, rkeys);
            struct image_repo *r = APPEND(s->repos, s->nrepos, cap);
            memset(r, 0, sizeof *r);
            const struct ynode *y;
            if ((y = FIELD(it, "name"))) { SUBPATH(q, p, "name"); checked_str(d, y, q, "-._", true, "repository id", &r->name); }
            else diag_add(d, it, p, "needs \"name\"");
            if ((y = FIELD(it, "baseurl"))) {
                SUBPATH(q, p, "baseurl");
                if (y_str(d, y, q, &r->baseurl) && !startswith(r->baseurl, "file:/") && !startswith(r->baseurl, "http://") &&
                    !startswith(r->baseurl, "https://")) {
                    /* a local directory: resolve it against the spec */
                    char *abs = spec_path(y, r->baseurl);
                    free(r->baseurl);
                    r->baseurl = xasprintf("file://%s", abs);
                    free(abs);
                }
                if (r->baseurl && !no_control(r->baseurl)) diag_add(d, y, q, "contains control characters");
            } else diag_add(d, it, p, "needs \"baseurl\"");
            if ((y = FIELD(it, "gpgkey"))) {
                SUBPATH(q, p, "gpgkey");
                char *k = NULL;
                if (y_str(d, y, q, &k)) {
                    r->gpgkey = spec_path(y, startswith(k, "file://") ? k + 7 : k);
                    if (!file_exists(r->gpgkey)) diag_add(d, y, q, "%s does not exist", r->gpgkey);
                }
                free(k);
            } else diag_add(d, it, p, "needs \"gpgkey\": kiln installs RPMs with signature checks on");
        }
    }
    if (s->family == FAMILY_DEB && !s->suite) diag_add(d, n, "base", "a deb base needs \"suite\" (e.g. bookworm)");
    if (s->family == FAMILY_RPM && !s->nrepos) diag_add(d, n, "base", "an rpm base needs \"repos\" (baseurl + gpgkey each)");
}

static void parse_os(const struct ynode *n, struct image_spec *s, struct diags *d)
{
    static const char *const keys[] = {"hostname", "users", "files", "services", "sysctl", "kernel_cmdline", "first_boot", NULL};
    if (!y_expect(d, n, "os", YN_MAP)) return;
    y_check_keys(d, n, "os", keys);
    const struct ynode *x;
    if ((x = FIELD(n, "hostname"))) checked_str(d, x, "os.hostname", "-.", true, "hostname (letters, digits, - and .)", &s->hostname);
    if ((x = FIELD(n, "users")) && y_expect(d, x, "os.users", YN_SEQ)) {
        static const char *const ukeys[] = {"name", "groups", "ssh_keys", NULL};
        size_t cap = 0;
        for (size_t i = 0; i < x->n; i++) {
            const struct ynode *it = x->items[i];
            _cleanup_free_ char *p = ypath_index("os.users", i);
            if (!y_expect(d, it, p, YN_MAP)) continue;
            y_check_keys(d, it, p, ukeys);
            struct image_user *u = APPEND(s->users, s->nusers, cap);
            memset(u, 0, sizeof *u);
            const struct ynode *y;
            if ((y = FIELD(it, "name"))) {
                SUBPATH(q, p, "name");
                checked_str(d, y, q, "_-", false, "user name", &u->name);
                if (u->name && (isdigit((unsigned char)u->name[0]) || u->name[0] == '-' || strlen(u->name) > 32)) {
                    diag_add(d, y, q, "\"%s\" is not a valid user name", u->name);
                }
            } else diag_add(d, it, p, "needs \"name\"");
            if ((y = FIELD(it, "groups"))) { SUBPATH(q, p, "groups"); checked_list(d, y, q, "_-", "group name", &u->groups, &u->ngroups); }
            if ((y = FIELD(it, "ssh_keys"))) {
                SUBPATH(q, p, "ssh_keys");
                if (y_str_list(d, y, q, &u->ssh_keys, &u->nssh_keys))
                    for (size_t k = 0; k < u->nssh_keys; k++)
                        if (!no_control(u->ssh_keys[k]) || !(startswith(u->ssh_keys[k], "ssh-") || startswith(u->ssh_keys[k], "ecdsa-") || startswith(u->ssh_keys[k], "sk-")))
                            diag_add(d, y, q, "entry %zu is not an OpenSSH public key line (ssh-ed25519 AAAA…)", k);
            }
        }
    }
    if ((x = FIELD(n, "files")) && y_expect(d, x, "os.files", YN_SEQ)) {
        static const char *const fkeys[] = {"src", "dst", "mode", NULL};
        size_t cap = 0;
        for (size_t i = 0; i < x->n; i++) {
            const struct ynode *it = x->items[i];
            _cleanup_free_ char *p = ypath_index("os.files", i);
            if (!y_expect(d, it, p, YN_MAP)) continue;
            y_check_keys(d, it, p, fkeys);
            struct image_file *f = APPEND(s->files, s->nfiles, cap);
            memset(f, 0, sizeof *f);
            f->mode = 0644;
            const struct ynode *y;
            if ((y = FIELD(it, "src"))) {
                SUBPATH(q, p, "src");
                char *v = NULL;
                if (y_str(d, y, q, &v)) {
                    f->src = spec_path(y, v);
                    if (!file_exists(f->src)) diag_add(d, y, q, "%s does not exist", f->src);
                }
                free(v);
            } else diag_add(d, it, p, "needs \"src\"");
            if ((y = FIELD(it, "dst"))) {
                SUBPATH(q, p, "dst");
                if (y_str(d, y, q, &f->dst) && (f->dst[0] != '/' || strstr(f->dst, "/../") || endswith(f->dst, "/..") ||
                                                 !charset(f->dst + 1, "/._-+@", false) || endswith(f->dst, "/")))
                    diag_add(d, y, q, "\"%s\" must be an absolute file path inside the image (no \"..\")", f->dst);
            } else diag_add(d, it, p, "needs \"dst\"");
            if ((y = FIELD(it, "mode"))) {
                SUBPATH(q, p, "mode");
                char *v = NULL;
                if (y_str(d, y, q, &v)) {
                    char *end;
                    unsigned long m = strtoul(v, &end, 8);
                    if (*end || !*v || m > 07777) diag_add(d, y, q, "\"%s\" is not an octal mode such as \"0644\"", v);
                    else f->mode = (unsigned)m;
                }
                free(v);
            }
        }
    }
    if ((x = FIELD(n, "services")) && y_expect(d, x, "os.services", YN_MAP)) {
        static const char *const skeys[] = {"enable", "disable", "mask", NULL};
        y_check_keys(d, x, "os.services", skeys);
        const struct ynode *y;
        const char *unit = "@._:-\\";
        if ((y = FIELD(x, "enable"))) checked_list(d, y, "os.services.enable", unit, "unit name", &s->enable, &s->nenable);
        if ((y = FIELD(x, "disable"))) checked_list(d, y, "os.services.disable", unit, "unit name", &s->disable, &s->ndisable);
        if ((y = FIELD(x, "mask"))) checked_list(d, y, "os.services.mask", unit, "unit name", &s->mask, &s->nmask);
    }
    if ((x = FIELD(n, "sysctl")) && y_expect(d, x, "os.sysctl", YN_MAP)) {
        size_t cap = 0;
        for (size_t i = 0; i + 1 < x->n; i += 2) {
            const struct ynode *k = x->items[i], *v = x->items[i + 1];
            _cleanup_free_ char *p = ypath("os.sysctl", k->scalar ? k->scalar : "?");
            if (!k->scalar || !charset(k->scalar, "._/-*", true)) {
                diag_add(d, k, p, "\"%s\" is not a sysctl name", k->scalar ? k->scalar : "");
                continue;
            }
            char *val = NULL;
            if (!y_str(d, v, p, &val)) continue;
            if (!no_control(val)) {
                diag_add(d, v, p, "value contains control characters");
                free(val);
                continue;
            }
            struct image_kv *kv = APPEND(s->sysctl, s->nsysctl, cap);
            kv->key = xstrdup(k->scalar);
            kv->value = val;
        }
    }
    if ((x = FIELD(n, "kernel_cmdline")) && y_str(d, x, "os.kernel_cmdline", &s->kernel_cmdline) && !no_control(s->kernel_cmdline))
        diag_add(d, x, "os.kernel_cmdline", "contains control characters");
    if ((x = FIELD(n, "first_boot")) && y_expect(d, x, "os.first_boot", YN_MAP)) {
        static const char *const bkeys[] = {"regenerate_ssh_host_keys", "reset_machine_id", "grow_root", NULL};
        y_check_keys(d, x, "os.first_boot", bkeys);
        const struct ynode *y;
        if ((y = FIELD(x, "regenerate_ssh_host_keys"))) y_bool(d, y, "os.first_boot.regenerate_ssh_host_keys", &s->regenerate_ssh_host_keys);
        if ((y = FIELD(x, "reset_machine_id"))) y_bool(d, y, "os.first_boot.reset_machine_id", &s->reset_machine_id);
        if ((y = FIELD(x, "grow_root"))) y_bool(d, y, "os.first_boot.grow_root", &s->grow_root);
    }
}

static void parse_storage(const struct ynode *n, struct image_spec *s, struct diags *d)
{
    static const char *const keys[] = {"layout", "size", "filesystem", "usr_filesystem", NULL};
    static const char *const layouts[] = {"standard", "immutable", NULL};
    static const char *const rootfs[] = {"ext4", NULL};
    static const char *const usrfs[] = {"erofs", "squashfs", NULL};
    if (!y_expect(d, n, "storage", YN_MAP)) return;
    y_check_keys(d, n, "storage", keys);
    const struct ynode *x;
    int v = 0;
    if ((x = FIELD(n, "layout")) && y_enum(d, x, "storage.layout", layouts, &v)) s->layout = v;
    if ((x = FIELD(n, "size"))) {
        char *t = NULL;
        if (y_str(d, x, "storage.size", &t) && (!spec_parse_size(t, &s->size) || s->size < (64u << 20)))
            diag_add(d, x, "storage.size", "\"%s\" is not a disk size of at least 64M (e.g. 2G, 1536M)", t);
        free(t);
    }
    v = 0;
    if ((x = FIELD(n, "filesystem")) && y_enum(d, x, "storage.filesystem", rootfs, &v)) {
        free(s->filesystem);
        s->filesystem = xstrdup(rootfs[v]);
    }
    v = 0;
    if ((x = FIELD(n, "usr_filesystem")) && y_enum(d, x, "storage.usr_filesystem", usrfs, &v)) {
        free(s->usr_filesystem);
        s->usr_filesystem = xstrdup(usrfs[v]);
    }
}

int spec_load(const char *path, struct image_spec **out, struct diags *d)
{
    static const char *const keys[] = {"name", "version", "base", "packages", "os", "storage", "boot", "output", NULL};
    size_t before = d->n;
    struct ynode *root = yaml_load_file(path, d);
    if (!root) return -EINVAL;
    struct image_spec *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->size = 2ull << 30;
    s->filesystem = xstrdup("ext4");
    s->usr_filesystem = xstrdup("erofs");
    s->regenerate_ssh_host_keys = s->reset_machine_id = true;
    if (y_expect(d, root, "", YN_MAP)) {
        y_check_keys(d, root, "", keys);
        const struct ynode *x;
        if ((x = FIELD(root, "name"))) checked_str(d, x, "name", "._-", true, "image name (letters, digits, . _ -)", &s->name);
        else diag_add_at(d, path, 1, 1, "name", "missing \"name:\" (the image name, e.g. debian-server)");
        if ((x = FIELD(root, "version"))) checked_str(d, x, "version", "._+~-", true, "version (e.g. 1.2.0)", &s->version);
        else diag_add_at(d, path, 1, 1, "version", "missing \"version:\" (e.g. 1.0.0)");
        if ((x = FIELD(root, "base"))) parse_base(x, s, d);
        else diag_add_at(d, path, 1, 1, "base", "missing \"base:\" (family deb with a suite, or rpm with repos)");
        if ((x = FIELD(root, "packages")) && y_expect(d, x, "packages", YN_MAP)) {
            static const char *const pkeys[] = {"install", "remove", NULL};
            y_check_keys(d, x, "packages", pkeys);
            const struct ynode *y;
            if ((y = FIELD(x, "install"))) checked_list(d, y, "packages.install", "+._-:~=", "package name", &s->install, &s->ninstall);
            if ((y = FIELD(x, "remove"))) checked_list(d, y, "packages.remove", "+._-:", "package name", &s->remove, &s->nremove);
        }
        if ((x = FIELD(root, "os"))) parse_os(x, s, d);
        if ((x = FIELD(root, "storage"))) parse_storage(x, s, d);
        if ((x = FIELD(root, "boot"))) {
            static const char *const boots[] = {"uefi", NULL};
            int v;
            y_enum(d, x, "boot", boots, &v);
        }
        if ((x = FIELD(root, "output"))) {
            char **o = NULL;
            size_t no = 0;
            if (y_str_list(d, x, "output", &o, &no))
                for (size_t i = 0; i < no; i++) {
                    size_t k = 0;
                    while (k < OUT_COUNT && !streq(o[i], out_names[k])) k++;
                    if (k < OUT_COUNT) s->outputs[k] = true;
                    else {
                        const struct ynode *at = x->kind == YN_SEQ && i < x->n ? x->items[i] : x;
                        _cleanup_free_ char *p = ypath_index("output", i);
                        diag_add(d, at, p, "unknown output \"%s\" (raw, qcow2, vhd-fixed, vhd, tar)", o[i]);
                    }
                }
            for (size_t i = 0; i < no; i++) free(o[i]);
            free(o);
        } else s->outputs[OUT_RAW] = true;
    }
    if (s->layout == LAYOUT_IMMUTABLE && d->n == before) {
        bool dracut = false;
        for (size_t i = 0; i < s->ninstall; i++) dracut |= startswith(s->install[i], "dracut");
        if (!dracut)
            diag_add(d, y_get(y_get(root, "storage"), "layout"), "storage.layout",
                     "the immutable layout needs a systemd initrd that sets up dm-verity for /usr: add dracut "
                     "(and libcryptsetup12) to packages.install instead of initramfs-tools");
    }
    ynode_free(root);
    if (d->n > before) {
        spec_free(s);
        return -EINVAL;
    }
    *out = s;
    return 0;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void spec_free(struct image_spec *s)
{
    if (!s) return;
    free(s->path);
    free(s->name);
    free(s->version);
    free(s->suite);
    free(s->mirror);
    free(s->releasever);
    strv_free(s->components, s->ncomponents);
    for (size_t i = 0; i < s->nrepos; i++) {
        free(s->repos[i].name);
        free(s->repos[i].baseurl);
        free(s->repos[i].gpgkey);
    }
    free(s->repos);
    strv_free(s->install, s->ninstall);
    strv_free(s->remove, s->nremove);
    free(s->hostname);
    for (size_t i = 0; i < s->nusers; i++) {
        free(s->users[i].name);
        strv_free(s->users[i].groups, s->users[i].ngroups);
        strv_free(s->users[i].ssh_keys, s->users[i].nssh_keys);
    }
    free(s->users);
    for (size_t i = 0; i < s->nfiles; i++) {
        free(s->files[i].src);
        free(s->files[i].dst);
    }
    free(s->files);
    strv_free(s->enable, s->nenable);
    strv_free(s->disable, s->ndisable);
    strv_free(s->mask, s->nmask);
    for (size_t i = 0; i < s->nsysctl; i++) {
        free(s->sysctl[i].key);
        free(s->sysctl[i].value);
    }
    free(s->sysctl);
    free(s->kernel_cmdline);
    free(s->filesystem);
    free(s->usr_filesystem);
    free(s);
}
