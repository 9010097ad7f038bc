/* kiln worker --server URL: pulls jobs from the validation service over HTTP and runs each
 * with the engine of `kiln run` (cmd_run, in a child process per job so a job's signals,
 * logs and VMs are its own), streaming the console and case lines to the server and
 * uploading the reports and the telemetry archive when done.
 *
 * Results: the run's verdict is the job's (a guest that does not boot fails its cases: the
 * image's failure). A job ends incomplete when the infrastructure failed: the image could
 * not be downloaded, the run could not start (disk full), the worker was stopped (SIGTERM:
 * the job is handed back to the queue) or its child died. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/common.h"
#include "model/req.h"
#include "model/arch.h"
#include "platform/accel.h"
#include "platform/qemu.h"
#include "report/archive.h"
#include "service/client.h"
#include "service/store.h"
#include "trust/minisign.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/util.h"

#define MAX_SLOTS 64
#define CONSOLE_CHUNK (256 * 1024)

static volatile sig_atomic_t stopping;
static pid_t worker_pid; /* the worker's process: a job process whose parent is another was orphaned */
static void on_stop(int sig) { stopping = sig; }

struct wopts {
    const char *server, *token, *work, *key;
    int slots;
    unsigned withhold; /* FEAT_* bits not offered though the host has them (--withhold) */
    struct kiln_caps caps;
};

/* Sleeps ms, returning early when a signal comes: SIGTERM must end a worker's wait at once
 * (util/timeutil's sleep_ms sleeps on through signals). */
static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* How long the server asked us to wait before the next claim or declaration (its last
 * Retry-After, on a 429 or 503), as a now_ms() time; 0: no wait asked. */
static int64_t retry_not_before_ms;

/* The wait after a failed claim or declaration: the server's Retry-After when it gave one
 * (kiln_client_backoff_s: at most KILN_RETRY_AFTER_MAX_S), else 2 s. */
static long retry_wait_ms(void)
{
    int64_t left = retry_not_before_ms - now_ms();
    return left > 2000 ? (long)left : 2000;
}

/* ---- the server's reachability: one line when it stops answering, one when it is back ---- */

#define BACKOFF_MIN_MS 2000L
#define BACKOFF_MAX_MS 30000L
/* How long a job's process keeps trying to hand in its finished run (uploads, finish) while
 * the server does not answer: the worker's heartbeat holds the job's lease meanwhile. */
#define HAND_IN_PATIENCE_MS (15 * 60 * 1000L)

static pthread_mutex_t reach_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t unreachable_since_ms; /* now_ms() of the first request without an answer; 0: answering */
static long backoff_ms = BACKOFF_MIN_MS;
/* In a job's process: the worker's loop says when the server goes and comes back (its
 * heartbeat asks at least every quarter lease), the job's requests back off silently. */
static bool reach_quiet;
/* In a job's process once its run ended: until this now_ms() time, requests the server did not
 * answer (or answered 429, 502-504) are sent again; 0 (the worker's loop): never. */
static int64_t patient_until_ms;

/* Notes whether a request got an answer (rc 0) or not (rc < 0, err): the first without one
 * logs that the server is unreachable, the first answer after logs that it is back. */
static void reach_note(int rc, const char *err)
{
    pthread_mutex_lock(&reach_lock);
    if (rc < 0 && !unreachable_since_ms) {
        unreachable_since_ms = now_ms();
        backoff_ms = BACKOFF_MIN_MS;
        if (!reach_quiet) log_warn("kiln worker: the server is unreachable (%s); asking again after %ld s, the pause doubling up to %ld s, "
                 "until it answers", err ? err : "no answer", BACKOFF_MIN_MS / 1000, BACKOFF_MAX_MS / 1000);
    } else if (rc == 0 && unreachable_since_ms) {
        if (!reach_quiet) log_info("kiln worker: the server is back (it did not answer for %lld s)",
                 (long long)((now_ms() - unreachable_since_ms) / 1000));
        unreachable_since_ms = 0;
        backoff_ms = BACKOFF_MIN_MS;
    }
    pthread_mutex_unlock(&reach_lock);
}

/* The pause before asking again: 2 s while the server answers (a refusal), else the backoff,
 * doubling from 2 s to 30 s while it stays unreachable. */
static long reach_wait_ms(void)
{
    pthread_mutex_lock(&reach_lock);
    long w = unreachable_since_ms ? backoff_ms : BACKOFF_MIN_MS;
    if (unreachable_since_ms) backoff_ms = MIN(backoff_ms * 2, BACKOFF_MAX_MS);
    pthread_mutex_unlock(&reach_lock);
    return w;
}

/* kiln_client_do, its answer noted (reach_note); while patient_until_ms lasts, a request
 * without an answer, or answered 429 or 502-504, is sent again after the backoff (or the
 * server's Retry-After). */
static int request(struct kiln_client *c, const struct kiln_http *h0, long *status, char **resp, char **err)
{
    for (;;) {
        long ra = 0;
        struct kiln_http h = *h0;
        if (!h.retry_after_s) h.retry_after_s = &ra;
        char *r = NULL, *e = NULL;
        int rc = kiln_client_do(c, &h, status, resp ? &r : NULL, &e);
        reach_note(rc, e);
        bool again = rc < 0 || *status == 429 || (*status >= 502 && *status <= 504);
        if (!again || now_ms() >= patient_until_ms || kiln_interrupted || stopping) {
            if (resp) *resp = r;
            *err = e;
            return rc;
        }
        long wait = rc == 0 ? kiln_client_backoff_s(*status, *h.retry_after_s) * 1000 : 0;
        free(r);
        free(e);
        nap_ms(wait ? wait : reach_wait_ms());
    }
}

