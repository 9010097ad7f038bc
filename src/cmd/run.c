/* kiln run RUNBOOK: boot environments, run the selected cases, write the reports. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cmd/common.h"
#include "run/scheduler.h"
#include "run/select.h"
#include "run/workdir.h"
#include "node/console.h"
#include "node/keys.h"
#include "node/ssh_cli.h"
#include "platform/platform.h"
#include "report/notifier.h"
#include "util/progress.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/util.h"

/* The tested files' digests, taken while the first environment boots (the VM reads them
 * through a copy-on-write overlay and never writes them). */
static void *hash_tested(void *arg)
{
    struct kiln_results *res = arg;
    for (size_t i = 0; i < res->ntested; i++)
        if (sha256_file_hex(res->tested[i].path, res->tested[i].sha256, NULL) < 0) res->tested[i].sha256[0] = 0;
    return NULL;
}

/* What the command line asks beyond the runbook's own selection. */
struct run_args {
    bool rerun;
    const char *rerun_dir; /* --rerun-failed=DIR */
    long *prios;
    size_t nprios, cap;
};

/* --priority N or a list N,M,...: each 0 to 5, all kept. */
static bool take_priority(const char *verb, const char *opt, const char *val, void *to)
{
    struct run_args *a = to;
    _cleanup_free_ char *list = xstrdup(val);
    char *save = NULL;
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
        if (!cmd_opt_long(verb, opt, p, 0, 5, APPEND(a->prios, a->nprios, a->cap))) return false;
    return true;
}

static bool take_rerun(const char *verb, const char *opt, const char *val, void *to)
{
    (void)verb, (void)opt;
    struct run_args *a = to;
    a->rerun = true;
    a->rerun_dir = val;
    return true;
}

/* results.json of a run; bounded like any input (a run of many cases with subtests stays far below). */
#define RESULTS_MAX_BYTES (64u << 20)

struct rerun {
    char *runbook;
    char **names;       /* cases that did not pass, once each */
    size_t nnames;
    char **secrets;     /* secret -v names the run had: they must be given again */
    size_t nsecrets;
};

