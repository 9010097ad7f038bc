/* Whether a built tree configures its network interfaces, and DHCP configuration for the
 * manager it has (spec key os.network). Read from the tree only (nothing runs in it), with the
 * rules of each manager's own documentation:
 *   systemd-networkd  systemd.network(5): *.network in /etc, /run, /usr/lib, /lib systemd/network,
 *                     a file in an earlier directory (or a /dev/null link, or an empty file)
 *                     replaces one of the same name; [Match] Name= globs ('!' negates), Type=.
 *   ifupdown          interfaces(5): "auto"/"allow-*" lines (names or /glob/ patterns), "iface
 *                     NAME inet|inet6 METHOD" stanzas, "source" and "source-directory".
 *   NetworkManager    NetworkManager.conf(5): an automatic DHCP connection on every Ethernet NIC.
 *   cloud-init        writes the network configuration on first boot (fallback: DHCP).
 *   netplan           /etc/netplan, /run/netplan, /lib/netplan *.yaml, rendered at boot.
 * rootfd is the tree opened as util/inroot expects. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct image_net {
    bool networkd, networkd_enabled;  /* systemd-networkd installed; enabled (wanted or its socket) */
    char *networkd_file;              /* a .network that matches an Ethernet NIC, e.g. /etc/systemd/network/80-dhcp.network */
    bool ifupdown, ifupdown_enabled;  /* ifup installed; networking.service enabled */
    char *ifupdown_iface;             /* an interface brought up at boot with dhcp, static or auto, e.g. eth0 */
    bool ifupdown_dhcp_only;          /* every such interface uses dhcp */
    bool dhcp_client;                 /* dhclient, dhcpcd or udhcpc (ifupdown's dhcp method runs one) */
    bool nm, nm_enabled;              /* NetworkManager installed; enabled */
    bool cloudinit;                   /* cloud-init installed and not disabled (/etc/cloud/cloud-init.disabled) */
    bool netplan;                     /* netplan installed with a *.yaml configuration */
};

/* Reads what the tree has. Returns 0 or a negative errno (rootfd unusable). */
int image_net_probe(int rootfd, struct image_net *n);
void image_net_free(struct image_net *n);

/* True when something brings up an Ethernet NIC at boot (the manager named in *what, e.g.
 * "systemd-networkd (/etc/systemd/network/80-dhcp.network)"); else false with what is missing
 * and why, one sentence per manager present, in *what (malloc'd; what may be NULL). */
bool image_net_configured(const struct image_net *n, char **what);

enum image_net_plan {
    NET_PLAN_NETWORKD,  /* write a DHCP .network, enable systemd-networkd */
    NET_PLAN_IFUPDOWN,  /* write /etc/network/interfaces.d/kiln-dhcp */
    NET_PLAN_NM,        /* nothing to write; NetworkManager enabled if it is not */
};

/* Chooses the manager os.network: dhcp configures: NetworkManager when it is enabled,
 * systemd-networkd when it is enabled, ifupdown when installed (with a DHCP client),
 * systemd-networkd when installed, NetworkManager when installed. -ENOENT with the reason in
 * *reterr when the tree has none of them. */
int image_net_plan(const struct image_net *n, enum image_net_plan *plan, char **reterr);

/* Writes the plan's files into the tree (not the unit enablement: the build runs systemctl).
 * Returns 0 or a negative errno with *reterr. */
int image_net_write_dhcp(int rootfd, enum image_net_plan plan, char **reterr);
