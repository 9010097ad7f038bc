/* kselftest: the kernel's own selftests as subtests "kselftest:<collection>:<test>".
 *
 * The runbook names a source: a kernel tree, Debian's linux-source tarball, a tree already
 * installed with `make install` (run_kselftest.sh at its top) or a `make gen_tar` tarball.
 * kiln builds the selected collections once (`make headers`, then `make -C
 * tools/testing/selftests TARGETS=... install`), caches the installed tree under
 * ~/.cache/kiln/kselftest, uploads it to the node once per boot and runs every test with the
 * suite's own run_kselftest.sh, one test per invocation so each has its own duration, output
 * file and hard timeout. The per-test timeout is the suite's mechanism: the collection's
 * `settings` file (timeout=N), rewritten on the guest when the runbook sets timeout_s. */
#include "ext/kselftest.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/case.h"
#include "ext/common.h"
#include "ext/tap.h"
#include "node/node.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/util.h"

#define REMOTE_DIR "/var/tmp/kiln-kselftest"
#define BUILD_TIMEOUT_MS (3600 * 1000)
#define RUNNER_DEFAULT_TIMEOUT_S 45 /* kselftest's runner.sh default */

static const struct kiln_kselftest_conf *conf;

static pthread_mutex_t prep_lock = PTHREAD_MUTEX_INITIALIZER;
static char *prepared_dir; /* the installed tree, once built */
static char *prep_error;   /* why preparing failed (kept so every collection reports it) */

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static bool is_installed_tree(const char *dir)
{
    _cleanup_free_ char *runner = path_join(dir, "run_kselftest.sh");
    _cleanup_free_ char *list = path_join(dir, "kselftest-list.txt");
    return file_exists(runner) && file_exists(list);
}

static bool is_kernel_tree(const char *dir)
{
    _cleanup_free_ char *mk = path_join(dir, "tools/testing/selftests/Makefile");
    return file_exists(mk);
}

/* Runs argv, appending its output to log; on failure leaves "what: last lines (see log)". */
static int step(char *const argv[], const char *what, const char *logpath, int timeout_ms)
{
    _cleanup_free_ char *out = NULL;
    int64_t t0 = now_ms();
    int r = proc_run(argv, timeout_ms, &out);
    FILE *f = secret_fopen(logpath, true, 0644);
    if (f) {
        fprintf(f, "$");
        for (size_t i = 0; argv[i]; i++) fprintf(f, " %s", argv[i]);
        fprintf(f, "\n%s\n[exit %d after %.1f s]\n", out ? out : "", r, (now_ms() - t0) / 1000.0);
        fclose(f);
    }
    if (r != 0) {
        _cleanup_free_ char *tail = ext_last_lines(out, 4);
        free(prep_error);
        prep_error = xasprintf("%s failed (%s): %s; full output in %s", what,
                               r == -ETIMEDOUT ? "timed out" : r < 0 ? strerror(-r) : "non-zero exit", tail, logpath);
        return -1;
    }
    log_info("kselftest: %s took %.1f s", what, (now_ms() - t0) / 1000.0);
    return 0;
}

/* The kernel tree inside an unpacked tarball: the top or one directory down. */
static char *find_tree(const char *dir)
{
    if (is_installed_tree(dir) || is_kernel_tree(dir)) return xstrdup(dir);
    _cleanup_free_ char *out = NULL;
    char *argv[] = {"find", (char *)dir, "-mindepth", "1", "-maxdepth", "1", "-type", "d", NULL};
    if (proc_run(argv, 30000, &out) != 0 || !out) return NULL;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (is_installed_tree(line) || is_kernel_tree(line)) return xstrdup(line);
    return NULL;
}

static char *collections_key(void)
{
    struct sbuf b = {0};
    for (size_t i = 0; i < conf->ncollections; i++) sbuf_printf(&b, "%s ", conf->collections[i]);
    char *s = sbuf_steal(&b);
    return s ? s : xstrdup("");
}

