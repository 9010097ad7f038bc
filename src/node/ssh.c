/* SSH transport for nodes, on libssh. One session per node for its whole life;
 * each command is one channel. Commands are wrapped so that a timeout can end the
 * remote process group, not only the channel. */
#include <errno.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "node/console.h"
#include "node/node.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/util.h"

#define PID_MARK "KILN-PID "
#define MAX_CAPTURE (64u << 20)

const char *node_fatal(struct kiln_node *n)
{
    return n->console ? console_fatal(n->console) : NULL;
}

static void counters_close(struct kiln_node *n)
{
    if (!n->counters) return;
    ssh_channel_close(n->counters);
    ssh_channel_free(n->counters);
    n->counters = NULL;
}

void node_disconnect(struct kiln_node *n)
{
    if (!n->ssh) return;
    counters_close(n);
    ssh_disconnect(n->ssh);
    ssh_free(n->ssh);
    n->ssh = NULL;
}

static int exec_internal(struct kiln_node *n, const char *cmd, const void *in, size_t inlen, int timeout_s,
                         struct kiln_exec *r, size_t maxout, bool may_reconnect);

/* "SHA256:<base64>" of key, as ssh-keygen -l prints it; NULL on error. */
static char *fingerprint_of(ssh_key key)
{
    unsigned char *hash = NULL;
    size_t hlen = 0;
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0) return NULL;
    char *f = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    ssh_clean_pubkey_hash(&hash);
    char *fp = f ? xstrdup(f) : NULL;
    ssh_string_free_char(f);
    return fp;
}

/* The fingerprints known_hosts lists for the node ("A or B"), for the message that refuses it:
 * libssh hands out no entry for a changed key. */
static char *known_fingerprints(struct kiln_node *n)
{
    _cleanup_free_ char *text = NULL;
    if (read_file(n->known_hosts, 1 << 20, &text, NULL) < 0) return NULL;
    _cleanup_free_ char *name = n->port == 22 ? xstrdup(n->host) : xasprintf("[%s]:%d", n->host, n->port);
    struct sbuf b = {0};
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct ssh_knownhosts_entry *e = NULL;
        if (ssh_known_hosts_parse_line(name, line, &e) == SSH_OK && e && e->publickey) {
            _cleanup_free_ char *fp = fingerprint_of(e->publickey);
            if (fp) sbuf_printf(&b, "%s%s", b.len ? " or " : "", fp);
        }
        ssh_knownhosts_entry_free(e);
    }
    return b.len ? sbuf_steal(&b) : NULL;
}

/* Before authenticating or sending anything: whoever answers at the node's address must
 * hold its host key, or it could take the commands and fake their results. */
static int check_host_key(struct kiln_node *n, ssh_session s, char **reterr)
{
    if (!n->nhost_key_fps && !n->known_hosts) return 0;
    ssh_key key = NULL;
    _cleanup_free_ char *fp = NULL;
    if (ssh_get_server_publickey(s, &key) == SSH_OK) fp = fingerprint_of(key);
    ssh_key_free(key);
    if (!fp) return err_setf(reterr, -EACCES, "ssh %s:%d: cannot read the host key it presented", n->host, n->port);
    if (n->nhost_key_fps) {
        for (size_t i = 0; i < n->nhost_key_fps; i++)
            if (streq(fp, n->host_key_fps[i])) return 0;
        return err_setf(reterr, -EACCES, "ssh %s:%d presented host key %s, expected %s%s: refused, another machine may be "
                             "answering in its place (fix host_key_fingerprints if the node's key really changed)",
                 n->host, n->port, fp, n->host_key_fps[0], n->nhost_key_fps > 1 ? " or another pinned one" : "");
    }
    enum ssh_known_hosts_e k = ssh_session_is_known_server(s);
    if (k == SSH_KNOWN_HOSTS_OK) return 0;
    _cleanup_free_ char *want = k == SSH_KNOWN_HOSTS_CHANGED ? known_fingerprints(n) : NULL;
    if (k == SSH_KNOWN_HOSTS_CHANGED)
        err_setf(reterr, 0, "ssh %s:%d presented host key %s, expected %s (from %s): refused, another machine may be "
                             "answering in its place",
                 n->host, n->port, fp, want ? want : "the key listed there", n->known_hosts);
    else if (k == SSH_KNOWN_HOSTS_OTHER)
        err_setf(reterr, 0, "ssh %s:%d presented host key %s, of a type %s lists no key of for it: refused",
                 n->host, n->port, fp, n->known_hosts);
    else if (k == SSH_KNOWN_HOSTS_UNKNOWN || k == SSH_KNOWN_HOSTS_NOT_FOUND)
        err_setf(reterr, 0, "ssh %s:%d presented host key %s, which %s does not list for it: refused (add the "
                             "node's key there once you have checked it)",
                 n->host, n->port, fp, n->known_hosts);
    else
        err_setf(reterr, 0, "ssh %s:%d: cannot check its host key against %s: %s", n->host, n->port, n->known_hosts,
                 ssh_get_error(s));
    return -EACCES;
}

