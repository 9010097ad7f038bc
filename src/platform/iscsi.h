/* Feature iscsi on the qemu platform: an iSCSI target per environment, served by Debian's tgt
 * (tgtd, a user-space target: no kernel state to leave behind) on the host's loopback only, on
 * a port the kernel picks; guests reach it through the user-mode network as 10.0.2.2:PORT.
 * One LUN, backed by a sparse file in the run's work dir. Owned by the platform's driver. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

struct iscsi_target {
    pid_t pid;       /* tgtd; 0 when none runs */
    int ctl;         /* tgtd's management port: its socket is IPC.CTL */
    char *ipc_dir;   /* BACKING.ipc (0700; /var/run/tgtd when that path is too long for a socket) */
    char *ipc;       /* IPC_DIR/socket: TGT_IPC_SOCKET for tgtd and tgtadm */
    int port;        /* the iSCSI portal's TCP port on 127.0.0.1 */
    char *tgtadm;    /* the program that configures it */
    char *backing;   /* the LUN's sparse file */
};

/* tgtd's management ports (its -C): tgt 1.0.85 takes 0 to 32767 only and exits on another
 * ("-C argument value '42111' out of range"); 0 is the system tgtd's. kiln's lie in 1000 to
 * 32767, spread by seed (the pid) and attempt, so concurrent runs rarely meet. */
enum { ISCSI_CTL_MIN = 1000, ISCSI_CTL_MAX = 32767 };
int iscsi_ctl_port(unsigned seed, int attempt);

/* Starts tgtd (program tgtd, configured with tgtadm) on 127.0.0.1 with target iqn (tid 1)
 * whose LUN 1 is a new sparse file backing of lun_bytes, any initiator allowed (only the
 * host's loopback reaches it); tgtd's output goes to log. The management port is one no other
 * tgtd holds (its lock file is free); the portal's port is the kernel's pick, read back from
 * tgtd. 0, or -errno with the reason in *reterr and nothing left running or on disk: -EINTR on
 * SIGINT or SIGTERM, -EIO otherwise. */
int iscsi_target_start(struct iscsi_target *t, const char *tgtd, const char *tgtadm, const char *backing,
                       uint64_t lun_bytes, const char *iqn, const char *log, char **reterr);
/* Deletes the target (ending its sessions), ends tgtd and removes its socket and the LUN's
 * file. Safe on a target that never started and when called twice. */
void iscsi_target_stop(struct iscsi_target *t);
