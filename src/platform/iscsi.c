/* tgtd per environment (iscsi.h). tgtd -f stays in the foreground, a tracked child of kiln
 * (proc_spawn: its own process group, ended with kiln on every path, kill -9 included by
 * PDEATHSIG); tgtadm talks to it over the management socket its -C port names, which both
 * place at $TGT_IPC_SOCKET.PORT (tgt's mgmt.c and tgtadm.c; default /var/run/tgtd/socket):
 * kiln sets it to a directory beside the LUN's file in the run's work dir, so nothing of a
 * tgtd kiln started lands in /var/run (a kill -9 of kiln leaves it in the work dir, which the
 * next kiln run sweeps: run/workdir.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform/iscsi.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/util.h"

#define TGTD_RUN_DIR "/var/run/tgtd"
#define START_MS 10000

/* TGT_IPC_SOCKET=<the target's ipc path>, for tgtd's and tgtadm's environment. */
static char **ipc_env(const struct iscsi_target *t)
{
    return proc_env_set(NULL, "TGT_IPC_SOCKET", t->ipc);
}

/* tgtadm -C CTL --lld iscsi ARGS...: 0, or -EIO with its output in why. */
static int tgtadm(const struct iscsi_target *t, const char *const *args, char **out, char **reterr)
{
    char ctl[16];
    snprintf(ctl, sizeof ctl, "%d", t->ctl);
    const char *argv[24] = {t->tgtadm, "-C", ctl, "--lld", "iscsi"};
    size_t n = 5;
    for (; *args && n < 23; args++) argv[n++] = *args;
    argv[n] = NULL;
    char *o = NULL;
    char **env = ipc_env(t);
    int r = proc_run_env((char *const *)argv, env, 10000, &o);
    proc_env_free(env);
    if (r != 0) {
        struct sbuf cmd = {0};
        for (size_t i = 5; i < n; i++) sbuf_printf(&cmd, " %s", argv[i]);
        err_setf(reterr, 0, "tgtadm%s failed (%d): %s", cmd.s, r, o ? strstrip(o) : "");
        sbuf_free(&cmd);
    }
    if (out) *out = o;
    else free(o);
    return r == 0 ? 0 : -EIO;
}

static void ctl_files_remove(const struct iscsi_target *t, int ctl)
{
    _cleanup_free_ char *sock = xasprintf("%s.%d", t->ipc, ctl);
    _cleanup_free_ char *lock = xasprintf("%s.lock", sock);
    unlink(sock);
    unlink(lock);
}

int iscsi_ctl_port(unsigned seed, int attempt)
{
    unsigned span = ISCSI_CTL_MAX - ISCSI_CTL_MIN + 1;
    return ISCSI_CTL_MIN + (int)((seed * 131u + (unsigned)attempt * 977u) % span);
}

/* Whether no process holds management port ctl's lock (tgtd takes it with lockf before it
 * binds its socket): a port another tgtd holds would send our tgtadm to that one. Files of a
 * port nobody holds are a killed tgtd's (kill -9 of kiln leaves them): removed. */
static bool ctl_free(const struct iscsi_target *t, int ctl)
{
    _cleanup_free_ char *lock = xasprintf("%s.%d.lock", t->ipc, ctl);
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;
    bool free_ = lockf(fd, F_TEST, 0) == 0;
    close(fd);
    if (free_) ctl_files_remove(t, ctl);
    return free_;
}

/* Waits for tgtd to answer on its management port and reads its portal's port: 0, -EAGAIN
 * when tgtd exited (another took the port first: try the next), -EIO after START_MS, -EINTR
 * on SIGINT or SIGTERM (tgtadm cannot run then: waiting on would only add START_MS). */
static int wait_portal(struct iscsi_target *t, const char *log, char **reterr)
{
    static const char *const show[] = {"--op", "show", "--mode", "portal", NULL};
    for (int64_t deadline = now_ms() + START_MS;; usleep(50000)) {
        if (kiln_interrupted) return err_setf(reterr, -EINTR, "interrupted while tgtd started");
        if (proc_wait(t->pid, 0, NULL) == 0) {
            t->pid = 0; /* reaped */
            char *l = NULL;
            read_file(log, 2048, &l, NULL);
            err_setf(reterr, 0, "tgtd exited at start: %s", l ? strstrip(l) : "");
            free(l);
            return -EAGAIN;
        }
        char *out = NULL;
        if (tgtadm(t, show, &out, reterr) == 0) {
            /* "Portal: 127.0.0.1:PORT,1" */
            const char *p = out ? strstr(out, "127.0.0.1:") : NULL;
            long port = 0;
            if (p) port = strtol(p + 10, NULL, 10);
            free(out);
            if (port <= 0 || port > 65535) return err_setf(reterr, -EIO, "tgtd shows no portal on 127.0.0.1");
            t->port = (int)port;
            return 0;
        }
        free(out);
        if (now_ms() > deadline) return -EIO;
    }
}

