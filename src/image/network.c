#include "image/network.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/inroot.h"
#include "util/strv.h"
#include "util/util.h"

/* Configuration files are small; a bigger one is not read (it cannot be a hand-written config). */
#define CONF_MAX (256 * 1024)
#define MAX_FILES 512
#define MAX_SOURCE_DEPTH 4

/* Names a kiln VM's (or a cloud VM's) first Ethernet NIC gets: the kernel's, systemd's
 * predictable ones for PCI slots and on-board NICs, Xen's, and a MAC-based one. */
static const char *const nic_names[] = {"eth0", "ens3", "ens4", "ens5", "enp0s2", "enp0s3", "enp0s4", "enp0s5",
                                        "enp1s0", "eno1", "enX0", "enx525400123456", NULL};

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool any_exists(int rootfd, const char *const *paths)
{
    for (; *paths; paths++)
        if (inroot_exists(rootfd, *paths)) return true;
    return false;
}

/* A unit file replaced by a link to /dev/null (systemctl mask) or an empty file. */
static bool masked(int rootfd, const char *rel)
{
    int fd = inroot_open(rootfd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) return false;
    struct stat st;
    char target[64];
    ssize_t n = -1;
    bool m = false;
    if (fstat(fd, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            n = readlinkat(fd, "", target, sizeof target - 1);
            m = n > 0 && (target[n] = 0, streq(target, "/dev/null"));
        } else m = S_ISCHR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0);
    }
    close(fd);
    return m;
}

/* systemctl enable: a link in a .wants directory of a target that boot reaches, or an alias. */
static bool unit_enabled(int rootfd, const char *unit, const char *alias)
{
    static const char *const dirs[] = {"etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"};
    static const char *const targets[] = {"multi-user", "network-online", "network", "sysinit", "sockets", "graphical"};
    _cleanup_free_ char *own = xasprintf("etc/systemd/system/%s", unit);
    if (masked(rootfd, own)) return false;
    for (size_t d = 0; d < ARRAY_SIZE(dirs); d++)
        for (size_t t = 0; t < ARRAY_SIZE(targets); t++) {
            _cleanup_free_ char *p = xasprintf("%s/%s.target.wants/%s", dirs[d], targets[t], unit);
            if (inroot_exists(rootfd, p)) return true;
        }
    if (alias) {
        _cleanup_free_ char *p = xasprintf("etc/systemd/system/%s", alias);
        if (inroot_exists(rootfd, p) && !masked(rootfd, p)) return true;
    }
    return false;
}

/* The names of the entries of a directory in the tree, sorted; 0 when it does not exist. */
static size_t list_dir(int rootfd, const char *rel, char ***out)
{
    *out = NULL;
    int fd = inroot_open(rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < MAX_FILES)
        if (de->d_name[0] != '.') *APPEND(*out, n, cap) = xstrdup(de->d_name);
    closedir(d);
    if (n) qsort(*out, n, sizeof **out, cmp_names);
    return n;
}

/* The next line of text (cut at '\n' in place), or NULL at the end. */
static char *next_line(char **cursor)
{
    char *s = *cursor;
    if (!s || !*s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) *nl = 0;
    *cursor = nl ? nl + 1 : s + strlen(s);
    return strstrip(s);
}

/* systemd's list matching: whitespace-separated globs, the whole list inverted by a leading '!'. */
static bool list_matches(const char *list, const char *const *names)
{
    bool invert = list[0] == '!';
    _cleanup_free_ char *copy = xstrdup(list + (invert ? 1 : 0));
    char *save = NULL;
    bool hit = false;
    for (char *g = strtok_r(copy, " \t", &save); g && !hit; g = strtok_r(NULL, " \t", &save))
        for (const char *const *n = names; *n && !hit; n++) hit = fnmatch(g, *n, 0) == 0;
    return invert ? !hit : hit;
}

static bool truthy(const char *v)
{
    return streq(v, "yes") || streq(v, "true") || streq(v, "on") || streq(v, "1");
}

/* Whether a .network file applies to a kiln VM's Ethernet NIC and gives it an address (DHCP,
 * a static Address= or router advertisements). Match keys kiln cannot judge (MACAddress=,
 * Path=, Property=, ...) are taken to match: this decides a warning, not a failure. */