static void rerun_free(struct rerun *r)
{
    free(r->runbook);
    strv_free(r->names, r->nnames);
    strv_free(r->secrets, r->nsecrets);
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Reads what --rerun-failed needs from RUN_DIR/results.json: the runbook, the -v values (added
 * to vars; a secret's name to r->secrets) and the cases whose status is failed, attempted, or
 * queued/running (an interrupted run). 0, or -errno with why. */
static int rerun_load(const char *run_dir, struct rerun *r, struct cmd_vars *vars, char **reterr)
{
    _cleanup_free_ char *path = path_join(run_dir, "results.json");
    _cleanup_free_ char *text = NULL;
    size_t len, cap = 0, scap = 0;
    int rc = read_file(path, RESULTS_MAX_BYTES, &text, &len);
    if (rc < 0) return err_setf(reterr, rc, "%s: %s", path, rc == -EFBIG ? "larger than 64 MiB" : fs_strerror(rc));
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    json_t *run = json_object_get(root, "run");
    if (!root || !streq(jstr(root, "schema"), "kiln.results/v1")) {
        json_decref(root);
        return err_setf(reterr, -EINVAL, "%s is not a kiln run's results (%s)", path, root ? "another schema" : je.text);
    }
    if (!jstr(run, "runbook")) {
        json_decref(root);
        return err_setf(reterr, -EINVAL, "%s does not record its runbook (a run of an older kiln, or one killed before it "
                                 "began): run the runbook again with kiln run RUNBOOK", path);
    }
    r->runbook = xstrdup(jstr(run, "runbook"));
    size_t i;
    json_t *v, *c;
    json_array_foreach(json_object_get(run, "variables"), i, v) {
        const char *name = jstr(v, "name"), *value = jstr(v, "value");
        if (!name) continue;
        if (json_is_true(json_object_get(v, "secret"))) {
            *APPEND(r->secrets, r->nsecrets, scap) = xstrdup(name);
            continue;
        }
        _cleanup_free_ char *arg = xasprintf("%s=%s", name, value ? value : "");
        struct kiln_var kv;
        if (runbook_parse_cli_var(arg, &kv) == 0) *APPEND(vars->v, vars->n, vars->cap) = kv;
    }
    json_array_foreach(json_object_get(root, "cases"), i, c) {
        const char *st = jstr(c, "status"), *name = jstr(c, "name");
        if (!st || !name || !(streq(st, "failed") || streq(st, "attempted") || streq(st, "queued") || streq(st, "running")))
            continue;
        bool seen = false;
        for (size_t k = 0; k < r->nnames && !seen; k++) seen = streq(r->names[k], name);
        if (!seen) *APPEND(r->names, r->nnames, cap) = xstrdup(name);
    }
    json_decref(root);
    return 0;
}

/* What results.json records of how the run was started, for --rerun-failed. */
static void record_invocation(struct kiln_results *res, const char *path, const struct cmd_vars *vars)
{
    res->runbook = realpath(path, NULL);
    res->vars = xcalloc(vars->n ? vars->n : 1, sizeof *res->vars);
    for (size_t i = 0; i < vars->n; i++) {
        /* a later -v of the same name wins: keep the last only */
        bool later = false;
        for (size_t k = i + 1; k < vars->n && !later; k++) later = streq(vars->v[k].name, vars->v[i].name);
        if (later) continue;
        res->vars[res->nvars++] = (struct kiln_run_var){.name = xstrdup(vars->v[i].name), .secret = vars->v[i].secret,
                                                        .value = vars->v[i].secret ? NULL : xstrdup(vars->v[i].value)};
    }
}

/* What a run writes before its first VM boots: the console and case logs, the reports. */
#define MIN_FREE_MB 16
#define PROBE_BYTES (256 * 1024)

/* Whether dir takes files: MIN_FREE_MB free and a probe written, so a full or read-only disk
 * stops the run before any VM boots, not after it with empty logs. */
static int check_writable(const char *dir, char **reterr)
{
    struct statvfs sv;
    if (statvfs(dir, &sv) < 0) {
        int e = errno;
        return err_setf(reterr, -e, "%s", strerror(e));
    }
    unsigned long long avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
    if (avail < (unsigned long long)MIN_FREE_MB << 20)
        return err_setf(reterr, -ENOSPC, "%s (%llu KiB free, a run needs at least %d MiB)", strerror(ENOSPC), avail >> 10,
                        MIN_FREE_MB);
    _cleanup_free_ char *probe = path_join(dir, ".kiln-probe");
    _cleanup_free_ char *zeros = xcalloc(1, PROBE_BYTES);
    int r = write_file_atomic(probe, zeros, PROBE_BYTES, 0600);
    unlink(probe);
    if (r < 0) return err_setf(reterr, r, "%s", strerror(-r));
    return 0;
}

/* A run whose kiln was killed (kill -9, power loss) has no results.json: give it one that says
 * it was interrupted, so every tool reads the directory the same way, and say so in its log.
 * runs/latest is left alone: it still names the newest run that finished. */
static void mark_orphan(const struct workdir_owner *o)
{
    if (!o->run_dir || !file_exists(o->run_dir)) return;
    _cleanup_free_ char *rj = path_join(o->run_dir, "results.json");
    if (file_exists(rj)) return;
    const char *base = strrchr(o->run_dir, '/');
    struct kiln_results res = {.name = xstrdup(o->name ? o->name : "?"), .id = xstrdup(base ? base + 1 : o->run_dir),
                               .dir = xstrdup(o->run_dir), .platform = xstrdup(o->platform ? o->platform : "-"),
                               .accel = xstrdup("-"), .started = o->started, .interrupted = true};
    char *text = results_to_json(&res);
    int r = text ? secret_write_structured(rj, text, strlen(text), 0644) : -ENOMEM;
    free(text);
    results_free(&res);
    _cleanup_free_ char *logpath = path_join(o->run_dir, "kiln.log");
    FILE *f = secret_fopen(logpath, true, 0644);
    if (f) {
        fprintf(f, "kiln (pid %d) ended before this run finished; kiln pid %d marked it interrupted\n", (int)o->pid,
                (int)getpid());
        fclose(f);
    }
    if (r < 0) log_warn("cannot mark %s as interrupted: %s", o->run_dir, strerror(-r));
    else log_warn("run %s was left unfinished by kiln pid %d; marked interrupted", o->run_dir, (int)o->pid);
}

static char *make_run_dir(const char *runs, const char *name, char **id)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    if (mkdir_p(runs, 0755) < 0) return NULL;
    for (int k = 1; k < 1000; k++) {
        char *base = k == 1 ? xasprintf("%s-%s", name, stamp) : xasprintf("%s-%s-%d", name, stamp, k);
        char *dir = path_join(runs, base);
        if (mkdir(dir, 0755) == 0) {
            *id = base;
            return dir;
        }
        free(base);
        free(dir);
        if (errno != EEXIST) return NULL;
    }
    return NULL;
}

/* --rerun-failed DIR: the runbook, -v values (the recorded ones first, so one given now wins)
 * and the cases that did not pass, from DIR's results.json. CMD_GO to run them, else the exit
 * code (EXIT_OK: every case passed, nothing to run). */
static int rerun_prepare(const char *dir, struct rerun *rr, struct cmd_vars *vars)
{
    _cleanup_free_ char *why = NULL;
    struct cmd_vars rec = {0};
    if (rerun_load(dir, rr, &rec, &why) < 0) {
        fprintf(stderr, "kiln run: --rerun-failed: %s\n", why);
        cmd_vars_free(&rec);
        return EXIT_USAGE;
    }
    for (size_t k = 0; k < vars->n; k++) *APPEND(rec.v, rec.n, rec.cap) = vars->v[k];
    free(vars->v);
    *vars = rec;
    if (!rr->nnames) {
        printf("kiln run: every case of %s passed or was skipped; nothing to run again\n", dir);
        return EXIT_OK;
    }
    for (size_t k = 0; k < rr->nsecrets; k++) {
        bool given = false;
        for (size_t j = 0; j < vars->n && !given; j++) given = vars->v[j].secret && streq(vars->v[j].name, rr->secrets[k]);
        if (!given) {
            fprintf(stderr, "kiln run: --rerun-failed: %s was run with the secret -v s:%s=...; kiln does not keep "
                            "secrets: give it again\n", dir, rr->secrets[k]);
            return EXIT_USAGE;
        }
    }
    printf("kiln run: running again the %zu case(s) that did not pass in %s\n", rr->nnames, dir);
    return CMD_GO;
}

/* kiln run's command line, parsed. */
struct run_cmd {
    struct cmd_vars vars;
    const char *runs_dir, *path; /* path: the runbook (given, or --rerun-failed's) */
    bool debug;
    struct cmd_strs tags;
    struct run_args ra;
    struct rerun rr;
    int npos;
    const char **pos;            /* the operands */
    size_t first_glob;           /* pos[first_glob..npos) are NAME-GLOBs */
};

static void run_cmd_free(struct run_cmd *c)
{
    rerun_free(&c->rr);
    cmd_vars_free(&c->vars);
    free(c->tags.v);
    free(c->ra.prios);
}

/* Parses argv into c: which runbook, which -v values, what narrows the selection. CMD_GO to
 * run, else the exit code (usage errors printed). */
static int run_parse(int argc, char **argv, struct run_cmd *c)
{
    const struct cmd_opt opts[] = {
        {'v', "variable", "NAME=VALUE", CMD_FN, &c->vars, .fn = cmd_var_opt, .repeat = true,
         .help = "set a runbook variable (s:NAME=VALUE: a secret, never written);\nrepeatable"},
        {'r', "runbook", "RUNBOOK", CMD_STR, &c->path, .help = "the runbook, as LISA's lisa -r (the operands are then\nall NAME-GLOBs)"},
        {0, "tag", "T", CMD_LIST, &c->tags, .help = "only the cases carrying tag T (!T: not carrying it); repeatable"},
        {0, "priority", "N", CMD_FN, &c->ra, .fn = take_priority, .repeat = true,
         .help = "only the cases of priority N (0 to 5, or a list 0,1); repeatable"},
        {0, "rerun-failed", "RUN_DIR", CMD_FN, &c->ra, .fn = take_rerun, .optional = true,
         .help = "run again the cases that failed or did not finish in\nRUN_DIR (the first operand, or DIR/latest), with its\nrunbook and -v values"},
        {0, "runs-dir", "DIR", CMD_STR, &c->runs_dir, .help = "where run directories go (default: runs)"},
        {0, "debug", NULL, CMD_FLAG, &c->debug, .help = "log at debug level into the run's kiln.log"},
        {0},
    };
    const struct cmd_verb v = {
        "run",
        "RUNBOOK [NAME-GLOB]... [-v NAME=VALUE]... [--tag T]... [--priority N]... [--runs-dir DIR]\n"
        "-r RUNBOOK [NAME-GLOB]... [options]\n"
        "--rerun-failed [RUN_DIR] [-v NAME=VALUE]... [--runs-dir DIR]",
        "Boots the runbook's environments, runs the selected cases and writes DIR/<name>-<time>/\n"
        "(results.json, junit.xml, report.html, logs). NAME-GLOB (fnmatch: 'verify_*'), --tag and\n"
        "--priority narrow the runbook's selection, as kola run does. --rerun-failed runs again the\n"
        "cases that failed or did not finish, with the runbook and -v values its results.json\n"
        "records; -v given now override them (a secret is never recorded: give it again with\n"
        "-v s:NAME=VALUE). Relative values resolve from here.\n"
        "Each case's start (with the time into the run) and end (with its duration) are printed as\n"
        "they happen, and a RUNNING line a minute while it runs (on a TTY running one case at a\n"
        "time: one line, its time ticking).",
        opts, 0, -1, "RUNBOOK",
        .exits = "0 all passed, 1 a case failed (or the reports could not be written), 2 usage, a\n"
                 "missing runbook or a configuration error, 130 interrupted",
    };
    c->runs_dir = "runs";
    int code = cmd_parse(&v, argc, argv, &c->npos);
    c->pos = (const char **)argv + 1;
    if (code != CMD_GO) return code;
    const char *rerun_dir = c->ra.rerun_dir;
    if (c->ra.rerun) {
        if (c->path || c->npos > (rerun_dir ? 0 : 1)) {
            fprintf(stderr, "kiln run: --rerun-failed takes a run directory only: the runbook and the cases come from "
                            "its results.json\n");
            return EXIT_USAGE;
        }
        _cleanup_free_ char *latest_dir = path_join(c->runs_dir, "latest");
        const char *dir = rerun_dir ? rerun_dir : c->npos ? c->pos[0] : latest_dir;
        c->first_glob = (size_t)c->npos;
        code = rerun_prepare(dir, &c->rr, &c->vars);
        c->path = c->rr.runbook;
        return code;
    }
    if (!c->path) {
        if (!c->npos) return cmd_usage_error("run", "no RUNBOOK given"), EXIT_USAGE;
        c->path = c->pos[0];
        c->first_glob = 1;
    }
    return CMD_GO;
}

/* The cases to run: the runbook's selection narrowed by the command line. 0 (and the reason
 * printed) when there is none or the command line names what the runbook does not select. */
static size_t run_select(const struct kiln_runbook *rb, const struct run_cmd *c, struct kiln_selected **sel)
{
    cmd_warn_unmatched_rules("run", rb);
    char **conflicts;
    size_t nconf = select_conflicts(rb, &conflicts);
    for (size_t i = 0; i < nconf; i++) {
        secret_fprintf(stderr, "kiln run: %s\n", conflicts[i]);
        free(conflicts[i]);
    }
    free(conflicts);
    if (nconf) return 0;
    const struct kiln_select_filter filter = {
        .globs = c->pos + c->first_glob, .nglobs = (size_t)c->npos - c->first_glob,
        .names = (const char *const *)c->rr.names, .nnames = c->rr.nnames, .tags = c->tags.v, .ntags = c->tags.n,
        .priorities = c->ra.prios, .npriorities = c->ra.nprios};
    size_t nrb = select_cases(rb, sel);
    char **unmatched;
    size_t nsel = select_filter(*sel, nrb, &filter, &unmatched);
    bool bad_glob = false;
    for (char **u = unmatched; u && *u; u++) {
        bool glob = (size_t)(u - unmatched) < filter.nglobs && !c->rr.nnames;
        bad_glob = bad_glob || glob;
        if (glob)
            fprintf(stderr, "kiln run: NAME-GLOB %s matches none of the %zu case(s) %s selects (see `kiln list %s`)\n", *u,
                    nrb, c->path, c->path);
        else
            fprintf(stderr, "kiln run: warning: %s did not pass last time, but %s selects it no more\n", *u, c->path);
        free(*u);
    }
    free(unmatched);
    if (bad_glob) return 0;
    if (!nsel && nrb)
        fprintf(stderr, "kiln run: none of the %zu case(s) %s selects passes the command line's names, --tag and --priority\n",
                nrb, c->path);
    else if (!nsel)
        fprintf(stderr, "kiln run: %s selects no case; check testcase criteria with `kiln list %s`\n", c->path, c->path);
    return nsel;
}

/* One run, from its selected cases to its reports. */
struct run {
    const struct kiln_runbook *rb;
    const struct kiln_platform *ops;
    char *run_dir, *run_id, *abs_run; /* runs/<name>-<time>/, its name, its absolute path */
    char *work;                       /* $TMPDIR/kiln-run-*: removed at the end */
    FILE *logf;                       /* run_dir/kiln.log */
};

/* Makes the run directory (with kiln.log, where the log goes from now on) and the work
 * directory, both checked writable, after marking the runs of kiln processes that died.
 * 0, or -1 with the reason printed. */
static int run_dirs(struct run *r, const char *runs_dir)
{
    const char *tmpenv = getenv("TMPDIR");
    const char *tmp = tmpenv && *tmpenv ? tmpenv : "/tmp";
    struct workdir_owner *stale = NULL;
    size_t nstale = workdir_sweep(tmp, &stale);
    for (size_t i = 0; i < nstale; i++) mark_orphan(&stale[i]);
    if (nstale) log_info("removed %zu work director%s of kiln processes that no longer run", nstale, nstale == 1 ? "y" : "ies");
    workdir_owners_free(stale, nstale);

    r->run_dir = make_run_dir(runs_dir, r->rb->name, &r->run_id);
    if (!r->run_dir) {
        fprintf(stderr, "kiln run: cannot create a run directory under %s: %s\n", runs_dir, strerror(errno));
        return -1;
    }
    _cleanup_free_ char *why = NULL;
    if (check_writable(r->run_dir, &why) < 0) {
        fprintf(stderr, "kiln run: runs dir %s: %s; free space or use --runs-dir\n", runs_dir, why);
        rm_rf(r->run_dir);
        return -1;
    }
    _cleanup_free_ char *logpath = path_join(r->run_dir, "kiln.log");
    r->logf = secret_fopen(logpath, false, 0644);
    if (!r->logf) {
        fprintf(stderr, "kiln run: cannot create %s: %s\n", logpath, strerror(errno));
        rm_rf(r->run_dir);
        return -1;
    }
    log_set_file(r->logf);
    r->abs_run = realpath(r->run_dir, NULL);
    struct workdir_owner me = {.run_dir = r->abs_run, .name = r->rb->name, .platform = r->rb->platform.type,
                               .started = wall_s()};
    int wd = workdir_create(tmp, &me, &r->work);
    if (wd < 0) {
        fprintf(stderr, "kiln run: cannot create a work directory under %s: %s\n", tmp, strerror(-wd));
        return -1;
    }
    /* overlays and consoles grow there while the VMs run */
    if (check_writable(r->work, &why) < 0) {
        fprintf(stderr, "kiln run: work dir %s: %s; free space or set TMPDIR\n", r->work, why);
        return -1;
    }
    return 0;
}

/* The notifiers the runbook asks for: console and JSON always, JUnit and HTML by default. */
static void run_notifiers(const struct kiln_runbook *rb, struct kiln_notifiers *ns, struct console_notifier *cn)
{
    cn->out = stdout;
    cn->tty = progress_live_ok(1);
    cn->live = cn->tty && rb->concurrency == 1;
    notifiers_add(ns, &notifier_console, cn);
    notifiers_add(ns, &notifier_json, NULL);
    if (!rb->nnotifiers) {
        notifiers_add(ns, &notifier_junit, NULL);
        notifiers_add(ns, &notifier_html, NULL);
    }
    for (size_t i = 0; i < rb->nnotifiers; i++) notifiers_add(ns, notifier_by_name(rb->notifiers[i].type), NULL);
}

/* results.json's run before the cases: names, how it was started, the platform and the files
 * its nodes boot from (their digests are taken while the first environment boots). */
static void run_results_start(const struct run *r, const struct run_cmd *c, const struct kiln_platform_ctx *pctx,
                              struct kiln_results *res)
{
    res->name = xstrdup(r->rb->name);
    record_invocation(res, c->path, &c->vars);
    res->id = xstrdup(r->run_id);
    res->dir = xstrdup(r->run_dir);
    res->platform = xstrdup(r->ops->name);
    res->accel = xstrdup(pctx->accel ? pctx->accel : "-");
    res->started = wall_s();
    struct kiln_platform_file files[ARRAY_SIZE(res->tested)];
    size_t nfiles = r->ops->tested_files ? r->ops->tested_files(r->rb->platform.conf, files, ARRAY_SIZE(files)) : 0;
    for (size_t i = 0; i < nfiles; i++) {
        res->tested[res->ntested].role = xstrdup(files[i].role);
        res->tested[res->ntested++].path = xstrdup(files[i].path);
    }
}

/* platform.keep_environment: prints how to reach each node of the kept environments, then
 * waits for SIGINT or SIGTERM (the caller then ends them as after any run). */
static void hold_kept(const struct run *r, const struct kiln_platform_ctx *pctx, struct kiln_env *const *envs, size_t n)
{
    static const char *const why[] = {[KEEP_ALWAYS] = "always", [KEEP_FAILED] = "failed, and a case failed"};
    _cleanup_free_ char *known_hosts = path_join(pctx->work_dir, "known_hosts");
    printf("kiln run: platform.keep_environment is %s: keeping %zu environment(s) until SIGINT (Ctrl-C) or "
           "SIGTERM to kiln (pid %d)\n", why[r->rb->platform.keep_environment], n, (int)getpid());
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < envs[i]->nnodes; k++) {
            size_t argc;
            char **argv = ssh_cli_argv(envs[i]->nodes[k], known_hosts, false, NULL, 0, &argc);
            _cleanup_free_ char *line = ssh_cli_line(argv, argc);
            strv_free(argv, argc);
            printf("  %s %s%s: %s\n", envs[i]->name, envs[i]->nodes[k]->name,
                   envs[i]->bad ? " (broke during a case: it may not answer)" : "", line);
            log_info("%s %s kept: %s", envs[i]->name, envs[i]->nodes[k]->name, line);
        }
    fflush(stdout);
    while (!kiln_interrupted) sleep_ms(200);
    printf("kiln run: ending the kept environment(s)\n");
    fflush(stdout);
}

