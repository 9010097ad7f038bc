#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/timeutil.h"
#include "util/util.h"

volatile sig_atomic_t kiln_interrupted;

#define MAX_TRACKED 512
static volatile pid_t tracked[MAX_TRACKED];

/* The guardian: a process forked at the first spawn, in a session of its own, that outlives
 * kiln by a moment. kiln tells it each child it starts (+pid) and reaps (-pid) through a socket;
 * when the socket reaches its end (kiln exited or was killed, kill -9 included: nothing of kiln's
 * runs then) it kills the process group of every child still listed. PDEATHSIG alone ends the
 * child itself, not what it started in its group (mmdebstrap's apt and dpkg, a script's
 * background jobs). Its code runs no malloc or stdio: it was forked from a threaded process. */
static int guard_fd = -1;
static pid_t guard_pid, guard_owner; /* the guardian, and the process that started it */
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void __attribute__((noreturn)) guard_loop(int rfd)
{
    pid_t pids[MAX_TRACKED] = {0};
    int32_t msg;
    for (;;) {
        ssize_t n = read(rfd, &msg, sizeof msg);
        if (n < 0 && errno == EINTR) continue;
        if (n != (ssize_t)sizeof msg) break;
        pid_t want = msg > 0 ? 0 : -msg, put = msg > 0 ? msg : 0;
        for (int i = 0; i < MAX_TRACKED; i++)
            if (pids[i] == want) {
                pids[i] = put;
                break;
            }
    }
    for (int i = 0; i < MAX_TRACKED; i++)
        if (pids[i] > 0) {
            kill(-pids[i], SIGKILL);
            kill(pids[i], SIGKILL);
        }
    _exit(0);
}

/* At kiln's exit: the socket's end tells the guardian, which exits at once (every child was
 * reaped), and kiln reaps it (waiting at most a second), so that no `[kiln] <defunct>` is left
 * for an init that reaps late or never. A forked child running exit handlers is not its parent. */
static void guard_stop(void)
{
    if (guard_fd < 0 || guard_pid <= 0 || getpid() != guard_owner) return;
    close(guard_fd);
    guard_fd = -1;
    for (int i = 0; i < 100; i++) {
        pid_t w = waitpid(guard_pid, NULL, WNOHANG);
        if (w == guard_pid || (w < 0 && errno != EINTR)) return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void guard_start(void)
{
    int fds[2];
    /* a socket pair, not a pipe: kiln sends with MSG_NOSIGNAL, so a guardian that is gone
     * (killed by hand) costs kiln no SIGPIPE */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_IGN);
        int rfd = fds[0] == 3 ? 3 : dup2(fds[0], 3);
        close_range(4, ~0u, 0);
        close(0), close(1), close(2);
        if (rfd != 3) _exit(1);
        guard_loop(3);
    }
    close(fds[0]);
    if (pid < 0) close(fds[1]);
    else {
        guard_fd = fds[1];
        guard_pid = pid;
        guard_owner = getpid();
        atexit(guard_stop);
    }
}

static void guard_tell(int32_t msg)
{
    if (guard_fd >= 0 && send(guard_fd, &msg, sizeof msg, MSG_NOSIGNAL) < 0) {
        /* the guardian is gone: PDEATHSIG still ends the children themselves */
    }
}

static void track(pid_t pid)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (__sync_bool_compare_and_swap(&tracked[i], 0, pid)) {
            guard_tell(pid);
            return;
        }
}

static void untrack(pid_t pid)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (__sync_bool_compare_and_swap(&tracked[i], pid, 0)) {
            guard_tell(-pid);
            return;
        }
}

void proc_kill_all(void)
{
    for (int i = 0; i < MAX_TRACKED; i++) {
        pid_t p = tracked[i];
        if (p > 0) {
            kill(-p, SIGKILL);
            kill(p, SIGKILL);
        }
    }
}

void proc_test_pause(const char *point)
{
    const char *want = getenv("KILN_TEST_PAUSE");
    if (!want || !streq(want, point)) return;
    raise(SIGSTOP);
    /* the test's signal came before its SIGCONT, but another thread (a build's tree removal) may
     * take it, its handler running a moment after this thread goes on to check kiln_interrupted:
     * 6 of 200 pauses missed it. Wait for the handler (at most 2 s; a test that sends no signal
     * waits that long). */
    for (int i = 0; i < 200 && !kiln_interrupted; i++) sleep_ms(10);
}

int proc_start_time(pid_t pid, unsigned long long *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n <= 0) return n < 0 ? -e : -EIO;
    buf[n] = 0;
    /* the command name (field 2) may hold spaces and parentheses: count from its last ')' */
    char *p = strrchr(buf, ')');
    if (!p) return -EIO;
    p++;
    for (int field = 3; field < 22 && p; field++) p = strchr(p + 1, ' ');
    if (!p || sscanf(p, " %llu", ticks) != 1) return -EIO;
    return 0;
}

static void on_signal(int sig)
{
    if (kiln_interrupted) {
        proc_kill_all();
        _exit(128 + sig);
    }
    kiln_interrupted = sig;
}

