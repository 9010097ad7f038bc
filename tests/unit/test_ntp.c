/* The guests' SNTP source: a real client exchange over loopback, and junk ignored. */
#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "platform/ntp.h"
#include "tap.h"
#include "util/endian.h"
#include "util/util.h"

static double ts(const uint8_t *p)
{
    return (double)get_be32(p) - 2208988800.0 + (double)get_be32(p + 4) / 4294967296.0;
}

int main(void)
{
    _cleanup_free_ char *why = NULL;
    struct ntp_server *s = NULL;
    int port = 0;
    for (int p = 41230; p < 41260 && !s; p++) s = ntp_server_start("127.0.0.1", port = p, &why);
    if (!ok(s != NULL, "server bound 127.0.0.1:%d %s", port, why ? why : "")) return tap_done();
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    uint8_t req[48] = {0}, rep[64];
    req[0] = (4 << 3) | 3; /* NTPv4 client */
    req[2] = 6;
    memcpy(req + 40, "\x12\x34\x56\x78\x9a\xbc\xde\xf0", 8);
    sendto(fd, req, sizeof req, 0, (struct sockaddr *)&sa, sizeof sa);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ok(poll(&p, 1, 2000) == 1, "a reply comes");
    ssize_t n = recv(fd, rep, sizeof rep, 0);
    is_int(n, 48, "48-byte reply");
    is_int(rep[0] & 7, 4, "mode 4 (server)");
    is_int((rep[0] >> 3) & 7, 4, "version echoed");
    is_int(rep[0] >> 6, 0, "no leap warning (synchronised)");
    is_int(rep[1], 1, "stratum 1");
    ok(!memcmp(rep + 24, req + 40, 8), "originate timestamp = the client's transmit timestamp");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double host = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    ok(host - ts(rep + 40) < 1.0 && host - ts(rep + 40) > -0.01, "transmit time is the host's clock (%.6f s ago)",
       host - ts(rep + 40));
    ok(ts(rep + 32) <= ts(rep + 40), "received before transmitted");
    /* a server packet, a short packet: no answer */
    req[0] = (4 << 3) | 4;
    sendto(fd, req, sizeof req, 0, (struct sockaddr *)&sa, sizeof sa);
    sendto(fd, "x", 1, 0, (struct sockaddr *)&sa, sizeof sa);
    ok(poll(&p, 1, 300) == 0, "non-client packets are not answered");
    is_int(ntp_server_served(s), 1, "one request served");
    uint8_t out[48];
    ok(ntp_reply(req, 47, 0, 0, out) < 0, "ntp_reply refuses a short packet");
    close(fd);
    ntp_server_stop(s);
    return tap_done();
}
