#include "run/scheduler.h"

#include <errno.h>
#include <pthread.h>

#include "run/perf.h"
#include "node/console.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/util.h"

struct item {
    size_t sel;
    size_t result;
    struct kiln_req need;
    bool last; /* the case crashes a node (kiln_case.crashes_node): after the others of its need */
};

struct sched {
    const struct kiln_sched_opts *o;
    struct kiln_results *res;
    struct item *items;
    size_t nitems, next;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long mem_budget, mem_used;
    int env_seq;
    size_t done;
    /* a spec whose deployment failed: later cases needing it fail at once instead of
     * waiting out another boot timeout */
    struct kiln_req failed_spec;
    char *failed_reason;
    /* a run that may keep its environments: workers park after the last case, holding their
     * environment, until released */
    bool may_keep, released;
    long parked;
    pthread_cond_t park;
};

long host_memory_budget_mb(void)
{
    char *mi = NULL;
    long avail = 0;
    if (read_file("/proc/meminfo", 1 << 16, &mi, NULL) == 0) {
        char *p = strstr(mi, "MemAvailable:");
        if (p) avail = strtol(p + 13, NULL, 10) / 1024;
        free(mi);
    }
    return MAX(avail - 1024, 256);
}

static int cmp_req(const struct kiln_req *a, const struct kiln_req *b)
{
    const int av[] = {a->nodes, a->nics, a->data_disks, (int)a->features, a->cpus, a->memory_mb};
    const int bv[] = {b->nodes, b->nics, b->data_disks, (int)b->features, b->cpus, b->memory_mb};
    for (size_t i = 0; i < ARRAY_SIZE(av); i++)
        if (av[i] != bv[i]) return av[i] < bv[i] ? -1 : 1;
    return 0;
}

static int cmp_item(const void *x, const void *y)
{
    const struct item *a = x, *b = y;
    int c = cmp_req(&a->need, &b->need);
    if (c) return c;
    if (a->last != b->last) return a->last ? 1 : -1;
    return a->result < b->result ? -1 : a->result > b->result;
}

static void finish(struct sched *s, struct kiln_result *r)
{
    pthread_mutex_lock(&s->lock);
    s->done++;
    notifiers_case_finished(s->o->notifiers, s->res, r, s->done);
    pthread_mutex_unlock(&s->lock);
}

static bool admit(struct sched *s, long cost, char **reterr)
{
    pthread_mutex_lock(&s->lock);
    if (cost > s->mem_budget) {
        pthread_mutex_unlock(&s->lock);
        return err_setf(reterr, false, "needs %ld MiB of host memory for its environment, only %ld MiB available", cost,
                 s->mem_budget);
    }
    while (s->mem_used + cost > s->mem_budget && !kiln_interrupted) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    s->mem_used += cost;
    pthread_mutex_unlock(&s->lock);
    return true;
}

