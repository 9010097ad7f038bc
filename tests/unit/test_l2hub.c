/* The private-network hub: floods unknown and broadcast frames, learns source MACs, sends
 * known unicast only to its owner, ignores strangers and runts. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform/l2hub.h"
#include "tap.h"
#include "util/fs.h"
#include "util/util.h"

static int bound(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    return fd;
}

static void send_frame(int fd, const char *hub, const unsigned char dst[6], const unsigned char src[6], const char *payload)
{
    unsigned char f[128] = {0};
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x08;
    size_t n = 14 + strlen(payload);
    memcpy(f + 14, payload, strlen(payload));
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, hub);
    sendto(fd, f, n < 60 ? 60 : n, 0, (struct sockaddr *)&a, sizeof a);
}

/* The payload of the next frame on fd within ms, or "" when none came. */
static const char *next_payload(int fd, int ms)
{
    static char buf[256];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0) return "";
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n < 14) return "";
    buf[n] = 0;
    return buf + 14;
}

int main(void)
{
    char tmpl[] = "/tmp/kiln-l2-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char *ports[3], hub[128];
    int fd[3];
    for (int i = 0; i < 3; i++) {
        ports[i] = xasprintf("%s/p%d", dir, i);
        fd[i] = bound(ports[i]);
    }
    snprintf(hub, sizeof hub, "%s/hub", dir);
    _cleanup_free_ char *why = NULL;
    struct l2hub *h = l2hub_start(hub, ports, 3, &why);
    ok(h != NULL, "hub starts");
    const unsigned char bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const unsigned char A[6] = {0x52, 0x54, 1, 0, 0, 1}, B[6] = {0x52, 0x54, 1, 0, 0, 2};
    send_frame(fd[0], hub, bcast, A, "arp-who-has");
    is_str(next_payload(fd[1], 2000), "arp-who-has", "broadcast reaches port 1");
    is_str(next_payload(fd[2], 2000), "arp-who-has", "broadcast reaches port 2");
    is_str(next_payload(fd[0], 200), "", "no echo to the sender");
    send_frame(fd[1], hub, A, B, "reply-to-a");
    is_str(next_payload(fd[0], 2000), "reply-to-a", "learned: unicast to A reaches port 0");
    is_str(next_payload(fd[2], 200), "", "learned: port 2 does not see A's unicast");
    send_frame(fd[0], hub, B, A, "to-b");
    is_str(next_payload(fd[1], 2000), "to-b", "unicast to B reaches port 1");
    is_str(next_payload(fd[2], 200), "", "and only port 1");
    /* a stranger's frames are ignored */
    char sp[128];
    snprintf(sp, sizeof sp, "%s/stranger", dir);
    int sfd = bound(sp);
    send_frame(sfd, hub, bcast, (const unsigned char[6]){2, 0, 0, 0, 0, 9}, "intruder");
    is_str(next_payload(fd[0], 300), "", "frames from unknown sockets are dropped");
    ok(l2hub_stop(h) == 3, "three frames forwarded");
    ok(!file_exists(hub), "socket removed at stop");
    for (int i = 0; i < 3; i++) close(fd[i]), free(ports[i]);
    close(sfd);
    rm_rf(dir);
    ok(l2hub_start("/nonexistent/dir/hub", ports, 0, &why) == NULL, "bad path refused");
    has(why, "/nonexistent/dir/hub", "the error names the path");
    return tap_done();
}
