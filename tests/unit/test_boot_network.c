/* Booted but unreachable: the console boot watch (node/bootwatch.c) on canned consoles, what a
 * built tree's network configuration is (image/network.c) on small trees, and os.network. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/network.h"
#include "image/spec.h"
#include "node/bootwatch.h"
#include "node/console.h"
#include "tap.h"
#include "util/fs.h"
#include "util/util.h"

static char dir[] = "/tmp/kiln-test-bootnet-XXXXXX";

/* Feeds a console log as the scanner would: one cleaned line at a time, line i at i/100 s
 * (a last line without a newline too: a getty's prompt). Returns the time of the last line. */
static double feed_file(struct boot_watch *w, const char *path)
{
    char *text = NULL;
    if (read_file(path, 8 << 20, &text, NULL) < 0) return -1;
    double t = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save), t += 0.01) {
        console_clean_line(l);
        boot_watch_line(w, l, t);
    }
    free(text);
    return t;
}

static void feed(struct boot_watch *w, const char *const *lines, double t0)
{
    for (size_t i = 0; lines[i]; i++) boot_watch_line(w, lines[i], t0 + (double)i);
}

static void test_signs(void)
{
    static const char *const booted[] = {
        "kiln-debian login: ", "debian login:", "localhost login: ",
        "[  OK  ] Reached target multi-user.target - Multi-User System.",
        "[  OK  ] Reached target Multi-User System.",
        "[  OK  ] Reached target graphical.target - Graphical Interface.", NULL};
    static const char *const network[] = {
        "[  OK  ] Started systemd-networkd.service - Network Configuration.",
        "         Starting systemd-networkd.\xe2\x80\xa6ice - Network Configuration...",
        "         Starting networking.service - Raise network interfaces...",
        "[  OK  ] Started NetworkManager.service - Network Manager.",
        "[  OK  ] Started ifup@eth0.service - ifup for eth0.",
        "[   12.5] cloud-init[512]: Cloud-init v. 22.4.2 running 'init' at Tue, 01 Dec 2026 00:00:00 +0000.",
        "ci-info: +++++++++++++++++++++++++++Net device info+++++++++++++++++++++++++++",
        "DHCPDISCOVER on eth0 to 255.255.255.255 port 67 interval 3",
        "bound to 10.0.2.15 -- renewal in 40000 seconds.",
        "[    9.1] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready", NULL};
    static const char *const sshd[] = {
        "[  OK  ] Started ssh.service - OpenBSD Secure Shell server.",
        "[  OK  ] Started OpenBSD Secure Shell server.", "Server listening on 0.0.0.0 port 22.", NULL};
    static const char *const none[] = {
        "Last login: Tue Dec  1 00:00:00 2026", "[  OK  ] Reached target network.target - Network.",
        "[  OK  ] Reached target network-online.target - Network is Online.",
        "         Starting systemd-timesyncd.service - Network Time Synchronization...",
        "[  OK  ] Listening on systemd-networkd.socket - Network Service Netlink Socket.",
        "[  OK  ] Reached target basic.target - Basic System.", "Debian GNU/Linux 12 kiln-debian ttyS0", "", NULL};
    for (size_t i = 0; booted[i]; i++) ok(boot_sign_of(booted[i]) == BOOT_SIGN_BOOTED, "booted: %s", booted[i]);
    for (size_t i = 0; network[i]; i++) ok(boot_sign_of(network[i]) == BOOT_SIGN_NETWORK, "network: %s", network[i]);
    for (size_t i = 0; sshd[i]; i++) ok(boot_sign_of(sshd[i]) == BOOT_SIGN_SSHD, "sshd: %s", sshd[i]);
    for (size_t i = 0; none[i]; i++) ok(boot_sign_of(none[i]) == BOOT_SIGN_NONE, "no sign: %s", none[i]);
}

