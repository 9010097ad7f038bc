/* What a serial console says about a boot: that it finished (a getty's login prompt, systemd's
 * "Reached target ... Multi-User System"), and whether anything touched the network (a network
 * manager or cloud-init starting, a DHCP client, a link coming up) or started sshd. kiln uses
 * it to tell a guest that booted and will never answer SSH (no network configured) from one
 * still on its way, without waiting out the boot timeout.
 *
 * The lines are matched as the programs print them (see bootwatch.c), after escape sequences
 * are removed. Times are seconds on any one clock the caller uses for every call. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum boot_sign {
    BOOT_SIGN_NONE,
    BOOT_SIGN_BOOTED,  /* a login prompt, or the multi-user / graphical target reached */
    BOOT_SIGN_NETWORK, /* a network manager, DHCP client, cloud-init or a link going up */
    BOOT_SIGN_SSHD,    /* sshd starting or listening */
};

/* Which sign a console line is (escape sequences already removed). */
enum boot_sign boot_sign_of(const char *line);

struct boot_watch {
    double booted_at, net_at, sshd_at; /* first time each was seen; < 0: not seen */
    char *booted_line, *net_line, *sshd_line;
};

void boot_watch_init(struct boot_watch *w);
void boot_watch_free(struct boot_watch *w);
/* Feeds one console line seen at time at. */
void boot_watch_line(struct boot_watch *w, const char *line, double at);

/* The verdict: true when the guest reached its login prompt (or multi-user) at least grace_s
 * before now, the console showed no sign of network activity, and nic_up (what the host saw
 * of the guest's NICs: 1 one was brought up, 0 none, -1 unknown) is not 1. Then *reterr says so,
 * quoting the console lines, and what to check. grace_s <= 0 never concludes. */
bool boot_watch_unreachable(const struct boot_watch *w, double now, double grace_s, int nic_up, char **reterr);
