#include "platform/mqtap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/util.h"

const char *mqtap_unavailable(void)
{
    if (access("/dev/net/tun", R_OK | W_OK) != 0) return "/dev/net/tun is not usable";
    if (geteuid() != 0) return "a tap device needs root (CAP_NET_ADMIN)";
    return NULL;
}

struct job {
    struct mqtap *t;
    int queues;
    char **reterr;
    int rc;
};

/* Runs in a thread of its own: unshare(CLONE_NEWNET) moves only this thread. */
static void *make(void *arg)
{
    struct job *j = arg;
    if (unshare(CLONE_NEWNET) < 0) {
        j->rc = err_setf(j->reterr, -errno, "cannot make a network namespace: %s", strerror(errno));
        return NULL;
    }
    int ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    j->t->netns_fd = ns > 0 ? ns : 0;
    for (int i = 0; i < j->queues; i++) {
        int fd = open("/dev/net/tun", O_RDWR); /* inherited by qemu */
        struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE};
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "kilnmq0");
        if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
            j->rc = err_setf(j->reterr, -errno, "cannot attach tap queue %d: %s", i, strerror(errno));
            if (fd >= 0) close(fd);
            return NULL;
        }
        j->t->fds[j->t->nqueues++] = fd;
    }
    return NULL;
}

int mqtap_open(struct mqtap *t, int queues, char **reterr)
{
    *t = (struct mqtap){0};
    if (queues < 1 || queues > MQTAP_MAX_QUEUES) return err_setf(reterr, -EINVAL, "queues must be 1..%d", MQTAP_MAX_QUEUES);
    struct job j = {.t = t, .queues = queues, .reterr = reterr};
    pthread_t th;
    if (pthread_create(&th, NULL, make, &j) != 0) return err_setf(reterr, -EAGAIN, "cannot start a thread");
    pthread_join(th, NULL);
    if (j.rc < 0) mqtap_close(t);
    return j.rc;
}

void mqtap_release_queues(struct mqtap *t)
{
    for (int i = 0; i < t->nqueues; i++) close(t->fds[i]);
    t->nqueues = 0;
}

void mqtap_close(struct mqtap *t)
{
    mqtap_release_queues(t);
    if (t->netns_fd > 0) close(t->netns_fd);
    t->netns_fd = 0;
}