static void test_watch(void)
{
    _cleanup_free_ char *why = NULL;
    /* kiln's Debian test image (systemd-networkd): booted, and its network is on the console */
    struct boot_watch w;
    boot_watch_init(&w);
    double end = feed_file(&w, TEST_DATA_DIR "/console/debian-clean.log");
    ok(end > 0 && w.booted_at >= 0 && w.net_at >= 0, "debian-clean.log: booted and network seen");
    is_str(w.booted_line, "[  OK  ] Reached target multi-user.target - Multi-User System.",
           "the first boot-complete line, colours removed");
    has(w.net_line, "Network Configuration", "networkd's start is the network sign");
    ok(!boot_watch_unreachable(&w, end + 3600, 60, -1, &why), "a networked guest is never concluded unreachable");
    boot_watch_free(&w);

    /* tests/data/images/minimal.yml booted under TCG (kiln run, 2026-12-01): the serial getty's
     * prompt comes while first-boot SSH host key generation still runs, before multi-user */
    boot_watch_init(&w);
    end = feed_file(&w, TEST_DATA_DIR "/console/debian-nonet.log");
    ok(end > 0 && w.booted_at >= 0 && w.net_at < 0 && w.sshd_at < 0, "debian-nonet.log: booted, no network, no sshd yet");
    is_str(w.booted_line, "vm login: ", "the prompt (the log's last line, without a newline)");
    ok(!boot_watch_unreachable(&w, w.booted_at + 59, 60, -1, &why), "debian-nonet.log: not within the grace");
    ok(boot_watch_unreachable(&w, w.booted_at + 60, 60, 0, &why), "debian-nonet.log: unreachable after it");
    has(why, "booted (console: \"vm login: \") but no SSH 60 s later", "quotes the prompt");
    boot_watch_free(&w);

    /* the same kind with systemd's status lines: no network manager; sshd starts */
    static const char *const nonet[] = {
        "Welcome to Debian GNU/Linux 12 (bookworm)!",
        "[  OK  ] Reached target network.target - Network.",
        "[  OK  ] Started ssh.service - OpenBSD Secure Shell server.",
        "[  OK  ] Reached target multi-user.target - Multi-User System.",
        "Debian GNU/Linux 12 debian ttyS0", "debian login: ", NULL};
    boot_watch_init(&w);
    feed(&w, nonet, 100);
    ok(w.booted_at == 103, "booted at the first boot-complete line (multi-user, at 103)");
    ok(!boot_watch_unreachable(&w, 162.9, 60, -1, &why), "not before the grace has passed");
    ok(boot_watch_unreachable(&w, 163, 60, -1, &why), "unreachable once the grace has passed");
    has(why, "booted (console: \"[  OK  ] Reached target multi-user.target - Multi-User System.\") but no SSH 60 s later",
        "quotes the line and the time since");
    has(why, "sshd started (\"[  OK  ] Started ssh.service - OpenBSD Secure Shell server.\")", "says sshd started");
    has(why, "Check the image's network configuration", "says what to check");
    has(why, "os.network: dhcp", "names the spec key");
    ok(boot_watch_unreachable(&w, 163, 60, 0, &why), "also when the host saw no NIC come up");
    has(why, "the guest never brought a NIC up", "the host's evidence is named");
    ok(!boot_watch_unreachable(&w, 1000, 60, 1, &why), "a NIC brought up vetoes (the network may be slow)");
    ok(!boot_watch_unreachable(&w, 100000, 0, -1, &why), "grace 0 never concludes");
    /* a network sign after the prompt (a stock cloud image under TCG: the prompt comes first) */
    boot_watch_line(&w, "ci-info: | eth0 | True | 10.0.2.15 | 255.255.255.0 | global |", 150);
    ok(!boot_watch_unreachable(&w, 1000, 60, -1, &why), "network activity after the prompt vetoes");
    boot_watch_free(&w);

    /* neither network nor sshd */
    static const char *const bare[] = {"debian login: ", NULL};
    boot_watch_init(&w);
    feed(&w, bare, 0);
    ok(boot_watch_unreachable(&w, 61, 60, -1, &why), "prompt only: unreachable after the grace");
    has(why, "no sshd start on the console yet (if it never comes: check that ssh.service or sshd.service is installed "
             "and enabled)", "says to check sshd");
    boot_watch_free(&w);

    /* still booting: no prompt, no verdict however long */
    static const char *const booting[] = {"[    1.0] Run /init as init process", "Welcome to Debian GNU/Linux 12 (bookworm)!", NULL};
    boot_watch_init(&w);
    feed(&w, booting, 0);
    ok(!boot_watch_unreachable(&w, 100000, 60, 0, &why), "no boot-complete line: no verdict");
    boot_watch_free(&w);
}