/* Runs sel on the platform pctx was initialised for and writes the reports; the exit code. */
static int run_cases(struct run *r, const struct run_cmd *c, struct kiln_platform_ctx *pctx, struct kiln_selected *sel,
                     size_t nsel)
{
    struct console_notifier cn = {0};
    struct kiln_notifiers ns = {0};
    run_notifiers(r->rb, &ns, &cn);
    struct kiln_results res = {0};
    run_results_start(r, c, pctx, &res);
    double t0 = now_s();
    struct sched_kept *kept = NULL;
    struct kiln_sched_opts so = {.pctx = pctx, .sel = sel, .nsel = nsel, .concurrency = r->rb->concurrency,
                                 .notifiers = &ns, .kept = &kept};
    pthread_t hasher;
    bool hashing = pthread_create(&hasher, NULL, hash_tested, &res) == 0;
    sched_run(&so, &res);
    if (hashing) pthread_join(hasher, NULL);
    res.duration_s = now_s() - t0;
    /* the platform may have fallen back from KVM to TCG during the run */
    free(res.accel);
    res.accel = xstrdup(pctx->accel ? pctx->accel : "-");
    _cleanup_free_ char *werr = NULL;
    int wr = notifiers_run_finished(&ns, &res, &werr);
    _cleanup_free_ char *latest = path_join(c->runs_dir, "latest");
    /* latest names a run whose reports exist */
    if (wr == 0) symlink_replace(r->run_id, latest);
    else log_error("%s", werr), fprintf(stderr, "kiln run: the reports of %s could not be written; %s was not moved to it\n", r->run_dir, latest);
    int first = 0;
    unsigned long lost = secret_write_failures(&first);
    if (lost)
        log_error("%lu write(s) into the run directory or its logs failed (first: %s): the logs of %s are incomplete",
                  lost, strerror(first), r->run_dir);
    int rc = res.interrupted ? 130 : results_exit_code(&res);
    if ((wr < 0 || lost) && rc == 0) rc = EXIT_FAIL;
    results_free(&res);
    /* after the reports: they can be read while the environments are kept */
    if (kept) {
        size_t nkept;
        _cleanup_free_ struct kiln_env **envs = sched_kept_envs(kept, &nkept);
        hold_kept(r, pctx, envs, nkept);
    }
    sched_kept_end(kept);
    return rc;
}

