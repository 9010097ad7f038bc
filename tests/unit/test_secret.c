/* The masking writer, secret-aware cuts, and what keeps secrets and keys out of reach:
 * argv, the console copy, quoted values in diagnostics, work directories. */
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <utime.h>

#include "run/workdir.h"
#include "node/console.h"
#include "runbook/runbook.h"
#include "tap.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/util.h"

#define SECRET "TOPSECRET42xyzABCDEF"

/* The length of the longest prefix (6 bytes or more) of secret found in text, 0 if none. */
static size_t leaked(const char *text, size_t len, const char *secret)
{
    for (size_t k = strlen(secret); k >= 6; k--)
        if (memmem(text, len, secret, k)) return k;
    return 0;
}

static char *slurp(const char *path)
{
    char *s = NULL;
    return read_file(path, 1 << 24, &s, NULL) == 0 ? s : NULL;
}

static void test_mask_and_cut(void)
{
    secret_add(SECRET);
    secret_add("pw");
    _cleanup_free_ char *m = secret_mask("a=" SECRET " b=pw c=" SECRET);
    is_str(m, "a=****** b=****** c=******", "every occurrence of every secret masked");
    const char bin[] = "x\0" SECRET "\0y";
    _cleanup_free_ char *mb = secret_mask_n(bin, sizeof bin - 1);
    ok(!memcmp(mb, "x\0******\0y", 10), "masking goes past NUL bytes");
    is_int(secret_max_len(), strlen(SECRET), "longest secret");

    const char *s = "0123456789" SECRET "tail";
    size_t len = strlen(s);
    is_int(secret_cut(s, len, 15), 10, "a cut inside a secret moves to its start");
    is_int(secret_cut(s, len, 10), 10, "a cut at a secret's start stays");
    is_int(secret_cut(s, len, 30), 30, "a cut at a secret's end stays");
    is_int(secret_cut(s, len, 5), 5, "a cut away from secrets stays");
    const char *partial = "abcdefTOPSEC";
    is_int(secret_cut(partial, strlen(partial), strlen(partial)), 6,
           "a secret's first bytes at the end of the data (rest unknown) are cut off");
    const char *other = "abcdefTOPSECRETx";
    is_int(secret_cut(other, strlen(other), 9), 9, "bytes that only start like a secret do not move the cut");
    ok(secret_contains("x" SECRET "y") && !secret_contains("TOPSECRET42"), "secret_contains");
}

static void test_streams(const char *dir)
{
    /* one byte per write, flushed each time: the stream must mask across writes */
    _cleanup_free_ char *path = path_join(dir, "log.txt");
    FILE *f = secret_fopen(path, false, 0600);
    ok(f != NULL, "secret_fopen");
    const char *text = "before " SECRET " after\nsecond line pw\n";
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        fflush(f);
    }
    fprintf(f, "held: TOPSEC");
    fflush(f);
    _cleanup_free_ char *mid = slurp(path);
    ok(mid && !strstr(mid, "TOPSEC"), "a possible secret start is held back until more arrives");
    fclose(f);
    _cleanup_free_ char *got = slurp(path);
    is_str(got, "before ****** after\nsecond line ******\nheld: TOPSEC", "masked across one-byte writes; the rest kept");
    struct stat st;
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "created with the mode asked for");

    f = secret_fopen(path, true, 0600);
    fprintf(f, "\nappended " SECRET "\n");
    fclose(f);
    _cleanup_free_ char *app = slurp(path);
    ok(app && startswith(app, "before ******") && endswith(app, "appended ******\n"), "append mode appends, masked");

    char *buf = NULL;
    size_t blen = 0;
    FILE *mem = open_memstream(&buf, &blen);
    FILE *w = secret_fwrap(mem);
    fprintf(w, "wrapped %s.", SECRET);
    fclose(w);
    fclose(mem);
    is_str(buf, "wrapped ******.", "secret_fwrap masks onto another stream");
    free(buf);

    _cleanup_free_ char *wf = path_join(dir, "whole.txt");
    ok(secret_write_file(wf, "x " SECRET " y", strlen("x " SECRET " y"), 0644) == 0, "secret_write_file");
    _cleanup_free_ char *whole = slurp(wf);
    is_str(whole, "x ****** y", "secret_write_file masks");

    int first = 0;
    unsigned long before = secret_write_failures(&first);
    f = secret_fopen("/dev/full", false, 0600);
    ok(f != NULL, "/dev/full opens");
    fprintf(f, "lost\n");
    fflush(f);
    fclose(f);
    unsigned long after = secret_write_failures(&first);
    ok(after > before && first == ENOSPC, "a failed write is counted with its error (%lu, %s)", after, strerror(first));
}

