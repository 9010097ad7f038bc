/* The updater's pure parts (guest/updater): its state machine, boot entry text, dm-verity
 * verification (against veritysetup's own output) and the HTTP client (against canned
 * responses from a local socket). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot.h"
#include "http.h"
#include "state.h"
#include "store.h"
#include "tap.h"
#include "util/util.h"
#include "verity.h"

static const struct upd_config cfg = {.auto_apply = true, .reboot = true, .interval_s = 3600, .jitter_s = 600,
                                      .backoff_base_s = 60, .backoff_max_s = 1800};

static void test_schedule(void)
{
    is_int(upd_next_check(&cfg, 0, 1000, 0), 1000 + 3600, "a good check waits the interval");
    is_int(upd_next_check(&cfg, 0, 1000, 600), 1000 + 3600 + 600, "jitter adds up to jitter_s");
    is_int(upd_next_check(&cfg, 0, 1000, 601), 1000 + 3600, "jitter wraps at jitter_s + 1");
    is_int(upd_next_check(&cfg, 1, 0, 0), 60, "the first error waits backoff_base");
    is_int(upd_next_check(&cfg, 2, 0, 0), 120, "the second twice that");
    is_int(upd_next_check(&cfg, 4, 0, 0), 480, "the fourth eight times");
    is_int(upd_next_check(&cfg, 6, 0, 0), 1800, "capped at backoff_max (64x would be 3840)");
    is_int(upd_next_check(&cfg, 1000, 0, 0), 1800, "many errors stay capped");
    struct upd_state s = {0};
    struct upd_out o;
    upd_on_check_failed(&s, &cfg, 100, 0, &o);
    upd_on_check_failed(&s, &cfg, 200, 0, &o);
    is_int(s.errors, 2, "failed checks count");
    is_int(s.next_check, 200 + 120, "and back off");
    upd_on_timer(&s, 319, false, &o);
    is_int(o.action, UPD_ACT_NONE, "the timer waits for next_check");
    upd_on_timer(&s, 319, true, &o);
    is_int(o.action, UPD_ACT_CHECK, "unless forced");
    upd_on_timer(&s, 320, false, &o);
    is_int(o.action, UPD_ACT_CHECK, "and checks when it comes");
    upd_on_check(&s, &cfg, "1.0.0", "", 400, 0, &o);
    is_int(s.errors, 0, "a good check resets the errors");
    is_int(s.next_check, 400 + 3600, "and waits the interval");
    is_int(o.action, UPD_ACT_NONE, "noupdate does nothing");
}

static void test_apply(void)
{
    struct upd_state s = {0};
    struct upd_out o;
    upd_on_check(&s, &cfg, "1.0.0", "1.0.1", 0, 0, &o);
    is_int(o.action, UPD_ACT_INSTALL, "a newer version is installed");
    is_str(o.version, "1.0.1", "the offered one");
    upd_on_check(&s, &cfg, "1.0.10", "1.0.9", 0, 0, &o);
    is_int(o.action, UPD_ACT_NONE, "an older version is not (1.0.9 < 1.0.10: version order, not text)");
    upd_on_check(&s, &cfg, "1.0.1", "1.0.1", 0, 0, &o);
    is_int(o.action, UPD_ACT_NONE, "nor the running one");
    struct upd_config off = cfg;
    off.auto_apply = false;
    upd_on_check(&s, &off, "1.0.0", "1.0.1", 0, 0, &o);
    is_int(o.action, UPD_ACT_NONE, "auto: false never applies");
    is_int(o.nevents, 0, "and reports nothing of an install");

    upd_on_install(&s, &cfg, "1.0.0", "1.0.1", UPD_ERR_NONE, "boot-1", 10, 0, &o);
    is_int(o.action, UPD_ACT_REBOOT, "installed: reboot");
    is_int(o.nevents, 1, "one event");
    is_int(o.events[0].type, UPD_EV_INSTALLED, "installed (800)");
    is_int(o.events[0].result, UPD_RES_SUCCESS, "success");
    is_int(s.phase, UPD_INSTALLED, "phase installed");
    struct upd_config wait = cfg;
    wait.reboot = false;
    struct upd_state s2 = {0};
    upd_on_install(&s2, &wait, "1.0.0", "1.0.1", UPD_ERR_NONE, "boot-1", 10, 0, &o);
    is_int(o.action, UPD_ACT_NONE, "reboot: false waits");

    upd_on_check(&s, &cfg, "1.0.0", "1.0.2", 20, 0, &o);
    is_int(o.action, UPD_ACT_NONE, "nothing more is installed while one waits for its boot");
    upd_on_boot(&s, "boot-1", "1.0.0", true, &o);
    is_int(o.nevents, 0, "the installing boot decides nothing");
    is_int(s.phase, UPD_INSTALLED, "still installed");
    upd_on_boot(&s, "boot-2", "1.0.1", false, &o);
    is_int(o.nevents, 0, "the new version unblessed: not yet decided");
    upd_on_boot(&s, "boot-2", "1.0.1", true, &o);
    is_int(o.nevents, 1, "blessed: one event");
    is_int(o.events[0].type, UPD_EV_UPDATE_COMPLETE, "update complete (3)");
    is_int(o.events[0].result, UPD_RES_SUCCESS_REBOOT, "success after reboot (2)");
    is_str(o.events[0].previous, "1.0.0", "previousversion");
    is_int(s.phase, UPD_IDLE, "idle again");
}

static void test_rollback(void)
{
    struct upd_state s = {0};
    struct upd_out o;
    upd_on_install(&s, &cfg, "1.0.1", "1.0.2", UPD_ERR_NONE, "b1", 0, 0, &o);
    upd_on_boot(&s, "b4", "1.0.1", true, &o);
    is_int(o.nevents, 1, "back on the old version after another boot: one event");
    is_int(o.events[0].result, UPD_RES_ERROR, "an error");
    is_int(o.events[0].code, UPD_ERR_ROLLBACK, "code 20, rollback");
    is_str(s.failed, "1.0.2", "the version is remembered as failed");
    upd_on_check(&s, &cfg, "1.0.1", "1.0.2", 0, 0, &o);
    is_int(o.action, UPD_ACT_NONE, "and never installed again");
    upd_on_check(&s, &cfg, "1.0.1", "1.0.3", 0, 0, &o);
    is_int(o.action, UPD_ACT_INSTALL, "a later version is");

    struct upd_state t = {0};
    upd_on_install(&t, &cfg, "1.0.1", "1.0.2", UPD_ERR_VERITY, "b1", 100, 0, &o);
    is_int(o.action, UPD_ACT_NONE, "a refused payload: no reboot");
    is_int(o.nevents, 1, "one event");
    is_int(o.events[0].code, UPD_ERR_VERITY, "with its error code");
    is_int(t.phase, UPD_IDLE, "nothing installed");
    is_str(t.failed, "1.0.2", "a payload that failed verification is not fetched again");
    is_int(t.next_check, 100 + 60, "and the next check backs off");
    struct upd_state d = {0};
    upd_on_install(&d, &cfg, "1.0.1", "1.0.2", UPD_ERR_DOWNLOAD, "b1", 0, 0, &o);
    is_str(d.failed, "", "a failed download is retried later");
}

static void test_state_text(void)
{
    struct upd_state s = {.phase = UPD_INSTALLED, .errors = 3, .next_check = 1750000000};
    strcpy(s.pending, "1.0.2");
    strcpy(s.previous, "1.0.1");
    strcpy(s.boot_id, "0123");
    char *t = upd_state_format(&s);
    struct upd_state back;
    ok(t && upd_state_parse(t, &back) == 0, "the state reads back");
    ok(t && !memcmp(&s, &back, sizeof s), "identically");
    free(t);
    is_int(upd_state_parse("phase=idle\nbogus=1\n", &back), -EINVAL, "unknown keys are refused");
    is_int(upd_state_parse("errors=-1\n", &back), -EINVAL, "negative numbers are refused");
    char big[200];
    snprintf(big, sizeof big, "pending=%0120d\n", 1);
    is_int(upd_state_parse(big, &back), -EINVAL, "an oversized value is refused, not cut");
    is_int(upd_state_parse("", &back), 0, "an empty state is the initial one");
}

/* Whether /proc/locks shows pid waiting for a lock ("-> FLOCK ... PID"). */
static bool waits_for_lock(pid_t pid)
{
    FILE *f = fopen("/proc/locks", "r");
    char line[256], want[32];
    bool found = false;
    snprintf(want, sizeof want, " %d ", (int)pid);
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, "->") && strstr(line, want);
    if (f) fclose(f);
    return found;
}