int proc_sleep(int64_t ms)
{
    for (int64_t end = now_ms() + ms;;) {
        if (kiln_interrupted) return -EINTR;
        int64_t left = end - now_ms();
        if (left <= 0) return 0;
        sleep_ms(MIN(left, 50));
    }
}

void proc_install_signal_handlers(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int proc_spawn(char *const argv[], int in_fd, int out_fd, int err_fd, pid_t *pidp)
{
    return proc_spawn_env(argv, NULL, in_fd, out_fd, err_fd, pidp);
}

char **proc_env_set(char *const env[], const char *name, const char *value)
{
    if (!env) env = environ;
    size_t n = 0, len = strlen(name);
    while (env[n]) n++;
    char **out = xcalloc(n + 2, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], name, len) || env[i][len] != '=') out[k++] = xstrdup(env[i]);
    out[k] = xasprintf("%s=%s", name, value);
    return out;
}

void proc_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++) free(env[i]);
    free(env);
}

int proc_spawn_env(char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd, pid_t *pidp)
{
    /* every local user reads a process's arguments (ps, /proc/PID/cmdline) */
    for (size_t i = 1; argv[i]; i++)
        if (secret_contains(argv[i]))
            return log_error_errno(EPERM, "refusing to start %s: its argument %zu holds a secret, which any local user "
                                          "could read; secrets go to other processes in files",
                                   argv[0], i);
    pthread_once(&guard_once, guard_start);
    pid_t parent = getpid();
    int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nullfd < 0) return -errno;
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        close(nullfd);
        return -errno;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(nullfd);
        close(errpipe[0]);
        close(errpipe[1]);
        return -e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        dup2(in_fd >= 0 ? in_fd : nullfd, 0);
        dup2(out_fd >= 0 ? out_fd : nullfd, 1);
        dup2(err_fd >= 0 ? err_fd : nullfd, 2);
        execvpe(argv[0], argv, envp ? envp : environ);
        int e = errno;
        if (write(errpipe[1], &e, sizeof e) < 0) _exit(127);
        _exit(127);
    }
    close(errpipe[1]);
    close(nullfd);
    int childerr = 0;
    ssize_t n = read(errpipe[0], &childerr, sizeof childerr);
    close(errpipe[0]);
    if (n == sizeof childerr) {
        waitpid(pid, NULL, 0);
        return -childerr;
    }
    setpgid(pid, pid);
    track(pid);
    *pidp = pid;
    return 0;
}

int proc_wait(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
    int delay = 1;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            untrack(pid);
            if (status) *status = st;
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            untrack(pid);
            return -errno;
        }
        if (now_ms() >= deadline) return -ETIMEDOUT;
        sleep_ms(delay);
        if (delay < 50) delay *= 2;
    }
}

void proc_kill(pid_t pid, int grace_ms)
{
    if (pid <= 0) return;
    kill(-pid, SIGTERM);
    kill(pid, SIGTERM);
    if (proc_wait(pid, grace_ms, NULL) == 0) return;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    proc_wait(pid, -1, NULL);
}

/* Runs argv, capturing its stdout (and its stderr when with_err) into *output, at most max
 * bytes: past that the rest is dropped (overflow unset) or the child killed and -E2BIG
 * returned (overflow set). */
static int run_capture(char *const argv[], char *const envp[], int timeout_ms, size_t max, bool with_err, bool *overflow,
                       char **output)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return -errno;
    pid_t pid;
    int r = proc_spawn_env(argv, envp, -1, fds[1], with_err ? fds[1] : -1, &pid);
    close(fds[1]);
    if (r < 0) {
        close(fds[0]);
        return r;
    }
    struct sbuf out = {0};
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0 || kiln_interrupted || (overflow && *overflow)) {
            close(fds[0]);
            proc_kill(pid, 1000);
            sbuf_free(&out);
            return kiln_interrupted ? -EINTR : overflow && *overflow ? -E2BIG : -ETIMEDOUT;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&p, 1, (int)MIN(left, 200));
        if (pr < 0 && errno != EINTR) break;
        if (pr <= 0) continue;
        char buf[4096];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        if (out.len + (size_t)n <= max) sbuf_append(&out, buf, (size_t)n);
        else if (overflow) *overflow = true;
        else if (out.len < max) sbuf_append(&out, buf, max - out.len);
    }
    close(fds[0]);
    int st = 0;
    r = proc_wait(pid, (int)MAX(deadline - now_ms(), 1000), &st);
    if (r < 0) {
        proc_kill(pid, 1000);
        sbuf_free(&out);
        return r;
    }
    if (output) *output = sbuf_steal(&out);
    else sbuf_free(&out);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

int proc_run(char *const argv[], int timeout_ms, char **output)
{
    return run_capture(argv, NULL, timeout_ms, 16u << 20, true, NULL, output);
}

int proc_run_env(char *const argv[], char *const envp[], int timeout_ms, char **output)
{
    return run_capture(argv, envp, timeout_ms, 16u << 20, true, NULL, output);
}

int proc_run_stdout(char *const argv[], int timeout_ms, size_t max, char **output)
{
    bool overflow = false;
    return run_capture(argv, NULL, timeout_ms, max, false, &overflow, output);
}