/* Builds (or finds cached) the installed tree; returns its path or NULL with prep_error set. */
static char *prepare_locked(void)
{
    const char *src = conf->source;
    struct stat st;
    if (stat(src, &st) < 0) {
        prep_error = xasprintf("kselftest.source %s: %s", src, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode) && is_installed_tree(src)) return xstrdup(src);
    _cleanup_free_ char *ckey = collections_key();
    _cleanup_free_ char *skey = xasprintf("%s %lld %lld", src, (long long)st.st_size, (long long)st.st_mtime);
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, skey);
    _cleanup_free_ char *root = kiln_cache_path("kselftest");
    _cleanup_free_ char *srcdir_rel = xasprintf("src-%016llx", (unsigned long long)h);
    _cleanup_free_ char *srcdir = path_join(root, srcdir_rel);
    _cleanup_free_ char *inst_rel = xasprintf("install-%016llx", (unsigned long long)fnv1a(h, ckey));
    _cleanup_free_ char *inst = path_join(root, inst_rel);
    _cleanup_free_ char *logpath = xasprintf("%s.log", inst);
    if (mkdir_p(root, 0755) < 0) {
        prep_error = xasprintf("cannot create the cache %s: %s", root, strerror(errno));
        return NULL;
    }
    /* a tarball of sources is unpacked once; a tree the user points at is built in place */
    _cleanup_free_ char *tree = NULL;
    if (S_ISDIR(st.st_mode)) {
        if (!is_kernel_tree(src)) {
            prep_error = xasprintf("kselftest.source %s is neither a kernel tree (tools/testing/selftests) nor an "
                                   "installed kselftest directory (run_kselftest.sh)", src);
            return NULL;
        }
        tree = xstrdup(src);
    } else {
        if (file_exists(inst) && is_installed_tree(inst)) return xstrdup(inst); /* cached */
        _cleanup_free_ char *done = path_join(srcdir, ".kiln-unpacked");
        if (!file_exists(done)) {
            log_info("kselftest: unpacking %s into %s", src, srcdir);
            rm_rf(srcdir);
            mkdir_p(srcdir, 0755);
            char *argv[] = {"tar", "-C", srcdir, "-xf", (char *)src, NULL};
            if (step(argv, "unpacking kselftest.source", logpath, BUILD_TIMEOUT_MS) < 0) {
                rm_rf(srcdir);
                return NULL;
            }
            write_file_atomic(done, "", 0, 0644);
        }
        tree = find_tree(srcdir);
        if (!tree) {
            prep_error = xasprintf("%s holds neither a kernel tree nor run_kselftest.sh at its top or one level down", src);
            return NULL;
        }
        if (is_installed_tree(tree)) return xstrdup(tree);
    }
    /* build the collections and install them into a temporary directory, then rename */
    _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", inst, (int)getpid());
    rm_rf(tmp);
    unlink(logpath);
    log_info("kselftest: building %sfrom %s (log: %s)", ckey, tree, logpath);
    _cleanup_free_ char *targets = xasprintf("TARGETS=%s", ckey);
    _cleanup_free_ char *ipath = xasprintf("INSTALL_PATH=%s", tmp);
    _cleanup_free_ char *st_dir = path_join(tree, "tools/testing/selftests");
    char *headers[] = {"make", "-C", tree, "-j2", "headers", NULL};
    char *build[] = {"make", "-C", st_dir, "-j2", targets, NULL};
    char *install[] = {"make", "-C", st_dir, targets, ipath, "install", NULL};
    if (step(headers, "make headers", logpath, BUILD_TIMEOUT_MS) < 0 ||
        step(build, "building the collections", logpath, BUILD_TIMEOUT_MS) < 0 ||
        step(install, "installing the collections", logpath, BUILD_TIMEOUT_MS) < 0) {
        rm_rf(tmp);
        return NULL;
    }
    rm_rf(inst);
    if (rename(tmp, inst) < 0) {
        prep_error = xasprintf("cannot move %s to %s: %s", tmp, inst, strerror(errno));
        rm_rf(tmp);
        return NULL;
    }
    return xstrdup(inst);
}