/* Set around the claim's long poll: a stop ends it at once rather than when the server answers
 * (an idle worker stops within a second); other requests (handing a job back) are let finish. */
static volatile sig_atomic_t *call_abort;

/* One request; 0 and *status, or -errno (logged). resp may be NULL. */
static int call(struct kiln_client *c, const char *method, const char *path, const char *body, long timeout_s, long *status,
                char **resp)
{
    char *err = NULL, *r = NULL;
    long retry_after = 0;
    struct kiln_http h = {.method = method, .path = path, .body = body, .body_len = body ? strlen(body) : 0, .stream_fd = -1,
                          .timeout_s = timeout_s, .retry_after_s = &retry_after, .abort = call_abort};
    int rc = request(c, &h, status, &r, &err);
    /* an unreachable server is said once (reach_note), not at every request */
    if (rc < 0) log_debug("kiln worker: %s", err);
    else if (*status / 100 != 2 && *status != 409) {
        _cleanup_free_ char *t = kiln_client_error_text(*status, r);
        long wait = kiln_client_backoff_s(*status, retry_after);
        if (wait) {
            retry_not_before_ms = now_ms() + wait * 1000LL;
            log_warn("kiln worker: %s %s: %s; asking again in %ld s, as its Retry-After says", method, path, t, wait);
        } else {
            log_warn("kiln worker: %s %s: %s", method, path, t);
        }
    }
    free(err);
    if (resp) *resp = r;
    else free(r);
    return rc;
}

/* ---- one job, in a child process ---- */

struct streamer {
    struct kiln_client *c;
    const char *jobdir;
    int64_t id;
    volatile bool done;
    /* sources: the case lines, then each node's console, with what was sent of each; a file
     * is one source whatever path names it (runs/latest links the run's directory) */
    char *paths[32];
    dev_t dev[32];
    ino_t ino[32];
    off_t sent[32];
    int n;
};

/* Adds path as a source unless it is one already (by path, or as the same file). */
static void streamer_add(struct streamer *s, const char *path)
{
    struct stat sb;
    if (s->n >= 32 || stat(path, &sb) < 0) return;
    for (int k = 0; k < s->n; k++)
        if (streq(s->paths[k], path) || (s->dev[k] == sb.st_dev && s->ino[k] == sb.st_ino)) return;
    s->paths[s->n] = xstrdup(path);
    s->dev[s->n] = sb.st_dev;
    s->ino[s->n++] = sb.st_ino;
}

/* Sends what the sources gained since the last call, whole lines only, each node's lines
 * prefixed with its name; final: the rest too. */
static void stream_once(struct streamer *s, bool final)
{
    _cleanup_free_ char *pat = xasprintf("%s/runs/*/nodes/*/console.log", s->jobdir);
    glob_t g;
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) streamer_add(s, g.gl_pathv[i]);
        globfree(&g);
    }
    struct sbuf out = {0};
    off_t upto[32];
    memcpy(upto, s->sent, sizeof upto);
    for (int k = 0; k < s->n && out.len < CONSOLE_CHUNK; k++) {
        int fd = open(s->paths[k], O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        char *buf = xmalloc(CONSOLE_CHUNK);
        ssize_t n = pread(fd, buf, CONSOLE_CHUNK - out.len, upto[k]);
        close(fd);
        if (n > 0) {
            ssize_t end = n;
            if (!final) while (end > 0 && buf[end - 1] != '\n') end--;
            /* node consoles are tagged with the node's directory name; case lines stand as they are */
            const char *tag = NULL;
            _cleanup_free_ char *node = NULL;
            if (k > 0) {
                node = path_dirname(s->paths[k]);
                tag = strrchr(node, '/') ? strrchr(node, '/') + 1 : node;
            }
            for (ssize_t p = 0; p < end;) {
                char *nl = memchr(buf + p, '\n', (size_t)(end - p));
                ssize_t q = nl ? nl - buf + 1 : end;
                if (tag) sbuf_printf(&out, "[%s] ", tag);
                sbuf_append(&out, buf + p, (size_t)(q - p));
                if (!nl) sbuf_puts(&out, "\n");
                p = q;
            }
            upto[k] += end;
        }
        free(buf);
    }
    if (out.len) {
        _cleanup_free_ char *path = xasprintf("/api/v1/worker/jobs/%lld/console", (long long)s->id);
        long st = 0;
        char *err = NULL;
        struct kiln_http h = {.method = "POST", .path = path, .body = out.s, .body_len = out.len, .stream_fd = -1, .timeout_s = 30};
        /* what the server did not take is sent again next time (an unreachable server is
         * said once, by reach_note); what it refused (409: the job is no longer ours) is not */
        if (request(s->c, &h, &st, NULL, &err) == 0 && st / 100 != 5 && st != 429) memcpy(s->sent, upto, sizeof upto);
        free(err);
    }
    sbuf_free(&out);
}

static void *streamer_main(void *arg)
{
    struct streamer *s = arg;
    while (!s->done) {
        stream_once(s, false);
        nap_ms(1000);
    }
    return NULL;
}