/* The rollback case's failure (verify_update_rollback, error 16 instead of 20): the timer's
 * run started while kiln-updater-now was installing, read the state, waited for the lock and
 * then saved its stale copy (idle) over the install the other had recorded, so after the
 * fallback boot nothing said an update was pending. A run that waited must see what the run
 * before it saved. */
static void test_store(void)
{
    char dir[] = "/tmp/test_updater_store.XXXXXX";
    if (!mkdtemp(dir)) {
        ok(false, "mkdtemp");
        return;
    }
    char lock[128], state[128], sub[128];
    snprintf(lock, sizeof lock, "%s/lock", dir);
    snprintf(sub, sizeof sub, "%s/var", dir);
    snprintf(state, sizeof state, "%s/var/state", dir);
    struct upd_state s = {.next_check = 100}, got;
    bool damaged = true;
    int fd = upd_store_open(lock, state, &got, &damaged);
    ok(fd >= 0 && !damaged && got.phase == UPD_IDLE && got.next_check == 0, "no state file: the initial state");
    if (fd >= 0) close(fd);
    is_int(upd_store_save(state, &s), 0, "the state is saved (its directory created)");

    /* run A holds the lock; run B starts and waits for it; A records the install and ends */
    fd = upd_store_open(lock, state, &got, &damaged);
    ok(fd >= 0 && got.next_check == 100, "run A reads the saved state under the lock");
    int p[2];
    if (fd < 0 || pipe(p) < 0) {
        ok(false, "pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        close(fd); /* A's lock is its open file, which B must not share */
        struct upd_state b;
        bool dmg;
        int l = upd_store_open(lock, state, &b, &dmg);
        /* B's run goes on to save what it read, as main.c does */
        if (l >= 0) upd_store_save(state, &b);
        ssize_t n = write(p[1], &b, sizeof b);
        _exit(l >= 0 && n == (ssize_t)sizeof b ? 0 : 1);
    }
    close(p[1]);
    bool waiting = false;
    for (int i = 0; i < 1000 && !(waiting = waits_for_lock(pid)); i++) usleep(10000);
    ok(waiting, "run B waits for run A's lock");
    got.phase = UPD_INSTALLED;
    strcpy(got.pending, "1.0.2");
    strcpy(got.previous, "1.0.0");
    strcpy(got.boot_id, "boot-a");
    is_int(upd_store_save(state, &got), 0, "run A records the install");
    close(fd);
    struct upd_state b = {0};
    ssize_t n = read(p[0], &b, sizeof b);
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    ok(n == (ssize_t)sizeof b && WIFEXITED(st) && WEXITSTATUS(st) == 0, "run B ran");
    ok(b.phase == UPD_INSTALLED && !strcmp(b.pending, "1.0.2"), "run B sees the install run A saved (phase %s, pending '%s')",
       b.phase == UPD_INSTALLED ? "installed" : "idle", b.pending);
    fd = upd_store_open(lock, state, &got, &damaged);
    ok(fd >= 0 && got.phase == UPD_INSTALLED && !strcmp(got.previous, "1.0.0"), "and the file still holds it after B saved");
    if (fd >= 0) close(fd);

    /* a fallback boot then settles it as a rollback */
    struct upd_out o;
    upd_on_boot(&got, "boot-c", "1.0.0", true, &o);
    ok(o.nevents == 1 && o.events[0].code == UPD_ERR_ROLLBACK && !strcmp(got.failed, "1.0.2"), "the fallback boot reports 20");

    /* no temporary file is left beside the state; a damaged file is the initial state, flagged */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test \"$(ls %s)\" = state", sub);
    is_int(system(cmd), 0, "only the state file is in its directory");
    FILE *f = fopen(state, "w");
    if (f) fputs("phase=somewhere\n", f), fclose(f);
    fd = upd_store_open(lock, state, &got, &damaged);
    ok(fd >= 0 && damaged && got.phase == UPD_IDLE, "a damaged state file is flagged and read as the initial state");
    if (fd >= 0) close(fd);
    is_int(upd_write_durable("/nonexistent-dir/x", "a", 1, 0644), -ENOENT, "a write into a missing directory fails with ENOENT");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    system(cmd);
}