static void release(struct sched *s, long cost)
{
    pthread_mutex_lock(&s->lock);
    s->mem_used -= cost;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

struct worker {
    struct sched *s;
    struct kiln_env *env;
    long env_cost;
    char *deploy_note; /* for the next case's result: the first deployment failed and was retried */
};

static void drop_env(struct worker *w)
{
    if (!w->env) return;
    struct kiln_platform_ctx *p = w->s->o->pctx;
    log_info("%s: destroying", w->env->name);
    p->ops->destroy(p, w->env);
    env_free(w->env);
    w->env = NULL;
    release(w->s, w->env_cost);
    w->env_cost = 0;
}

static int get_env(struct worker *w, const struct kiln_req *need, char **reterr)
{
    struct sched *s = w->s;
    struct kiln_platform_ctx *p = s->o->pctx;
    if (w->env && (w->env->bad || !kiln_req_satisfied(&w->env->spec, need, NULL))) drop_env(w);
    if (w->env) return 0;
    struct kiln_req spec;
    p->ops->spec_for(p, need, &spec);
    pthread_mutex_lock(&s->lock);
    if (s->failed_reason && cmp_req(&s->failed_spec, &spec) == 0) {
        err_setf(reterr, 0, "environment deployment failed earlier: %s", s->failed_reason);
        pthread_mutex_unlock(&s->lock);
        return -EHOSTDOWN;
    }
    int id = s->env_seq++;
    pthread_mutex_unlock(&s->lock);
    long cost = platform_env_cost_mb(p->ops, &spec);
    if (!admit(s, cost, reterr)) return -ENOMEM;
    struct kiln_env *env = xcalloc(1, sizeof *env);
    env->id = id;
    env->name = xasprintf("env%d", id);
    env->spec = spec;
    w->env = env;
    w->env_cost = cost;
    char f[128];
    kiln_features_format(spec.features, f, sizeof f);
    log_info("%s: deploying %d node(s), %d cpu, %d MiB, %d nic, %d data disk(s), features %s", env->name,
             kiln_req_nodes(&spec), spec.cpus, spec.memory_mb, spec.nics, spec.data_disks, f[0] ? f : "-");
    double t0 = now_s();
    _cleanup_free_ char *why = NULL;
    int r = p->ops->deploy(p, env, &why);
    /* another try cannot help after -ENOTSUP (the runbook asks for what the host lacks),
     * -EPERM (the image refuses kiln's key) or -EHOSTUNREACH (the image booted and configured
     * no network: it would again) */
    if (r < 0 && r != -EINTR && r != -ENOTSUP && r != -EPERM && r != -EHOSTUNREACH && !kiln_interrupted) {
        /* A first boot can fail for the host's sake (a starved emulator: under TCG a guest
         * kernel then panics with "IO-APIC + timer doesn't work"); one more deployment tells
         * that from an image that never boots, and the case says it happened. */
        _cleanup_free_ char *first = xstrdup(why ? why : "");
        log_warn("%s: deployment failed (%s); deploying once more", env->name, first);
        p->ops->destroy(p, env);
        for (size_t i = 0; i < env->nnodes; i++) node_free(env->nodes[i]);
        free(env->nodes);
        env->nodes = NULL;
        env->nnodes = 0;
        env->bad = false;
        r = p->ops->deploy(p, env, &why);
        if (r == 0) {
            free(w->deploy_note);
            w->deploy_note = xasprintf("%s: the first deployment failed and the second succeeded; the first: %s",
                                       env->name, first);
        }
    }
    if (r < 0) {
        if (!why) why = xstrdup("");
        log_error("%s: deployment failed: %s", env->name, why);
        pthread_mutex_lock(&s->lock);
        if (!s->failed_reason && r != -EINTR) {
            s->failed_spec = spec;
            s->failed_reason = xstrdup(why);
        }
        pthread_mutex_unlock(&s->lock);
        drop_env(w);
        return err_setf(reterr, r, "%s", why);
    }
    log_info("%s: ready in %.1f s", env->name, now_s() - t0);
    return 0;
}

static FILE *open_case_log(struct kiln_results *res, struct kiln_result *r, char **dir)
{
    _cleanup_free_ char *cases = path_join(res->dir, "cases");
    *dir = path_join(cases, r->id);
    mkdir_p(*dir, 0755);
    free(r->log_rel);
    r->log_rel = xasprintf("cases/%s/log.txt", r->id);
    _cleanup_free_ char *path = path_join(*dir, "log.txt");
    return secret_fopen(path, true, 0644);
}

/* The platform's answer for perf's sampler: the node's VM process now (it changes when the
 * guest reboots; qemu's node_pid reads one pid_t the platform sets at power on and off). */
static pid_t perf_node_pid(void *ctx, struct kiln_node *n)
{
    struct kiln_platform_ctx *p = ctx;
    return p->ops->node_pid(p, n);
}

/* The attempt's status from the case's answer rc, with the result's reason: a fatal console
 * line on any node fails it (and the environment is not used again), a timeout past the
 * deadline (timeout_s) and an interruption say so, another error says what it was. */
static int verdict(struct kiln_env *env, struct kiln_result *r, int rc, long timeout_s, int64_t deadline_ms)
{
    int status;
    const char *fatal = NULL;
    for (size_t i = 0; i < env->nnodes && !fatal; i++) fatal = node_fatal(env->nodes[i]);
    if (fatal) {
        _cleanup_free_ char *msg = xasprintf("console: %s", fatal);
        result_set_reason(r, msg);
        status = ST_FAILED;
        env->bad = true;
    } else if (rc == CASE_PASS) {
        status = ST_PASSED;
        result_set_reason(r, NULL);
    } else if (rc == CASE_SKIP) {
        status = ST_SKIPPED;
    } else if (rc == CASE_FAIL) {
        status = ST_FAILED;
    } else {
        status = ST_FAILED;
        if (rc == -ETIMEDOUT && now_ms() >= deadline_ms) {
            _cleanup_free_ char *msg = xasprintf("timed out after %ld s", timeout_s);
            result_set_reason(r, msg);
        } else if (rc == -EINTR) {
            result_set_reason(r, "run interrupted");
        } else if (!r->reason) {
            _cleanup_free_ char *msg = xasprintf("could not run on %s: %s", r->node, strerror(-rc));
            result_set_reason(r, msg);
        }
    }
    return status;
}

/* After the case: the nodes' notes move to the result, each node's console events since
 * marks[i] go to the log, a bad node marks the environment bad, and the nodes stop logging. */
static void collect_nodes(struct kiln_env *env, struct kiln_result *r, FILE *log, const uint64_t *marks)
{
    for (size_t i = 0; i < env->nnodes; i++) {
        struct kiln_node *n = env->nodes[i];
        if (n->bad) env->bad = true;
        for (size_t k = 0; k < n->nnotes; k++) *APPEND(r->notes, r->nnotes, r->capnotes) = n->notes[k];
        free(n->notes);
        n->notes = NULL;
        n->nnotes = n->capnotes = 0;
        if (n->console) {
            struct console_event *ev;
            size_t nev = console_events(n->console, marks[i], &ev);
            for (size_t k = 0; k < nev; k++)
                fprintf(log, "console %s [%s]%s: %s\n", n->name, ev[k].pattern, ev[k].fatal ? " (fatal)" : "",
                        ev[k].line);
            console_events_free(ev, nev);
        }
        n->log = NULL;
    }
}

/* Runs one attempt. Returns the status. */
static int attempt(struct worker *w, const struct item *it, struct kiln_result *r, FILE *log, const char *dir)
{
    struct sched *s = w->s;
    const struct kiln_selected *sel = &s->o->sel[it->sel];
    const struct kiln_case *c = sel->c;
    _cleanup_free_ char *why = NULL;
    int r_env = get_env(w, &it->need, &why);
    if (r_env < 0) {
        result_set_reason(r, r_env == -EINTR ? "run interrupted" : why);
        fprintf(log, "environment: %s\n", why);
        return r_env == -EINTR ? ST_SKIPPED : ST_FAILED;
    }
    struct kiln_env *env = w->env;
    if (w->deploy_note) {
        fprintf(log, "note: %s\n", w->deploy_note);
        *APPEND(r->notes, r->nnotes, r->capnotes) = w->deploy_note;
        w->deploy_note = NULL;
    }
    struct kiln_case_ctx t = {
        .c = c, .plat = s->o->pctx, .env = env, .node = env->nodes[0], .res = r, .log = log, .dir = (char *)dir,
        .deadline_ms = now_ms() + sel->timeout_s * 1000,
    };
    uint64_t *marks = xcalloc(env->nnodes, sizeof *marks);
    for (size_t i = 0; i < env->nnodes; i++) {
        env->nodes[i]->log = log;
        if (env->nodes[i]->console) marks[i] = console_mark(env->nodes[i]->console);
    }
    t.console_mark = marks[0];
    free(r->node);
    free(r->env);
    r->node = xstrdup(env->nodes[0]->name);
    r->env = xstrdup(env->name);
    fprintf(log, "case %s on %s (%s), timeout %ld s\n", c->name, env->name, r->node, sel->timeout_s);
    fflush(log);
    struct perf *perf = perf_start(env->nodes, env->nnodes, s->o->pctx->ops->node_pid ? perf_node_pid : NULL, s->o->pctx);
    int rc = c->run(&t);
    _cleanup_free_ char *perf_path = path_join(dir, "perf.json");
    perf_finish(perf, perf_path);
    int status = verdict(env, r, rc, sel->timeout_s, t.deadline_ms);
    collect_nodes(env, r, log, marks);
    free(marks);
    fprintf(log, "attempt result: %s%s%s\n", kiln_status_names[status], r->reason ? ": " : "", r->reason ? r->reason : "");
    fflush(log);
    return status;
}

static void run_item(struct worker *w, const struct item *it)
{
    struct sched *s = w->s;
    const struct kiln_selected *sel = &s->o->sel[it->sel];
    struct kiln_result *r = &s->res->v[it->result];
    _cleanup_free_ char *dir = NULL;
    FILE *log = open_case_log(s->res, r, &dir);
    if (!log) {
        result_set_reason(r, "cannot create the case log");
        r->status = ST_FAILED;
        finish(s, r);
        return;
    }
    pthread_mutex_lock(&s->lock);
    r->status = ST_RUNNING;
    r->started = wall_s();
    notifiers_case_started(s->o->notifiers, s->res, r);
    pthread_mutex_unlock(&s->lock);
    double t0 = now_s();
    bool failed_before = false;
    int status = ST_FAILED;
    for (long a = 0; a <= sel->retry; a++) {
        if (kiln_interrupted) {
            status = ST_SKIPPED;
            result_set_reason(r, "run interrupted");
            break;
        }
        r->attempts++;
        if (a) fprintf(log, "--- retry %ld of %ld ---\n", a, sel->retry);
        status = attempt(w, it, r, log, dir);
        if (status != ST_FAILED) break;
        failed_before = true;
    }
    if (status == ST_PASSED && failed_before) status = ST_FLAKY;
    /* a case the interrupt ended (failed, or skipped when its environment's deploy was cut
     * short) did not fail: it was tried and did not conclude. One the interrupt kept from
     * starting (no attempt) stays skipped. */
    if (kiln_interrupted && r->attempts > 0 && (status == ST_FAILED || status == ST_SKIPPED)) {
        /* the case's own words then name what the interrupt cut ("cannot run a command on node0:
         * Interrupted system call"); they are in its log's attempt line, the reason is plain */
        status = ST_ATTEMPTED;
        result_set_reason(r, "run interrupted");
    }
    fclose(log);
    r->duration_s = now_s() - t0;
    r->status = status;
    finish(s, r);
}

static bool next_item(struct sched *s, struct item *out)
{
    pthread_mutex_lock(&s->lock);
    bool ok = s->next < s->nitems;
    if (ok) *out = s->items[s->next++];
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct item it;
    while (next_item(w->s, &it)) {
        if (kiln_interrupted) {
            struct kiln_result *r = &w->s->res->v[it.result];
            r->status = ST_SKIPPED;
            result_set_reason(r, "run interrupted");
            finish(w->s, r);
            continue;
        }
        run_item(w, &it);
    }
    struct sched *s = w->s;
    if (s->may_keep) {
        pthread_mutex_lock(&s->lock);
        s->parked++;
        pthread_cond_broadcast(&s->park);
        while (!s->released) pthread_cond_wait(&s->park, &s->lock);
        pthread_mutex_unlock(&s->lock);
    }
    drop_env(w);
    free(w->deploy_note);
    w->deploy_note = NULL;
    return NULL;
}

/* A run sched_run handed over with its environments kept, its workers parked. */
struct sched_kept {
    struct sched *s;
    struct worker *ws;
    pthread_t *th;
    long nworkers;
};

bool sched_keep_wanted(int keep, const struct kiln_results *res)
{
    if (keep == KEEP_ALWAYS) return true;
    for (size_t i = 0; keep == KEEP_FAILED && i < res->n; i++)
        if (res->v[i].status == ST_FAILED) return true;
    return false;
}

struct kiln_env **sched_kept_envs(const struct sched_kept *k, size_t *n)
{
    struct kiln_env **v = xcalloc((size_t)k->nworkers, sizeof *v);
    *n = 0;
    for (long i = 0; i < k->nworkers; i++)
        if (k->ws[i].env) v[(*n)++] = k->ws[i].env;
    return v;
}

/* Releases parked workers (they destroy their environments), joins every worker, frees k. */
void sched_kept_end(struct sched_kept *k)
{
    if (!k) return;
    struct sched *s = k->s;
    pthread_mutex_lock(&s->lock);
    s->released = true;
    pthread_cond_broadcast(&s->park);
    pthread_mutex_unlock(&s->lock);
    for (long i = 0; i < k->nworkers; i++)
        if (k->th[i]) pthread_join(k->th[i], NULL);
    free(k->ws);
    free(k->th);
    free(s->items);
    free(s->failed_reason);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->park);
    free(s);
    free(k);
}