static bool network_file_matches(char *text)
{
    static const char *const types[] = {"ether", NULL};
    static const char *const drivers[] = {"virtio_net", NULL};
    static const char *const virt[] = {"vm", "qemu", "kvm", "yes", "true", NULL};
    char section[32] = "";
    bool match = true, address = false, unmanaged = false;
    char *cursor = text, *line;
    while ((line = next_line(&cursor))) {
        if (!*line || *line == '#' || *line == ';') continue;
        if (*line == '[') {
            snprintf(section, sizeof section, "%.*s", (int)strcspn(line + 1, "]"), line + 1);
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        char *key = strstrip(line), *val = strstrip(eq + 1);
        if (streq(section, "Match")) {
            if (!*val) continue;
            if (streq(key, "Name")) match &= list_matches(val, nic_names);
            else if (streq(key, "Type")) match &= list_matches(val, types);
            else if (streq(key, "Driver")) match &= list_matches(val, drivers);
            else if (streq(key, "Virtualization")) match &= list_matches(val, virt);
            else if (streq(key, "WLANInterfaceType") || streq(key, "SSID") || streq(key, "BSSID")) match = false;
        } else if (streq(section, "Network")) {
            if (streq(key, "DHCP")) address |= !streq(val, "no") && !streq(val, "false") && !streq(val, "off") && !streq(val, "0") && *val;
            else if (streq(key, "Address") || (streq(key, "IPv6AcceptRA") && truthy(val))) address |= *val != 0;
        } else if (streq(section, "Address")) {
            if (streq(key, "Address")) address |= *val != 0;
        } else if (streq(section, "Link")) {
            if (streq(key, "Unmanaged")) unmanaged = truthy(val);
            else if (streq(key, "ActivationPolicy")) unmanaged |= streq(val, "down") || streq(val, "always-down") || streq(val, "manual");
        }
    }
    return match && address && !unmanaged;
}

/* The effective .network files (a name in an earlier directory hides the same name later) in
 * the order networkd reads them; the first that matches an Ethernet NIC. */
static char *networkd_match(int rootfd)
{
    static const char *const dirs[] = {"etc/systemd/network", "run/systemd/network", "usr/local/lib/systemd/network",
                                       "usr/lib/systemd/network", "lib/systemd/network"};
    char **seen = NULL;
    size_t nseen = 0, capseen = 0;
    char *found = NULL;
    for (size_t d = 0; d < ARRAY_SIZE(dirs) && !found; d++) {
        char **names;
        size_t n = list_dir(rootfd, dirs[d], &names);
        for (size_t i = 0; i < n && !found; i++) {
            if (!endswith(names[i], ".network")) continue;
            bool hidden = false;
            for (size_t k = 0; k < nseen && !hidden; k++) hidden = streq(seen[k], names[i]);
            if (hidden) continue;
            *APPEND(seen, nseen, capseen) = xstrdup(names[i]);
            _cleanup_free_ char *rel = xasprintf("%s/%s", dirs[d], names[i]);
            if (masked(rootfd, rel)) continue;
            char *text = NULL;
            if (inroot_read(rootfd, rel, CONF_MAX, &text, NULL) < 0) continue;
            if (network_file_matches(text)) found = xasprintf("/%s", rel);
            free(text);
        }
        strv_free(names, n);
    }
    strv_free(seen, nseen);
    return found;
}

/* What ifupdown brings up at boot, read from /etc/network/interfaces and what it sources. */
struct ifu {
    char **up;          /* names and /glob/ patterns on auto and allow-* lines ("=LOGICAL" kept) */
    size_t nup, capup;
    char *iface;        /* the first such interface with an address method */
    bool any_static;
    size_t files;
};

/* Whether the stanza name is brought up: named on an up line, mapped to by a pattern
 * ("/en*=name"), or matched by a pattern without mapping. */
static bool ifu_is_up(const struct ifu *u, const char *name)
{
    for (size_t i = 0; i < u->nup; i++) {
        const char *e = u->up[i], *map = strchr(e, '=');
        if (e[0] != '/') {
            if (streq(e, name)) return true;
            continue;
        }
        if (map) {
            if (streq(map + 1, name)) return true;
            continue;
        }
        _cleanup_free_ char *glob = xstrndup(e + 1, strcspn(e + 1, "/"));
        if (fnmatch(glob, name, 0) == 0) return true;
    }
    return false;
}

struct ifu_iface {
    char *name, *method;
};

static void ifu_read(int rootfd, const char *rel, struct ifu *u, struct ifu_iface **ifs, size_t *nifs, size_t *capifs, int depth);

/* "source GLOB" (relative to /etc/network) and "source-directory DIR" (files named [A-Za-z0-9_-]+). */
static void ifu_source(int rootfd, const char *arg, bool directory, struct ifu *u, struct ifu_iface **ifs, size_t *nifs,
                       size_t *capifs, int depth)
{
    _cleanup_free_ char *path = arg[0] == '/' ? xstrdup(arg + 1) : xasprintf("etc/network/%s", arg);
    _cleanup_free_ char *dir = directory ? xstrdup(path) : path_dirname(path);
    const char *glob = directory ? "*" : path + strlen(dir) + (streq(dir, ".") ? 0 : 1);
    char **names;
    size_t n = list_dir(rootfd, dir, &names);
    for (size_t i = 0; i < n; i++) {
        if (fnmatch(glob, names[i], FNM_PERIOD) != 0) continue;
        if (directory && names[i][strspn(names[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")]) continue;
        _cleanup_free_ char *rel = xasprintf("%s/%s", dir, names[i]);
        ifu_read(rootfd, rel, u, ifs, nifs, capifs, depth + 1);
    }
    strv_free(names, n);
}

static void ifu_read(int rootfd, const char *rel, struct ifu *u, struct ifu_iface **ifs, size_t *nifs, size_t *capifs, int depth)
{
    char *text = NULL;
    if (depth > MAX_SOURCE_DEPTH || u->files >= MAX_FILES || inroot_read(rootfd, rel, CONF_MAX, &text, NULL) < 0) return;
    u->files++;
    char *cursor = text, *line;
    while ((line = next_line(&cursor))) {
        char *save = NULL, *w = strtok_r(line, " \t", &save);
        if (!w || *w == '#') continue;
        if (streq(w, "auto") || startswith(w, "allow-")) {
            for (char *a = strtok_r(NULL, " \t", &save); a; a = strtok_r(NULL, " \t", &save))
                if (u->nup < MAX_FILES) *APPEND(u->up, u->nup, u->capup) = xstrdup(a);
        } else if (streq(w, "iface")) {
            char *name = strtok_r(NULL, " \t", &save), *family = strtok_r(NULL, " \t", &save),
                 *method = strtok_r(NULL, " \t", &save);
            if (!name || !family || !method || *nifs >= MAX_FILES) continue;
            bool addressed = streq(method, "dhcp") || streq(method, "static") || (streq(family, "inet6") && streq(method, "auto"));
            if (!addressed || streq(name, "lo")) continue;
            struct ifu_iface *f = APPEND(*ifs, *nifs, *capifs);
            f->name = xstrdup(name);
            f->method = xstrdup(method);
        } else if (streq(w, "source") || streq(w, "source-directory")) {
            char *arg = strtok_r(NULL, " \t", &save);
            if (arg) ifu_source(rootfd, arg, streq(w, "source-directory"), u, ifs, nifs, capifs, depth);
        }
    }
    free(text);
}

int image_net_probe(int rootfd, struct image_net *n)
{
    memset(n, 0, sizeof *n);
    if (!inroot_exists(rootfd, ".")) return -EBADF;
    static const char *const networkd[] = {"usr/lib/systemd/systemd-networkd", "lib/systemd/systemd-networkd", NULL};
    static const char *const ifup[] = {"usr/sbin/ifup", "sbin/ifup", NULL};
    static const char *const dhcp[] = {"usr/sbin/dhclient", "sbin/dhclient", "usr/sbin/dhcpcd", "sbin/dhcpcd",
                                       "usr/bin/udhcpc", "sbin/udhcpc", "usr/sbin/udhcpc", NULL};
    static const char *const nm[] = {"usr/sbin/NetworkManager", NULL};
    static const char *const cloudinit[] = {"usr/bin/cloud-init", NULL};
    static const char *const netplan[] = {"usr/sbin/netplan", "usr/share/netplan/netplan.script", NULL};
    n->networkd = any_exists(rootfd, networkd);
    if (n->networkd) {
        n->networkd_enabled = unit_enabled(rootfd, "systemd-networkd.service", "dbus-org.freedesktop.network1.service") ||
                              unit_enabled(rootfd, "systemd-networkd.socket", NULL);
        n->networkd_file = networkd_match(rootfd);
    }
    n->dhcp_client = any_exists(rootfd, dhcp);
    n->ifupdown = any_exists(rootfd, ifup);
    if (n->ifupdown) {
        struct ifu u = {0};
        struct ifu_iface *ifs = NULL;
        size_t nifs = 0, capifs = 0;
        ifu_read(rootfd, "etc/network/interfaces", &u, &ifs, &nifs, &capifs, 0);
        n->ifupdown_dhcp_only = true;
        for (size_t i = 0; i < nifs; i++) {
            if (!ifu_is_up(&u, ifs[i].name)) continue;
            if (!n->ifupdown_iface) n->ifupdown_iface = xstrdup(ifs[i].name);
            n->ifupdown_dhcp_only &= streq(ifs[i].method, "dhcp");
        }
        for (size_t i = 0; i < nifs; i++) free(ifs[i].name), free(ifs[i].method);
        free(ifs);
        strv_free(u.up, u.nup);
    }
    n->nm = any_exists(rootfd, nm);
    n->nm_enabled = n->nm && unit_enabled(rootfd, "NetworkManager.service", "dbus-org.freedesktop.NetworkManager.service");
    n->cloudinit = any_exists(rootfd, cloudinit) && !inroot_exists(rootfd, "etc/cloud/cloud-init.disabled");
    if (any_exists(rootfd, netplan)) {
        static const char *const dirs[] = {"etc/netplan", "run/netplan", "lib/netplan", "usr/lib/netplan"};
        for (size_t d = 0; d < ARRAY_SIZE(dirs) && !n->netplan; d++) {
            char **names;
            size_t k = list_dir(rootfd, dirs[d], &names);
            for (size_t i = 0; i < k; i++) n->netplan |= endswith(names[i], ".yaml");
            strv_free(names, k);
        }
    }
    return 0;
}

void image_net_free(struct image_net *n)
{
    free(n->networkd_file);
    free(n->ifupdown_iface);
    memset(n, 0, sizeof *n);
}

bool image_net_configured(const struct image_net *n, char **what)
{
    if (n->networkd_enabled && n->networkd_file)
        return err_setf(what, true, "systemd-networkd (%s)", n->networkd_file);
    if (n->nm_enabled) return err_setf(what, true, "NetworkManager (DHCP on every Ethernet NIC by default)");
    if (n->ifupdown_iface && (n->dhcp_client || !n->ifupdown_dhcp_only))
        return err_setf(what, true, "ifupdown (interface %s)", n->ifupdown_iface);
    if (n->cloudinit) return err_setf(what, true, "cloud-init");
    if (n->netplan) return err_setf(what, true, "netplan");
    struct sbuf b = {0};
    if (n->networkd && n->networkd_file)
        sbuf_printf(&b, " systemd-networkd is not enabled, so %s is not applied.", n->networkd_file);
    else if (n->networkd)
        sbuf_printf(&b, " No systemd-networkd .network file matches an Ethernet NIC (Name=en* eth* or Type=ether, with "
                        "DHCP= or Address=)%s.", n->networkd_enabled ? "" : " and systemd-networkd is not enabled");
    if (n->ifupdown_iface)
        sbuf_printf(&b, " ifupdown configures %s by DHCP but the image has no DHCP client (isc-dhcp-client, dhcpcd-base).",
                    n->ifupdown_iface);
    else if (n->ifupdown)
        sbuf_puts(&b, " ifupdown brings no interface up with dhcp or static (auto or allow-hotplug) in /etc/network/interfaces.");
    if (n->nm) sbuf_puts(&b, " NetworkManager is installed but not enabled.");
    if (!n->networkd && !n->ifupdown && !n->nm)
        sbuf_puts(&b, " The image has no network manager (systemd-networkd, ifupdown, NetworkManager), cloud-init or netplan.");
    err_setf(what, 0, "nothing configures a network interface at boot:%s", b.s ? b.s : "");
    sbuf_free(&b);
    return false;
}

int image_net_plan(const struct image_net *n, enum image_net_plan *plan, char **reterr)
{
    if (n->nm_enabled) *plan = NET_PLAN_NM;
    else if (n->networkd_enabled) *plan = NET_PLAN_NETWORKD;
    else if (n->ifupdown && n->dhcp_client) *plan = NET_PLAN_IFUPDOWN;
    else if (n->networkd) *plan = NET_PLAN_NETWORKD;
    else if (n->nm) *plan = NET_PLAN_NM;
    else {
        return err_setf(reterr, -ENOENT, "the image has no network manager kiln can configure: add systemd (systemd-networkd), "
                          "ifupdown with isc-dhcp-client, or network-manager to packages.install%s",
                 n->ifupdown ? " (ifupdown is there, but no DHCP client)" : "");
    }
    return 0;
}

#define NETWORKD_FILE "etc/systemd/network/80-kiln-dhcp.network"
#define IFUPDOWN_FILE "etc/network/interfaces.d/kiln-dhcp"

int image_net_write_dhcp(int rootfd, enum image_net_plan plan, char **reterr)
{
    static const char networkd[] = "# written by kiln build (os.network: dhcp)\n"
                                   "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n";
    /* ifupdown's patterns bring up whatever the NIC is called, under one logical stanza */
    static const char ifupdown[] = "# written by kiln build (os.network: dhcp)\n"
                                   "allow-hotplug /en*=kiln-dhcp /eth*=kiln-dhcp\n"
                                   "iface kiln-dhcp inet dhcp\n";
    int r = 0;
    if (plan == NET_PLAN_NETWORKD) {
        r = inroot_write(rootfd, NETWORKD_FILE, networkd, sizeof networkd - 1, 0644, 0, 0);
        if (r < 0) return err_setf(reterr, r, "cannot write /%s: %s", NETWORKD_FILE, strerror(-r));
    } else if (plan == NET_PLAN_IFUPDOWN) {
        r = inroot_write(rootfd, IFUPDOWN_FILE, ifupdown, sizeof ifupdown - 1, 0644, 0, 0);
        if (r < 0) return err_setf(reterr, r, "cannot write /%s: %s", IFUPDOWN_FILE, strerror(-r));
        /* the file counts only when /etc/network/interfaces reads the directory (Debian's does) */
        struct ifu u = {0};
        struct ifu_iface *ifs = NULL;
        size_t nifs = 0, capifs = 0;
        ifu_read(rootfd, "etc/network/interfaces", &u, &ifs, &nifs, &capifs, 0);
        bool sourced = false;
        for (size_t i = 0; i < nifs; i++) sourced |= streq(ifs[i].name, "kiln-dhcp");
        for (size_t i = 0; i < nifs; i++) free(ifs[i].name), free(ifs[i].method);
        free(ifs);
        strv_free(u.up, u.nup);
        if (!sourced) {
            char *old = NULL;
            size_t len = 0;
            int e = inroot_read(rootfd, "etc/network/interfaces", CONF_MAX, &old, &len);
            if (e < 0 && e != -ENOENT) return err_setf(reterr, e, "cannot read /etc/network/interfaces: %s", strerror(-e));
            _cleanup_free_ char *text = xasprintf("%s%s%ssource /etc/network/interfaces.d/*\n",
                                                  old ? old : "auto lo\niface lo inet loopback\n",
                                                  len && old[len - 1] != '\n' ? "\n" : "", "\n");
            free(old);
            r = inroot_write(rootfd, "etc/network/interfaces", text, strlen(text), 0644, 0, 0);
            if (r < 0) return err_setf(reterr, r, "cannot write /etc/network/interfaces: %s", strerror(-r));
        }
    }
    return 0;
}