static int upload(struct kiln_client *c, int64_t id, const char *file, const char *name)
{
    if (!file_exists(file)) return 0;
    _cleanup_free_ char *path = xasprintf("/api/v1/worker/jobs/%lld/artifacts/%s", (long long)id, name);
    long st = 0;
    char *err = NULL, *resp = NULL;
    struct kiln_http h = {.method = "PUT", .path = path, .upload = file, .stream_fd = -1};
    int r = request(c, &h, &st, &resp, &err);
    if (r < 0 || st != 201) {
        _cleanup_free_ char *t = r < 0 ? NULL : kiln_client_error_text(st, resp);
        log_warn("kiln worker: uploading %s: %s", name, r < 0 ? err : t);
        if (r == 0) r = -EIO;
    }
    free(err);
    free(resp);
    return r;
}

/* Uploads the run directory's regular files (reports, logs, per-case files, node consoles)
 * under their relative paths, at most MAX_FILES of them; symlinks are not followed. */
#define MAX_FILES 4000
static void upload_tree(struct kiln_client *c, int64_t id, const char *dir, const char *rel, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) && *n < MAX_FILES) {
        if (e->d_name[0] == '.') continue;
        _cleanup_free_ char *p = path_join(dir, e->d_name), *r = *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
        struct stat sb;
        if (lstat(p, &sb) < 0) continue;
        if (S_ISDIR(sb.st_mode)) upload_tree(c, id, p, r, n);
        else if (S_ISREG(sb.st_mode)) {
            (*n)++;
            upload(c, id, p, r);
        }
    }
    if (d) closedir(d);
}

/* The runbook the job runs: JSON (which YAML reads as is) with the platform this worker
 * gives and the job's selection, or the tenant's runbook with that platform added. */
static char *job_runbook(const struct wopts *o, json_t *job, const char *image, const char *kernel)
{
    json_t *spec = json_object_get(job, "spec");
    json_t *req = json_object_get(job, "requirements");
    json_t *q = json_pack("{s:s}", "accel", o->caps.accel);
    if (kernel) {
        json_object_set_new(q, "kernel", json_string(kernel));
        json_object_set_new(q, "initrd", json_string(image));
        const char *ap = json_string_value(json_object_get(spec, "append"));
        json_object_set_new(q, "append", json_string(ap ? ap : "console=ttyS0"));
    } else {
        json_object_set_new(q, "image", json_string(image));
    }
    json_int_t mem = json_integer_value(json_object_get(req, "memory_mb")), cpus = json_integer_value(json_object_get(req, "cpus"));
    if (mem > 0) json_object_set_new(q, "memory_mb", json_integer(mem));
    if (cpus > 0) json_object_set_new(q, "cpus", json_integer(cpus));
    bool sb = json_is_true(json_object_get(req, "secure_boot"));
    if (sb || json_is_true(json_object_get(req, "uefi"))) json_object_set_new(q, "firmware", json_string("uefi"));
    /* the keys a distribution's shim is signed with: what kiln_qemu_host_features checked */
    if (sb) json_object_set_new(q, "secure_boot", json_string("ms"));
    json_t *platform = json_pack("{s:s, s:o}", "type", "qemu", "qemu", q);
    char *out;
    const char *rb = json_string_value(json_object_get(spec, "runbook"));
    if (rb) {
        /* the server let through only name, concurrency, variable and testcase */
        _cleanup_free_ char *p = json_dumps(platform, JSON_COMPACT | JSON_ENSURE_ASCII);
        out = xasprintf("%s\nplatform: %s\n", rb, p);
    } else {
        _cleanup_free_ char *name = xasprintf("job-%lld", (long long)json_integer_value(json_object_get(job, "id")));
        json_t *r = json_pack("{s:s, s:i, s:o, s:O}", "name", name, "concurrency", 1, "platform", platform, "testcase",
                              json_object_get(spec, "testcase"));
        platform = NULL;
        out = json_dumps(r, JSON_INDENT(1) | JSON_ENSURE_ASCII);
        json_decref(r);
    }
    json_decref(platform);
    return out;
}

/* "2 of 7 cases failed: a, b" from the run's results.json. */
static char *failed_reason(const char *results)
{
    json_t *j = json_load_file(results, 0, NULL);
    json_t *cs = json_object_get(j, "cases");
    struct sbuf names = {0};
    size_t i, nf = 0;
    json_t *x;
    json_array_foreach(cs, i, x) {
        const char *stt = json_string_value(json_object_get(x, "status"));
        if (stt && (streq(stt, "failed") || streq(stt, "attempted"))) {
            if (nf++ < 5) sbuf_printf(&names, "%s%s", nf > 1 ? ", " : "", json_string_value(json_object_get(x, "name")));
        }
    }
    _cleanup_free_ char *n = sbuf_steal(&names);
    char *out = xasprintf("%zu of %zu cases failed%s%s", nf, json_array_size(cs), n ? ": " : "", n ? n : "");
    json_decref(j);
    return out;
}

/* POST to one of the held job's worker routes: 0, -ECANCELED when the server says the job was
 * cancelled (409 with state cancelled), -ESTALE when the job is otherwise no longer this
 * worker's, or -errno of the request. */