static void test_boot(void)
{
    const char *cmd = "initrd=\\debian-immutable\\6.1\\initrd root=PARTUUID=r rw usrhash=aaa "
                      "systemd.verity_usr_data=PARTUUID=a1 systemd.verity_usr_hash=PARTUUID=a2 mount.usr=/dev/mapper/usr console=ttyS0";
    char *c = boot_cmdline_for_slot(cmd, "bbb", "b1", "b2");
    is_str(c, "root=PARTUUID=r rw usrhash=bbb systemd.verity_usr_data=PARTUUID=b1 systemd.verity_usr_hash=PARTUUID=b2 "
              "mount.usr=/dev/mapper/usr console=ttyS0", "the other slot's hash and partitions, the rest kept");
    free(c);
    ok(!boot_cmdline_for_slot("root=x usrhash=a", "b", "c", "d"), "not the immutable layout: NULL");
    char *v = boot_cmdline_get(cmd, "systemd.verity_usr_data");
    is_str(v, "PARTUUID=a1", "a value from the command line");
    free(v);
    ok(!boot_cmdline_get(cmd, "usr"), "a key is whole (usr is not usrhash)");
    char *n = boot_entry_name("debian-immutable", "1.0.1", 3);
    is_str(n, "debian-immutable-1.0.1+3.conf", "three tries in the file name");
    free(n);
    ok(!boot_entry_blessed("debian-immutable-1.0.1+3.conf"), "+3 is counting");
    ok(!boot_entry_blessed("debian-immutable-1.0.1+0-3.conf"), "+0-3 is counting (bad)");
    ok(boot_entry_blessed("debian-immutable-1.0.1.conf"), "no counter: blessed");
    ok(boot_entry_blessed("a+b.conf"), "a + that is not a counter");
    char *id = boot_entry_id("debian-immutable-1.0.1+2-1.conf");
    is_str(id, "debian-immutable-1.0.1.conf", "the id drops the counter");
    free(id);
    char *e = boot_entry_text("img", "1.0.1", "root=x systemd.verity_usr_data=PARTUUID=B1");
    has(e, "linux /img/1.0.1/linux\n", "the version's kernel");
    has(e, "initrd /img/1.0.1/initrd\n", "and initrd");
    char *kd = boot_entry_kernel_dir(e, "img");
    is_str(kd, "img/1.0.1", "the updater's entry keeps its kernel in img/1.0.1 on the ESP");
    free(kd);
    kd = boot_entry_kernel_dir("linux /img/6.1.0-57-amd64/linux\ninitrd /img/6.1.0-57-amd64/initrd\n", "img");
    is_str(kd, "img/6.1.0-57-amd64", "the build's entry keeps its kernel in img/KERNEL-VERSION");
    free(kd);
    ok(!boot_entry_kernel_dir(e, "other"), "an entry of another image: not ours to delete");
    ok(!boot_entry_kernel_dir("linux /img/a/linux\ninitrd /img/b/initrd\n", "img"), "kernel and initrd apart: NULL");
    ok(!boot_entry_kernel_dir("linux /img/../linux\ninitrd /img/../initrd\n", "img"), "a .. component: NULL");
    ok(!boot_entry_kernel_dir("linux /img/x/y/linux\ninitrd /img/x/y/initrd\n", "img"), "a deeper path: NULL");
    ok(!boot_entry_kernel_dir("linux /vmlinuz\ninitrd /initrd\n", "img"), "files at the ESP's top: NULL");
    ok(!boot_entry_kernel_dir("options x\n", "img"), "no linux line: NULL");
    ok(boot_entry_uses(e, "b1"), "the entry uses the slot (PARTUUIDs compare without case)");
    ok(!boot_entry_uses(e, "b2"), "and not another");
    char *o = boot_entry_get(e, "options");
    is_str(o, "root=x systemd.verity_usr_data=PARTUUID=B1", "options line");
    free(o);
    free(e);
    char *l = boot_loader_conf("default img-1.0.0.conf\ntimeout 0\neditor no\n", "img");
    is_str(l, "timeout 0\neditor no\ndefault img-*\n", "loader.conf defaults to the newest entry of the image");
    free(l);
}

