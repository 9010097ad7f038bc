/* HTTP/1.1 client (http.h): Content-Length, chunked and close-delimited bodies (RFC 9112). */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/util.h"

enum { HEAD_MAX = 16 << 10 };

int http_parse_url(const char *url, char **host, char **port, char **path)
{
    *host = *port = *path = NULL;
    if (strncmp(url, "http://", 7)) return -EPROTONOSUPPORT;
    const char *h = url + 7, *slash = strchr(h, '/');
    const char *hend = slash ? slash : h + strlen(h);
    const char *colon = NULL;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(hend - h));
        if (!rb) return -EINVAL;
        colon = rb + 1 < hend && rb[1] == ':' ? rb + 1 : NULL;
        *host = strndup(h + 1, (size_t)(rb - h - 1));
    } else {
        colon = memchr(h, ':', (size_t)(hend - h));
        *host = strndup(h, (size_t)((colon ? colon : hend) - h));
    }
    *port = colon ? strndup(colon + 1, (size_t)(hend - colon - 1)) : strdup("80");
    *path = strdup(slash ? slash : "/");
    bool ok = *host && *port && *path && **host && **port && strspn(*port, "0123456789") == strlen(*port);
    for (const char *p = *path; ok && *p; p++) ok = (unsigned char)*p > ' ' && *p != 0x7f;
    for (const char *p = *host; ok && *p; p++) ok = isalnum((unsigned char)*p) || strchr(".-:_", *p);
    if (!ok) {
        free(*host), free(*port), free(*path);
        *host = *port = *path = NULL;
        return -EINVAL;
    }
    return 0;
}

struct conn {
    int fd, timeout_ms;
    char buf[8192];
    size_t pos, len;
};

static int wait_fd(struct conn *c, short ev)
{
    struct pollfd p = {.fd = c->fd, .events = ev};
    int r;
    do r = poll(&p, 1, c->timeout_ms);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r == 0 ? -ETIMEDOUT : 0;
}

static int send_all(struct conn *c, const void *p, size_t n)
{
    while (n) {
        int r = wait_fd(c, POLLOUT);
        if (r < 0) return r;
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        p = (const char *)p + k;
        n -= (size_t)k;
    }
    return 0;
}

/* Refills the buffer: 0, 1 at end of stream, or -errno. */
static int fill(struct conn *c)
{
    if (c->pos < c->len) return 0;
    int r = wait_fd(c, POLLIN);
    if (r < 0) return r;
    ssize_t k;
    do k = recv(c->fd, c->buf, sizeof c->buf, 0);
    while (k < 0 && errno == EINTR);
    if (k < 0) return -errno;
    c->pos = 0;
    c->len = (size_t)k;
    return k == 0;
}

/* One line (CRLF or LF stripped) of at most cap-1 bytes. */
static int read_line(struct conn *c, char *line, size_t cap)
{
    size_t n = 0;
    for (;;) {
        int r = fill(c);
        if (r) return r < 0 ? r : -EPROTO;
        char ch = c->buf[c->pos++];
        if (ch == '\n') break;
        if (n + 1 >= cap) return -EPROTO;
        line[n++] = ch;
    }
    if (n && line[n - 1] == '\r') n--;
    line[n] = 0;
    return 0;
}

/* Up to n body bytes (n = UINT64_MAX: to the end of the stream) into the sink. */
static int body(struct conn *c, uint64_t n, bool to_eof, http_sink sink, void *ctx, uint64_t *total, uint64_t max)
{
    while (to_eof || n) {
        int r = fill(c);
        if (r < 0) return r;
        if (r == 1) return to_eof ? 0 : -EPROTO;
        size_t k = c->len - c->pos;
        if (!to_eof && k > n) k = (size_t)n;
        if (*total + k > max) return -EFBIG;
        if (sink && (r = sink(ctx, c->buf + c->pos, k)) < 0) return r;
        c->pos += k;
        *total += k;
        if (!to_eof) n -= k;
    }
    return 0;
}

/* Connects c->fd to the first address of ai that accepts within c's timeout; 0 or -errno
 * (why names host and port). */
static int connect_any(struct conn *c, struct addrinfo *ai, const char *host, const char *port, char **reterr)
{
    int r = -ECONNREFUSED;
    c->fd = -1;
    for (struct addrinfo *a = ai; a && c->fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) continue;
        c->fd = fd;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || (errno == EINPROGRESS && wait_fd(c, POLLOUT) == 0)) {
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (!err) break;
            r = -err;
        } else r = -errno;
        close(fd);
        c->fd = -1;
    }
    if (c->fd < 0) return err_setf(reterr, r, "cannot connect to %s port %s: %s", host, port, strerror(-r));
    return 0;
}

/* The request head (Connection: close; Content-Type and -Length when there is a body) and
 * the body; 0 or -errno. */