static void test_console_cut(const char *dir, const struct kiln_patterns *pats)
{
    /* 5000 bytes on one line with the secret across byte 4096: its first bytes must not
     * survive the cut */
    _cleanup_free_ char *raw = path_join(dir, "console.raw");
    _cleanup_free_ char *out = path_join(dir, "console.log");
    FILE *f = fopen(raw, "w");
    for (int i = 0; i < 4090; i++) fputc('a', f);
    fputs(SECRET, f);
    for (int i = 4090 + (int)strlen(SECRET); i < 5000; i++) fputc('b', f);
    fputs("\nshort " SECRET " line\n", f);
    fclose(f);
    struct kiln_console *c = console_start(raw, out, pats);
    for (int i = 0; i < 200 && console_lines(c) < 2; i++) sleep_ms(20);
    _cleanup_free_ char *tail = console_tail(c, 2);
    console_stop(c);
    _cleanup_free_ char *copy = slurp(out);
    ok(copy != NULL, "console copy written");
    is_int(leaked(copy, strlen(copy), SECRET), 0, "no prefix of the secret in the console copy");
    is_int(leaked(tail, strlen(tail), SECRET), 0, "no prefix of the secret in the console tail");
    has(copy, "short ****** line", "a whole secret in a line is masked");
    const char *nl = strchr(copy, '\n');
    is_int(nl ? nl - copy : -1, 4090, "the long line is cut where the secret starts");
}

static void test_runbook_diags(const char *dir)
{
    /* a value that fails validation is quoted in part (its first 60 bytes): the secret in it
     * straddles that cut */
    _cleanup_free_ char *rb_path = path_join(dir, "rb.yml");
    const char *text = "platform:\n  type: qemu\n  qemu:\n    kernel: /k\n"
                       "    cpus: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$(tok)\"\n"
                       "    memory_mb: \"$(tok)\"\n";
    write_file_atomic(rb_path, text, strlen(text), 0644);
    struct kiln_var v;
    runbook_parse_cli_var("s:tok=" SECRET, &v);
    struct diags d = {0};
    struct kiln_runbook *rb = NULL;
    ok(runbook_load(rb_path, &v, 1, &rb, &d) < 0 && d.n == 2, "two validation errors");
    char *all = NULL;
    size_t alen = 0;
    FILE *m = open_memstream(&all, &alen);
    FILE *w = secret_fwrap(m);
    diags_print(&d, w);
    fclose(w);
    fclose(m);
    is_int(leaked(all, alen, SECRET), 0, "no prefix of the secret in the printed diagnostics");
    has(all, "got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa******\"", "the cut value shows the mask");
    has(all, "got \"******\"", "a whole secret value is masked");
    free(all);
    diags_free(&d);
    free(v.name);
    free(v.value);
}

static void test_argv(void)
{
    char *argv[] = {"true", "--token=" SECRET, NULL};
    pid_t pid;
    is_int(proc_spawn(argv, -1, -1, -1, &pid), -EPERM, "a secret never goes into a child's argv");
    char *clean[] = {"true", "no secret", NULL};
    ok(proc_run(clean, 5000, NULL) == 0, "other commands still start");
}

