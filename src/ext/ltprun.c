/* LTP: one case per runtest group (ltp.<group>), one subtest per test (ltp:<group>:<tag>).
 *
 * LTP lives on the guest (default /opt/ltp). With `source:` kiln first puts it there: an
 * installed tree (runtest/ and testcases/bin/) is uploaded as is; a source tree is uploaded
 * and built on the guest (configure, make, make install) when the guest has a toolchain.
 *
 * Runners:
 *   kiln   (default) reads runtest/<group> and runs each entry the way runltp and kirk do
 *          (cwd and PATH testcases/bin, LTPROOT, TMPDIR), one command per test, so every test
 *          gets its own duration, output file and hard timeout. Exit status per LTP's test
 *          library: 0 pass, 32 TCONF alone = skipped, any of TFAIL 1 / TBROK 2 / TWARN 4 = failed.
 *   runltp runs `runltp -f <group> -S <skipfile> -l <log>` and parses the result log.
 *   kirk   runs `kirk --run-suite <group> --skip-tests <regex> --exec-timeout <s>
 *          --json-report <file>` and parses the JSON report. */
#include "ext/ltprun.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "run/case.h"
#include "ext/common.h"
#include "ext/ltp.h"
#include "ext/tap.h"
#include "node/node.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

#define WORK_DIR "/var/tmp/kiln-ltp"
#define SRC_DIR WORK_DIR "/src"
#define TFAIL 1
#define TBROK 2
#define TWARN 4
#define TCONF 32

static const struct kiln_ltp_conf *conf;

static bool skipped(const char *tag)
{
    for (size_t i = 0; i < conf->nskip; i++)
        if (streq(conf->skip[i], tag)) return true;
    return false;
}

static bool is_installed(const char *dir)
{
    _cleanup_free_ char *rt = path_join(dir, "runtest");
    _cleanup_free_ char *bin = path_join(dir, "testcases/bin");
    struct stat a, b;
    return stat(rt, &a) == 0 && S_ISDIR(a.st_mode) && stat(bin, &b) == 0 && S_ISDIR(b.st_mode);
}