/* ssh_connect in non-blocking mode, polled in 50 ms slices so that a SIGINT acts at once: a
 * booting guest's forwarded port accepts the TCP connection long before sshd sends its banner,
 * and a blocking ssh_connect would sit out its whole timeout. 0 (the session blocking again),
 * -EINTR, -ETIMEDOUT after timeout_ms, or -ECONNREFUSED (libssh's error in the session). */
static int connect_interruptible(ssh_session s, int64_t timeout_ms)
{
    ssh_set_blocking(s, 0);
    int64_t deadline = now_ms() + timeout_ms;
    int rc;
    while ((rc = ssh_connect(s)) == SSH_AGAIN) {
        if (kiln_interrupted) return -EINTR;
        if (now_ms() >= deadline) return -ETIMEDOUT;
        socket_t fd = ssh_get_fd(s);
        if (fd != SSH_INVALID_SOCKET) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            poll(&p, 1, 50);
        } else {
            sleep_ms(10);
        }
    }
    ssh_set_blocking(s, 1);
    if (kiln_interrupted) return -EINTR;
    return rc == SSH_OK ? 0 : -ECONNREFUSED;
}

static int try_connect(struct kiln_node *n, char **reterr)
{
    ssh_session s = ssh_new();
    if (!s) return -ENOMEM;
    long t = 10;
    int verbosity = SSH_LOG_NOLOG;
    int no = 0;
    ssh_options_set(s, SSH_OPTIONS_HOST, n->host);
    ssh_options_set(s, SSH_OPTIONS_PORT, &n->port);
    ssh_options_set(s, SSH_OPTIONS_USER, n->user);
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &t);
    ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
    /* without it libssh's ssh_session_is_known_server() says OK for any key (libssh 0.10) */
    int strict = n->known_hosts != NULL;
    ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &strict);
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, n->known_hosts ? n->known_hosts : "/dev/null");
    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    /* Commands are small request/response exchanges: Nagle's algorithm against delayed
     * ACKs would add tens of milliseconds to each one. */
    int yes = 1;
    ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes);
    int cr = connect_interruptible(s, t * 1000);
    if (cr == -EINTR) {
        err_setf(reterr, 0, "ssh %s@%s:%d: interrupted", n->user, n->host, n->port);
        ssh_free(s);
        return -EINTR;
    }
    if (cr < 0) {
        err_setf(reterr, 0, "ssh %s@%s:%d: %s", n->user, n->host, n->port,
                 cr == -ETIMEDOUT ? "no SSH banner in time" : ssh_get_error(s));
        ssh_free(s);
        return -ECONNREFUSED;
    }
    if (check_host_key(n, s, reterr) < 0) {
        ssh_disconnect(s);
        ssh_free(s);
        return -EACCES;
    }
    ssh_key key = NULL;
    if (ssh_pki_import_privkey_file(n->key_path, NULL, NULL, NULL, &key) != SSH_OK) {
        err_setf(reterr, 0, "cannot read private key %s (is it an unencrypted OpenSSH key?)", n->key_path);
        ssh_disconnect(s);
        ssh_free(s);
        return -EACCES;
    }
    int rc = ssh_userauth_publickey(s, NULL, key);
    ssh_key_free(key);
    if (rc != SSH_AUTH_SUCCESS) {
        err_setf(reterr, 0, "ssh %s@%s:%d: public key authentication refused", n->user, n->host, n->port);
        ssh_disconnect(s);
        ssh_free(s);
        return -EPERM;
    }
    n->ssh = s;
    return 0;
}

/* A guest may start sshd a moment before its key lands in authorized_keys (a late cloud-init
 * module): refusals are waited out this long before they are the answer. */
static int auth_grace_s(void)
{
    const char *e = getenv("KILN_AUTH_GRACE_S");
    int v = e ? atoi(e) : 0;
    return v > 0 ? v : 20;
}

