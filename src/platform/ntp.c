#include "platform/ntp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/endian.h"
#include "util/util.h"

#define NTP_UNIX_OFFSET 2208988800.0 /* 1900-01-01 to 1970-01-01, seconds */

struct ntp_server {
    int fd;
    pthread_t th;
    atomic_bool stop;
    atomic_uint_fast64_t served;
};

static void put_ts(uint8_t *p, double unix_s)
{
    double t = unix_s + NTP_UNIX_OFFSET;
    uint32_t sec = (uint32_t)t;
    uint32_t frac = (uint32_t)((t - (double)sec) * 4294967296.0);
    put_be32(p, sec);
    put_be32(p + 4, frac);
}

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ntp_reply(const uint8_t *req, size_t len, double rx, double tx, uint8_t out[48])
{
    if (len < 48) return -1;
    unsigned vn = (req[0] >> 3) & 7, mode = req[0] & 7;
    if (mode != 3 || vn < 1 || vn > 4) return -1; /* clients only */
    memset(out, 0, 48);
    out[0] = (uint8_t)((0 << 6) | (vn << 3) | 4); /* no leap warning, the client's version, server */
    out[1] = 1;                                     /* stratum 1: the host's clock is the reference */
    out[2] = req[2];                                /* poll interval: the client's */
    out[3] = (uint8_t)-20;                          /* precision ~1 µs */
    put_be32(out + 8, 0x00000010);                  /* root dispersion: 1/4096 s */
    memcpy(out + 12, "LOCL", 4);                    /* reference id */
    put_ts(out + 16, tx);                           /* reference time */
    memcpy(out + 24, req + 40, 8);                  /* originate = the client's transmit time */
    put_ts(out + 32, rx);
    put_ts(out + 40, tx);
    return 0;
}

static void *serve(void *arg)
{
    struct ntp_server *s = arg;
    uint8_t buf[512], out[48];
    while (!s->stop) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0) continue;
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(s->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        double rx = now_real();
        if (n <= 0 || ntp_reply(buf, (size_t)n, rx, now_real(), out) < 0) continue;
        if (sendto(s->fd, out, sizeof out, 0, (struct sockaddr *)&from, fl) == (ssize_t)sizeof out) s->served++;
    }
    return NULL;
}

struct ntp_server *ntp_server_start(const char *addr, int port, char **reterr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(port ? port : 123))};
    /* several kiln runs on one host share the port: each answers from the same host clock,
     * so whichever socket the kernel hands a request to gives the right time */
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        err_setf(reterr, 0, "cannot bind %s:%d/udp: %s", addr, port ? port : 123, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    struct ntp_server *s = xcalloc(1, sizeof *s);
    s->fd = fd;
    if (pthread_create(&s->th, NULL, serve, s) != 0) {
        err_setf(reterr, 0, "cannot start the NTP thread");
        close(fd);
        free(s);
        return NULL;
    }
    return s;
}

uint64_t ntp_server_served(const struct ntp_server *s)
{
    return s ? s->served : 0;
}

void ntp_server_stop(struct ntp_server *s)
{
    if (!s) return;
    s->stop = true;
    pthread_join(s->th, NULL);
    close(s->fd);
    free(s);
}
