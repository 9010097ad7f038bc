#include "node/bootwatch.h"

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/util.h"

/* Each expression is written from the wording of the program that prints it.
 *   booted:  agetty's prompt "HOSTNAME login: " (util-linux, also busybox getty); systemd's job
 *            status "Reached target multi-user.target - Multi-User System." (systemd >= 250 names
 *            the unit first), "Reached target Multi-User System." before, Graphical Interface.
 *   network: systemd status lines for the network managers' units: systemd-networkd "Network
 *            Configuration", ifupdown "Raise network interfaces" and "ifup for IFACE",
 *            NetworkManager "Network Manager", dhcpcd "DHCP Client Daemon" and "dhcpcd on all
 *            interfaces", wicked "Network Service", cloud-init "Initial cloud-init job"
 *            and "Cloud-init v. X running"; cloud-init's "ci-info:" tables; dhclient's
 *            "DHCPDISCOVER on" / "DHCPACK of" / "bound to"; udhcpc's "udhcpc: lease of";
 *            networkd's "DHCPv4 address"; the kernel's "ADDRCONF(NETDEV_CHANGE): IFACE: link
 *            becomes ready" and drivers' "Link is Up".
 *   sshd:    systemd status "Started ssh.service - OpenBSD Secure Shell server." (and "Starting",
 *            older "Started OpenBSD Secure Shell server."), sshd's "Server listening on". */
static const char *const exprs[] = {
    [BOOT_SIGN_BOOTED] = "(^|[^a-zA-Z])login: ?$|Reached target ([^ ]+ - )?(Multi-User System|Graphical Interface)",
    [BOOT_SIGN_NETWORK] =
        "Start(ing|ed) ([^ ]+ - )?(Network Configuration|Raise network interfaces|ifup for |Network Manager|"
        "DHCP Client Daemon|dhcpcd on all interfaces|Network Service|Initial cloud-init job|"
        "Cloud-init: Network Stage|Apply the settings specified in cloud-config)|"
        "Cloud-init v\\. [^ ]+ running|ci-info: |DHCP(DISCOVER|REQUEST|OFFER|ACK) |bound to [0-9]|"
        "udhcpc: lease of|DHCPv[46] address|ADDRCONF\\(NETDEV_(UP|CHANGE)\\)|link becomes ready|Link is Up",
    [BOOT_SIGN_SSHD] = "Start(ing|ed) ([^ ]+ - )?OpenBSD Secure Shell server|Server listening on ",
};

static regex_t rx[ARRAY_SIZE(exprs)];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool compiled;

static void compile(void)
{
    compiled = true;
    for (size_t i = BOOT_SIGN_BOOTED; i < ARRAY_SIZE(exprs); i++)
        compiled &= regcomp(&rx[i], exprs[i], REG_EXTENDED | REG_NOSUB) == 0;
}

enum boot_sign boot_sign_of(const char *line)
{
    pthread_once(&once, compile);
    if (!compiled) return BOOT_SIGN_NONE;
    /* network first: "Started ... Network Manager" must not pass for anything else */
    static const enum boot_sign order[] = {BOOT_SIGN_NETWORK, BOOT_SIGN_SSHD, BOOT_SIGN_BOOTED};
    for (size_t i = 0; i < ARRAY_SIZE(order); i++)
        if (regexec(&rx[order[i]], line, 0, NULL, 0) == 0) return order[i];
    return BOOT_SIGN_NONE;
}

void boot_watch_init(struct boot_watch *w)
{
    *w = (struct boot_watch){.booted_at = -1, .net_at = -1, .sshd_at = -1};
}

void boot_watch_free(struct boot_watch *w)
{
    free(w->booted_line);
    free(w->net_line);
    free(w->sshd_line);
    boot_watch_init(w);
}

void boot_watch_line(struct boot_watch *w, const char *line, double at)
{
    double *when = NULL;
    char **what = NULL;
    switch (boot_sign_of(line)) {
    case BOOT_SIGN_BOOTED: when = &w->booted_at, what = &w->booted_line; break;
    case BOOT_SIGN_NETWORK: when = &w->net_at, what = &w->net_line; break;
    case BOOT_SIGN_SSHD: when = &w->sshd_at, what = &w->sshd_line; break;
    case BOOT_SIGN_NONE: return;
    }
    if (*when >= 0) return;
    *when = at;
    *what = xstrndup(line, 300);
}

bool boot_watch_unreachable(const struct boot_watch *w, double now, double grace_s, int nic_up, char **reterr)
{
    if (grace_s <= 0 || w->booted_at < 0 || now - w->booted_at < grace_s || w->net_at >= 0 || nic_up == 1) return false;
    char sshd[400];
    if (w->sshd_at >= 0) snprintf(sshd, sizeof sshd, "sshd started (\"%s\")", w->sshd_line);
    else snprintf(sshd, sizeof sshd, "no sshd start on the console yet (if it never comes: check that ssh.service or "
                                     "sshd.service is installed and enabled)");
    return err_setf(reterr, true, "booted (console: \"%s\") but no SSH %.0f s later, and no sign of network activity: no network "
             "manager, DHCP client or cloud-init on the console%s; %s. Check the image's network configuration (a "
             "systemd-networkd .network file for en* / eth* with DHCP=yes and systemd-networkd enabled, an ifupdown "
             "interface with dhcp, NetworkManager, or cloud-init; for an image made by kiln build, os.network: dhcp)",
             w->booted_line, now - w->booted_at,
             nic_up == 0 ? ", and the guest never brought a NIC up (its receive filter is still unset)" : "", sshd);
}