/* Puts conf->source on the guest once per boot. Returns 0, CASE_FAIL or CASE_SKIP (recorded). */
static int install_source(struct kiln_case_ctx *t)
{
    const char *src = conf->source;
    struct stat st;
    if (stat(src, &st) < 0) return case_fail(t, "ltp.source %s: %s", src, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return case_fail(t, "ltp.source %s is not a directory (give an installed LTP tree or LTP's source tree)", src);
    if (is_installed(src)) return ext_upload_dir(t, src, conf->root);
    _cleanup_free_ char *configure_ac = path_join(src, "configure.ac");
    _cleanup_free_ char *tst = path_join(src, "include/tst_test.h");
    if (!file_exists(configure_ac) || !file_exists(tst))
        return case_fail(t, "ltp.source %s is neither an installed LTP tree (runtest/, testcases/bin/) nor LTP's "
                            "source tree (configure.ac, include/tst_test.h)", src);
    _cleanup_free_ char *have = NULL;
    if (case_sh(t, "command -v make >/dev/null && command -v cc >/dev/null && echo yes", &have) != 0 || !have ||
        !strstr(have, "yes"))
        return case_skip(t, "ltp.source is LTP's source tree, but %s has no toolchain (make, cc) to build it; "
                            "install LTP in the image (%s) or give an installed tree",
                         t->node->name, conf->root);
    _cleanup_free_ char *done = NULL;
    _cleanup_free_ char *rq = shell_quote(conf->root);
    _cleanup_free_ char *probe = xasprintf("test -f %s/.kiln-built && echo yes", rq);
    if (case_sh(t, probe, &done) == 0 && done && strstr(done, "yes")) return 0;
    if (ext_upload_dir(t, src, SRC_DIR) != 0) return CASE_FAIL;
    _cleanup_free_ char *cmd = xasprintf(
        "cd " SRC_DIR " && { [ -x configure ] || make autotools; } && ./configure --prefix=%s && "
        "make -j\"$(nproc)\" && make install && touch %s/.kiln-built", rq, rq);
    struct kiln_exec e;
    int r = node_exec(t->node, cmd, case_time_left(t), &e);
    if (r < 0 || e.status != 0) {
        _cleanup_free_ char *tail = ext_last_lines(*e.err ? e.err : e.out, 4);
        kiln_exec_free(&e);
        return case_fail(t, "building LTP on %s failed: %s", t->node->name, tail);
    }
    case_log(t, "built and installed LTP into %s in %.0f s", conf->root, e.duration_s);
    kiln_exec_free(&e);
    return 0;
}

static char *flags_text(int st)
{
    struct sbuf b = {0};
    const struct { int bit; const char *name; } f[] = {{TFAIL, "TFAIL"}, {TBROK, "TBROK"}, {TWARN, "TWARN"}, {TCONF, "TCONF"}};
    for (size_t i = 0; i < ARRAY_SIZE(f); i++)
        if (st & f[i].bit) sbuf_printf(&b, "%s%s", b.len ? "|" : "", f[i].name);
    return b.s ? sbuf_steal(&b) : xstrdup("unknown failure");
}

/* The kiln runner: every runtest entry as its own command. */
static int run_kiln(struct kiln_case_ctx *t, struct ext_case *g, const char *runtest)
{
    _cleanup_free_ char *text = xstrdup(runtest);
    _cleanup_free_ char *rq = shell_quote(conf->root);
    int rc = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t') line++;
        if (!*line || *line == '#') continue;
        size_t tl = strcspn(line, " \t");
        _cleanup_free_ char *tag = xstrndup(line, tl);
        const char *command = line + tl + strspn(line + tl, " \t");
        _cleanup_free_ char *sub = xasprintf("ltp:%s:%s", g->name, tag);
        if (!*command) {
            ext_add_subtest(t, sub, ST_FAILED, 0, "the runtest entry has no command");
            continue;
        }
        if (skipped(tag)) {
            ext_add_subtest(t, sub, ST_SKIPPED, 0, "skipped by the runbook (ltp.skip)");
            continue;
        }
        if (kiln_interrupted) break;
        _cleanup_free_ char *cq = shell_quote(command);
        _cleanup_free_ char *cmd = xasprintf(
            "cd %s/testcases/bin && mkdir -p " WORK_DIR "/tmp && LTPROOT=%s TMPDIR=" WORK_DIR "/tmp "
            "PATH=%s/testcases/bin:$PATH sh -c %s", rq, rq, rq, cq);
        int limit = MIN((int)conf->timeout_s, case_time_left(t));
        struct kiln_exec e;
        int r = ext_run_test(t, cmd, limit, sub, "ltp", tag, &e);
        if (r < 0) return r;
        _cleanup_free_ char *tail = ext_last_lines(*e.out ? e.out : e.err, 2);
        if (e.timed_out) {
            _cleanup_free_ char *why = xasprintf("timed out after %d s (ltp.timeout_s): %s", limit, tail);
            ext_add_subtest(t, sub, ST_FAILED, e.duration_s, why);
        } else if (e.status == 0) {
            ext_add_subtest(t, sub, ST_PASSED, e.duration_s, NULL);
        } else if (e.status == TCONF) {
            _cleanup_free_ char *why = xasprintf("TCONF: %s", tail);
            ext_add_subtest(t, sub, ST_SKIPPED, e.duration_s, why);
        } else {
            _cleanup_free_ char *flags = e.status > 0 && e.status < 64 ? flags_text(e.status) : xstrdup("ended abnormally");
            _cleanup_free_ char *why = xasprintf("%s (exit %d): %s", flags, e.status, tail);
            ext_add_subtest(t, sub, ST_FAILED, e.duration_s, why);
        }
        kiln_exec_free(&e);
    }
    return rc;
}

/* runltp or kirk: one command for the group, then its report. */
static bool runtest_has(const char *runtest, const char *tag)
{
    size_t tl = strlen(tag);
    for (const char *p = runtest; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        p += strspn(p, " \t");
        if (!strncmp(p, tag, tl) && (p[tl] == ' ' || p[tl] == '\t')) return true;
    }
    return false;
}