int sched_run(const struct kiln_sched_opts *o, struct kiln_results *res)
{
    struct sched *sp = xcalloc(1, sizeof *sp);
    sp->o = o;
    sp->res = res;
    sp->may_keep = o->kept && o->pctx->rb->platform.keep_environment != KEEP_NO;
    pthread_cond_init(&sp->park, NULL);
    pthread_mutex_init(&sp->lock, NULL);
    pthread_cond_init(&sp->cond, NULL);
    sp->mem_budget = o->host_memory_mb > 0 ? o->host_memory_mb : host_memory_budget_mb();
    struct kiln_platform_ctx *p = o->pctx;
    size_t total = 0;
    for (size_t i = 0; i < o->nsel; i++) total += (size_t)o->sel[i].times;
    res->v = xcalloc(total ? total : 1, sizeof *res->v);
    sp->items = xcalloc(total ? total : 1, sizeof *sp->items);
    for (size_t i = 0; i < o->nsel; i++) {
        const struct kiln_selected *sel = &o->sel[i];
        for (long k = 0; k < sel->times; k++) {
            struct kiln_result *r = &res->v[res->n];
            r->c = sel->c;
            r->iteration = (int)k;
            r->id = sel->times > 1 ? xasprintf("%s#%ld", sel->c->name, k + 1) : xstrdup(sel->c->name);
            r->status = ST_QUEUED;
            r->ignore_failure = sel->ignore_failure;
            struct kiln_req need = sel->c->requires;
            kiln_req_merge(&need, &p->rb->platform.requirement);
            _cleanup_free_ char *why = NULL;
            if (!p->ops->capable(p, &need, &why)) {
                r->status = ST_SKIPPED;
                result_set_reason(r, why);
            } else {
                sp->items[sp->nitems++] = (struct item){.sel = i, .result = res->n, .need = need, .last = o->sel[i].c->crashes_node};
            }
            res->n++;
        }
    }
    notifiers_run_started(o->notifiers, res);
    for (size_t i = 0; i < res->n; i++)
        if (res->v[i].status == ST_SKIPPED) finish(sp, &res->v[i]);
    qsort(sp->items, sp->nitems, sizeof *sp->items, cmp_item);
    long nworkers = MAX(1, o->concurrency);
    if (p->ops->max_envs) nworkers = MIN(nworkers, p->ops->max_envs);
    nworkers = MIN(nworkers, (long)MAX(sp->nitems, (size_t)1));
    struct worker *ws = xcalloc((size_t)nworkers, sizeof *ws);
    pthread_t *th = xcalloc((size_t)nworkers, sizeof *th);
    for (long i = 0; i < nworkers; i++) {
        ws[i].s = sp;
        if (pthread_create(&th[i], NULL, worker_main, &ws[i]) != 0) {
            log_error("cannot start a worker thread");
            th[i] = 0;
        }
    }
    struct sched_kept *k = xcalloc(1, sizeof *k);
    *k = (struct sched_kept){.s = sp, .ws = ws, .th = th, .nworkers = nworkers};
    if (o->kept) *o->kept = NULL;
    if (sp->may_keep) {
        long started = 0;
        for (long i = 0; i < nworkers; i++) started += th[i] != 0;
        pthread_mutex_lock(&sp->lock);
        while (sp->parked < started) pthread_cond_wait(&sp->park, &sp->lock);
        pthread_mutex_unlock(&sp->lock);
        res->interrupted = kiln_interrupted != 0;
        size_t nenvs;
        free(sched_kept_envs(k, &nenvs));
        if (!res->interrupted && nenvs && sched_keep_wanted(p->rb->platform.keep_environment, res)) {
            *o->kept = k;
            return 0;
        }
    }
    sched_kept_end(k);
    res->interrupted = kiln_interrupted != 0;
    return 0;
}