static const char *prepare(void)
{
    pthread_mutex_lock(&prep_lock);
    if (!prepared_dir && !prep_error) prepared_dir = prepare_locked();
    pthread_mutex_unlock(&prep_lock);
    return prepared_dir;
}

static bool skipped(const char *coll, const char *test)
{
    size_t cl = strlen(coll);
    for (size_t i = 0; i < conf->nskip; i++) {
        const char *s = conf->skip[i];
        if (!strncmp(s, coll, cl) && s[cl] == ':' && streq(s + cl + 1, test)) return true;
    }
    return false;
}

/* The tests of one collection, from the installed kselftest-list.txt. */
static char **list_tests(const char *inst, const char *coll, size_t *n)
{
    _cleanup_free_ char *path = path_join(inst, "kselftest-list.txt");
    _cleanup_free_ char *text = NULL;
    size_t len;
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    if (read_file(path, 16u << 20, &text, &len) < 0) return NULL;
    size_t cl = strlen(coll);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (!strncmp(line, coll, cl) && line[cl] == ':' && line[cl + 1]) *APPEND(v, *n, cap) = xstrdup(line + cl + 1);
    return v;
}

/* The last non-empty line a test printed (the runner prefixes its output with "# "). */
static char *last_said(const char *out)
{
    const char *best = NULL;
    size_t blen = 0;
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        const char *q = p;
        size_t ql = l;
        if (ql >= 1 && *q == '#') q++, ql--;
        while (ql && (*q == ' ' || *q == '\t')) q++, ql--;
        while (ql && (q[ql - 1] == ' ' || q[ql - 1] == '\r')) ql--;
        if (ql && strncmp(q, "selftests:", 10) && strncmp(q, "TAP version", 11) && strncmp(q, "ok ", 3) && strncmp(p, "ok ", 3) && strncmp(q, "not ok ", 7) &&
            strncmp(p, "not ok ", 7) && !(q[0] == '1' && q[1] == '.' && q[2] == '.')) {
            best = q;
            blen = ql;
        }
        p = nl ? nl + 1 : p + l;
    }
    if (!best) return xstrdup("(no output)");
    char *said = xstrndup(best, blen);
    said[utf8_cut(said, 300)] = 0;
    return said;
}

/* One test through run_kselftest.sh -t; adds its subtests. */
static int run_one(struct kiln_case_ctx *t, const char *coll, const char *test, int per_test_s)
{
    _cleanup_free_ char *id = xasprintf("%s:%s", coll, test);
    _cleanup_free_ char *sub = xasprintf("kselftest:%s", id);
    _cleanup_free_ char *q = shell_quote(id);
    _cleanup_free_ char *cmd = xasprintf("cd " REMOTE_DIR " && ./run_kselftest.sh -t %s", q);
    int limit = per_test_s > 0 ? per_test_s + 30 : case_time_left(t);
    if (limit > case_time_left(t)) limit = case_time_left(t);
    struct kiln_exec e;
    int r = ext_run_test(t, cmd, limit, sub, "kselftest", id, &e);
    if (r < 0) return r;
    struct kiln_subtest *subs = NULL;
    size_t nsubs = 0;
    bool tap = tap_parse(e.out, strlen(e.out), &subs, &nsubs, NULL);
    /* the runner's own line for this test is named coll:test; give it kiln's duration and,
     * when it failed without a directive, the last lines the test printed */
    bool own = false;
    for (size_t i = 0; i < nsubs; i++)
        if (streq(subs[i].name, id)) {
            own = true;
            subs[i].duration_s = e.duration_s;
            if (subs[i].status == ST_FAILED) {
                /* "exit=255" or "TIMEOUT 45 seconds" says little: add what the test printed last */
                _cleanup_free_ char *said = last_said(e.out);
                char *why = subs[i].reason ? xasprintf("%s: %s", subs[i].reason, said) : xstrdup(said);
                free(subs[i].reason);
                subs[i].reason = why;
            }
        }
    ext_add_subtests(t, subs, nsubs, "kselftest:");
    if (e.timed_out) {
        _cleanup_free_ char *why = xasprintf("still running after kiln's hard limit of %d s (the runner's timeout did not end it)", limit);
        ext_add_subtest(t, sub, ST_FAILED, e.duration_s, why);
    } else if (!tap || !own) {
        _cleanup_free_ char *tail = ext_last_lines(*e.err ? e.err : e.out, 3);
        _cleanup_free_ char *why = xasprintf("run_kselftest.sh printed no result for it (exit %d): %s", e.status, tail);
        ext_add_subtest(t, sub, ST_FAILED, e.duration_s, why);
    }
    case_log(t, "%s: %s in %.1f s", sub, e.timed_out ? "hard timeout" : "done", e.duration_s);
    kiln_exec_free(&e);
    return 0;
}