static int job_post(struct kiln_client *c, int64_t id, const char *verb, const char *body)
{
    _cleanup_free_ char *path = xasprintf("/api/v1/worker/jobs/%lld/%s", (long long)id, verb);
    long st = 0;
    char *resp = NULL;
    int r = call(c, "POST", path, body, 60, &st, &resp);
    json_t *j = r == 0 && st == 409 ? json_loads(resp ? resp : "", 0, NULL) : NULL;
    bool cancelled = streq(json_string_value(json_object_get(j, "state")), "cancelled");
    json_decref(j);
    free(resp);
    return r < 0 ? r : st == 200 ? 0 : cancelled ? -ECANCELED : -ESTALE;
}

static int finish(struct kiln_client *c, int64_t id, const char *result, const char *reason)
{
    json_t *b = json_pack("{s:s}", "result", result);
    if (reason) json_object_set_new(b, "reason", json_string(reason));
    _cleanup_free_ char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return job_post(c, id, "finish", body);
}

static int advance(struct kiln_client *c, int64_t id, const char *state)
{
    _cleanup_free_ char *body = xasprintf("{\"state\":\"%s\"}", state);
    return job_post(c, id, "advance", body);
}

static int download(struct kiln_client *c, const char *digest, const char *to, char **why)
{
    _cleanup_free_ char *path = xasprintf("/api/v1/worker/images/%s", digest);
    long st = 0;
    char *err = NULL, *resp = NULL;
    struct kiln_http h = {.method = "GET", .path = path, .download = to, .stream_fd = -1};
    int r = kiln_client_do(c, &h, &st, &resp, &err);
    if (r == 0 && st != 200) r = -EIO, err = kiln_client_error_text(st, resp);
    if (r < 0) *why = xasprintf("downloading image %.12s: %s", digest, err);
    free(err);
    free(resp);
    return r;
}

/* The files of one job under the worker's --work. */
struct job_paths {
    char *dir, *img, *kern, *runbook, *runs, *cases, *tmp;
};

static void job_paths_init(struct job_paths *p, const struct wopts *o, int64_t id)
{
    char idtxt[32];
    snprintf(idtxt, sizeof idtxt, "job-%lld", (long long)id);
    p->dir = path_join(o->work, idtxt);
    p->img = path_join(p->dir, "image");
    p->kern = path_join(p->dir, "kernel");
    p->runbook = path_join(p->dir, "runbook.yml");
    p->runs = path_join(p->dir, "runs");
    p->cases = path_join(p->dir, "cases.txt");
    p->tmp = path_join(p->dir, "tmp");
}

static void job_paths_free(struct job_paths *p)
{
    free(p->dir), free(p->img), free(p->kern), free(p->runbook), free(p->runs), free(p->cases), free(p->tmp);
}

/* Downloads the job's image (and kernel) and writes its runbook: 0, or -errno with *why (and
 * *result "failed" when the runbook is the job's own fault, not the infrastructure's). */
static int job_prepare(const struct wopts *o, struct kiln_client *c, json_t *job, const struct job_paths *p, const char **result,
                       char **why)
{
    const char *kd = json_string_value(json_object_get(json_object_get(job, "spec"), "kernel"));
    int r = mkdir_p(p->tmp, 0700);
    if (r < 0) *why = xasprintf("cannot create %s: %s", p->dir, strerror(-r));
    if (r == 0) r = download(c, json_string_value(json_object_get(job, "image")), p->img, why);
    if (r == 0 && kd) r = download(c, kd, p->kern, why);
    /* relative to the runbook, in the job's directory (job_execute runs there) */
    _cleanup_free_ char *rb = r == 0 ? job_runbook(o, job, "image", kd ? "kernel" : NULL) : NULL;
    if (r == 0 && (r = write_file_atomic(p->runbook, rb, strlen(rb), 0600)) < 0)
        *why = xasprintf("cannot write the runbook: %s", strerror(-r));
    if (r == 0) {
        struct cmd_vars novars = {0};
        struct kiln_runbook *loaded = cmd_load_runbook(p->runbook, &novars);
        if (!loaded) {
            *result = "failed";
            *why = xstrdup("the job's runbook is not valid (see the worker's log)");
            r = -EINVAL;
        }
        runbook_free(loaded);
    }
    return r;
}

/* Runs the job's runbook like `kiln run`, its case lines and consoles streamed to the server
 * while it runs; cmd_run's exit status. */