static int sh(const char *cmd) { return system(cmd); }

static int verify_files(const char *dir, const char *root)
{
    char d[512], h[512];
    snprintf(d, sizeof d, "%s/data", dir);
    snprintf(h, sizeof h, "%s/hash", dir);
    int df = open(d, O_RDONLY), hf = open(h, O_RDONLY);
    struct stat a = {0}, b = {0};
    fstat(df, &a);
    fstat(hf, &b);
    int r = verity_verify(df, (uint64_t)a.st_size, hf, (uint64_t)b.st_size, root, NULL);
    close(df);
    close(hf);
    return r;
}

static void test_verity(void)
{
    if (sh("command -v veritysetup > /dev/null")) {
        ok(true, "# SKIP veritysetup is not installed");
        return;
    }
    char dir[] = "/tmp/test-verity-XXXXXX";
    if (!mkdtemp(dir)) return;
    const int sizes[] = {1, 2, 128, 129, 16385};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "cd %s && head -c %d /dev/urandom > data && rm -f hash && veritysetup format "
                                  "--data-block-size=4096 --hash-block-size=4096 --root-hash-file=root data hash > /dev/null",
                 dir, sizes[i] * 4096);
        if (sh(cmd)) {
            ok(false, "veritysetup format failed");
            continue;
        }
        char rp[512], root[80] = "";
        snprintf(rp, sizeof rp, "%s/root", dir);
        FILE *f = fopen(rp, "r");
        if (f) {
            if (!fgets(root, sizeof root, f)) root[0] = 0;
            fclose(f);
        }
        root[64] = 0;
        is_int(verify_files(dir, root), 0, "veritysetup's tree verifies");
        char wrong[65];
        memcpy(wrong, root, 65);
        wrong[0] = wrong[0] == '0' ? '1' : '0';
        is_int(verify_files(dir, wrong), -EBADMSG, "another root hash does not");
    }
    char cmd[512];
    /* the byte there is random: write one that differs from it (an 'X' over an 'X' changed nothing,
     * one run in 256) */
    char dp[512];
    snprintf(dp, sizeof dp, "%s/data", dir);
    int dfd = open(dp, O_RDWR);
    unsigned char b = 0;
    ok(dfd >= 0 && pread(dfd, &b, 1, 30000000) == 1, "the data's byte at 30000000 is read");
    b ^= 0x5a;
    ok(dfd >= 0 && pwrite(dfd, &b, 1, 30000000) == 1, "and replaced by another");
    if (dfd >= 0) close(dfd);
    char rp[512], root[80] = "";
    snprintf(rp, sizeof rp, "%s/root", dir);
    FILE *f = fopen(rp, "r");
    if (f) {
        if (!fgets(root, sizeof root, f)) root[0] = 0;
        fclose(f);
    }
    root[64] = 0;
    is_int(verify_files(dir, root), -EBADMSG, "one byte changed in the data is refused");
    snprintf(cmd, sizeof cmd, "cd %s && head -c %d /dev/urandom > data && veritysetup format --data-block-size=4096 "
                              "--hash-block-size=4096 --root-hash-file=root data hash > /dev/null && "
                              "printf X | dd of=hash bs=1 seek=8200 conv=notrunc status=none", dir, 300 * 4096);
    sh(cmd);
    f = fopen(rp, "r");
    if (f) {
        if (!fgets(root, sizeof root, f)) root[0] = 0;
        fclose(f);
    }
    root[64] = 0;
    is_int(verify_files(dir, root), -EBADMSG, "one byte changed in the stored tree is refused");
    snprintf(cmd, sizeof cmd, "cd %s && printf 'verity\\0\\0' | dd of=hash bs=1 seek=0 count=3 conv=notrunc status=none && "
                              "printf Z | dd of=hash bs=1 seek=0 conv=notrunc status=none", dir);
    sh(cmd);
    is_int(verify_files(dir, root), -EINVAL, "a hash device without a superblock is malformed");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    sh(cmd);
}

