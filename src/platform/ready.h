/* The ready platform's configuration: the runbook's platform.ready (docs/runbook.md). */
#pragma once
#include <stddef.h>

struct kiln_ready_node {
    char *address;
    long port;
    char *username;
    char *private_key_file;
    char **host_key_fingerprints; /* "SHA256:<base64>": the node must present one of them */
    size_t nhost_key_fingerprints;
};

struct kiln_ready_conf {
    struct kiln_ready_node *nodes;
    size_t n;
    char *known_hosts; /* OpenSSH known_hosts checked for nodes without pinned fingerprints */
};