static int send_request(struct conn *c, const char *method, const char *host, const char *port, const char *path,
                        const char *ctype, const void *req_body, size_t blen)
{
    char *head = NULL;
    int n = req_body ? asprintf(&head, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: kiln-updater\r\nConnection: close\r\n"
                                       "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                                method, path, host, port, ctype ? ctype : "application/octet-stream", blen)
                     : asprintf(&head, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: kiln-updater\r\nConnection: close\r\n\r\n",
                                method, path, host, port);
    int r = n < 0 ? -ENOMEM : send_all(c, head, strlen(head));
    if (r == 0 && req_body) r = send_all(c, req_body, blen);
    if (n >= 0) free(head);
    return r;
}

/* How the response body is framed, from its head. */
struct framing {
    uint64_t clen;
    bool have_len, chunked;
};

/* The status line and header fields (at most HEAD_MAX bytes in all); *status is set only
 * when the whole head is well formed. 0, -EPROTO, or -errno of the connection. */
static int read_head(struct conn *c, int *status, struct framing *f)
{
    char line[HEAD_MAX];
    size_t head_bytes = 0;
    int r = read_line(c, line, sizeof line);
    int maj, min, code;
    if (r == 0 && (sscanf(line, "HTTP/%d.%d %d", &maj, &min, &code) != 3 || code < 100 || code > 999)) r = -EPROTO;
    while (r == 0) {
        r = read_line(c, line, sizeof line);
        if (r < 0) break;
        if (!*line) break;
        if ((head_bytes += strlen(line) + 2) > HEAD_MAX) r = -EPROTO;
        else if (!strncasecmp(line, "Content-Length:", 15)) {
            char *e;
            unsigned long long v = strtoull(line + 15, &e, 10);
            while (isspace((unsigned char)*e)) e++;
            if (*e || line[15 + strspn(line + 15, " \t")] == '-') r = -EPROTO;
            f->clen = v;
            f->have_len = true;
        } else if (!strncasecmp(line, "Transfer-Encoding:", 18) && strstr(line + 18, "chunked")) f->chunked = true;
    }
    if (r == 0) *status = code;
    return r;
}

/* The body as the head frames it (chunked, Content-Length, or to the end of the stream)
 * into the sink, at most max bytes; 0, -EFBIG, -EPROTO, or the sink's or connection's -errno. */
static int read_body(struct conn *c, const struct framing *f, http_sink sink, void *ctx, uint64_t max)
{
    uint64_t total = 0;
    int r = 0;
    if (f->chunked) {
        char line[128];
        for (;;) {
            if ((r = read_line(c, line, sizeof line)) < 0) break;
            char *e;
            unsigned long long n = strtoull(line, &e, 16);
            if (e == line) {
                r = -EPROTO;
                break;
            }
            if (!n) break;
            if ((r = body(c, n, false, sink, ctx, &total, max)) < 0 || (r = read_line(c, line, sizeof line)) < 0) break;
        }
        return r;
    }
    if (f->have_len && f->clen > max) return -EFBIG;
    return body(c, f->have_len ? f->clen : 0, !f->have_len, sink, ctx, &total, max);
}

int http_request(const char *method, const char *url, const char *ctype, const void *req_body, size_t blen, http_sink sink,
                 void *ctx, uint64_t max, int timeout_s, int *status, char **reterr)
{
    char *host, *port, *path;
    *status = 0;
    int r = http_parse_url(url, &host, &port, &path);
    if (r == -EPROTONOSUPPORT) return err_setf(reterr, r, "%s: only http:// URLs are supported", url);
    if (r < 0) return err_setf(reterr, r, "%s: not a valid http:// URL", url);
    char *why = NULL; /* this request's message: a stage that failed names itself, else the fallback below */
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(host, port, &hints, &ai);
    struct conn *c = calloc(1, sizeof *c);
    if (c) c->fd = -1; /* a failed lookup must not close fd 0 */
    if (!c) r = -ENOMEM;
    else if (g) r = err_setf(&why, -EHOSTUNREACH, "cannot resolve %s: %s", host, gai_strerror(g));
    if (r == 0) {
        c->timeout_ms = timeout_s * 1000;
        r = connect_any(c, ai, host, port, &why);
    }
    if (ai) freeaddrinfo(ai);
    if (r == 0 && (r = send_request(c, method, host, port, path, ctype, req_body, blen)) < 0)
        err_setf(&why, r, "cannot send the request to %s: %s", url, strerror(-r));
    struct framing f = {0};
    if (r == 0 && (r = read_head(c, status, &f)) < 0)
        err_setf(&why, r, "%s: %s", url, r == -ETIMEDOUT ? "timed out" : "malformed response head");
    if (r == 0) r = read_body(c, &f, sink, ctx, max);
    if (r < 0 && !why)
        err_setf(&why, r, "%s: %s", url, r == -EFBIG ? "the response is larger than expected" : r == -ETIMEDOUT ? "timed out"
                                           : r == -EPROTO ? "malformed response" : strerror(-r));
    if (c && c->fd >= 0) close(c->fd);
    free(c);
    free(host), free(port), free(path);
    if (r < 0) err_setf(reterr, r, "%s", why);
    free(why);
    return r;
}