static void test_workdir(const char *dir)
{
    unsigned long long t;
    ok(proc_start_time(getpid(), &t) == 0 && t > 0, "own start time");
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    is_int(proc_start_time(child, &t), -ENOENT, "a reaped child has no start time");

    _cleanup_free_ char *tmp = path_join(dir, "tmp");
    mkdir_p(tmp, 0755);
    struct workdir_owner me = {.run_dir = "/x/runs/r-1", .name = "r", .platform = "qemu", .started = 1};
    char *live = NULL;
    ok(workdir_create(tmp, &me, &live) == 0, "work dir created");
    struct stat st;
    ok(live && stat(live, &st) == 0 && (st.st_mode & 0777) == 0700, "work dir is 0700");
    _cleanup_free_ char *owner = path_join(live, "owner");
    ok(stat(owner, &st) == 0 && (st.st_mode & 0777) == 0600, "owner file is 0600");

    /* a dead kiln's dir: same owner file, pid of the reaped child */
    _cleanup_free_ char *dead = path_join(tmp, WORKDIR_PREFIX "dead00");
    mkdir_p(dead, 0700);
    _cleanup_free_ char *downer = path_join(dead, "owner");
    _cleanup_free_ char *dtext = xasprintf("{\"pid\": %d, \"start\": 1, \"run_dir\": \"/x/runs/r-0\", \"name\": \"r\", "
                                           "\"platform\": \"qemu\", \"started\": 5}", (int)child);
    write_file_atomic(downer, dtext, strlen(dtext), 0600);
    _cleanup_free_ char *key = path_join(dead, "id_ed25519");
    write_file_atomic(key, "k", 1, 0600);
    /* one without an owner file: old, and just made */
    _cleanup_free_ char *old = path_join(tmp, WORKDIR_PREFIX "old000");
    _cleanup_free_ char *fresh = path_join(tmp, WORKDIR_PREFIX "new000");
    mkdir_p(old, 0700);
    mkdir_p(fresh, 0700);
    struct utimbuf ut = {.actime = time(NULL) - 3600, .modtime = time(NULL) - 3600};
    utime(old, &ut);
    /* a link must not be followed */
    _cleanup_free_ char *victim = path_join(dir, "victim");
    mkdir_p(victim, 0700);
    _cleanup_free_ char *link = path_join(tmp, WORKDIR_PREFIX "link00");
    ok(symlink(victim, link) == 0, "planted link");

    struct workdir_owner *gone = NULL;
    size_t n = workdir_sweep(tmp, &gone);
    is_int(n, 2, "the dead kiln's and the old unowned dirs are swept");
    ok(!file_exists(dead) && !file_exists(old), "both removed");
    ok(file_exists(live) && file_exists(fresh), "the live and the fresh dirs are kept");
    ok(file_exists(victim) && file_exists(link), "a link is neither followed nor removed");
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (gone[i].pid == child) found = streq(gone[i].run_dir, "/x/runs/r-0") && gone[i].started == 5;
    ok(found, "the dead owner's run dir is reported");
    workdir_owners_free(gone, n);
    free(live);
}

int main(void)
{
    char dir[] = "/tmp/kiln-secret-XXXXXX";
    ok(mkdtemp(dir) != NULL, "scratch dir");
    test_mask_and_cut();
    test_streams(dir);
    struct diags d = {0};
    _cleanup_free_ char *pat = kiln_data_path("console-patterns.yml");
    struct kiln_patterns *p = patterns_load(pat, NULL, 0, &d);
    ok(p != NULL, "patterns load");
    test_console_cut(dir, p);
    patterns_free(p);
    diags_free(&d);
    test_runbook_diags(dir);
    test_argv();
    test_workdir(dir);
    secret_clear();
    yfiles_free();
    rm_rf(dir);
    return tap_done();
}