/* A file in the tree (parents made); a NULL content makes a symlink to target. */
static void put(const char *rel, const char *content)
{
    _cleanup_free_ char *p = path_join(dir, rel);
    _cleanup_free_ char *d = path_dirname(p);
    mkdir_p(d, 0755);
    unlink(p);
    if (write_file_atomic(p, content, strlen(content), 0644) < 0) abort();
}

static void link_to(const char *rel, const char *target)
{
    _cleanup_free_ char *p = path_join(dir, rel);
    _cleanup_free_ char *d = path_dirname(p);
    mkdir_p(d, 0755);
    unlink(p);
    if (symlink(target, p) < 0) abort();
}

static void drop(const char *rel)
{
    _cleanup_free_ char *p = path_join(dir, rel);
    rm_rf(p);
}

/* Probes the tree: whether it is configured, and the sentence in what. */
static bool probe(int fd, char **what)
{
    struct image_net n;
    if (image_net_probe(fd, &n) < 0) return err_setf(what, false, "probe failed");
    bool r = image_net_configured(&n, what);
    image_net_free(&n);
    return r;
}

static void test_probe(void)
{
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    _cleanup_free_ char *what = NULL, *why = NULL;
    ok(!probe(fd, &what), "an empty tree configures nothing");
    has(what, "The image has no network manager (systemd-networkd, ifupdown, NetworkManager), cloud-init or netplan",
        "says nothing is there");

    /* Debian's systemd: networkd shipped, disabled, with its container-only .network files */
    put("usr/lib/systemd/systemd-networkd", "#!");
    put("usr/lib/systemd/network/80-container-host0.network",
        "[Match]\nVirtualization=container\nName=host0\n\n[Network]\nDHCP=yes\n");
    put("usr/lib/systemd/network/80-container-ve.network", "[Match]\nName=ve-*\nDriver=veth\n\n[Network]\nAddress=0.0.0.0/28\n");
    ok(!probe(fd, &what), "Debian's stock systemd configures no NIC of a VM");
    has(what, "No systemd-networkd .network file matches an Ethernet NIC (Name=en* eth* or Type=ether, with DHCP= or "
              "Address=) and systemd-networkd is not enabled", "says no file matches and networkd is off");

    put("etc/systemd/network/80-dhcp.network", "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n");
    ok(!probe(fd, &what), "a matching file with networkd disabled configures nothing");
    has(what, "systemd-networkd is not enabled, so /etc/systemd/network/80-dhcp.network is not applied", "names the file");
    link_to("etc/systemd/system/multi-user.target.wants/systemd-networkd.service", "/usr/lib/systemd/system/systemd-networkd.service");
    ok(probe(fd, &what), "enabled networkd with a matching file");
    is_str(what, "systemd-networkd (/etc/systemd/network/80-dhcp.network)", "names networkd and the file");

    /* the match and address rules, one file at a time */
    struct { const char *text; bool match; const char *what; } files[] = {
        {"[Match]\nName=!lo\n[Network]\nDHCP=ipv4\n", true, "an inverted Name= list"},
        {"[Match]\nType=ether\n[Network]\nAddress=192.0.2.10/24\n", true, "Type=ether with a static address"},
        {"[Match]\nName=e*\n[Address]\nAddress=192.0.2.10/24\n", true, "an [Address] section"},
        {"[Network]\nDHCP=yes\n", true, "no [Match] matches every link"},
        {"[Match]\nType=wlan\n[Network]\nDHCP=yes\n", false, "wlan only"},
        {"[Match]\nName=eth0\n[Network]\nDHCP=no\n", false, "DHCP=no and no address"},
        {"[Match]\nName=wg0\n[Network]\nDHCP=yes\n", false, "another interface's name"},
        {"[Match]\nName=eth*\n[Link]\nUnmanaged=yes\n[Network]\nDHCP=yes\n", false, "Unmanaged=yes"},
        {"[Match]\nName=en*\nVirtualization=container\n[Network]\nDHCP=yes\n", false, "containers only"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        put("etc/systemd/network/80-dhcp.network", files[i].text);
        ok(probe(fd, &what) == files[i].match, "%s: %s", files[i].what, files[i].match ? "matches" : "does not match");
    }
    /* a file in /etc hides (or masks) the one of the same name in /usr/lib */
    drop("etc/systemd/network/80-dhcp.network");
    put("usr/lib/systemd/network/90-all.network", "[Match]\nName=*\n[Network]\nDHCP=yes\n");
    ok(probe(fd, &what), "a vendor file in /usr/lib counts");
    link_to("etc/systemd/network/90-all.network", "/dev/null");
    ok(!probe(fd, &what), "masked by a /dev/null link in /etc");
    put("etc/systemd/network/90-all.network", "[Match]\nName=wg*\n[Network]\nDHCP=yes\n");
    ok(!probe(fd, &what), "replaced by /etc's file of the same name");
    drop("etc/systemd/network/90-all.network");
    drop("usr/lib/systemd/network/90-all.network");
    link_to("etc/systemd/system/systemd-networkd.service", "/dev/null");
    put("etc/systemd/network/80-dhcp.network", "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n");
    ok(!probe(fd, &what), "a masked systemd-networkd is not enabled");
    drop("etc/systemd/system");
    drop("etc/systemd/network");

    /* ifupdown: an interface brought up with dhcp needs a DHCP client */
    put("usr/sbin/ifup", "#!");
    put("etc/network/interfaces", "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n");
    ok(!probe(fd, &what), "ifupdown with only lo configures nothing");
    has(what, "ifupdown brings no interface up with dhcp or static", "says ifupdown has no interface");
    put("etc/network/interfaces.d/eth0", "allow-hotplug eth0\niface eth0 inet dhcp\n");
    ok(!probe(fd, &what), "dhcp without a DHCP client configures nothing");
    has(what, "ifupdown configures eth0 by DHCP but the image has no DHCP client", "names the missing client");
    put("sbin/dhclient", "#!");
    ok(probe(fd, &what), "allow-hotplug eth0 with dhcp and dhclient");
    is_str(what, "ifupdown (interface eth0)", "names the interface");
    put("etc/network/interfaces.d/eth0", "iface eth0 inet dhcp\n");
    ok(!probe(fd, &what), "an iface stanza that no auto/allow- line brings up");
    put("etc/network/interfaces.d/eth0", "auto /en*=uplink\niface uplink inet static\n  address 192.0.2.2/24\n");
    ok(probe(fd, &what), "a pattern mapped to a logical interface");

    /* os.network: dhcp on this tree: ifupdown (installed, with a client) over disabled networkd */
    drop("etc/network/interfaces.d/eth0");
    put("etc/network/interfaces", "auto lo\niface lo inet loopback\n");
    struct image_net n;
    enum image_net_plan plan;
    image_net_probe(fd, &n);
    ok(image_net_plan(&n, &plan, &why) == 0 && plan == NET_PLAN_IFUPDOWN, "dhcp plan: ifupdown");
    image_net_free(&n);
    ok(image_net_write_dhcp(fd, plan, &why) == 0, "ifupdown configuration written");
    ok(probe(fd, &what), "the written ifupdown configuration is what the probe finds");
    is_str(what, "ifupdown (interface kiln-dhcp)", "through kiln's stanza");
    char *text = NULL;
    _cleanup_free_ char *ifaces = path_join(dir, "etc/network/interfaces");
    read_file(ifaces, 4096, &text, NULL);
    is_str(text, "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n",
           "interfaces made to read interfaces.d, which it did not");
    free(text);
    drop("etc/network");
    drop("sbin/dhclient");

    /* without a DHCP client, ifupdown is passed over for networkd, which gets enabled by the build */
    image_net_probe(fd, &n);
    ok(image_net_plan(&n, &plan, &why) == 0 && plan == NET_PLAN_NETWORKD, "dhcp plan: networkd");
    image_net_free(&n);
    ok(image_net_write_dhcp(fd, plan, &why) == 0, "networkd configuration written");
    link_to("etc/systemd/system/sockets.target.wants/systemd-networkd.socket", "/usr/lib/systemd/system/systemd-networkd.socket");
    ok(probe(fd, &what), "written and enabled (by its socket): configured");
    is_str(what, "systemd-networkd (/etc/systemd/network/80-kiln-dhcp.network)", "through kiln's file");
    drop("etc/systemd");
    drop("usr/lib/systemd/systemd-networkd");
    drop("usr/sbin/ifup");

    /* NetworkManager needs only to run; cloud-init and netplan configure on their own */
    put("usr/sbin/NetworkManager", "#!");
    ok(!probe(fd, &what), "NetworkManager installed, not enabled");
    has(what, "NetworkManager is installed but not enabled", "says so");
    image_net_probe(fd, &n);
    ok(image_net_plan(&n, &plan, &why) == 0 && plan == NET_PLAN_NM, "dhcp plan: NetworkManager");
    image_net_free(&n);
    link_to("etc/systemd/system/multi-user.target.wants/NetworkManager.service", "/usr/lib/systemd/system/NetworkManager.service");
    ok(probe(fd, &what), "NetworkManager enabled");
    drop("etc/systemd");
    drop("usr/sbin/NetworkManager");
    put("usr/bin/cloud-init", "#!");
    ok(probe(fd, &what) && streq(what, "cloud-init"), "cloud-init");
    put("etc/cloud/cloud-init.disabled", "");
    ok(!probe(fd, &what), "cloud-init disabled");
    drop("usr/bin/cloud-init");
    drop("etc/cloud");
    put("usr/sbin/netplan", "#!");
    put("etc/netplan/50-cloud-init.yaml", "network: {version: 2, ethernets: {e: {match: {name: \"e*\"}, dhcp4: true}}}\n");
    ok(probe(fd, &what) && streq(what, "netplan"), "netplan with a configuration");
    drop("usr/sbin/netplan");
    drop("etc/netplan");

    image_net_probe(fd, &n);
    ok(image_net_plan(&n, &plan, &why) == -ENOENT, "dhcp without any manager is refused");
    has(why, "the image has no network manager kiln can configure: add systemd (systemd-networkd), ifupdown with "
             "isc-dhcp-client, or network-manager to packages.install", "says what to add");
    image_net_free(&n);
    close(fd);
}

static char *spec_errors(const char *text, struct image_spec **out)
{
    _cleanup_free_ char *p = path_join(dir, "spec.yml");
    write_file_atomic(p, text, strlen(text), 0644);
    struct diags d = {0};
    struct image_spec *s = NULL;
    int r = spec_load(p, NULL, &s, &d);
    char *buf = NULL;
    size_t len = 0;
    if (r < 0) {
        FILE *f = open_memstream(&buf, &len);
        diags_print(&d, f);
        fclose(f);
    }
    diags_free(&d);
    *out = s;
    return buf;
}

static void test_spec(void)
{
    static const char head[] = "name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\nos:\n";
    struct { const char *os; enum image_network want; } good[] = {
        {"  hostname: h\n", IMAGE_NET_UNSET}, {"  network: dhcp\n", IMAGE_NET_DHCP}, {"  network: none\n", IMAGE_NET_NONE}};
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        _cleanup_free_ char *text = xasprintf("%s%s", head, good[i].os);
        struct image_spec *s = NULL;
        char *e = spec_errors(text, &s);
        ok(!e && s && s->network == good[i].want, "os.network %zu: %d", i, (int)good[i].want);
        free(e);
        spec_free(s);
    }
    struct image_spec *s = NULL;
    char *e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\nos:\n  network: dchp\n", &s);
    has(e, "spec.yml:5:12: os.network: expected one of dhcp | none, got \"dchp\"; did you mean \"dhcp\"?",
        "a near miss: where and what was meant");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\nos:\n  network: [dhcp]\n", &s);
    has(e, "spec.yml:5:12: os.network: expected one of dhcp | none", "a list is refused");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\nos:\n  netwrok: dhcp\n", &s);
    has(e, "unknown key \"netwrok\"; did you mean \"network\"?", "a misspelt key");
    free(e);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_signs();
    test_watch();
    test_probe();
    test_spec();
    rm_rf(dir);
    return tap_done();
}
