/* A multiqueue tap device for a VM's extra NIC, made inside a network namespace of its own:
 * the guest gets a virtio-net device with several queue pairs (something slirp cannot give),
 * while nothing is connected to the host's network. Needs CAP_NET_ADMIN. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define MQTAP_MAX_QUEUES 8

struct mqtap {
    int fds[MQTAP_MAX_QUEUES]; /* one per queue, inheritable (qemu's tap,fds=) */
    int nqueues;
    int netns_fd;              /* keeps the private namespace alive; 0 = never opened */
};

/* Why multiqueue taps cannot be made here, or NULL when they can. */
const char *mqtap_unavailable(void);
int mqtap_open(struct mqtap *t, int queues, char **reterr);
/* Closes the queue fds kiln still holds (once qemu inherited them). */
void mqtap_release_queues(struct mqtap *t);
/* Closes everything, the namespace too (when the VM is gone). */
void mqtap_close(struct mqtap *t);