static int run_collection(struct kiln_case_ctx *t)
{
    struct ext_case *col = t->c->data;
    const char *inst = prepare();
    if (!inst) return case_fail(t, "cannot prepare kselftest: %s", prep_error);
    size_t ntests;
    char **tests = list_tests(inst, col->name, &ntests);
    if (!ntests) {
        free(tests);
        return case_fail(t, "collection \"%s\" has no tests in %s/kselftest-list.txt (is it a kselftest "
                            "TARGET of this kernel, and did it build?)", col->name, inst);
    }
    int rc = 0;
    if (ext_upload_dir(t, inst, REMOTE_DIR) != 0) rc = CASE_FAIL;
    int per_test = conf->timeout_s;
    if (!rc && conf->timeout_s > 0) {
        _cleanup_free_ char *q = shell_quote(col->name);
        _cleanup_free_ char *cmd = xasprintf(
            "cd " REMOTE_DIR "/%s && { grep -v '^timeout=' settings 2>/dev/null; echo timeout=%ld; } > settings.kiln && "
            "mv settings.kiln settings", q, conf->timeout_s);
        _cleanup_free_ char *out = NULL;
        if (case_sh(t, cmd, &out) != 0) rc = case_fail(t, "cannot set the per-test timeout: %s", out ? out : "");
    } else if (!rc) {
        /* the collection's own settings (timeout=0 means none) or the runner's default */
        _cleanup_free_ char *path = xasprintf("%s/%s/settings", inst, col->name);
        _cleanup_free_ char *text = NULL;
        size_t len;
        per_test = RUNNER_DEFAULT_TIMEOUT_S;
        if (read_file(path, 65536, &text, &len) == 0) {
            char *p = strstr(text, "timeout=");
            if (p && (p == text || p[-1] == '\n')) per_test = atoi(p + 8);
        }
    }
    for (size_t i = 0; i < ntests && !rc; i++) {
        if (skipped(col->name, tests[i])) {
            _cleanup_free_ char *sub = xasprintf("kselftest:%s:%s", col->name, tests[i]);
            ext_add_subtest(t, sub, ST_SKIPPED, 0, "skipped by the runbook (kselftest.skip)");
            continue;
        }
        if (kiln_interrupted) break;
        int r = run_one(t, col->name, tests[i], per_test);
        if (r < 0) rc = r;
    }
    strv_free(tests, ntests);
    if (rc) return rc;
    return ext_judge_subtests(t);
}

static char *describe(const char *collection)
{
    return xasprintf("the kernel's %s selftests, run with run_kselftest.sh", collection);
}

static struct ext_suite suite = {.prefix = "kselftest", .key = "kselftest.collections", .area = "kernel",
                                 .timeout_s = 4 * 3600, .run = run_collection, .describe = describe};

int ext_kselftest_load(const struct kiln_runbook *rb, struct diags *d)
{
    conf = rb->kselftest;
    return conf ? ext_suite_load(&suite, conf->collections, conf->ncollections, conf->priority, rb->path, d) : 0;
}

void ext_kselftest_free(void)
{
    ext_cases_free(&suite.cases);
    free(prepared_dir);
    free(prep_error);
    prepared_dir = prep_error = NULL;
    conf = NULL;
}
