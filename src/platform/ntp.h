/* A time source for the VMs: an SNTP server (RFC 4330, NTPv4 packet format of RFC 5905) on the
 * host's loopback, which QEMU's user-mode network shows to guests as the gateway (10.0.2.2:123).
 * It answers from the host's clock, so a guest whose time service points there (the test and
 * example images configure systemd-timesyncd with NTP=10.0.2.2) is synchronised within the
 * network's round trip, under TCG too. Port 123 needs root and may be taken: then there is no
 * time source, and the log says so. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct ntp_server;

/* Binds addr:port (port 0: 123) and answers in a thread. NULL when it cannot bind. */
struct ntp_server *ntp_server_start(const char *addr, int port, char **reterr);
/* Requests answered so far. */
uint64_t ntp_server_served(const struct ntp_server *s);
void ntp_server_stop(struct ntp_server *s);

/* Fills a 48-byte server reply to a client request received at time rx (unix seconds).
 * Returns 0, or -1 when the request is not an NTP client packet. Exposed for unit tests. */
int ntp_reply(const uint8_t *req, size_t len, double rx, double tx, uint8_t out[48]);