int node_connect(struct kiln_node *n, int timeout_s, char **reterr)
{
    node_disconnect(n);
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    int64_t delay = 200;
    err_setf(reterr, 0, "no attempt made");
    for (;;) {
        if (kiln_interrupted) return -EINTR;
        const char *fatal = node_fatal(n);
        if (fatal) {
            return err_setf(reterr, -EHOSTDOWN, "console: %s", fatal);
        }
        int r = try_connect(n, reterr);
        if (r == -EPERM) {
            if (!n->auth_refused_ms) n->auth_refused_ms = now_ms();
            if (now_ms() - n->auth_refused_ms >= (int64_t)auth_grace_s() * 1000) {
                return err_appendf(reterr, -EPERM, " on every attempt for %d s", auth_grace_s());
            }
        } else if (r != -ECONNREFUSED) {
            n->auth_refused_ms = 0;
        }
        if (r == 0) {
            struct kiln_exec e = {0};
            r = exec_internal(n, "true", NULL, 0, 30, &e, 4096, false);
            kiln_exec_free(&e);
            if (r == 0 && e.status == 0) return 0;
            node_disconnect(n);
            err_setf(reterr, 0, "ssh session opened but a command could not run");
        }
        if (r == -EACCES || r == -EINTR) return r;
        if (now_ms() + delay > deadline) return -ETIMEDOUT;
        if (proc_sleep(delay) < 0) return err_setf(reterr, -EINTR, "interrupted");
        delay = MIN(delay * 2, 2000);
    }
}

static void logf_node(struct kiln_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_node(struct kiln_node *n, const char *fmt, ...)
{
    if (!n->log) return;
    va_list ap;
    va_start(ap, fmt);
    secret_vfprintf(n->log, fmt, ap);
    va_end(ap);
}

static void log_stream(struct kiln_node *n, const char *label, const char *text)
{
    if (!text || !*text) return;
    logf_node(n, "  %s:\n", label);
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        _cleanup_free_ char *line = xstrndup(p, len);
        logf_node(n, "    | %s\n", line);
        p += len + (e ? 1 : 0);
    }
}

/* Kills the remote command's process tree and group on a fresh channel. */
static void kill_remote(struct kiln_node *n, long pid)
{
    ssh_channel ch = ssh_channel_new(n->ssh);
    if (!ch) return;
    if (ssh_channel_open_session(ch) == SSH_OK) {
        /* OpenSSH makes the command's shell a process group leader, dropbear does not: stop
         * the whole process tree first (so nothing forks away), then kill it and the group. */
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "s() { kill -STOP \"$1\" 2>/dev/null; for c in $(pgrep -P \"$1\" 2>/dev/null); do s \"$c\"; done; }; "
                 "k() { for c in $(pgrep -P \"$1\" 2>/dev/null); do k \"$c\"; done; kill -KILL \"$1\" 2>/dev/null; }; "
                 "s %ld; k %ld; kill -KILL -- -%ld 2>/dev/null; true",
                 pid, pid, pid);
        if (ssh_channel_request_exec(ch, cmd) == SSH_OK) {
            char buf[256];
            int64_t until = now_ms() + 5000;
            while (!ssh_channel_is_eof(ch) && now_ms() < until)
                if (ssh_channel_read_timeout(ch, buf, sizeof buf, 0, 200) < 0) break;
        }
        ssh_channel_close(ch);
    }
    ssh_channel_free(ch);
}

/* Takes "KILN-PID n\n" off the front of stderr. */
static void take_pid(struct sbuf *err, long *pid)
{
    if (*pid || !err->s) return;
    if (!startswith(err->s, PID_MARK)) {
        if (err->len >= strlen(PID_MARK)) *pid = -1;
        return;
    }
    char *nl = strchr(err->s, '\n');
    if (!nl) return;
    *pid = strtol(err->s + strlen(PID_MARK), NULL, 10);
    size_t skip = (size_t)(nl + 1 - err->s);
    memmove(err->s, nl + 1, err->len - skip + 1);
    err->len -= skip;
}

const char *node_ssh_why(struct ssh_session_struct *s)
{
    const char *e = s ? ssh_get_error(s) : NULL;
    if (e && *e) return e;
    return !s || !ssh_is_connected(s) ? "the session closed (the guest dropped the connection: a crash or a reboot?)"
                                      : "libssh gave no reason";
}

/* A session channel running wrapped; 0, or -ENOTCONN when no channel opened (nothing ran:
 * the caller may reconnect and retry), -ECONNRESET when the exec was refused (n is bad). */
static int open_exec(struct kiln_node *n, const char *wrapped, ssh_channel *out)
{
    ssh_channel ch = ssh_channel_new(n->ssh);
    if (!ch || ssh_channel_open_session(ch) != SSH_OK) {
        logf_node(n, "cannot open an SSH channel: %s\n", node_ssh_why(n->ssh));
        if (ch) ssh_channel_free(ch);
        return -ENOTCONN;
    }
    if (ssh_channel_request_exec(ch, wrapped) != SSH_OK) {
        logf_node(n, "exec request refused: %s\n", node_ssh_why(n->ssh));
        ssh_channel_free(ch);
        n->bad = true;
        return -ECONNRESET;
    }
    *out = ch;
    return 0;
}