static int job_execute(struct kiln_client *c, int64_t id, const struct job_paths *p)
{
    struct streamer s = {.c = c, .jobdir = p->dir, .id = id, .paths = {xstrdup(p->cases)}, .n = 1};
    pthread_t th;
    bool streaming = pthread_create(&th, NULL, streamer_main, &s) == 0;
    /* the run's case lines (its stdout) go to cases.txt, which the streamer sends */
    int fd = open(p->cases, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int saved = dup(1);
    if (fd >= 0) dup2(fd, 1);
    setenv("TMPDIR", p->tmp, 1);
    /* run from the job's directory, naming its files relative to it: the console lines and
     * results.json a tenant reads show no path of this host */
    int rc = -1; /* job_verdict: the run could not start */
    if (chdir(p->dir) < 0) log_error("kiln worker: job %lld: cannot enter %s: %s", (long long)id, p->dir, strerror(errno));
    else {
        char *argv[] = {"run", "--relative-paths", "--runs-dir", "runs", "runbook.yml", NULL};
        rc = cmd_run(5, argv);
        if (chdir("/") < 0) log_warn("kiln worker: cannot leave %s: %s", p->dir, strerror(errno));
    }
    fflush(stdout);
    if (saved >= 0) dup2(saved, 1), close(saved);
    if (fd >= 0) close(fd);
    s.done = true;
    if (streaming) pthread_join(th, NULL);
    log_info("kiln worker: job %lld: the run exited %d", (long long)id, rc);
    /* from here the run's results are handed in, the server down or not (within the patience) */
    patient_until_ms = now_ms() + HAND_IN_PATIENCE_MS;
    stream_once(&s, true);
    for (int k = 0; k < s.n; k++) free(s.paths[k]);
    return rc;
}

/* The attempt's result from the run's exit status rc and its results.json rj (NULL: none). */
static const char *job_verdict(int rc, const char *rj, char **why)
{
    if ((kiln_interrupted || rc == EXIT_INTERRUPTED) && getppid() != worker_pid)
        *why = xstrdup("the worker process ended under the job (killed); the job goes back to the queue");
    else if (kiln_interrupted || rc == EXIT_INTERRUPTED)
        *why = xstrdup(stopping || kiln_interrupted ? "the worker was stopped; the job goes back to the queue" : "the run was interrupted");
    else if ((rc == 0 || rc == 1) && rj && file_exists(rj)) {
        if (rc == 1) *why = failed_reason(rj);
        return rc == 0 ? "passed" : "failed";
    } else *why = xasprintf("the run could not start or write its reports (exit %d; see kiln.log)", rc);
    return "incomplete";
}

/* Uploads the run directory's files and its signed telemetry archive. */
static void job_upload(const struct wopts *o, struct kiln_client *c, int64_t id, const struct job_paths *p, const char *rundir)
{
    int nfiles = 0;
    upload_tree(c, id, rundir, "", &nfiles);
    _cleanup_free_ char *ar = path_join(p->dir, "archive.tar.zst"), *sig = xasprintf("%s.minisig", ar);
    char *aerr = NULL;
    if (archive_create(rundir, ar, &aerr) < 0) log_warn("kiln worker: job %lld: archive: %s", (long long)id, aerr);
    else if (o->key && ms_sign(o->key, getenv("KILN_PASSPHRASE"), ar, "kiln run archive (kiln worker)", &aerr) < 0)
        log_warn("kiln worker: job %lld: signing the archive: %s", (long long)id, aerr);
    free(aerr);
    upload(c, id, ar, "archive.tar.zst");
    upload(c, id, sig, "archive.tar.zst.minisig");
}

/* The run's directory: the one directory under runs/ (NULL: none). */
static char *job_rundir(const char *runs)
{
    char *rundir = NULL;
    DIR *d = opendir(runs);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && e->d_type == DT_DIR) free(rundir), rundir = path_join(runs, e->d_name);
    if (d) closedir(d);
    return rundir;
}

/* Runs the claimed job; the child's exit status: 0 once the server has the result, or knows
 * the job was cancelled (a cancelled job is recorded cancelled by the server and never
 * handed back: this worker neither reports it incomplete nor calls it so in its log). */
static int run_job(const struct wopts *o, json_t *job)
{
    int64_t id = json_integer_value(json_object_get(job, "id"));
    struct kiln_client *c = NULL;
    char *err = NULL;
    if (kiln_client_new(o->server, o->token, &c, &err) < 0) return free(err), 1;
    struct job_paths p;
    job_paths_init(&p, o, id);
    rm_rf(p.dir);
    char *why = NULL;
    const char *result = "incomplete";
    int r = job_prepare(o, c, job, &p, &result, &why), rc = -1;
    if (r == 0) r = advance(c, id, "running");
    if (r == 0) rc = job_execute(c, id, &p);
    _cleanup_free_ char *rundir = r == 0 ? job_rundir(p.runs) : NULL;
    _cleanup_free_ char *rj = rundir ? path_join(rundir, "results.json") : NULL;
    if (r == 0) result = job_verdict(rc, rj, &why);
    if (rundir && (r = advance(c, id, "uploading")) == 0) job_upload(o, c, id, &p, rundir);
    int fr = r == -ECANCELED ? r : finish(c, id, result, why);
    if (fr == -ECANCELED) log_info("kiln worker: job %lld: cancelled; its run was stopped and nothing of it is reported", (long long)id);
    else if (fr == 0) log_info("kiln worker: job %lld: %s%s%s", (long long)id, result, why ? ": " : "", why ? why : "");
    else if (fr == -ESTALE)
        log_error("kiln worker: job %lld: the run ended %s, but the server no longer gives this worker the job (its lease lapsed): "
                  "the result is dropped", (long long)id, result);
    else
        log_error("kiln worker: job %lld: the run ended %s, but the server did not take the result within %ld min (%s): "
                  "it is dropped and the job's lease will lapse", (long long)id, result, HAND_IN_PATIENCE_MS / 60000, strerror(-fr));
    rm_rf(p.dir);
    job_paths_free(&p);
    free(why);
    kiln_client_free(c);
    return fr == 0 || fr == -ECANCELED ? 0 : 1;
}

/* ---- the worker's loop ---- */

struct slot {
    pid_t pid;
    int64_t id;
};