/* A one-shot server on 127.0.0.1 that answers with `reply`; returns the port. */
static int serve_once(const char *reply, pid_t *pid)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0 || getsockname(s, (struct sockaddr *)&a, &al) < 0)
        return -1;
    *pid = fork();
    if (*pid == 0) {
        int c = accept(s, NULL, NULL);
        char buf[4096];
        if (c >= 0 && recv(c, buf, sizeof buf, 0) >= 0 && write(c, reply, strlen(reply)) >= 0) shutdown(c, SHUT_WR);
        if (c >= 0) {
            while (recv(c, buf, sizeof buf, 0) > 0) {}
            close(c);
        }
        _exit(0);
    }
    close(s);
    return ntohs(a.sin_port);
}

struct acc {
    char buf[256];
    size_t n;
};

static int acc_sink(void *ctx, const void *p, size_t n)
{
    struct acc *a = ctx;
    if (a->n + n >= sizeof a->buf) return -ENOSPC;
    memcpy(a->buf + a->n, p, n);
    a->n += n;
    a->buf[a->n] = 0;
    return 0;
}

static int fetch(const char *reply, uint64_t max, struct acc *a, int *status)
{
    pid_t pid;
    int port = serve_once(reply, &pid);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
    memset(a, 0, sizeof *a);
    int r = http_request("POST", url, "text/xml", "<r/>", 4, acc_sink, a, max, 10, status, NULL);
    waitpid(pid, NULL, 0);
    return r;
}