static int run_tool(struct kiln_case_ctx *t, struct ext_case *g, const char *runtest)
{
    _cleanup_free_ char *rq = shell_quote(conf->root);
    _cleanup_free_ char *gq = shell_quote(g->name);
    _cleanup_free_ char *report = xasprintf(WORK_DIR "/%s.%s", g->name, conf->runner == LTP_RUNNER_KIRK ? "json" : "log");
    _cleanup_free_ char *repq = shell_quote(report);
    struct sbuf skip = {0};
    _cleanup_free_ char *cmd = NULL;
    if (conf->runner == LTP_RUNNER_RUNLTP) {
        for (size_t i = 0; i < conf->nskip; i++) sbuf_printf(&skip, "%s\n", conf->skip[i]);
        int ur = node_upload(t->node, skip.s ? skip.s : "", skip.len, WORK_DIR "/skipfile", 0644);
        sbuf_free(&skip);
        if (ur < 0) return case_fail(t, "cannot upload the skip file: %s", strerror(-ur));
        cmd = xasprintf("cd %s && rm -f %s && ./runltp -f %s -S " WORK_DIR "/skipfile -l %s -o " WORK_DIR "/%s.out -p -q",
                        rq, repq, gq, repq, g->name);
    } else {
        for (size_t i = 0; i < conf->nskip; i++) sbuf_printf(&skip, "%s^%s$", i ? "|" : "", conf->skip[i]);
        _cleanup_free_ char *sq = skip.s ? shell_quote(skip.s) : NULL;
        sbuf_free(&skip);
        cmd = xasprintf("mkdir -p " WORK_DIR " && cd %s && rm -f %s && K=$(command -v kirk || echo ./kirk) && "
                        "LTPROOT=%s \"$K\" --run-suite %s %s%s --exec-timeout %ld --json-report %s",
                        rq, repq, rq, gq, sq ? "--skip-tests " : "", sq ? sq : "", conf->timeout_s, repq);
    }
    struct kiln_exec e;
    int r = node_exec(t->node, cmd, case_time_left(t), &e);
    if (r < 0 && !e.timed_out) {
        kiln_exec_free(&e);
        return r;
    }
    ext_save_output(t, "ltp", g->name, e.out, e.err);
    _cleanup_free_ char *tail = ext_last_lines(*e.err ? e.err : e.out, 3);
    bool timed_out = e.timed_out;
    kiln_exec_free(&e);
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    if (node_download(t->node, report, 256u << 20, &data, &len) < 0)
        return case_fail(t, "%s wrote no report %s%s: %s", conf->runner == LTP_RUNNER_KIRK ? "kirk" : "runltp", report,
                         timed_out ? " (the case timed out)" : "", tail);
    struct kiln_subtest *subs = NULL;
    size_t n = 0;
    bool ok = conf->runner == LTP_RUNNER_KIRK ? ltp_kirk_parse(data, len, &subs, &n) : ltp_parse(data, len, &subs, &n);
    if (!ok) {
        subtests_free(subs, n);
        return case_fail(t, "the report %s has no test results: %s", report, tail);
    }
    _cleanup_free_ char *prefix = xasprintf("ltp:%s:", g->name);
    ext_add_subtests(t, subs, n, prefix);
    /* the tools leave skipped tests out of their reports; show them as kiln's runner does */
    for (size_t i = 0; i < conf->nskip; i++) {
        _cleanup_free_ char *sub = xasprintf("%s%s", prefix, conf->skip[i]);
        bool reported = false;
        for (size_t k = 0; k < t->res->nsubtests && !reported; k++) reported = streq(t->res->subtests[k].name, sub);
        if (!reported && runtest_has(runtest, conf->skip[i]))
            ext_add_subtest(t, sub, ST_SKIPPED, 0, "skipped by the runbook (ltp.skip)");
    }
    if (timed_out) return case_fail(t, "the group did not finish within the case's time");
    return 0;
}

static int run_group(struct kiln_case_ctx *t)
{
    struct ext_case *g = t->c->data;
    if (conf->source) {
        int r = install_source(t);
        if (r) return r;
    }
    _cleanup_free_ char *path = xasprintf("%s/runtest/%s", conf->root, g->name);
    _cleanup_free_ char *runtest = NULL;
    size_t len = 0;
    int r = node_download(t->node, path, 16u << 20, &runtest, &len);
    if (r < 0) {
        _cleanup_free_ char *any = NULL;
        _cleanup_free_ char *rq = shell_quote(conf->root);
        _cleanup_free_ char *probe = xasprintf("test -d %s/testcases/bin && echo yes", rq);
        if (case_sh(t, probe, &any) != 0 || !any || !strstr(any, "yes"))
            return case_skip(t, "LTP is not installed on %s (no %s/testcases/bin); install it in the image or give "
                                "ltp.source", t->node->name, conf->root);
        return case_fail(t, "LTP at %s has no runtest file \"%s\" (%s)", conf->root, g->name, strerror(-r));
    }
    int rc = conf->runner == LTP_RUNNER_KILN ? run_kiln(t, g, runtest) : run_tool(t, g, runtest);
    if (rc) return rc;
    if (!t->res->nsubtests) return case_fail(t, "runtest/%s ran no test", g->name);
    return ext_judge_subtests(t);
}

static char *describe(const char *group)
{
    return xasprintf("LTP runtest group %s", group);
}

static struct ext_suite suite = {.prefix = "ltp", .key = "ltp.groups", .area = "kernel", .timeout_s = 6 * 3600,
                                 .run = run_group, .describe = describe};

int ext_ltp_load(const struct kiln_runbook *rb, struct diags *d)
{
    conf = rb->ltp;
    return conf ? ext_suite_load(&suite, conf->groups, conf->ngroups, conf->priority, rb->path, d) : 0;
}

void ext_ltp_free(void)
{
    ext_cases_free(&suite.cases);
    conf = NULL;
}