static void probe_caps(const char *work, unsigned withhold, struct kiln_caps *c)
{
    _cleanup_free_ char *detail = NULL;
    const struct kiln_arch *host = kiln_arch_host();
    snprintf(c->accel, sizeof(c->accel), "%s",
             host && accel_kvm_works(host, work, NULL, &detail) ? "kvm" : "tcg");
    struct utsname u;
    snprintf(c->arch, sizeof(c->arch), "%s", host ? host->name : uname(&u) == 0 ? u.machine : "x86_64");
    c->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    c->memory_mb = (int)((long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE) >> 20);
    _cleanup_free_ char *why = NULL;
    c->features = kiln_qemu_host_features(host, &why) & ~withhold;
    if (why && *why) log_info("kiln worker: %s", why);
}

/* --withhold uefi,tpm,secure-boot: FEAT_* bits into *(unsigned *)to. */
static bool take_withhold(const char *verb, const char *opt, const char *val, void *to)
{
    unsigned *withhold = to;
    _cleanup_free_ char *list = xstrdup(val);
    char *save = NULL;
    for (char *f = strtok_r(list, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        unsigned bit = kiln_feature_parse(f);
        if (!(bit & (FEAT_UEFI | FEAT_TPM | FEAT_SECURE_BOOT))) {
            fprintf(stderr, "kiln %s: %s %s: %s is not a feature a worker offers (uefi, tpm, secure-boot)\n", verb, opt, val, f);
            return false;
        }
        *withhold |= bit;
    }
    return true;
}

/* Declares what this worker offers, retrying until the server answers (it may start after the
 * worker); *lease_ms from the reply. 0, or the exit code. */
static int declare(struct kiln_client *c, const struct wopts *o, long *lease_ms)
{
    json_t *decl = json_pack("{s:{s:s, s:s, s:i, s:i, s:b, s:b, s:b}, s:i}", "caps", "accel", o->caps.accel, "arch", o->caps.arch, "cpus",
                             o->caps.cpus, "memory_mb", o->caps.memory_mb, "uefi", (o->caps.features & FEAT_UEFI) != 0, "tpm",
                             (o->caps.features & FEAT_TPM) != 0, "secure_boot", (o->caps.features & FEAT_SECURE_BOOT) != 0, "slots",
                             o->slots);
    _cleanup_free_ char *body = json_dumps(decl, JSON_COMPACT);
    json_decref(decl);
    long st = 0;
    char *resp = NULL;
    int cr;
    while (!stopping && ((cr = call(c, "POST", "/api/v1/worker/declare", body, 30, &st, &resp)) < 0 || st != 200)) {
        free(resp);
        resp = NULL;
        if (st == 401 || st == 400) {
            fprintf(stderr, "kiln worker: the server refused this worker (HTTP %ld); check --token\n", st);
            return EXIT_USAGE;
        }
        nap_ms(cr < 0 ? reach_wait_ms() : retry_wait_ms());
    }
    /* the heartbeat's pace comes from the server's lease: a reply without it is not guessed at */
    json_t *dj = NULL;
    json_int_t lm = 0;
    char *derr = NULL;
    int rc = EXIT_OK;
    if (!stopping && (kiln_client_unpack("POST /api/v1/worker/declare", resp, &dj, &derr, "{s:I}", "lease_ms", &lm) < 0 || lm <= 0)) {
        fprintf(stderr, "kiln worker: %s\n", derr ? derr : "the server's reply to POST /api/v1/worker/declare gives a lease_ms that is not a positive number of milliseconds");
        rc = EXIT_FAIL;
    }
    if (lm > 0) *lease_ms = lm;
    free(derr);
    json_decref(dj);
    free(resp);
    return rc;
}

/* Children that ended: one that did not report its job (killed, crashed) leaves it to us. The
 * server's answer says whether it was cancelled (the child stopped for it, often by the
 * SIGTERM the heartbeat sent): then it is logged cancelled, never incomplete. */
static void reap(struct kiln_client *c, const struct wopts *o, struct slot *slots, int *busy)
{
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0)
        for (int k = 0; k < o->slots; k++)
            if (slots[k].pid == p) {
                if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                    long long id = (long long)slots[k].id;
                    int fr = finish(c, slots[k].id, "incomplete", "the worker's job process ended before it reported (killed or crashed)");
                    if (fr == -ECANCELED) log_info("kiln worker: job %lld: cancelled; its run was stopped and nothing of it is reported", id);
                    else if (fr == 0) log_warn("kiln worker: job %lld: incomplete: its process ended before it reported (%s %d)", id,
                                               WIFSIGNALED(status) ? "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                    char n[32];
                    snprintf(n, sizeof n, "job-%lld", (long long)slots[k].id);
                    _cleanup_free_ char *jd = path_join(o->work, n);
                    rm_rf(jd);
                }
                slots[k] = (struct slot){0};
                (*busy)--;
            }
}