int iscsi_target_start(struct iscsi_target *t, const char *tgtd, const char *tgtadm_prog, const char *backing,
                       uint64_t lun_bytes, const char *iqn, const char *log, char **reterr)
{
    *t = (struct iscsi_target){0};
    t->tgtadm = xstrdup(tgtadm_prog);
    int fd = open(backing, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)lun_bytes) < 0) {
        err_setf(reterr, 0, "cannot make the LUN's file %s: %s", backing, strerror(errno));
        if (fd >= 0) close(fd), unlink(backing);
        free(t->tgtadm);
        t->tgtadm = NULL;
        return -EIO;
    }
    close(fd);
    t->backing = xstrdup(backing);
    /* sockaddr_un's path holds 107 bytes: a deep TMPDIR falls back to tgt's own directory */
    t->ipc_dir = xasprintf("%s.ipc", backing);
    t->ipc = path_join(t->ipc_dir, "socket");
    if (strlen(t->ipc) + 7 > sizeof(((struct sockaddr_un *)0)->sun_path) - 1) {
        free(t->ipc_dir), free(t->ipc);
        t->ipc_dir = xstrdup(TGTD_RUN_DIR);
        t->ipc = xstrdup(TGTD_RUN_DIR "/socket");
    }
    mkdir_p(t->ipc_dir, 0700);
    int r = -EIO;
    /* management ports spread by pid: concurrent runs rarely meet, and a taken one is skipped */
    for (int attempt = 0; attempt < 32 && r != 0; attempt++) {
        int ctl = iscsi_ctl_port((unsigned)getpid(), attempt);
        if (!ctl_free(t, ctl)) continue;
        t->ctl = ctl;
        _cleanup_free_ char *cport = xasprintf("%d", ctl);
        char *argv[] = {(char *)tgtd, "-f", "-C", cport, "--iscsi", "portal=127.0.0.1:0", NULL};
        FILE *lf = fopen(log, "ae");
        char **env = ipc_env(t);
        r = proc_spawn_env(argv, env, -1, lf ? fileno(lf) : -1, lf ? fileno(lf) : -1, &t->pid);
        proc_env_free(env);
        if (lf) fclose(lf);
        if (r < 0) {
            t->pid = 0;
            err_setf(reterr, 0, "cannot start %s: %s", tgtd, strerror(-r));
            break;
        }
        r = wait_portal(t, log, reterr);
        if (r == -EAGAIN) continue;
        if (r < 0) break;
        const char *new_target[] = {"--op", "new", "--mode", "target", "--tid", "1", "-T", iqn, NULL};
        const char *new_lun[] = {"--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", backing, NULL};
        const char *bind[] = {"--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL", NULL};
        r = tgtadm(t, new_target, NULL, reterr);
        if (r == 0) r = tgtadm(t, new_lun, NULL, reterr);
        if (r == 0) r = tgtadm(t, bind, NULL, reterr);
        break;
    }
    if (r != 0) {
        if (!t->ctl) err_setf(reterr, 0, "no free tgtd management port (all of 32 tried are held)");
        iscsi_target_stop(t);
        return r == -EINTR ? -EINTR : -EIO;
    }
    return 0;
}

void iscsi_target_stop(struct iscsi_target *t)
{
    if (t->pid > 0) {
        _cleanup_free_ char *why = NULL;
        static const char *const del[] = {"--op", "delete", "--mode", "target", "--tid", "1", "--force", NULL};
        static const char *const quit[] = {"--op", "delete", "--mode", "system", NULL};
        /* tgtd ignores SIGTERM; asked this way it exits, and SIGKILL is the fallback. Once
         * kiln is interrupted proc_run starts no tgtadm: straight to SIGKILL, not after 2 s. */
        if (!kiln_interrupted) {
            tgtadm(t, del, NULL, &why);
            tgtadm(t, quit, NULL, &why);
        }
        if (kiln_interrupted || proc_wait(t->pid, 2000, NULL) < 0) proc_kill(t->pid, 0);
        ctl_files_remove(t, t->ctl);
    }
    t->pid = 0;
    if (t->backing) unlink(t->backing);
    if (t->ipc_dir && !streq(t->ipc_dir, TGTD_RUN_DIR)) rmdir(t->ipc_dir);
    free(t->backing);
    free(t->tgtadm);
    free(t->ipc_dir);
    free(t->ipc);
    t->backing = t->tgtadm = t->ipc_dir = t->ipc = NULL;
}