/* The command's stdout and stderr as they arrive, each kept to maxout bytes, and the remote
 * pid its wrapper announces on stderr (0 until then). */
struct streams {
    struct sbuf out, err;
    bool capped[2];
    long pid;
    size_t maxout;
};

/* Appends k bytes read from stream is_err, cut at maxout (r->truncated then). */
static void stream_add(struct streams *s, int is_err, const char *buf, size_t k, struct kiln_exec *r)
{
    struct sbuf *b = is_err ? &s->err : &s->out;
    if (s->capped[is_err]) return;
    sbuf_append(b, buf, k);
    if (b->len > s->maxout) {
        /* cut at maxout, never inside a secret: its first bytes would escape the mask */
        b->len = secret_cut(b->s, b->len, s->maxout);
        b->s[b->len] = 0;
        s->capped[is_err] = r->truncated = true;
    }
}

/* Reads both streams until the channel's EOF; 0, or -ECONNRESET (the channel failed), -EINTR
 * (kiln was interrupted), -EHOSTDOWN (the node's fatal watch fired; n is bad) or -ETIMEDOUT
 * (timeout_s passed; r->timed_out). */
static int read_streams(struct kiln_node *n, ssh_channel ch, int timeout_s, struct streams *s, struct kiln_exec *r)
{
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    char buf[65536];
    for (;;) {
        bool progressed = false;
        for (int is_err = 0; is_err < 2; is_err++) {
            int k = ssh_channel_read_nonblocking(ch, buf, sizeof buf, is_err);
            if (k == SSH_ERROR) return -ECONNRESET;
            if (k > 0) {
                stream_add(s, is_err, buf, (size_t)k, r);
                progressed = true;
            }
        }
        take_pid(&s->err, &s->pid);
        if (!progressed && ssh_channel_is_eof(ch)) return 0;
        if (kiln_interrupted) return -EINTR;
        if (node_fatal(n)) {
            n->bad = true;
            return -EHOSTDOWN;
        }
        if (now_ms() >= deadline) {
            r->timed_out = true;
            return -ETIMEDOUT;
        }
        if (!progressed) {
            int p = ssh_channel_poll_timeout(ch, 100, 0);
            if (p == SSH_ERROR) return -ECONNRESET;
            if (p == 0) ssh_channel_poll_timeout(ch, 1, 1);
        }
    }
}

/* The exit status once the channel has reported it (up to 5 s after EOF); -1 if it never does. */
static int exit_status(ssh_channel ch)
{
    int64_t until = now_ms() + 5000;
    int st = -1;
    while ((st = ssh_channel_get_exit_status(ch)) == -1 && now_ms() < until && ssh_channel_is_open(ch))
        ssh_channel_poll_timeout(ch, 50, 0);
    return st;
}

static int run_channel(struct kiln_node *n, const char *wrapped, const void *in, size_t inlen, int timeout_s,
                       struct kiln_exec *r, size_t maxout)
{
    ssh_channel ch;
    int rc = open_exec(n, wrapped, &ch);
    if (rc < 0) return rc;
    size_t off = 0;
    while (off < inlen) {
        int w = ssh_channel_write(ch, (const char *)in + off, (uint32_t)MIN(inlen - off, 65536u));
        if (w < 0) break;
        off += (size_t)w;
    }
    if (in) ssh_channel_send_eof(ch);
    struct streams s = {.maxout = maxout};
    rc = read_streams(n, ch, timeout_s, &s, r);
    if ((rc == -ETIMEDOUT || rc == -EINTR) && s.pid > 0) kill_remote(n, s.pid);
    r->status = rc == 0 ? exit_status(ch) : -1;
    if (rc == -ECONNRESET) n->bad = true;
    ssh_channel_send_eof(ch);
    ssh_channel_close(ch);
    ssh_channel_free(ch);
    take_pid(&s.err, &s.pid);
    r->out = sbuf_steal(&s.out);
    r->err = sbuf_steal(&s.err);
    return rc;
}