/* Renews the lease; a job the server no longer gives us (cancelled, lease lost) is stopped. */
static void heartbeat(struct kiln_client *c, const struct wopts *o, const struct slot *slots)
{
    long st = 0;
    char *hr = NULL;
    if (call(c, "POST", "/api/v1/worker/heartbeat", NULL, 30, &st, &hr) == 0 && st == 200) {
        json_t *h = NULL, *held = NULL;
        char *herr = NULL;
        /* a reply without the list of held jobs says nothing about them: stopping every job
         * on it would take a broken reply for "all cancelled" */
        if (kiln_client_unpack("POST /api/v1/worker/heartbeat", hr, &h, &herr, "{s:o}", "held", &held) < 0 || !json_is_array(held)) {
            log_error("kiln worker: %s; the running jobs are kept", herr ? herr : "the server's reply to POST "
                      "/api/v1/worker/heartbeat lacks what kiln needs: held is not a list");
            held = NULL;
        }
        free(herr);
        for (int k = 0; k < o->slots && held; k++) {
            if (!slots[k].pid) continue;
            bool keep = false;
            size_t i;
            json_t *x;
            json_array_foreach(held, i, x) keep |= json_integer_value(x) == slots[k].id;
            if (!keep) {
                log_warn("kiln worker: job %lld was cancelled or lost; stopping it", (long long)slots[k].id);
                kill(slots[k].pid, SIGTERM);
            }
        }
        json_decref(h);
    }
    free(hr);
}

/* Claims a job (a long poll) and starts it in a child process in a free slot. */
static void claim_and_start(struct kiln_client *c, const struct wopts *o, struct slot *slots, int *busy, long lease_ms)
{
    /* the server asked for a pause (Retry-After): no claim before it ends; the main loop keeps
     * renewing the lease of the running jobs meanwhile */
    if (now_ms() < retry_not_before_ms) {
        nap_ms(MIN(500, retry_not_before_ms - now_ms()));
        return;
    }
    char *jr = NULL;
    long st = 0;
    _cleanup_free_ char *path = xasprintf("/api/v1/worker/claim?wait=%lld", lease_ms / 4000 > 10 ? 10LL : (long long)(lease_ms / 4000));
    call_abort = &stopping;
    int cr = call(c, "POST", path, NULL, 60, &st, &jr);
    call_abort = NULL;
    if (stopping && cr < 0) {
        free(jr);
        return;
    }
    if (cr < 0 || st != 200) {
        free(jr);
        /* a Retry-After is waited out by the check above, a beat at a time; an unreachable
         * server is asked again after the backoff, within the lease's renewal pace */
        if (cr < 0) nap_ms(MIN(reach_wait_ms(), lease_ms / 4));
        else if (st / 100 != 2 && now_ms() >= retry_not_before_ms) nap_ms(2000);
        return;
    }
    /* a claimed job is run from what the reply says: without its image, spec or requirements
     * it cannot be, and is handed back as incomplete with the reason */
    json_t *job = NULL, *jspec = NULL, *jreq = NULL;
    json_int_t id = 0, attempt = 0;
    const char *image = NULL;
    char *jerr = NULL;
    int ur = kiln_client_unpack("POST /api/v1/worker/claim", jr, &job, &jerr, "{s:I, s:s, s:I, s:o, s:o}", "id", &id, "image",
                                &image, "attempt", &attempt, "spec", &jspec, "requirements", &jreq);
    free(jr);
    if (ur < 0 || id <= 0 || !json_is_object(jspec) || !json_is_object(jreq)) {
        if (!jerr) jerr = xstrdup("the server's reply to POST /api/v1/worker/claim gives no positive job id, or a spec or "
                                  "requirements that are not objects");
        log_error("kiln worker: %s", jerr);
        /* the id, when the reply had one, lets the server requeue the job at once */
        if (id > 0) finish(c, id, "incomplete", jerr);
        free(jerr);
        json_decref(job);
        nap_ms(2000);
        return;
    }
    if (stopping) {
        /* the claim was answered after SIGTERM came: hand the job straight back */
        finish(c, id, "incomplete", "the worker was stopped; the job goes back to the queue");
        json_decref(job);
        return;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        /* the job's process ends with the worker (kill -9 included): its VMs go with it */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        /* the worker died before PDEATHSIG was set: the signal will never come */
        if (getppid() != worker_pid) _exit(1);
        reach_quiet = true;
        kiln_client_free(c);
        _exit(run_job(o, job));
    }
    if (child < 0) {
        log_error("kiln worker: fork: %s", strerror(errno));
        finish(c, id, "incomplete", "the worker could not start a process for the job");
    } else {
        for (int k = 0; k < o->slots; k++)
            if (!slots[k].pid) {
                slots[k] = (struct slot){child, id};
                (*busy)++;
                break;
            }
        log_info("kiln worker: job %lld started (attempt %lld)", (long long)id, (long long)attempt);
    }
    json_decref(job);
}

/* Serves until SIGINT or SIGTERM: declared, then claims while a slot is free, renewing the
 * lease every quarter of it; at the stop, the running jobs are stopped and handed back. */
static int serve_jobs(struct kiln_client *c, const struct wopts *o, long lease_ms)
{
    struct slot slots[MAX_SLOTS] = {0};
    int busy = 0;
    bool told = false;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long next_beat = 0;
    for (;;) {
        reap(c, o, slots, &busy);
        if (stopping) {
            if (!told) {
                log_info("kiln worker: stopping: %d job(s) handed back", busy);
                for (int k = 0; k < o->slots; k++)
                    if (slots[k].pid) kill(slots[k].pid, SIGTERM);
                told = true;
            }
            if (busy == 0) return EXIT_OK;
            nap_ms(200);
            continue;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ms = (now.tv_sec - t0.tv_sec) * 1000LL + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= next_beat) {
            next_beat = ms + lease_ms / 4;
            heartbeat(c, o, slots);
        }
        if (busy >= o->slots) nap_ms(500);
        else claim_and_start(c, o, slots, &busy, lease_ms);
    }
}

