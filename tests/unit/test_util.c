#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform/qmp.h"
#include "tap.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parallel.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/util.h"

/* open_beside: a planted symlink under a guessable temp name is never written through, and
 * an output that is a device, FIFO or directory is refused rather than replaced. */
static void test_open_beside(void)
{
    char dir[] = "/tmp/kiln-util-XXXXXX";
    if (!mkdtemp(dir)) return;
    _cleanup_free_ char *victim = path_join(dir, "victim"), *out = path_join(dir, "out");
    write_file_atomic(victim, "keep\n", 5, 0644);
    _cleanup_free_ char *planted = xasprintf("%s.tmp.%d", out, (int)getpid());
    symlink(victim, planted);
    is_int(write_file_atomic(out, "secret\n", 7, 0600), 0, "write beside a planted symlink");
    char *got = NULL;
    read_file(victim, 64, &got, NULL);
    is_str(got, "keep\n", "the symlink's target is untouched");
    free(got);
    struct stat st;
    ok(lstat(out, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600, "out is a regular 0600 file");
    _cleanup_free_ char *fifo = path_join(dir, "fifo");
    mkfifo(fifo, 0600);
    is_int(write_file_atomic(fifo, "x", 1, 0644), -EEXIST, "a FIFO at the output: refused");
    ok(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "and left as it was");
    is_int(write_file_atomic(dir, "x", 1, 0644), -EEXIST, "a directory at the output: refused");
    unlink(planted);
    rm_rf(dir);
}

/* mkdir_p: a name taken by something other than a directory is -ENOTDIR (errno too, as
 * callers print strerror(errno)), at the end of the path or in the middle; an existing
 * directory, or a symlink to one, is fine. kiln build --out FILE once ran every stage first. */
static void test_mkdir_p(void)
{
    char dir[] = "/tmp/kiln-util-XXXXXX";
    if (!mkdtemp(dir)) return;
    _cleanup_free_ char *file = path_join(dir, "out"), *under = path_join(dir, "out/sub/x");
    _cleanup_free_ char *d = path_join(dir, "d"), *ln = path_join(dir, "ln"), *viald = path_join(dir, "ln/new");
    write_file_atomic(file, "keep\n", 5, 0644);
    errno = 0;
    is_int(mkdir_p(file, 0755), -ENOTDIR, "a file at the path: -ENOTDIR");
    is_int(errno, ENOTDIR, "and errno says so");
    is_int(mkdir_p(under, 0755), -ENOTDIR, "a file as a parent: -ENOTDIR");
    is_int(mkdir_p("", 0755), -ENOENT, "an empty path: -ENOENT, as mkdir(\"\") (it read past the string: hostile finding)");
    char *got = NULL;
    read_file(file, 64, &got, NULL);
    is_str(got, "keep\n", "the file is left as it was");
    free(got);
    is_int(mkdir_p(d, 0755), 0, "a new directory");
    is_int(mkdir_p(d, 0755), 0, "an existing directory");
    symlink("d", ln);
    is_int(mkdir_p(viald, 0755), 0, "through a symlink to a directory");
    struct stat st;
    _cleanup_free_ char *real = path_join(dir, "d/new");
    ok(stat(real, &st) == 0 && S_ISDIR(st.st_mode), "made in the link's target");
    _cleanup_free_ char *dangling = path_join(dir, "dangling");
    symlink("nowhere", dangling);
    is_int(mkdir_p(dangling, 0755), -ENOENT, "a dangling symlink: -ENOENT");
    rm_rf(dir);
}

/* open_regular / read_file: a FIFO with no writer, a device or a directory is refused at once
 * (the open of a FIFO used to block until a writer came), a link only when nofollow says so. */
static void test_open_regular(void)
{
    char dir[] = "/tmp/kiln-util-XXXXXX";
    if (!mkdtemp(dir)) return;
    _cleanup_free_ char *fifo = path_join(dir, "fifo"), *file = path_join(dir, "file"), *link = path_join(dir, "link");
    _cleanup_free_ char *devlink = path_join(dir, "zero");
    mkfifo(fifo, 0600);
    write_file_atomic(file, "data", 4, 0644);
    symlink(file, link);
    symlink("/dev/zero", devlink);
    char *data = NULL;
    is_int(read_file(fifo, 100, &data, NULL), -ENOTREG, "read_file of a FIFO: -ENOTREG, not a wait for a writer");
    is_int(read_file("/dev/zero", 100, &data, NULL), -ENOTREG, "of a character device: -ENOTREG");
    is_int(read_file(devlink, 100, &data, NULL), -ENOTREG, "of a link to a device: -ENOTREG");
    is_int(read_file(dir, 100, &data, NULL), -EISDIR, "of a directory: -EISDIR");
    is_str(fs_strerror(-ENOTREG), "not a regular file (a FIFO, device or socket)", "worded for people");
    struct stat st;
    int fd = open_regular(link, false, &st);
    ok(fd >= 0 && st.st_size == 4 && !(fcntl(fd, F_GETFL) & O_NONBLOCK), "a link to a file is followed by default, "
                                                                          "and the fd blocks again");
    if (fd >= 0) close(fd);
    is_int(open_regular(link, true, NULL), -ELOOP, "with nofollow, a link: -ELOOP");
    ok(read_file(link, 100, &data, NULL) == 0 && streq(data, "data"), "read_file reads through a link to a file");
    free(data);
    data = NULL;
    is_int(read_regular(link, true, 100, &data, NULL), -ELOOP, "read_regular with nofollow: a link to a file is -ELOOP");
    ok(!data, "and nothing is read");
    ok(read_regular(file, true, 100, &data, NULL) == 0 && streq(data, "data"), "the file itself is read");
    free(data);
    /* the messages name the kind of file and what to do, never a raw errno string */
    _cleanup_free_ char *m1 = fs_open_error(fifo, -ENOTREG, "replace it");
    _cleanup_free_ char *w1 = xasprintf("%s is a FIFO, not a regular file: replace it", fifo);
    is_str(m1, w1, "fs_open_error of a FIFO");
    _cleanup_free_ char *m2 = fs_open_error(link, -ELOOP, "replace it");
    _cleanup_free_ char *w2 = xasprintf("%s is a symbolic link, not a regular file: replace it", link);
    is_str(m2, w2, "of a link refused by nofollow");
    _cleanup_free_ char *m3 = fs_open_error(devlink, -ENOTREG, NULL);
    _cleanup_free_ char *w3 = xasprintf("%s is a character device, not a regular file", devlink);
    is_str(m3, w3, "of a link to a device: the device, no fix given");
    _cleanup_free_ char *m4 = fs_open_error(dir, -EISDIR, "pass a file");
    _cleanup_free_ char *w4 = xasprintf("%s is a directory, not a regular file: pass a file", dir);
    is_str(m4, w4, "of a directory");
    _cleanup_free_ char *gone = path_join(dir, "gone");
    _cleanup_free_ char *m5 = fs_open_error(gone, -ENOENT, "pass a file");
    _cleanup_free_ char *w5 = xasprintf("cannot read %s: No such file or directory", gone);
    is_str(m5, w5, "other errors: strerror, and no fix");
    rm_rf(dir);
}

struct pfor_probe {
    int calls[1000];
    long square[1000];
    int running, most;
};

static void pfor_count(size_t i, void *arg)
{
    struct pfor_probe *p = arg;
    int now = __atomic_add_fetch(&p->running, 1, __ATOMIC_SEQ_CST), seen = __atomic_load_n(&p->most, __ATOMIC_SEQ_CST);
    while (now > seen && !__atomic_compare_exchange_n(&p->most, &seen, now, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
    __atomic_add_fetch(&p->calls[i], 1, __ATOMIC_SEQ_CST);
    p->square[i] = (long)i * (long)i;
    usleep(i % 7 == 0 ? 200 : 0); /* uneven items, so the workers interleave */
    __atomic_sub_fetch(&p->running, 1, __ATOMIC_SEQ_CST);
}

/* parallel_for: every index exactly once with its own result, never more calls at a time than
 * the bound, nothing for n = 0. */
static void test_parallel_for(void)
{
    const unsigned bounds[] = {0, 1, 2, 8};
    for (size_t b = 0; b < sizeof bounds / sizeof *bounds; b++) {
        struct pfor_probe *p = xcalloc(1, sizeof *p);
        parallel_for(1000, bounds[b], pfor_count, p);
        int once = 0;
        long sum = 0;
        for (int i = 0; i < 1000; i++) once += p->calls[i] == 1, sum += p->square[i];
        is_int(once, 1000, "parallel_for: each of 1000 indices called exactly once");
        is_int(sum, 332833500, "parallel_for: each result in its own slot (sum of i^2 for i < 1000)");
        ok(p->most >= 1 && p->most <= (int)(bounds[b] ? bounds[b] : 1), "parallel_for with bound %u: at most %u calls "
           "at a time (saw %d)", bounds[b], bounds[b] ? bounds[b] : 1, p->most);
        free(p);
    }
    struct pfor_probe *p = xcalloc(1, sizeof *p);
    parallel_for(0, 2, pfor_count, p);
    is_int(p->most, 0, "parallel_for over nothing calls nothing");
    free(p);
}

/* proc_env_set / proc_spawn_env: a child gets the variables it is given, kiln's own
 * environment stays as it was. */
static void test_proc_env(void)
{
    unsetenv("KILN_TEST_ENV");
    char **e1 = proc_env_set(NULL, "KILN_TEST_ENV", "one");
    char **e2 = proc_env_set(e1, "KILN_TEST_ENV", "two");
    int n = 0, path = 0;
    for (size_t i = 0; e2[i]; i++) n += startswith(e2[i], "KILN_TEST_ENV="), path += startswith(e2[i], "PATH=");
    ok(n == 1 && path == (getenv("PATH") ? 1 : 0), "proc_env_set replaces the variable and keeps the others");
    int fds[2];
    ok(pipe(fds) == 0, "pipe");
    char *argv[] = {"sh", "-c", "echo \"$KILN_TEST_ENV\"", NULL};
    pid_t pid;
    is_int(proc_spawn_env(argv, e2, -1, fds[1], fds[1], &pid), 0, "proc_spawn_env starts the child");
    close(fds[1]);
    char buf[64] = {0};
    ssize_t got = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    proc_wait(pid, 5000, NULL);
    is_str(got > 0 ? buf : "", "two\n", "the child sees the variable it was given");
    ok(getenv("KILN_TEST_ENV") == NULL, "kiln's own environment is unchanged");
    proc_env_free(e1);
    proc_env_free(e2);
}

/* strv keeps copies in order and finds by value; strset interns: one stored copy per value,
 * the same address each time, from any thread. */
struct intern_arg {
    struct strset *set;
    const char *got[100];
};

static void *intern_many(void *p)
{
    struct intern_arg *a = p;
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i % 10);
        a->got[i] = strset_intern(a->set, name);
    }
    return NULL;
}

static void test_strv(void)
{
    struct strv sv = {0};
    char word[] = "alpha";
    strv_push(&sv, word);
    word[0] = 'A';
    strv_consume(&sv, xstrdup("beta"));
    is_int(sv.n, 2, "strv: two strings");
    is_str(sv.v[0], "alpha", "strv_push keeps a copy, not the caller's buffer");
    is_str(strv_find(&sv, "beta"), "beta", "strv_find by value");
    ok(strv_find(&sv, "gamma") == NULL, "strv_find: NULL when absent");
    strv_clear(&sv);
    ok(sv.n == 0 && sv.v == NULL && sv.cap == 0, "strv_clear leaves an empty vector");
    strv_push(&sv, "again");
    is_str(sv.v[0], "again", "a cleared vector is reusable");
    strv_clear(&sv);
    strv_free(NULL, 3);
    char **v = xcalloc(3, sizeof *v);
    v[0] = xstrdup("x"), v[2] = xstrdup("z");
    strv_free(v, 3); /* a NULL entry in the middle: ASan says whether all was freed */
    ok(true, "strv_free of NULL and of an array with a NULL entry");

    struct strset set = STRSET_INIT;
    struct intern_arg a[2] = {{.set = &set}, {.set = &set}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, intern_many, &a[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    is_int(set.sv.n, 10, "strset: ten values interned by two threads, each stored once");
    bool same = true;
    for (int i = 0; i < 100; i++) same = same && a[0].got[i] == a[1].got[i] && a[0].got[i] == strset_intern(&set, a[0].got[i]);
    ok(same, "strset_intern: one address per value, whichever thread asks");
    ok(strset_contains(&set, "f3") && !strset_contains(&set, "f10"), "strset_contains");
    strset_clear(&set);
    ok(!strset_contains(&set, "f3") && set.sv.n == 0, "strset_clear empties the set");
}

/* parallel_for: every index exactly once, whatever the thread count (0 and more threads than
 * items included), and the work really spread when there are threads. */
struct pf_ctx {
    int done[1000];
    pthread_t who[1000];
};

static void pf_mark(size_t i, void *arg)
{
    struct pf_ctx *c = arg;
    __atomic_add_fetch(&c->done[i], 1, __ATOMIC_SEQ_CST);
    c->who[i] = pthread_self();
    if (i < 4) usleep(20000); /* slow items: the other thread takes the rest meanwhile */
}

static void test_parallel_for_spread(void)
{
    static const unsigned threads[] = {0, 1, 2, 8};
    static const size_t counts[] = {0, 1, 3, 1000};
    for (size_t t = 0; t < ARRAY_SIZE(threads); t++)
        for (size_t k = 0; k < ARRAY_SIZE(counts); k++) {
            static struct pf_ctx c;
            memset(&c, 0, sizeof c);
            parallel_for(counts[k], threads[t], pf_mark, &c);
            bool once = true;
            for (size_t i = 0; i < ARRAY_SIZE(c.done); i++) once = once && c.done[i] == (i < counts[k]);
            ok(once, "parallel_for(%zu items, %u threads): each index once, none past the end", counts[k], threads[t]);
        }
    static struct pf_ctx c;
    memset(&c, 0, sizeof c);
    parallel_for(1000, 2, pf_mark, &c);
    bool two = false;
    for (size_t i = 1; i < 1000; i++) two = two || !pthread_equal(c.who[i], c.who[0]);
    ok(two, "two threads share 1000 items (the caller is one of them)");
}

/* err_setf / err_appendf: the message comes through whole however long (the old char why[256]
 * buffers cut it silently), a later message replaces an earlier one, and a NULL reterr only
 * returns the code. */
static void test_err(void)
{
    char long_path[4097];
    memset(long_path, 'p', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = 0;
    char *e = NULL;
    is_int(err_setf(&e, -ENOENT, "cannot open %s: %s", long_path, strerror(ENOENT)), -ENOENT, "err_setf returns r");
    _cleanup_free_ char *want = xasprintf("cannot open %s: No such file or directory", long_path);
    is_str(e, want, "a 4 KiB path comes through whole");
    is_int((int)strlen(e), (int)strlen("cannot open : No such file or directory") + 4096, "every byte of it");
    is_int(err_setf(&e, -EINVAL, "second: %s", e), -EINVAL, "a message may quote the one it replaces");
    _cleanup_free_ char *want2 = xasprintf("second: %s", want);
    is_str(e, want2, "which it then replaces");
    is_int(err_appendf(&e, -EIO, " (%d tries)", 3), -EIO, "err_appendf returns r");
    _cleanup_free_ char *want3 = xasprintf("%s (3 tries)", want2);
    is_str(e, want3, "and adds to the end");
    free(e);
    e = NULL;
    is_int(err_appendf(&e, 0, "first %s", "words"), 0, "err_appendf with no message yet");
    is_str(e, "first words", "sets it");
    free(e);
    is_int(err_setf(NULL, -EPERM, "nobody reads %s", "this"), -EPERM, "a NULL reterr: only the code");
    is_int(err_appendf(NULL, -EPERM, "nor %s", "this"), -EPERM, "for err_appendf too");
}

/* A hash that reports how far it is: each piece, ending at the file's size, and the same
 * digest as without (kiln submit says how far a long hash is). */
static uint64_t seen_done[8];
static size_t nseen;
static bool on_progress(uint64_t done, void *ctx)
{
    if (nseen < 8) seen_done[nseen] = done;
    nseen++;
    return !ctx || nseen < *(size_t *)ctx; /* ctx: stop after that many pieces */
}

static void test_hash_progress(void)
{
    char p[] = "/tmp/kiln-test-hash-XXXXXX", a[65], b[65];
    int fd = mkstemp(p);
    ok(fd >= 0 && ftruncate(fd, (9 << 20) + 5) == 0, "a 9 MiB + 5 file");
    close(fd);
    uint64_t size = 0;
    is_int(sha256_file_hex_progress(p, a, &size, on_progress, NULL), 0, "hashed with progress");
    is_int(sha256_file_hex(p, b, NULL), 0, "hashed without");
    is_str(a, b, "the same digest");
    ok(size == (9u << 20) + 5, "every byte read");
    ok(nseen == 3 && seen_done[0] == 4u << 20 && seen_done[1] == 8u << 20 && seen_done[2] == size,
       "progress after each 4 MiB piece and at the end (%zu calls)", nseen);
    /* a progress that says stop (a build interrupted while it hashes gigabytes) */
    size_t stop_after = 1;
    nseen = 0;
    is_int(sha256_file_hex_progress(p, a, &size, on_progress, &stop_after), -ECANCELED, "progress saying stop: -ECANCELED");
    ok(nseen == 1 && size == 4u << 20, "stopped after the first piece (%zu calls, %llu bytes)", nseen, (unsigned long long)size);
    unlink(p);
}

/* Runs fn in a child with kiln_interrupted set and a 10 s alarm: true when it returned (its
 * exit status 0) rather than waiting on until the alarm killed it. */
static bool returns_when_interrupted(bool (*fn)(const char *), const char *arg)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10);
        kiln_interrupted = SIGINT;
        _exit(fn(arg) ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool qmp_open_fails(const char *sock)
{
    struct qmp *q = qmp_open(sock, 60000);
    if (q) qmp_close(q);
    return q == NULL;
}

static bool sleep_interrupted(const char *unused)
{
    (void)unused;
    return proc_sleep(60000) == -EINTR;
}

/* Wait loops of node/ and platform/ end once kiln is interrupted (review finding: SIGINT while
 * a VM booted took about 8 s to act): proc_sleep, and QMP's connect and greeting waits, which
 * otherwise wait 60 s for a socket that never appears and 30 s for a greeting that never comes. */
static void test_waits_interrupted(void)
{
    char dir[] = "/tmp/kiln-test-qmp-XXXXXX";
    if (!ok(mkdtemp(dir) != NULL, "qmp: a temporary directory")) return;
    _cleanup_free_ char *missing = path_join(dir, "missing.sock"), *mute = path_join(dir, "mute.sock");
    ok(returns_when_interrupted(sleep_interrupted, NULL), "proc_sleep: -EINTR at once when interrupted");
    ok(returns_when_interrupted(qmp_open_fails, missing), "qmp: no waiting for a socket once interrupted");
    /* a listener that never accepts nor greets: connect succeeds (the backlog), the greeting never comes */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", mute);
    ok(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 4) == 0, "qmp: a mute listener");
    ok(returns_when_interrupted(qmp_open_fails, mute), "qmp: no waiting for a greeting once interrupted");
    if (fd >= 0) close(fd);
    rm_rf(dir);
}

/* Whether process pid is gone (or a zombie nobody reaped yet: dead all the same). */
static bool process_gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return true;
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* kill -9 of kiln ends what its children started too (review item: helpers left running after
 * kill -9): a stand-in kiln spawns sh, which starts a background sleep in its process group;
 * once the stand-in is killed with -9, PDEATHSIG ends sh and the guardian the sleep. */
static void test_guardian(void)
{
    char dir[] = "/tmp/kiln-test-guard-XXXXXX";
    if (!ok(mkdtemp(dir) != NULL, "guardian: a temporary directory")) return;
    _cleanup_free_ char *pidfile = path_join(dir, "sleep.pid");
    _cleanup_free_ char *script = xasprintf("sleep 300 & echo $! > %s; wait", pidfile);
    pid_t k = fork();
    if (k == 0) {
        char *argv[] = {"sh", "-c", script, NULL};
        pid_t p;
        if (proc_spawn(argv, -1, -1, -1, &p) < 0) _exit(1);
        for (;;) pause();
    }
    pid_t g = 0;
    for (int i = 0; i < 200 && g <= 0; i++) {
        _cleanup_free_ char *text = NULL;
        if (read_file(pidfile, 64, &text, NULL) == 0 && strchr(text, '\n')) g = atoi(text);
        else sleep_ms(50);
    }
    if (!ok(g > 0, "guardian: the grandchild started")) {
        kill(k, SIGKILL), waitpid(k, NULL, 0), rm_rf(dir);
        return;
    }
    kill(k, SIGKILL);
    waitpid(k, NULL, 0);
    bool gone = false;
    for (int i = 0; i < 200 && !(gone = process_gone(g)); i++) sleep_ms(50);
    ok(gone, "guardian: kill -9 of kiln ended the sleep its child started (pid %d)", (int)g);
    if (!gone) kill(g, SIGKILL);
    rm_rf(dir);
}

/* fd_copy_sparse (the package cache's and the gallery's copies): the bytes, a zero block left a
 * hole, a tail of zeros kept as size, a bound that stops the copy with -EFBIG. */
static void test_copy_sparse(void)
{
    char a[] = "/tmp/kiln-test-copy-a-XXXXXX", b[] = "/tmp/kiln-test-copy-b-XXXXXX";
    int in = mkstemp(a), out = mkstemp(b);
    uint8_t *data = xcalloc(1, 3 << 20);
    memcpy(data, "head", 4);
    memcpy(data + (2 << 20), "middle", 6); /* zeros around it, and 1 MiB of zeros at the end */
    ok(in >= 0 && out >= 0 && fd_write_all(in, data, 3 << 20) == 0 && lseek(in, 0, SEEK_SET) == 0, "a 3 MiB file");
    uint64_t copied = 0;
    bool on_write = true;
    is_int(fd_copy_sparse(in, out, UINT64_MAX, &copied, &on_write), 0, "copied");
    ok(copied == 3u << 20 && !on_write, "every byte (%llu)", (unsigned long long)copied);
    _cleanup_free_ char *got = NULL;
    size_t len = 0;
    struct stat st;
    ok(read_file(b, 4 << 20, &got, &len) == 0 && len == 3u << 20 && !memcmp(got, data, len), "the same bytes, tail zeros included");
    bool st_ok = fstat(out, &st) == 0;
    ok(st_ok && (uint64_t)st.st_blocks * 512 < (1u << 20), "zero blocks are holes (%lld bytes stored)",
       st_ok ? (long long)st.st_blocks * 512 : -1LL);
    int out2 = open(b, O_WRONLY | O_TRUNC);
    ok(lseek(in, 0, SEEK_SET) == 0 && out2 >= 0, "again, bounded");
    is_int(fd_copy_sparse(in, out2, 1 << 20, NULL, &on_write), -EFBIG, "more than max: -EFBIG");
    ok(!on_write, "a bound is not the output's fault");
    close(in), close(out), close(out2);
    unlink(a), unlink(b);
    free(data);
}

/* kiln reaps its guardian at exit: a stand-in kiln (K) spawns and reaps one child, so that it
 * has a guardian, and exits. Its parent S is a subreaper, as init is to kiln: an orphaned
 * guardian would become S's child (the fresh user's `[kiln] <defunct>`); none may. */
static void test_guardian_reaped(void)
{
    pid_t s = fork();
    if (s == 0) {
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) _exit(3);
        pid_t k = fork();
        if (k == 0) {
            char *argv[] = {"true", NULL};
            pid_t p;
            int st;
            if (proc_spawn(argv, -1, -1, -1, &p) < 0 || proc_wait(p, 10000, &st) < 0) _exit(2);
            exit(0); /* exit handlers: the guardian's end and reaping */
        }
        int st = 0;
        if (waitpid(k, &st, 0) != k || !WIFEXITED(st) || WEXITSTATUS(st)) _exit(2);
        pid_t left = waitpid(-1, NULL, WNOHANG); /* -1 (ECHILD): no orphan came to S */
        while (waitpid(-1, NULL, 0) > 0) {}
        _exit(left < 0 && errno == ECHILD ? 0 : 1);
    }
    int st = 0;
    waitpid(s, &st, 0);
    is_int(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st), 0,
           "guardian: kiln's exit reaps it (none left for init; 1: it was orphaned)");
}

/* A sparse file's digest is its bytes' (the holes are hashed as the zeros they read as, from a
 * buffer of zeros rather than read()): data between holes, at a piece's edge and in the tail. */
static void test_hash_sparse(void)
{
    char p[] = "/tmp/kiln-test-sparse-XXXXXX", q[] = "/tmp/kiln-test-dense-XXXXXX", a[65], b[65];
    int fd = mkstemp(p), fd2 = mkstemp(q);
    const uint64_t size = (13u << 20) + 77, at[] = {0, (4u << 20) - 3, 9u << 20, size - 10};
    bool written = fd >= 0 && fd2 >= 0 && ftruncate(fd, (off_t)size) == 0;
    for (size_t i = 0; written && i < ARRAY_SIZE(at); i++)
        written = pwrite(fd, "kiln-data", 9, (off_t)at[i]) == 9;
    /* the same bytes, stored densely */
    uint8_t *all = xcalloc(1, size);
    for (size_t i = 0; written && i < ARRAY_SIZE(at); i++) memcpy(all + at[i], "kiln-data", 9);
    written = written && write(fd2, all, size) == (ssize_t)size;
    free(all);
    struct stat st;
    ok(written && fstat(fd, &st) == 0 && (uint64_t)st.st_blocks * 512 < size, "a sparse file with data among holes");
    if (fd >= 0) close(fd);
    if (fd2 >= 0) close(fd2);
    uint64_t n1 = 0, n2 = 0;
    is_int(sha256_file_hex(p, a, &n1), 0, "the sparse file hashed");
    is_int(sha256_file_hex(q, b, &n2), 0, "the dense one hashed");
    is_str(a, b, "the same digest");
    ok(n1 == size && n2 == size, "every byte counted");
    unlink(p);
    unlink(q);
}

static void *spin(void *arg)
{
    (void)arg;
    for (volatile unsigned long x = 0;; x++) {}
    return NULL;
}

/* KILN_TEST_PAUSE: a stand-in build with a second thread running (the tree's removal) stops at
 * the point, gets SIGINT then SIGCONT, and its check right after the pause must see the
 * interrupt. The SIGINT may go to the other thread, whose handler runs after the check: 6 of 200
 * missed it before proc_test_pause waited for it (image.sh's interrupt at build-publish would
 * then see exit 0 and the outputs). Here the pausing thread blocks SIGINT, so the other thread
 * takes it every time. */
static void test_pause_sees_signal(void)
{
    setenv("KILN_TEST_PAUSE", "unit-pause", 1);
    int n = 100, missed = 0, broken = 0; /* as many as the message says */
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c == 0) {
            alarm(10);
            proc_install_signal_handlers();
            pthread_t t;
            if (pthread_create(&t, NULL, spin, NULL)) _exit(2);
            /* the signal for the other thread, always: the case that went wrong now and then */
            sigset_t intr;
            sigemptyset(&intr);
            sigaddset(&intr, SIGINT);
            pthread_sigmask(SIG_BLOCK, &intr, NULL);
            proc_test_pause("unit-pause");
            _exit(kiln_interrupted ? 0 : 1);
        }
        int st = 0;
        if (c < 0 || waitpid(c, &st, WUNTRACED) != c || !WIFSTOPPED(st)) {
            broken++;
            if (c > 0) kill(c, SIGKILL), waitpid(c, NULL, 0);
            continue;
        }
        kill(c, SIGINT);
        kill(c, SIGCONT);
        waitpid(c, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) == 2) broken++;
        else if (WEXITSTATUS(st) == 1) missed++;
    }
    unsetenv("KILN_TEST_PAUSE");
    is_int(broken, 0, "KILN_TEST_PAUSE: every stand-in stopped at the point and ended");
    is_int(missed, 0, "KILN_TEST_PAUSE: the check after the pause saw the SIGINT (handled by the other thread) each of 100 times");
}