static int exec_internal(struct kiln_node *n, const char *cmd, const void *in, size_t inlen, int timeout_s,
                         struct kiln_exec *r, size_t maxout, bool may_reconnect)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    if (!n->ssh) return -ENOTCONN;
    int64_t id = ++n->cmd_seq;
    _cleanup_free_ char *q = shell_quote(cmd);
    /* The remote shell's PID leads its process group (sshd and dropbear start a new session
     * per channel), so "kill -- -PID" ends everything the command started. */
    _cleanup_free_ char *wrapped = xasprintf("printf '" PID_MARK "%%s\\n' $$ >&2; exec sh -c %s", q);
    logf_node(n, "[cmd %lld] $ %s\n", (long long)id, cmd);
    double t0 = now_s();
    int rc = run_channel(n, wrapped, in, inlen, timeout_s, r, maxout);
    if (rc == -ENOTCONN && may_reconnect && !node_fatal(n)) {
        /* The session died before the command started: reconnect once and retry. */
        _cleanup_free_ char *why = NULL;
        logf_node(n, "[cmd %lld] reconnecting\n", (long long)id);
        kiln_exec_free(r);
        if (node_connect(n, 30, &why) == 0) rc = run_channel(n, wrapped, in, inlen, timeout_s, r, maxout);
        else logf_node(n, "[cmd %lld] reconnect failed: %s\n", (long long)id, why);
        if (rc == -ENOTCONN) n->bad = true;
    }
    r->duration_s = now_s() - t0;
    if (rc == 0) logf_node(n, "[cmd %lld] exit %d in %.3fs\n", (long long)id, r->status, r->duration_s);
    else
        logf_node(n, "[cmd %lld] %s after %.3fs\n", (long long)id,
                  rc == -ETIMEDOUT ? "TIMED OUT (remote process group killed)"
                  : rc == -EHOSTDOWN ? "aborted: node console reported a fatal error"
                  : rc == -EINTR ? "interrupted" : "connection lost",
                  r->duration_s);
    if (maxout == MAX_CAPTURE) {
        log_stream(n, "stdout", r->out);
        log_stream(n, "stderr", r->err);
    }
    return rc;
}

#define COUNTERS_END "== kiln-end\n"
int node_read_counters(struct kiln_node *n, int timeout_s, char **out)
{
    *out = NULL;
    if (!n->ssh) return -ENOTCONN;
    if (!n->counters) {
        /* one request per line read; builtins only (dash, bash, busybox ash) */
        static const char *script =
            "while read -r _; do for f in stat meminfo diskstats net/dev sys/kernel/random/boot_id; do "
            "echo \"== $f\"; while IFS= read -r l; do printf '%s\\n' \"$l\"; done < /proc/$f; done; "
            "echo '== kiln-end'; done";
        ssh_channel ch = ssh_channel_new(n->ssh);
        if (!ch) return -ENOTCONN;
        if (ssh_channel_open_session(ch) != SSH_OK || ssh_channel_request_exec(ch, script) != SSH_OK) {
            ssh_channel_free(ch);
            return -EIO;
        }
        n->counters = ch;
    }
    if (ssh_channel_write(n->counters, "\n", 1) != 1) {
        counters_close(n);
        return -EIO;
    }
    struct sbuf b = {0};
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    char buf[16384];
    int rc = -ETIMEDOUT;
    while (now_ms() < deadline) {
        if (kiln_interrupted) {
            rc = -EINTR;
            break;
        }
        int k = ssh_channel_read_timeout(n->counters, buf, sizeof buf, 0, 200);
        if (k < 0 || (k == 0 && ssh_channel_is_eof(n->counters))) {
            rc = -EIO;
            break;
        }
        sbuf_append(&b, buf, (size_t)k);
        if (b.len > (1u << 20)) {
            rc = -EFBIG;
            break;
        }
        if (b.len >= strlen(COUNTERS_END) && streq(b.s + b.len - strlen(COUNTERS_END), COUNTERS_END)) {
            rc = 0;
            break;
        }
    }
    if (rc < 0) {
        /* a reply cut off or late would be read as the next one's: start again */
        counters_close(n);
        sbuf_free(&b);
        return rc;
    }
    *out = sbuf_steal(&b);
    return 0;
}

int node_exec_input(struct kiln_node *n, const char *cmd, const void *in, size_t inlen, int timeout_s,
                    struct kiln_exec *r, size_t maxout)
{
    return exec_internal(n, cmd, in, inlen, timeout_s, r, maxout, true);
}

int node_exec(struct kiln_node *n, const char *cmd, int timeout_s, struct kiln_exec *r)
{
    return node_exec_input(n, cmd, NULL, 0, timeout_s, r, MAX_CAPTURE);
}

