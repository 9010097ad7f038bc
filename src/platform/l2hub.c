#include "platform/l2hub.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/util.h"

#define MAX_PORTS 16
#define MAX_FRAME 65536
#define MAC_SLOTS 64

struct l2hub {
    int fd, stop[2];
    char *path;
    struct sockaddr_un port[MAX_PORTS];
    size_t nports;
    struct { unsigned char mac[6]; int port; } table[MAC_SLOTS];
    size_t ntable;
    unsigned long frames;
    pthread_t thread;
};

static int port_of(struct l2hub *h, const struct sockaddr_un *from)
{
    for (size_t i = 0; i < h->nports; i++)
        if (!strcmp(h->port[i].sun_path, from->sun_path)) return (int)i;
    return -1;
}

static void learn(struct l2hub *h, const unsigned char *mac, int port)
{
    if (mac[0] & 1) return; /* a source MAC is never multicast */
    for (size_t i = 0; i < h->ntable; i++)
        if (!memcmp(h->table[i].mac, mac, 6)) {
            h->table[i].port = port;
            return;
        }
    size_t slot = h->ntable < MAC_SLOTS ? h->ntable++ : (size_t)(h->frames % MAC_SLOTS);
    memcpy(h->table[slot].mac, mac, 6);
    h->table[slot].port = port;
}

static int lookup(struct l2hub *h, const unsigned char *mac)
{
    if (mac[0] & 1) return -1;
    for (size_t i = 0; i < h->ntable; i++)
        if (!memcmp(h->table[i].mac, mac, 6)) return h->table[i].port;
    return -1;
}

static void *serve(void *arg)
{
    struct l2hub *h = arg;
    static __thread unsigned char frame[MAX_FRAME];
    struct pollfd pf[2] = {{.fd = h->fd, .events = POLLIN}, {.fd = h->stop[0], .events = POLLIN}};
    for (;;) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pf[1].revents) break;
        struct sockaddr_un from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(h->fd, frame, sizeof frame, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 14) continue; /* not an Ethernet frame */
        int src = port_of(h, &from);
        if (src < 0) continue; /* only the environment's VMs */
        h->frames++;
        learn(h, frame + 6, src);
        int dst = lookup(h, frame);
        for (size_t i = 0; i < h->nports; i++) {
            if ((int)i == src || (dst >= 0 && (int)i != dst)) continue;
            /* a VM not started or gone drops the frame, as a cable without a peer would; a
             * busy one makes the hub wait a little (SO_SNDTIMEO), which paces the sender */
            sendto(h->fd, frame, (size_t)n, 0, (struct sockaddr *)&h->port[i], sizeof h->port[i]);
        }
    }
    return NULL;
}

struct l2hub *l2hub_start(const char *hub_path, char *const *ports, size_t nports, char **reterr)
{
    if (nports > MAX_PORTS) {
        err_setf(reterr, 0, "a private network holds at most %d VMs", MAX_PORTS);
        return NULL;
    }
    struct l2hub *h = xcalloc(1, sizeof *h);
    h->fd = h->stop[0] = h->stop[1] = -1;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(hub_path) >= sizeof a.sun_path) {
        err_setf(reterr, 0, "socket path too long: %s", hub_path);
        goto fail;
    }
    for (size_t i = 0; i < nports; i++) {
        if (strlen(ports[i]) >= sizeof a.sun_path) {
            err_setf(reterr, 0, "socket path too long: %s", ports[i]);
            goto fail;
        }
        h->port[i] = (struct sockaddr_un){.sun_family = AF_UNIX};
        strcpy(h->port[i].sun_path, ports[i]);
    }
    h->nports = nports;
    strcpy(a.sun_path, hub_path);
    unlink(hub_path);
    h->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&a, sizeof a) < 0 || pipe2(h->stop, O_CLOEXEC) < 0) {
        err_setf(reterr, 0, "private network socket %s: %s", hub_path, strerror(errno));
        goto fail;
    }
    int buf = 4 << 20;
    setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(h->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    struct timeval tv = {.tv_usec = 200000};
    setsockopt(h->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    h->path = xstrdup(hub_path);
    if (pthread_create(&h->thread, NULL, serve, h) != 0) {
        err_setf(reterr, 0, "cannot start the private network thread");
        goto fail;
    }
    return h;
fail:
    if (h->fd >= 0) close(h->fd);
    if (h->stop[0] >= 0) close(h->stop[0]), close(h->stop[1]);
    if (h->path) unlink(h->path);
    free(h->path);
    free(h);
    return NULL;
}

unsigned long l2hub_stop(struct l2hub *h)
{
    if (!h) return 0;
    (void)!write(h->stop[1], "x", 1);
    pthread_join(h->thread, NULL);
    close(h->fd);
    close(h->stop[0]);
    close(h->stop[1]);
    unlink(h->path);
    unsigned long frames = h->frames;
    free(h->path);
    free(h);
    return frames;
}
