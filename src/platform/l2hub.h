/* A private Ethernet segment for the VMs of one environment: a learning switch in a kiln
 * thread. Every VM's extra NIC is a QEMU `dgram` netdev on a unix datagram socket whose
 * remote end is the hub; the hub forwards each frame to the port that owns the destination
 * MAC, or floods broadcast/unknown frames to every other port. Nothing touches the host's
 * network: the segment exists only between these sockets. */
#pragma once
#include <stddef.h>

struct l2hub;

/* Binds hub_path and serves the given VM socket paths (the VMs bind them). NULL on error. */
struct l2hub *l2hub_start(const char *hub_path, char *const *ports, size_t nports, char **reterr);
/* Stops the thread, closes and unlinks the socket. Frames forwarded are returned. */
unsigned long l2hub_stop(struct l2hub *h);
