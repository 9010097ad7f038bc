#include "platform/qmp.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "util/proc.h"
#include "util/timeutil.h"
#include "util/util.h"

struct qmp {
    int fd;
    struct sbuf buf;
};

/* Reads one line (a JSON message) with a 30 s limit. */
static json_t *read_msg(struct qmp *q)
{
    int64_t deadline = now_ms() + 30000;
    for (;;) {
        char *nl = q->buf.s ? memchr(q->buf.s, '\n', q->buf.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - q->buf.s);
            json_t *j = json_loadb(q->buf.s, n, 0, NULL);
            memmove(q->buf.s, nl + 1, q->buf.len - n - 1);
            q->buf.len -= n + 1;
            q->buf.s[q->buf.len] = 0;
            if (j) return j;
            continue;
        }
        int64_t left = deadline - now_ms();
        if (left <= 0 || kiln_interrupted) return NULL;
        struct pollfd p = {.fd = q->fd, .events = POLLIN};
        /* in slices, so that a SIGINT is seen within one */
        int r = poll(&p, 1, (int)MIN(left, 100));
        if ((r < 0 && errno == EINTR) || r == 0) continue;
        if (r < 0) return NULL;
        char tmp[4096];
        ssize_t k = read(q->fd, tmp, sizeof tmp);
        if (k <= 0) return NULL;
        if (q->buf.len > (4u << 20)) return NULL;
        sbuf_append(&q->buf, tmp, (size_t)k);
    }
}

struct qmp *qmp_open(const char *sock, int timeout_ms)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof addr.sun_path) return NULL;
    strcpy(addr.sun_path, sock);
    int64_t deadline = now_ms() + timeout_ms;
    int fd = -1;
    for (;;) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return NULL;
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) break;
        close(fd);
        fd = -1;
        if (now_ms() >= deadline || kiln_interrupted) return NULL;
        sleep_ms(20);
    }
    struct qmp *q = xcalloc(1, sizeof *q);
    q->fd = fd;
    json_t *greeting = read_msg(q);
    if (!greeting || !json_object_get(greeting, "QMP")) {
        json_decref(greeting);
        qmp_close(q);
        return NULL;
    }
    json_decref(greeting);
    char *err = NULL;
    json_t *r = qmp_call(q, "qmp_capabilities", NULL, &err);
    if (!r) {
        free(err);
        qmp_close(q);
        return NULL;
    }
    json_decref(r);
    return q;
}

json_t *qmp_call(struct qmp *q, const char *cmd, json_t *args, char **reterr)
{
    json_t *req = json_pack("{s:s}", "execute", cmd);
    if (args) json_object_set_new(req, "arguments", args);
    char *s = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    struct sbuf line = {0};
    sbuf_puts(&line, s);
    sbuf_puts(&line, "\n");
    free(s);
    size_t off = 0;
    while (off < line.len) {
        ssize_t w = write(q->fd, line.s + off, line.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            sbuf_free(&line);
            err_setf(reterr, 0, "QMP connection lost");
            return NULL;
        }
        off += (size_t)w;
    }
    sbuf_free(&line);
    for (;;) {
        json_t *m = read_msg(q);
        if (!m) {
            err_setf(reterr, 0, "no answer from QMP");
            return NULL;
        }
        json_t *ret = json_object_get(m, "return");
        if (ret) {
            json_incref(ret);
            json_decref(m);
            return ret;
        }
        json_t *e = json_object_get(m, "error");
        if (e) {
            const char *desc = json_string_value(json_object_get(e, "desc"));
            err_setf(reterr, 0, "%s", desc ? desc : "QMP error");
            json_decref(m);
            return NULL;
        }
        json_decref(m); /* an event */
    }
}

char *qmp_hmp(struct qmp *q, const char *line)
{
    char *err = NULL;
    json_t *r = qmp_call(q, "human-monitor-command", json_pack("{s:s}", "command-line", line), &err);
    free(err);
    if (!r) return NULL;
    char *s = xstrdup(json_string_value(r) ? json_string_value(r) : "");
    json_decref(r);
    return s;
}

void qmp_close(struct qmp *q)
{
    if (!q) return;
    if (q->fd >= 0) close(q->fd);
    sbuf_free(&q->buf);
    free(q);
}
