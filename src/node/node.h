/* A node: one machine under test reached over SSH (libssh), one persistent session. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model/req.h"
#include "util/strv.h"

struct kiln_console;
struct ssh_session_struct;

/* Facts the suites learned about a node, valid for one boot (boot_id). */
struct node_facts {
    char *boot_id;
    int family;      /* enum pkg_family, -1 unknown */
    char os_id[64];
    int systemd;     /* -1 unknown */
    bool helper;     /* kiln-guest uploaded */
    char arch[16];   /* uname -m; "" unknown */
};

struct kiln_node {
    char *name;        /* node0, node1 ... unique in a run */
    char *host;
    int port;
    char *user;
    char *key_path;    /* private key file */
    /* Host key checks (fail closed when set): the node must present one of these SHA256
     * fingerprints, else (none pinned) a key known_hosts lists for it */
    char **host_key_fps;
    size_t nhost_key_fps;
    char *known_hosts;
    struct ssh_session_struct *ssh;
    struct kiln_console *console; /* NULL when the platform has no console */
    struct kiln_req have;         /* what it was provisioned with */
    char *dir;         /* <run>/nodes/<name> */
    FILE *log;         /* where remote commands are logged (the running case's log) */
    char *boot_id;
    atomic_bool bad;   /* unreachable or panicked: do not reuse */
    void *priv;        /* the platform's */
    /* Power control from outside (the platform's; NULL when it has none). power_check runs
     * while a reboot is awaited: when the machine stopped by itself (a guest's reset ends a
     * QEMU VM) it powers it on again and returns 1; 0 while it runs, <0 on error.
     * power_cycle forces it off and on again. */
    int (*power_check)(struct kiln_node *n, char **reterr);
    int (*power_cycle)(struct kiln_node *n, char **reterr);
    /* Seconds since the machine was last powered on, and console bytes it wrote since then
     * (-1 when unknown): signs of life while a reboot is awaited. */
    double (*since_power_on)(struct kiln_node *n, int64_t *console_bytes);
    /* What kiln did or saw on this node during the running case that does not decide its
     * verdict by itself (a power cycle after a hung reset); the scheduler moves them to the
     * case's result. */
    char **notes;
    size_t nnotes, capnotes;
    struct node_facts facts;
    int64_t cmd_seq;
    int64_t auth_refused_ms; /* when sshd first refused kiln's key in a row of refusals; 0 none */
    struct ssh_channel_struct *counters; /* node_read_counters' long-lived channel; NULL: none open */
    struct strv leftovers; /* paths kiln made on the node, for node_remove_leftovers */
};

struct kiln_exec {
    int status;        /* exit status; 128+N for signal N; -1 unknown */
    char *out, *err;
    double duration_s;
    bool timed_out;
    bool truncated;    /* out or err reached the capture limit (cut where no secret straddles it) */
};

/* Connects (and runs `true`) with retries until timeout_s passes (backoff 0.2 s → 2 s).
 * Returns 0 or: -ETIMEDOUT; -EINTR; -EHOSTDOWN when the node's console reports a fatal event;
 * -EACCES at once when the private key cannot be read or the host key fails its check
 * (nothing is sent to such a host); -EPERM when sshd refused kiln's key on every attempt for
 * KILN_AUTH_GRACE_S (default 20) seconds, the first refusal counted across calls (a key that
 * reaches authorized_keys a moment after sshd starts is still waited for). Leaves a one-line
 * reason in *reterr. */
int node_connect(struct kiln_node *n, int timeout_s, char **reterr);
void node_disconnect(struct kiln_node *n);
/* The guest's counters for perf.json: /proc/stat, meminfo, diskstats, net/dev and the boot id
 * as "== NAME" sections (NAME the path under /proc), read through one long-lived channel whose
 * remote shell answers each request with shell builtins only: a reading costs about one round
 * trip, not an SSH session and processes (cases are often shorter than that would be). The
 * channel is opened on first use and again after a reconnect. Not logged. Returns 0 and *out
 * (caller frees), or a negative errno (-ENOTCONN, -ETIMEDOUT after timeout_s, -EIO). */
int node_read_counters(struct kiln_node *n, int timeout_s, char **out);
/* Runs cmd under sh. On timeout the remote process group is killed. Logged to n->log. */
int node_exec(struct kiln_node *n, const char *cmd, int timeout_s, struct kiln_exec *r);
/* Same, feeding in[inlen] to the command's stdin; captures at most maxout bytes per stream. */
int node_exec_input(struct kiln_node *n, const char *cmd, const void *in, size_t inlen, int timeout_s,
                    struct kiln_exec *r, size_t maxout);
void kiln_exec_free(struct kiln_exec *r);
/* Streams data to remote path (via cat), creating it with mode. */
int node_upload(struct kiln_node *n, const void *data, size_t len, const char *remote, unsigned mode);
int node_upload_file(struct kiln_node *n, const char *local, const char *remote, unsigned mode);
/* Reads a remote file of at most max bytes. */
int node_download(struct kiln_node *n, const char *remote, size_t max, char **data, size_t *len);
/* Reboots and waits until SSH answers with a different boot id. */
int node_reboot(struct kiln_node *n, int timeout_s, char **reterr);
/* Waits, as node_reboot does, until SSH answers with a boot id other than before: for a reboot
 * the machine makes itself (an updater, a failed health check). */
int node_await_boot(struct kiln_node *n, const char *before, int timeout_s, char **reterr);
/* SHA256 fingerprint of the host key the node presented ("SHA256:..."), or NULL. */
char *node_host_key_fingerprint(struct kiln_node *n);
/* Reads /proc/sys/kernel/random/boot_id into n->boot_id. */
int node_read_boot_id(struct kiln_node *n);
/* The first fatal console line seen, or NULL. */
const char *node_fatal(struct kiln_node *n);
/* Adds a note for the running case (printf-style) and writes it to the case log. */
void node_note(struct kiln_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* path (absolute, made by kiln on the node: an extension unpacked, a suite's build) is removed
 * by node_remove_leftovers; the same path twice is kept once. A path that is not absolute, is
 * "/" or has a "." or ".." component is not taken (a warning says so). */
void node_leave_leftover(struct kiln_node *n, const char *path);
/* The shell command node_remove_leftovers runs: `rm -rf --` of every path (quoted), then
 * `rmdir` of each parent that is kiln's own directory /var/tmp/kiln-NAME (it goes only when
 * empty), ending in `true`. NULL for no paths. Caller frees. */
char *node_leftovers_cmd(const struct strv *paths);
/* On a machine that outlives the run (platform ready: the user's own, called by its destroy),
 * removes every path node_leave_leftover named (node_leftovers_cmd), and forgets them; best
 * effort within 60 s, skipped for a node marked bad. A VM thrown away needs none. */
void node_remove_leftovers(struct kiln_node *n);
void node_free(struct kiln_node *n);

/* Why the last libssh call on session s failed: libssh's error text, or, when libssh gave none
 * (a channel refused on a session the guest dropped: a crash, a reboot), "the session closed"
 * or "libssh gave no reason". Never empty; valid until the next libssh call on s. */
const char *node_ssh_why(struct ssh_session_struct *s);
