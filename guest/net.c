/* kiln-guest network commands: bulk transfer with a SHA-256 on both ends, TCP request/response
 * latency, and ICMP echo. Every command ends itself (alarm) so nothing lingers in a guest.
 *
 *   net-recv PORT          accept one connection, read to EOF: bytes= sha256= seconds=
 *   net-send HOST PORT MB  send MB MiB of a fixed pseudo-random stream: bytes= sha256= seconds= mbit_s=
 *   net-echo PORT          accept one connection, echo every byte until EOF
 *   net-rr HOST PORT N     N one-byte round trips: min_us= p50_us= p99_us=
 *   ping ADDR N            N ICMP echoes: sent= received= avg_ms=
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"

/* ---- SHA-256 (FIPS 180-4) ---- */
struct sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t n;
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(struct sha256 *s, const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha_init(struct sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memset(s, 0, sizeof *s);
    memcpy(s->h, iv, sizeof iv);
}

static void sha_update(struct sha256 *s, const unsigned char *p, size_t n)
{
    s->len += n;
    if (s->n) {
        size_t take = 64 - s->n < n ? 64 - s->n : n;
        memcpy(s->buf + s->n, p, take);
        s->n += take, p += take, n -= take;
        if (s->n < 64) return;
        sha_block(s, s->buf);
        s->n = 0;
    }
    for (; n >= 64; p += 64, n -= 64) sha_block(s, p);
    memcpy(s->buf, p, n);
    s->n = n;
}

static void sha_hex(struct sha256 *s, char out[65])
{
    uint64_t bits = s->len * 8;
    unsigned char pad[72] = {0x80};
    size_t padlen = (s->n < 56 ? 56 : 120) - s->n;
    for (int i = 0; i < 8; i++) pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha_update(s, pad, padlen + 8);
    for (int i = 0; i < 8; i++) sprintf(out + 8 * i, "%08x", s->h[i]);
}

/* ---- helpers ---- */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int listen_accept(const char *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0) {
        fprintf(stderr, "listen on %s: %s\n", port, strerror(errno));
        return -1;
    }
    printf("listening=%s\n", port);
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    close(s);
    if (c >= 0) setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return c;
}

static int connect_to(const char *host, const char *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "not an IPv4 address: %s\n", host);
        return -1;
    }
    /* the peer may still be starting its listener: retry for a few seconds */
    for (int tries = 0; tries < 50; tries++) {
        int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return s;
        }
        int e = errno;
        close(s);
        if (e != ECONNREFUSED && e != EHOSTUNREACH && e != ETIMEDOUT) {
            fprintf(stderr, "connect %s:%s: %s\n", host, port, strerror(e));
            return -1;
        }
        usleep(200000);
    }
    fprintf(stderr, "connect %s:%s: nobody listening\n", host, port);
    return -1;
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* ---- commands ---- */
int cmd_net_recv(const char *port)
{
    alarm(600);
    int c = listen_accept(port);
    if (c < 0) return 1;
    static unsigned char buf[1 << 16];
    struct sha256 s;
    sha_init(&s);
    double t0 = now();
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0) sha_update(&s, buf, (size_t)n);
    double secs = now() - t0;
    if (n < 0) return fprintf(stderr, "read: %s\n", strerror(errno)), 1;
    uint64_t total = s.len;
    char hex[65];
    sha_hex(&s, hex);
    printf("bytes=%llu\nsha256=%s\nseconds=%.6f\n", (unsigned long long)total, hex, secs);
    close(c);
    return 0;
}

int cmd_net_send(const char *host, const char *port, long mb)
{
    alarm(600);
    if (mb <= 0 || mb > 100000) return fprintf(stderr, "MB must be 1..100000\n"), 64;
    int c = connect_to(host, port);
    if (c < 0) return 1;
    static uint64_t buf[1 << 13]; /* 64 KiB */
    uint64_t x = 0x6b696c6e2d6e6574ULL; /* fixed seed: the stream is the same on every run */
    struct sha256 s;
    sha_init(&s);
    double t0 = now();
    for (long left = mb * 16; left > 0; left--) {
        for (size_t i = 0; i < sizeof buf / sizeof *buf; i++) buf[i] = xorshift(&x);
        sha_update(&s, (unsigned char *)buf, sizeof buf);
        for (size_t off = 0; off < sizeof buf;) {
            ssize_t w = write(c, (char *)buf + off, sizeof buf - off);
            if (w < 0) return fprintf(stderr, "write: %s\n", strerror(errno)), 1;
            off += (size_t)w;
        }
    }
    shutdown(c, SHUT_WR);
    char tmp[16];
    while (read(c, tmp, sizeof tmp) > 0) {} /* the receiver closes after reading everything */
    double secs = now() - t0;
    uint64_t total = s.len;
    char hex[65];
    sha_hex(&s, hex);
    printf("bytes=%llu\nsha256=%s\nseconds=%.6f\nmbit_s=%.1f\n", (unsigned long long)total, hex, secs,
           total * 8 / 1e6 / secs);
    close(c);
    return 0;
}