void kiln_exec_free(struct kiln_exec *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

int node_upload(struct kiln_node *n, const void *data, size_t len, const char *remote, unsigned mode)
{
    _cleanup_free_ char *q = shell_quote(remote);
    _cleanup_free_ char *dir = path_dirname(remote);
    _cleanup_free_ char *dq = shell_quote(dir);
    _cleanup_free_ char *cmd = xasprintf("mkdir -p %s && cat > %s.kiln-tmp && chmod %o %s.kiln-tmp && mv -f %s.kiln-tmp %s",
                                         dq, q, mode, q, q, q);
    struct kiln_exec r;
    int rc = node_exec_input(n, cmd, data ? data : "", len, 600, &r, 64 * 1024);
    int st = r.status;
    if (rc < 0 || st != 0)
        logf_node(n, "upload of %zu bytes to %s failed: %s%s\n", len, remote, rc < 0 ? strerror(-rc) : "",
                  rc < 0 ? "" : r.err);
    kiln_exec_free(&r);
    if (rc < 0) return rc;
    return st == 0 ? 0 : -EIO;
}

int node_upload_file(struct kiln_node *n, const char *local, const char *remote, unsigned mode)
{
    char *data;
    size_t len;
    int r = read_file(local, 1u << 30, &data, &len);
    if (r < 0) return r;
    r = node_upload(n, data, len, remote, mode);
    free(data);
    return r;
}

int node_download(struct kiln_node *n, const char *remote, size_t max, char **data, size_t *len)
{
    _cleanup_free_ char *q = shell_quote(remote);
    _cleanup_free_ char *cmd = xasprintf("cat %s", q);
    struct kiln_exec r;
    int rc = node_exec_input(n, cmd, NULL, 0, 600, &r, max + 1);
    if (rc == 0 && r.status != 0) rc = -ENOENT;
    size_t outlen = r.out ? strlen(r.out) : 0;
    if (rc == 0 && (outlen > max || r.truncated)) rc = -EFBIG;
    if (rc == 0) {
        *data = r.out;
        if (len) *len = outlen;
        r.out = NULL;
    }
    kiln_exec_free(&r);
    return rc;
}

char *node_host_key_fingerprint(struct kiln_node *n)
{
    if (!n->ssh) return NULL;
    ssh_key key = NULL;
    if (ssh_get_server_publickey(n->ssh, &key) != SSH_OK) return NULL;
    _cleanup_free_ char *f = fingerprint_of(key);
    char *fp = f ? xasprintf("%s %s", ssh_key_type_to_char(ssh_key_type(key)), f) : NULL;
    ssh_key_free(key);
    return fp;
}

int node_read_boot_id(struct kiln_node *n)
{
    char *id = NULL;
    int r = node_download(n, "/proc/sys/kernel/random/boot_id", 128, &id, NULL);
    if (r < 0) return r;
    free(n->boot_id);
    n->boot_id = xstrdup(strstrip(id));
    free(id);
    return 0;
}

void node_note(struct kiln_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    if (!msg) return;
    logf_node(n, "note: %s\n", msg);
    *APPEND(n->notes, n->nnotes, n->capnotes) = msg;
}

/* A reboot is a power cycle where the platform supports it: the QEMU platform runs VMs with
 * -no-reboot, so the guest's reset ends the VM and power_check starts it again on the same
 * disks and firmware variables (under TCG the emulator's own reset path now and then left the
 * machine stuck before its firmware printed a byte). Two hangs are still watched for, each
 * ended by a power cycle that is noted on the case:
 *  - the kernel said it restarts the machine and the machine kept running for REBOOT_STALL_S
 *    (KILN_REBOOT_STALL_S): the guest's reset never reached the hardware;
 *  - after a power-on the console stayed silent for BOOT_SILENT_S although this node wrote to
 *    its console before: the machine hangs before its firmware. */
#define REBOOT_STALL_S 30
#define BOOT_SILENT_S 90
#define MAX_POWER_CYCLES 2
struct reboot_watch {
    int stall_s;
    bool talks;          /* the node wrote to its console before the reboot */
    uint64_t lines;      /* console lines read so far */
    char *restart;       /* the kernel's restart message, once seen */
    int64_t restart_ms;  /* when it was seen */
    int cycles;
};

static void reboot_watch_done(struct reboot_watch *w)
{
    free(w->restart);
}

static bool restart_line(const char *line)
{
    return strstr(line, "reboot: machine restart") || strstr(line, "reboot: Restarting system");
}

static void power_cycle(struct kiln_node *n, struct reboot_watch *w, const char *what)
{
    _cleanup_free_ char *why = NULL;
    w->cycles++;
    int r = n->power_cycle(n, &why);
    const char *said = why ? why : "";
    node_note(n, "%s: %s; %s", n->name, what, r < 0 ? said : "kiln power-cycled the machine");
    log_warn("%s: %s; %s", n->name, what, r < 0 ? said : "power-cycled it");
    free(w->restart);
    w->restart = NULL;
}

static void watch_power(struct kiln_node *n, struct reboot_watch *w)
{
    if (!n->console || !n->power_cycle || w->cycles >= MAX_POWER_CYCLES) return;
    int64_t bytes = -1;
    double up = n->since_power_on ? n->since_power_on(n, &bytes) : -1;
    /* a power-on after the restart message: the machine did reset */
    if (w->restart && up >= 0 && up * 1000 < (double)(now_ms() - w->restart_ms)) {
        free(w->restart);
        w->restart = NULL;
    }
    /* look for the restart message among the lines printed since the last look (other lines
     * may follow it: a daemon still logging shows the machine did not reset either) */
    uint64_t lines = console_lines(n->console);
    if (lines != w->lines && !w->restart) {
        uint64_t fresh = lines - w->lines;
        _cleanup_free_ char *tail = console_tail(n->console, (int)MIN(fresh, (uint64_t)64));
        for (char *l = tail, *nl; l && *l; l = nl ? nl + 1 : NULL) {
            nl = strchr(l, '\n');
            if (nl) *nl = 0;
            if (restart_line(l)) {
                /* the kernel may print more than one such line: the latest counts */
                free(w->restart);
                w->restart = xstrdup(strstrip(l));
                w->restart_ms = now_ms();
            }
            if (!nl) break;
        }
    }
    w->lines = lines;
    if (w->restart && now_ms() - w->restart_ms >= (int64_t)w->stall_s * 1000) {
        _cleanup_free_ char *what = xasprintf("the machine kept running %d s after the kernel's restart message "
                                              "(\"%s\") without resetting", w->stall_s, w->restart);
        power_cycle(n, w, what);
        return;
    }
    if (w->talks && bytes == 0 && up >= BOOT_SILENT_S) {
        _cleanup_free_ char *what = xasprintf("nothing on the console %d s after power-on, although the node wrote to "
                                              "its console on earlier boots", BOOT_SILENT_S);
        power_cycle(n, w, what);
    }
}

/* The wait of node_reboot and node_await_boot: SSH back with a boot id other than before. */
static int await_boot(struct kiln_node *n, const char *before, bool sent, int timeout_s, char **reterr)
{
    uint64_t mark = n->console ? console_mark(n->console) : 0;
    const char *env = getenv("KILN_REBOOT_STALL_S");
    int stall_s = env ? atoi(env) : 0;
    __attribute__((cleanup(reboot_watch_done))) struct reboot_watch w = {.stall_s = stall_s > 0 ? stall_s : REBOOT_STALL_S,
                             .talks = n->console && console_bytes(n->console) > 0,
                             .lines = n->console ? console_lines(n->console) : 0};
    if (sent) {
        /* Detach so the command returns before the connection drops. */
        struct kiln_exec e;
        node_exec(n, "(sleep 1; systemctl reboot 2>/dev/null || reboot) >/dev/null 2>&1 </dev/null &", 30, &e);
        kiln_exec_free(&e);
    }
    node_disconnect(n);
    int64_t started = now_ms();
    int64_t deadline = started + (int64_t)timeout_s * 1000;
    /* node_connect's latest message, kept for the timeout's sentence */
    _cleanup_free_ char *cerr = NULL;
    if (proc_sleep(1000) < 0) return err_setf(reterr, -EINTR, "interrupted");
    while (now_ms() < deadline) {
        if (n->power_check) {
            _cleanup_free_ char *pw = NULL;
            int pr = n->power_check(n, &pw);
            if (pr < 0) {
                return err_setf(reterr, -EIO, "the machine stopped and could not be powered on again: %s", pw ? pw : "");
            }
            if (pr > 0) logf_node(n, "%s: the guest reset the machine; powered on again\n", n->name);
        }
        int left = (int)((deadline - now_ms()) / 1000);
        /* short attempts, so a stopped or stuck machine is noticed in time */
        int r = node_connect(n, MIN(MAX(left, 1), 3), &cerr);
        if (r == -EHOSTDOWN || r == -EINTR || r == -EACCES || r == -EPERM) return err_setf(reterr, r, "%s", cerr);
        if (r == 0) {
            if (node_read_boot_id(n) == 0 && !streq(n->boot_id, before)) {
                /* the connection lost while the machine went down says nothing about the new boot */
                n->bad = false;
                logf_node(n, "%s: back with boot id %s after %.1f s\n", n->name, n->boot_id,
                          (double)(now_ms() - started) / 1000.0);
                return 0;
            }
            node_disconnect(n);
            if (proc_sleep(1000) < 0) return err_setf(reterr, -EINTR, "interrupted");
        } else if (r != -ETIMEDOUT) {
            break;
        }
        watch_power(n, &w);
    }
    /* the console's last line tells a hung firmware or boot from a slow one; what the scanner
     * found since the reboot began (a hung task, an RCU stall, a failed unit) tells why */
    _cleanup_free_ char *tail = n->console ? console_tail(n->console, 1) : NULL;
    const char *line = tail ? strstrip(tail) : "";
    struct sbuf found = {0};
    struct console_event *ev = NULL;
    size_t nev = n->console ? console_events(n->console, mark, &ev) : 0;
    for (size_t i = 0; i < nev && i < 3; i++)
        sbuf_printf(&found, "%s%s: %s", i ? "; " : "", ev[i].pattern, ev[i].line);
    if (nev > 3) sbuf_printf(&found, "; and %zu more", nev - 3);
    console_events_free(ev, nev);
    err_setf(reterr, 0, "node did not come back with a new boot id within %d s (%s)%s%s%s%s", timeout_s, cerr ? cerr : "",
             *line ? "; the console's last line: " : "", line, found.len ? "; the console during the reboot: " : "",
             found.len ? found.s : "");
    sbuf_free(&found);
    return -ETIMEDOUT;
}

int node_reboot(struct kiln_node *n, int timeout_s, char **reterr)
{
    if (!n->boot_id && node_read_boot_id(n) < 0) {
        return err_setf(reterr, -EIO, "cannot read boot id before reboot");
    }
    _cleanup_free_ char *before = xstrdup(n->boot_id);
    return await_boot(n, before, true, timeout_s, reterr);
}

int node_await_boot(struct kiln_node *n, const char *before, int timeout_s, char **reterr)
{
    return await_boot(n, before, false, timeout_s, reterr);
}

/* Whether path names one thing kiln may remove: absolute, not "/", no "." or ".." component
 * (rm -rf of "/opt/../home" would leave /opt). */
static bool leftover_ok(const char *path)
{
    if (path[0] != '/' || !path[1]) return false;
    for (const char *c = path; (c = strchr(c, '/'));) {
        c++;
        size_t len = strcspn(c, "/");
        if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) return false;
    }
    return true;
}