int cmd_worker_run(int argc, char **argv)
{
    struct wopts o = {.token = getenv("KILN_WORKER_TOKEN"), .slots = 1};
    _cleanup_free_ char *defwork = NULL;
    long nslots = 1;
    const struct cmd_opt opts[] = {
        {0, "server", "URL", CMD_STR, &o.server, .help = "the service's URL, e.g. http://127.0.0.1:8470"},
        {0, "token", "WTOKEN", CMD_STR, &o.token, .secret = true,
         .help = "the worker's token (kw_..., from kiln worker add; default\n$KILN_WORKER_TOKEN, which keeps it off the command line)"},
        {0, "slots", "N", CMD_LONG, &nslots, 1, MAX_SLOTS, .help = "how many jobs run at once (default 1)"},
        {0, "work", "DIR", CMD_STR, &o.work, .help = "a directory for the jobs' files (default $TMPDIR/kiln-worker-PID)"},
        {0, "key", "SECRET.key", CMD_STR, &o.key, .help = "the minisign secret key that signs each job's telemetry archive"},
        {0, "withhold", "FEATURES", CMD_FN, &o.withhold, .fn = take_withhold,
         .help = "features not to offer, of uefi, tpm, secure-boot (comma-separated)"},
        {0},
    };
    const struct cmd_verb v = {
        "worker", "--server URL [--token WTOKEN] [--slots N] [--work DIR] [--key SECRET.key] [--withhold FEATURES]\n"
                  "add NAME (--data DIR | --db URL)",
        "Pulls jobs from the validation service and runs each like `kiln run`, N at once. It offers\n"
        "uefi, tpm and secure-boot when this host has what they take (OVMF, a swtpm that runs, OVMF's\n"
        "Secure Boot build). SIGTERM stops the running jobs, hands them back to the queue and exits.\n"
        "`kiln worker add --help` describes registering a worker.",
        opts, 0, 0, NULL,
        .exits = "0 stopped by SIGINT or SIGTERM, 1 the service's replies cannot be used or the work\n"
                 "directory cannot be made, 2 usage, no token, or the server refused the token",
    };
    int nargs, rc = cmd_parse(&v, argc, argv, &nargs);
    if (rc != CMD_GO) return rc;
    o.slots = (int)nslots;
    if (!o.server) {
        fprintf(stderr, "kiln worker: --server URL is needed: the service to pull jobs from\n");
        return EXIT_USAGE;
    }
    if (!o.token || !*o.token) {
        fprintf(stderr, "kiln worker: no token: give --token or set $KILN_WORKER_TOKEN (from `kiln worker add`)\n");
        return EXIT_USAGE;
    }
    secret_add(o.token); /* masked in every log line, should a message ever quote it */
    /* a job signs its archive from the job's directory, where a relative --key names nothing
     * (each archive went unsigned, a warning in this log only): --key is named from /, and one
     * that cannot be read is a usage error before anything is created, not a warning per job */
    _cleanup_free_ char *abskey = NULL;
    if (o.key) {
        abskey = realpath(o.key, NULL);
        if (!abskey || access(abskey, R_OK) < 0) {
            fprintf(stderr, "kiln worker: --key %s: %s; give the minisign secret key that signs the jobs' archives (kiln keygen makes one)\n",
                    o.key, strerror(errno));
            return EXIT_USAGE;
        }
        o.key = abskey;
    }
    if (!o.work) {
        const char *t = getenv("TMPDIR");
        o.work = defwork = xasprintf("%s/kiln-worker-%d", t && *t ? t : "/tmp", (int)getpid());
    }
    if (mkdir_p(o.work, 0700) < 0) {
        fprintf(stderr, "kiln worker: cannot create --work %s: %s\n", o.work, strerror(errno));
        return EXIT_FAIL;
    }
    /* a job's process runs in its job's directory: --work is named from /, not from here */
    _cleanup_free_ char *abswork = realpath(o.work, NULL);
    if (!abswork) {
        fprintf(stderr, "kiln worker: --work %s: %s\n", o.work, strerror(errno));
        return EXIT_FAIL;
    }
    if (defwork) free(defwork), defwork = xstrdup(abswork);
    o.work = abswork;
    log_set_stamps(true); /* a worker's log is read later: each line says when */
    struct kiln_client *c = NULL;
    char *err = NULL;
    if (kiln_client_new(o.server, o.token, &c, &err) < 0) {
        fprintf(stderr, "kiln worker: %s\n", err);
        free(err);
        return EXIT_USAGE;
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    worker_pid = getpid();
    probe_caps(o.work, o.withhold, &o.caps);
    long lease_ms = 60000;
    rc = declare(c, &o, &lease_ms);
    if (rc == EXIT_OK) {
        char feats[128];
        kiln_features_format(o.caps.features, feats, sizeof feats);
        log_info("kiln worker: serving %s with %d slot(s): %s/%s, %d cpus, %d MiB, features: %s", o.server, o.slots, o.caps.accel,
                 o.caps.arch, o.caps.cpus, o.caps.memory_mb, *feats ? feats : "none");
        rc = serve_jobs(c, &o, lease_ms);
        log_info("kiln worker: stopped");
    }
    kiln_client_free(c);
    if (defwork) rm_rf(defwork);
    return rc;
}