int cmd_net_echo(const char *port)
{
    alarm(300);
    int c = listen_accept(port);
    if (c < 0) return 1;
    char buf[4096];
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0)
        if (write(c, buf, (size_t)n) != n) return 1;
    close(c);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cmd_net_rr(const char *host, const char *port, long count)
{
    alarm(300);
    if (count <= 0 || count > 100000) return fprintf(stderr, "N must be 1..100000\n"), 64;
    int c = connect_to(host, port);
    if (c < 0) return 1;
    double *rtt = calloc((size_t)count, sizeof *rtt);
    for (long i = 0; i < count; i++) {
        char b = (char)i;
        double t0 = now();
        if (write(c, &b, 1) != 1 || read(c, &b, 1) != 1) return fprintf(stderr, "round trip %ld failed\n", i), 1;
        rtt[i] = (now() - t0) * 1e6;
    }
    qsort(rtt, (size_t)count, sizeof *rtt, cmp_double);
    printf("count=%ld\nmin_us=%.1f\np50_us=%.1f\np99_us=%.1f\n", count, rtt[0], rtt[count / 2],
           rtt[(size_t)(count * 99 / 100 < count ? count * 99 / 100 : count - 1)]);
    free(rtt);
    close(c);
    return 0;
}

static uint16_t icmp_sum(const void *p, size_t n)
{
    const uint16_t *w = p;
    uint32_t sum = 0;
    for (; n > 1; n -= 2) sum += *w++;
    if (n) sum += *(const uint8_t *)w;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

int cmd_ping(const char *addr, long count)
{
    alarm(60);
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) return fprintf(stderr, "not an IPv4 address: %s\n", addr), 64;
    int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (s < 0) return fprintf(stderr, "raw socket: %s\n", strerror(errno)), 1;
    uint16_t ident = (uint16_t)getpid();
    long received = 0;
    double total_ms = 0;
    for (long seq = 0; seq < count; seq++) {
        struct { struct icmphdr h; char data[56]; } req = {0};
        req.h.type = ICMP_ECHO;
        req.h.un.echo.id = htons(ident);
        req.h.un.echo.sequence = htons((uint16_t)seq);
        memcpy(req.data, "kiln-guest ping", 15);
        req.h.checksum = icmp_sum(&req, sizeof req);
        double t0 = now();
        if (sendto(s, &req, sizeof req, 0, (struct sockaddr *)&a, sizeof a) < 0) {
            fprintf(stderr, "send: %s\n", strerror(errno));
            continue;
        }
        for (;;) {
            double left = 2.0 - (now() - t0);
            struct pollfd pf = {.fd = s, .events = POLLIN};
            if (left <= 0 || poll(&pf, 1, (int)(left * 1000)) <= 0) break;
            unsigned char buf[1500];
            ssize_t n = recv(s, buf, sizeof buf, 0);
            if (n < (ssize_t)sizeof(struct iphdr)) continue;
            const struct iphdr *ip = (const void *)buf;
            size_t hl = (size_t)ip->ihl * 4;
            if (n < (ssize_t)(hl + sizeof(struct icmphdr)) || ip->saddr != a.sin_addr.s_addr) continue;
            const struct icmphdr *r = (const void *)(buf + hl);
            if (r->type == ICMP_ECHOREPLY && ntohs(r->un.echo.id) == ident && ntohs(r->un.echo.sequence) == seq) {
                received++;
                total_ms += (now() - t0) * 1000;
                break;
            }
        }
    }
    printf("sent=%ld\nreceived=%ld\navg_ms=%.3f\n", count, received, received ? total_ms / received : 0.0);
    close(s);
    return received == count ? 0 : 1;
}
