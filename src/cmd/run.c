/* kiln run RUNBOOK: boot environments, run the selected cases, write the reports. */
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cmd/common.h"
#include "core/scheduler.h"
#include "core/select.h"
#include "core/workdir.h"
#include "node/console.h"
#include "node/keys.h"
#include "platform/platform.h"
#include "report/notifier.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
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

static void usage(FILE *f)
{
    fputs("usage: kiln run [-v NAME=VALUE]... [--runs-dir DIR] [--debug] RUNBOOK\n"
          "Boots the runbook's environments, runs the selected cases and writes\n"
          "DIR/<name>-<time>/ (results.json, junit.xml, report.html, logs). DIR defaults to ./runs.\n"
          "Exit status: 0 all passed, 1 a case failed, 2 usage or configuration error, 130 interrupted.\n",
          f);
}

/* What a run writes before its first VM boots: the console and case logs, the reports. */
#define MIN_FREE_MB 16
#define PROBE_BYTES (256 * 1024)

/* Whether dir takes files: MIN_FREE_MB free and a probe written, so a full or read-only disk
 * stops the run before any VM boots, not after it with empty logs. */
static int check_writable(const char *dir, char *why, size_t sz)
{
    struct statvfs sv;
    if (statvfs(dir, &sv) < 0) {
        int e = errno;
        snprintf(why, sz, "%s", strerror(e));
        return -e;
    }
    unsigned long long avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
    if (avail < (unsigned long long)MIN_FREE_MB << 20)
        return snprintf(why, sz, "%s (%llu KiB free, a run needs at least %d MiB)", strerror(ENOSPC), avail >> 10,
                        MIN_FREE_MB),
               -ENOSPC;
    _cleanup_free_ char *probe = path_join(dir, ".kiln-probe");
    _cleanup_free_ char *zeros = xcalloc(1, PROBE_BYTES);
    int r = write_file_atomic(probe, zeros, PROBE_BYTES, 0600);
    unlink(probe);
    if (r < 0) return snprintf(why, sz, "%s", strerror(-r)), r;
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

int cmd_run(int argc, char **argv)
{
    struct cmd_vars vars = {0};
    const char *runs_dir = "runs", *path = NULL;
    bool debug = false;
    for (int i = 1; i < argc; i++) {
        int t = cmd_take_var(argc, argv, &i, &vars);
        if (t < 0) return cmd_vars_free(&vars), EXIT_USAGE;
        if (t) continue;
        if (streq(argv[i], "--runs-dir") && i + 1 < argc) runs_dir = argv[++i];
        else if (startswith(argv[i], "--runs-dir=")) runs_dir = argv[i] + 11;
        else if (streq(argv[i], "--debug")) debug = true;
        else if (streq(argv[i], "-h") || streq(argv[i], "--help")) return usage(stdout), cmd_vars_free(&vars), 0;
        else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "kiln run: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            cmd_vars_free(&vars);
            return EXIT_USAGE;
        } else path = argv[i];
    }
    if (!path) {
        usage(stderr);
        cmd_vars_free(&vars);
        return EXIT_USAGE;
    }
    if (debug) log_set_level(LOG_DEBUG);
    struct kiln_runbook *rb = cmd_load_runbook(path, &vars);
    cmd_vars_free(&vars);
    if (!rb) return EXIT_USAGE;

    int rc = EXIT_USAGE;
    _cleanup_free_ char *logpath = NULL, *latest = NULL, *abs_run = NULL;
    struct diags d = {0};
    _cleanup_free_ char *pat_path = patterns_path(rb->console_patterns);
    struct kiln_patterns *pats = patterns_load(pat_path, rb->console_ignore, rb->nconsole_ignore, &d);
    struct kiln_selected *sel = NULL;
    size_t nsel = 0;
    char *work = NULL, *run_dir = NULL, *run_id = NULL;
    FILE *logf = NULL;
    struct kiln_platform_ctx pctx = {.rb = rb};
    bool plat_ready = false;
    struct kiln_results res = {0};
    if (!pats) {
        cmd_print_diags(&d);
        goto out;
    }
    cmd_warn_unmatched_rules("run", rb);
    nsel = select_cases(rb, &sel);
    if (!nsel) {
        fprintf(stderr, "kiln run: %s selects no case; check testcase criteria with `kiln list %s`\n", path, path);
        goto out;
    }
    const char *tmpenv = getenv("TMPDIR");
    const char *tmp = tmpenv && *tmpenv ? tmpenv : "/tmp";
    struct workdir_owner *stale = NULL;
    size_t nstale = workdir_sweep(tmp, &stale);
    for (size_t i = 0; i < nstale; i++) mark_orphan(&stale[i]);
    if (nstale) log_info("removed %zu work director%s of kiln processes that no longer run", nstale, nstale == 1 ? "y" : "ies");
    workdir_owners_free(stale, nstale);

    run_dir = make_run_dir(runs_dir, rb->name, &run_id);
    if (!run_dir) {
        fprintf(stderr, "kiln run: cannot create a run directory under %s: %s\n", runs_dir, strerror(errno));
        goto out;
    }
    char why[256];
    if (check_writable(run_dir, why, sizeof why) < 0) {
        fprintf(stderr, "kiln run: runs dir %s: %s; free space or use --runs-dir\n", runs_dir, why);
        rm_rf(run_dir);
        goto out;
    }
    logpath = path_join(run_dir, "kiln.log");
    logf = secret_fopen(logpath, false, 0644);
    if (!logf) {
        fprintf(stderr, "kiln run: cannot create %s: %s\n", logpath, strerror(errno));
        rm_rf(run_dir);
        goto out;
    }
    log_set_file(logf);
    abs_run = realpath(run_dir, NULL);
    struct workdir_owner me = {.run_dir = abs_run, .name = rb->name,
                               .platform = (char *)platform_by_type(rb->platform.type)->name, .started = wall_s()};
    int wd = workdir_create(tmp, &me, &work);
    if (wd < 0) {
        fprintf(stderr, "kiln run: cannot create a work directory under %s: %s\n", tmp, strerror(-wd));
        goto out;
    }
    /* overlays and consoles grow there while the VMs run */
    if (check_writable(work, why, sizeof why) < 0) {
        fprintf(stderr, "kiln run: work dir %s: %s; free space or set TMPDIR\n", work, why);
        goto out;
    }
    proc_install_signal_handlers();
    pctx.ops = platform_by_type(rb->platform.type);
    pctx.run_dir = run_dir;
    pctx.work_dir = work;
    pctx.patterns = pats;
    log_info("kiln run %s: %zu case(s) selected, platform %s, run dir %s", rb->name, nsel, pctx.ops->name, run_dir);
    if (node_keys_prepare(rb->platform.admin_private_key_file, work, &pctx.key_path, &pctx.pubkey) < 0) goto out;
    if (pctx.ops->init(&pctx) < 0) goto out;
    plat_ready = true;

    struct console_notifier cn = {.tty = isatty(1) != 0};
    cn.live = cn.tty && rb->concurrency == 1;
    struct kiln_notifiers ns = {0};
    notifiers_add(&ns, &notifier_console, &cn);
    notifiers_add(&ns, &notifier_json, NULL);
    if (!rb->nnotifiers) {
        notifiers_add(&ns, &notifier_junit, NULL);
        notifiers_add(&ns, &notifier_html, NULL);
    }
    for (size_t i = 0; i < rb->nnotifiers; i++) notifiers_add(&ns, notifier_by_name(rb->notifiers[i].type), NULL);

    res.name = xstrdup(rb->name);
    res.id = xstrdup(run_id);
    res.dir = xstrdup(run_dir);
    res.platform = xstrdup(pctx.ops->name);
    res.accel = xstrdup(pctx.accel ? pctx.accel : "-");
    res.started = wall_s();
    const struct {
        const char *role, *path;
    } files[] = {{"image", rb->platform.qemu.image}, {"kernel", rb->platform.qemu.kernel}, {"initrd", rb->platform.qemu.initrd}};
    if (rb->platform.type == PLATFORM_QEMU)
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
            if (files[i].path) {
                res.tested[res.ntested].role = xstrdup(files[i].role);
                res.tested[res.ntested++].path = xstrdup(files[i].path);
            }
    double t0 = now_s();
    struct kiln_sched_opts so = {.pctx = &pctx, .sel = sel, .nsel = nsel, .concurrency = rb->concurrency,
                                 .notifiers = &ns};
    pthread_t hasher;
    bool hashing = pthread_create(&hasher, NULL, hash_tested, &res) == 0;
    sched_run(&so, &res);
    if (hashing) pthread_join(hasher, NULL);
    res.duration_s = now_s() - t0;
    /* the platform may have fallen back from KVM to TCG during the run */
    free(res.accel);
    res.accel = xstrdup(pctx.accel ? pctx.accel : "-");
    int wr = notifiers_run_finished(&ns, &res);
    latest = path_join(runs_dir, "latest");
    /* latest names a run whose reports exist */
    if (wr == 0) symlink_replace(run_id, latest);
    else fprintf(stderr, "kiln run: the reports of %s could not be written; %s was not moved to it\n", run_dir, latest);
    int first = 0;
    unsigned long lost = secret_write_failures(&first);
    if (lost)
        log_error("%lu write(s) into the run directory or its logs failed (first: %s): the logs of %s are incomplete",
                  lost, strerror(first), run_dir);
    rc = res.interrupted ? 130 : results_exit_code(&res);
    if ((wr < 0 || lost) && rc == 0) rc = EXIT_FAIL;
out:
    if (plat_ready && pctx.ops->fini) pctx.ops->fini(&pctx);
    proc_kill_all();
    if (work) rm_rf(work);
    log_set_file(NULL);
    if (logf) fclose(logf);
    results_free(&res);
    free(pctx.key_path);
    free(pctx.pubkey);
    free(pctx.accel);
    free(work);
    free(run_dir);
    free(run_id);
    free(sel);
    patterns_free(pats);
    diags_free(&d);
    runbook_free(rb);
    return rc;
}