void node_leave_leftover(struct kiln_node *n, const char *path)
{
    if (!leftover_ok(path)) {
        log_warn("%s: %s is not an absolute path without . or ..: kiln will not remove it", n->name, path);
        return;
    }
    if (!strv_find(&n->leftovers, path)) strv_push(&n->leftovers, path);
}

char *node_leftovers_cmd(const struct strv *paths)
{
    if (!paths->n) return NULL;
    struct sbuf cmd = {0};
    sbuf_puts(&cmd, "rm -rf --");
    for (size_t i = 0; i < paths->n; i++) {
        _cleanup_free_ char *q = shell_quote(paths->v[i]);
        sbuf_printf(&cmd, " %s", q);
    }
    /* a parent only when it is one kiln makes (/var/tmp/kiln-ext, /var/tmp/kiln-ltp): not any
     * "kiln-*" of the user's, as ltp.root's parent may be */
    struct strv parents = {0};
    for (size_t i = 0; i < paths->n; i++) {
        _cleanup_free_ char *parent = path_dirname(paths->v[i]);
        if (strncmp(parent, "/var/tmp/kiln-", 14) || !parent[14] || strchr(parent + 14, '/')) continue;
        if (strv_find(&parents, parent)) continue;
        strv_push(&parents, parent);
        _cleanup_free_ char *q = shell_quote(parent);
        sbuf_printf(&cmd, "; rmdir -- %s 2>/dev/null", q);
    }
    strv_clear(&parents);
    sbuf_puts(&cmd, "; true");
    return sbuf_steal(&cmd);
}

void node_remove_leftovers(struct kiln_node *n)
{
    if (!n->leftovers.n || n->bad) return;
    _cleanup_free_ char *cmd = node_leftovers_cmd(&n->leftovers);
    struct kiln_exec e;
    if (node_exec(n, cmd, 60, &e) < 0) log_warn("%s: cannot remove what kiln left there (%s)", n->name, cmd);
    kiln_exec_free(&e);
    strv_clear(&n->leftovers);
}

void node_free(struct kiln_node *n)
{
    if (!n) return;
    node_disconnect(n);
    if (n->console) console_stop(n->console);
    free(n->name);
    free(n->host);
    free(n->user);
    free(n->key_path);
    strv_free(n->host_key_fps, n->nhost_key_fps);
    free(n->known_hosts);
    free(n->dir);
    free(n->boot_id);
    free(n->facts.boot_id);
    strv_free(n->notes, n->nnotes);
    strv_clear(&n->leftovers);
    free(n);
}