int main(void)
{
    test_waits_interrupted();
    test_guardian();
    test_guardian_reaped();
    test_pause_sees_signal();
    test_copy_sparse();
    test_err();
    test_hash_progress();
    test_hash_sparse();
    test_strv();
    test_parallel_for_spread();
    test_open_beside();
    test_parallel_for();
    test_proc_env();
    test_mkdir_p();
    test_open_regular();
    is_int(levenshtein("platfrom", "platform"), 2, "levenshtein transposition costs 2");
    is_int(levenshtein("", "abc"), 3, "levenshtein from empty");
    _cleanup_free_ char *q = shell_quote("it's");
    is_str(q, "'it'\\''s'", "shell_quote escapes single quotes");
    _cleanup_free_ char *b = base64_encode("ssh-ed25519 AAAA kiln\n", 22);
    is_str(b, "c3NoLWVkMjU1MTkgQUFBQSBraWxuCg==", "base64 with padding");
    _cleanup_free_ char *b2 = base64_encode("ab", 2);
    is_str(b2, "YWI=", "base64 of two bytes");
    long v;
    ok(parse_long("42", &v) && v == 42, "parse_long accepts 42");
    ok(!parse_long("4x", &v), "parse_long rejects trailing garbage");
    ok(!parse_long("99999999999999999999999", &v), "parse_long rejects overflow");
    /* parse_long_strict: one spelling per number, as an option takes it */
    ok(parse_long_strict("0", &v) && v == 0, "strict: 0");
    ok(parse_long_strict("100", &v) && v == 100, "strict: 100");
    ok(parse_long_strict("-1", &v) && v == -1, "strict: -1");
    ok(parse_long_strict("9223372036854775807", &v) && v == 9223372036854775807L, "strict: LONG_MAX");
    const char *strict_bad[] = {"0100", " 5", "5 ", "+5", "5.", ".5", "5.0", "-0", "-", "", "--1", "1e3", "0x10",
                                "9223372036854775808", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(strict_bad) / sizeof(*strict_bad); i++)
        ok(!parse_long_strict(strict_bad[i], &v), "strict: '%s' refused", strict_bad[i]);
    ok(!parse_long_strict(NULL, &v), "strict: NULL refused");

    /* UTF-8: the Unicode Standard's well-formed sequences, one U+FFFD per maximal subpart */
    uint32_t cp = 0;
    is_int(utf8_decode("\xD0\x9E", 2, &cp), 2, "two-byte sequence");
    is_int(cp, 0x41E, "its code point");
    is_int(utf8_decode("\xEF\xBF\xBF", 3, &cp), 3, "U+FFFF is well-formed UTF-8");
    is_int(utf8_decode("\xC0\x80", 2, &cp), 0, "overlong NUL is not");
    is_int(utf8_decode("\xED\xA0\x80", 3, &cp), 0, "a surrogate is not");
    is_int(utf8_decode("\xF4\x90\x80\x80", 4, &cp), 0, "above U+10FFFF is not");
    is_int(utf8_decode("\xD0", 1, &cp), 0, "a cut sequence is not");
    /* for terminals: controls escaped, never passed through */
    static const char in1[] = "ok\x1b[31m\x1b]0;t\a\r\n\tx\x7f\xC2\x9B" "1m\xE9\xC3\xA9";
    _cleanup_free_ char *e1 = utf8_escape_controls(in1, sizeof in1 - 1, false);
    is_str(e1, "ok\\x1b[31m\\x1b]0;t\\x07\\x0d\\x0a\tx\\x7f\\u009b1m\\xe9\xC3\xA9",
           "utf8_escape_controls: ESC, BEL, CR, LF, DEL as \\xNN, C1 CSI as \\u009b, a stray byte \\xNN, tab and é kept");
    _cleanup_free_ char *e2 = utf8_escape_controls("a\nb", 3, true);
    is_str(e2, "a\nb", "with keep_lf a newline stays");
    _cleanup_free_ char *e3 = utf8_escape_controls("", 0, false);
    is_str(e3, "", "empty in, empty out");
    /* a log line quoting a guest cannot drive the terminal or the log's reader */
    FILE *lf = tmpfile();
    log_set_file(lf);
    log_set_level(LOG_ERR + 1);
    log_info("unit %s failed", "evil\x1b]0;pwned\a\x1b[2J");
    log_set_file(NULL);
    char line[256] = "";
    rewind(lf);
    ok(fgets(line, sizeof line, lf) && strstr(line, "unit evil\\x1b]0;pwned\\x07\\x1b[2J failed\n") && !strchr(line, '\x1b'),
       "log lines: control characters escaped (%s)", line);
    fclose(lf);
    log_set_level(LOG_INFO);
    _cleanup_free_ char *u1 = utf8_sanitize("r\xE9sum\xE9", 6, 0);
    is_str(u1, "r\xEF\xBF\xBDsum\xEF\xBF\xBD", "each Latin-1 byte becomes one U+FFFD");
    _cleanup_free_ char *u2 = utf8_sanitize("a\xE0\x80z\xF0\x9F\x98", 7, 0);
    is_str(u2, "a\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD", "E0 80: two subparts; a cut 4-byte sequence: one");
    _cleanup_free_ char *u3 = utf8_sanitize("\xEF\xBF\xBF\x01\t", 5, 0);
    is_str(u3, "\xEF\xBF\xBF\x01\t", "well-formed text is kept as it is");
    _cleanup_free_ char *u4 = utf8_sanitize("\xEF\xBF\xBF\xEF\xBF\xBE\x01\t\x1b[1m", 12, UTF8_XML);
    is_str(u4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\t\xEF\xBF\xBD[1m", "UTF8_XML replaces U+FFFF, U+FFFE, C0");
    _cleanup_free_ char *u5 = utf8_sanitize("\x1b[32mok\x1b[0m \x1b]0;title\a1\x1b" "c", 25, UTF8_STRIP_ANSI);
    is_str(u5, "ok 1", "UTF8_STRIP_ANSI drops CSI, OSC and two-byte escapes");
    _cleanup_free_ char *u6 = utf8_sanitize("a\0b", 3, 0);
    is_str(u6, "a\xEF\xBF\xBD" "b", "NUL becomes U+FFFD");
    is_int(utf8_cut("ab\xD0\x9E\xD0\x9E", 3), 2, "a cut never splits a character");
    is_int(utf8_cut("ab\xD0\x9E\xD0\x9E", 4), 4, "a cut on a boundary stays");
    is_int(utf8_cut("ab", 10), 2, "a short string is whole");
    /* for XML reports: ill-formed bytes as U+FFFD, what XML cannot hold dropped */
    _cleanup_free_ char *x1 = utf8_sanitize("a\xEF\xBF\xBE\xEF\xBF\xBF\x01\x7f\x1b[1mb\tc\r\n", 18, UTF8_XML_DROP);
    is_str(x1, "a\x7f[1mb\tc\r\n", "UTF8_XML_DROP: U+FFFE, U+FFFF, C0 and ESC dropped; tab, CR, LF, DEL kept");
    _cleanup_free_ char *x2 = utf8_sanitize("n\0ul", 4, UTF8_XML_DROP);
    is_str(x2, "nul", "UTF8_XML_DROP: a NUL dropped");
    _cleanup_free_ char *x3 = utf8_sanitize("\xC0\xAF|\xE0\x80\xAF|\xF0\x80\x80\xAF|\xC1\xBF", 14, UTF8_XML_DROP);
    is_str(x3,
           "\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|"
           "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD",
           "overlong forms of '/' and U+007F: one U+FFFD per byte, never the character");
    _cleanup_free_ char *x4 = utf8_sanitize("\xED\xA0\x80\xED\xBF\xBF\xED\x9F\xBF", 9, UTF8_XML_DROP);
    is_str(x4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xED\x9F\xBF",
           "surrogates (U+D800, U+DFFF) replaced byte by byte; U+D7FF kept");
    _cleanup_free_ char *x5 = utf8_sanitize("\xF4\x8F\xBF\xBF\xF4\x90\x80\x80", 8, UTF8_XML_DROP);
    is_str(x5, "\xF4\x8F\xBF\xBF\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",
           "U+10FFFF kept, above it replaced");
    _cleanup_free_ char *x6 = utf8_sanitize("ok\xF0\x9F\x98", 5, UTF8_XML_DROP);
    is_str(x6, "ok\xEF\xBF\xBD", "a 4-byte character cut short at the end: one U+FFFD");
    _cleanup_free_ char *x7 = utf8_sanitize("\xEF\xBF\xBE", 3, 0);
    is_str(x7, "\xEF\xBF\xBE", "U+FFFE is kept where XML is not the target (results.json)");
    /* a cut inside each position of a 4-byte and a 3-byte character backs up to its start */
    static const char four[] = "ab\xF0\x9F\x98\x80";
    for (size_t at = 3; at <= 5; at++) is_int(utf8_cut(four, at), 2, "a cut inside a 4-byte character");
    is_int(utf8_cut(four, 6), 6, "a cut after it keeps it");
    is_int(utf8_cut("\xE2\x82\xAC\xE2\x82\xAC", 5), 3, "a cut inside a 3-byte character");
    is_int(utf8_cut("\x80\x80\x80\x80\x80", 2), 2, "stray continuation bytes: the cut stays where it was");

    secret_add("s3cr3t");
    _cleanup_free_ char *m = secret_mask("token=s3cr3t and again s3cr3t.");
    is_str(m, "token=****** and again ******.", "secrets masked everywhere in a string");
    secret_clear();

    char tmpl[] = "/tmp/kiln-test-XXXXXX";
    ok(mkdtemp(tmpl) != NULL, "mkdtemp");
    _cleanup_free_ char *f = path_join(tmpl, "a/b/c");
    ok(mkdir_p(f, 0755) == 0, "mkdir_p nested");
    _cleanup_free_ char *file = path_join(f, "x.txt");
    ok(write_file_atomic(file, "hello", 5, 0644) == 0, "write_file_atomic");
    char *data;
    size_t len;
    ok(read_file(file, 100, &data, &len) == 0 && len == 5 && streq(data, "hello"), "read back");
    free(data);
    ok(read_file(file, 3, &data, &len) == -EFBIG, "read_file enforces its bound");
    ok(rm_rf(tmpl) == 0 && !file_exists(tmpl), "rm_rf removes the tree");

    double dv = 0;
    ok(parse_double("12", &dv) && dv == 12 && parse_double("-0.5", &dv) && dv == -0.5 && parse_double("1.5e3", &dv) &&
           dv == 1500,
       "parse_double: integers, fractions, exponents");
    ok(!parse_double("nan", &dv) && !parse_double("inf", &dv) && !parse_double("-inf", &dv) &&
           !parse_double("1e400", &dv) && !parse_double("0x10", &dv) && !parse_double(" 5", &dv) &&
           !parse_double("5\n", &dv) && !parse_double("", &dv) && !parse_double("12abc", &dv),
       "parse_double: no nan, infinity, overflow, hex, blanks or trailing text");

    char *out = NULL;
    char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    is_int(proc_run(argv, 5000, &out), 3, "proc_run returns the exit status");
    has(out, "out", "proc_run captures stdout");
    has(out, "err", "proc_run captures stderr");
    free(out);
    is_int(proc_run_stdout(argv, 5000, 100, &out), 3, "proc_run_stdout returns the exit status");
    is_str(out, "out\n", "proc_run_stdout captures stdout alone");
    free(out), out = NULL;
    char *chatty[] = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x", NULL};
    is_int(proc_run_stdout(chatty, 5000, 4096, &out), -E2BIG, "proc_run_stdout refuses more than its bound");
    ok(!out, "and gives no output cut short");
    ok(proc_run_stdout(chatty, 5000, 100000, &out) == 0 && out && strlen(out) == 100000, "exactly the bound is taken");
    free(out), out = NULL;
    char *sleeper[] = {"sleep", "30", NULL};
    is_int(proc_run(sleeper, 200, NULL), -ETIMEDOUT, "proc_run kills on timeout");
    char *missing[] = {"/nonexistent/kiln-tool", NULL};
    ok(proc_run(missing, 1000, NULL) == -ENOENT, "proc_run reports a missing program");
    return tap_done();
}