static void test_http(void)
{
    struct acc a;
    int st;
    is_int(fetch("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 100, &a, &st), 0, "a Content-Length body");
    is_str(a.buf, "hello", "is read whole");
    is_int(st, 200, "with its status");
    is_int(fetch("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 100, &a, &st), 0,
           "a chunked body");
    is_str(a.buf, "abcde", "is put together");
    is_int(fetch("HTTP/1.0 404 Not Found\r\n\r\nnope", 100, &a, &st), 0, "a body to the end of the stream");
    is_int(st, 404, "the status is the caller's to judge");
    is_int(fetch("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 100, &a, &st), -EFBIG, "more than max is refused up front");
    is_int(fetch("HTTP/1.1 200 OK\r\n\r\n0123456789", 5, &a, &st), -EFBIG, "and while streaming");
    is_int(fetch("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", 100, &a, &st), -EPROTO, "a body cut short is an error");
    is_int(fetch("garbage\r\n\r\n", 100, &a, &st), -EPROTO, "a malformed status line is an error");
    _cleanup_free_ char *why = NULL;
    ok(http_request("GET", "https://example.org/", NULL, NULL, 0, NULL, NULL, 1, 1, &st, &why) == -EPROTONOSUPPORT,
       "https is refused: %s", why ? why : "");
    char *h, *p, *pa;
    ok(http_parse_url("http://10.0.2.2:8470/v1/update/", &h, &p, &pa) == 0, "a URL with a port");
    is_str(h, "10.0.2.2", "host");
    is_str(p, "8470", "port");
    is_str(pa, "/v1/update/", "path");
    free(h), free(p), free(pa);
    ok(http_parse_url("http://h/a b", &h, &p, &pa) == -EINVAL, "a space in the path is refused (no header injection)");
    ok(http_parse_url("http://h\r\nX:1/", &h, &p, &pa) == -EINVAL, "so is a CR LF in the host");
}

static void test_config(void)
{
    struct upd_config c = {.auto_apply = false, .reboot = true, .interval_s = 3600, .jitter_s = 600, .backoff_base_s = 60,
                           .backoff_max_s = 21600};
    char *server = NULL, *channel = NULL;
    int line = 0;
    ok(upd_config_apply("# made by kiln build\nserver=http://updates.example:8470/v1/update/\nchannel=stable\nauto=true\n"
                        "reboot=false\ninterval=900\njitter=90\n", &c, &server, &channel, &line) == 0, "the image's updater.conf");
    is_str(server, "http://updates.example:8470/v1/update/", "server");
    is_str(channel, "stable", "channel");
    ok(c.auto_apply && !c.reboot && c.interval_s == 900 && c.jitter_s == 90 && c.backoff_max_s == 21600, "auto, reboot, interval, jitter");
    /* the provisioning override (/run/kiln/updater.conf, from the kiln-updater.conf credential) */
    ok(upd_config_apply("server = http://10.0.2.2:40123/v1/update/\r\n", &c, &server, &channel, &line) == 0, "an override");
    is_str(server, "http://10.0.2.2:40123/v1/update/", "the override's server wins");
    is_str(channel, "stable", "keys the override does not name keep the image's");
    ok(c.auto_apply && c.interval_s == 900, "so do auto and interval");
    ok(upd_config_apply("auto=false\n", &c, &server, &channel, &line) == 0 && !c.auto_apply, "auto=false opts out");
    ok(upd_config_apply("channel=beta\nauto=maybe\n", &c, &server, &channel, &line) == -EINVAL && line == 2,
       "a bad value is refused with its line");
    is_str(channel, "stable", "and nothing of that text is applied");
    ok(upd_config_apply("interval=0\n", &c, &server, &channel, &line) == -EINVAL && c.interval_s == 900, "interval 0 is refused");
    ok(upd_config_apply("serverhttp://x\n", &c, &server, &channel, &line) == -EINVAL && line == 1, "a line without = is refused");
    ok(upd_config_apply("bogus=1\n", &c, &server, &channel, &line) == -EINVAL, "an unknown key is refused");
    free(server), free(channel);
}

int main(void)
{
    test_config();
    test_schedule();
    test_apply();
    test_rollback();
    test_state_text();
    test_store();
    test_boot();
    test_verity();
    test_http();
    return tap_done();
}