/* The run of sel: its directories, the platform, the cases, the reports; then everything
 * the run started ends and its work directory goes. The exit code. */
static int run_execute(const struct kiln_runbook *rb, const struct run_cmd *c, struct kiln_patterns *pats,
                       struct kiln_selected *sel, size_t nsel)
{
    struct run r = {.rb = rb, .ops = platform_find(rb->platform.type)};
    struct kiln_platform_ctx pctx = {.rb = rb, .ops = r.ops, .patterns = pats};
    bool plat_ready = false;
    int rc = EXIT_USAGE;
    _cleanup_free_ char *err = NULL;
    if (run_dirs(&r, c->runs_dir) < 0) goto out;
    proc_install_signal_handlers();
    pctx.run_dir = r.run_dir;
    pctx.work_dir = r.work;
    log_info("kiln run %s: %zu case(s) selected, platform %s, run dir %s", rb->name, nsel, r.ops->name, r.run_dir);
    if (node_keys_prepare(rb->platform.admin_private_key_file, r.work, &pctx.key_path, &pctx.pubkey, &err) < 0) {
        log_error("%s", err);
        goto out;
    }
    /* fini undoes what a failed init did too (a platform's fini is safe on every path) */
    plat_ready = true;
    if (r.ops->init(&pctx, &err) < 0) {
        log_error("%s", err);
        goto out;
    }
    rc = run_cases(&r, c, &pctx, sel, nsel);
out:
    if (plat_ready && r.ops->fini) r.ops->fini(&pctx);
    proc_kill_all();
    if (r.work) rm_rf(r.work);
    log_set_file(NULL);
    if (r.logf) fclose(r.logf);
    free(pctx.key_path);
    free(pctx.pubkey);
    free(pctx.accel);
    free(r.work);
    free(r.run_dir);
    free(r.run_id);
    free(r.abs_run);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    struct run_cmd c = {0};
    int rc = run_parse(argc, argv, &c);
    if (rc != CMD_GO) return run_cmd_free(&c), rc;
    if (c.debug) log_set_level(LOG_DEBUG);
    struct kiln_runbook *rb = cmd_load_runbook(c.path, &c.vars);
    if (!rb) return run_cmd_free(&c), EXIT_USAGE;
    rc = EXIT_USAGE;
    struct diags d = {0};
    _cleanup_free_ char *pat_path = patterns_path(rb->console_patterns);
    struct kiln_patterns *pats = patterns_load(pat_path, rb->console_ignore, rb->nconsole_ignore, &d);
    struct kiln_selected *sel = NULL;
    size_t nsel;
    if (!pats) cmd_print_diags(&d);
    else if ((nsel = run_select(rb, &c, &sel))) rc = run_execute(rb, &c, pats, sel, nsel);
    free(sel);
    patterns_free(pats);
    diags_free(&d);
    runbook_free(rb);
    run_cmd_free(&c);
    return rc;
}
