/* The scheduler against a fake platform: no VMs, only the logic. */
#include <errno.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/node.h"
#include "run/case.h"
#include "run/perf.h"
#include "run/scheduler.h"
#include "tap.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int deploys, live, max_live, destroys, nics4_deploys;
/* destroyed on another thread than the one that deployed it: a VM dies with the thread that
 * started it (PDEATHSIG), so a kept environment must outlive no thread of its own */
static int foreign_destroys;
static pthread_t deployer[64];

static int fake_init(struct kiln_platform_ctx *p, char **reterr)
{
    (void)p, (void)reterr;
    return 0;
}

static bool fake_capable(struct kiln_platform_ctx *p, const struct kiln_req *need, char **reterr)
{
    (void)p;
    if (need->features & FEAT_GPU) return err_setf(reterr, false, "needs feature gpu, fake has none");
    return true;
}

static void fake_spec_for(struct kiln_platform_ctx *p, const struct kiln_req *need, struct kiln_req *spec)
{
    (void)p;
    *spec = *need;
    spec->nodes = kiln_req_nodes(need);
    spec->cpus = MAX(need->cpus, 1);
    spec->memory_mb = 1000;
    spec->nics = MAX(need->nics, 1);
}

static int fake_deploy(struct kiln_platform_ctx *p, struct kiln_env *env, char **reterr)
{
    pthread_mutex_lock(&lock);
    deploys++;
    live++;
    max_live = MAX(max_live, live);
    pthread_mutex_unlock(&lock);
    if (env->id >= 0 && env->id < 64) deployer[env->id] = pthread_self();
    env->nodes = xcalloc(1, sizeof *env->nodes);
    env->nodes[env->nnodes++] = platform_new_node(p);
    if (env->spec.nics == 3) return err_setf(reterr, -ETIMEDOUT, "no SSH after 1 s (fake)");
    /* the host's fault, once: the retried deployment works */
    if (env->spec.nics == 4 && nics4_deploys++ == 0) return err_setf(reterr, -EHOSTDOWN, "IO-APIC + timer doesn't work (fake)");
    return 0;
}

static void fake_destroy(struct kiln_platform_ctx *p, struct kiln_env *env)
{
    (void)p;
    pthread_mutex_lock(&lock);
    if (env->id >= 0 && env->id < 64 && !pthread_equal(deployer[env->id], pthread_self())) foreign_destroys++;
    live--;
    destroys++;
    pthread_mutex_unlock(&lock);
}

static const struct kiln_platform fake = {
    .name = "fake", .uses_host_memory = true, .init = fake_init, .capable = fake_capable,
    .spec_for = fake_spec_for, .deploy = fake_deploy, .destroy = fake_destroy,
};

static int pass(struct kiln_case_ctx *t)
{
    (void)t;
    sleep_ms(20);
    return CASE_PASS;
}

static int flaky_calls;
static int flaky(struct kiln_case_ctx *t)
{
    return ++flaky_calls == 1 ? case_fail(t, "first attempt fails") : CASE_PASS;
}

static int fails(struct kiln_case_ctx *t)
{
    return case_fail(t, "value 3, expected 4");
}

static int skips(struct kiln_case_ctx *t)
{
    return case_skip(t, "does not apply");
}

static int slow(struct kiln_case_ctx *t)
{
    while (case_time_left(t) > 1) sleep_ms(50);
    sleep_ms(1100);
    return -ETIMEDOUT;
}

static int breaks_node(struct kiln_case_ctx *t)
{
    t->node->bad = true; /* as when SSH drops or the console shows a panic */
    return case_fail(t, "node lost");
}

static const struct kiln_case breaker = {.name = "breaker", .area = "x", .run = breaks_node};

/* the order cases ran in, by name */
static char ran[256];
static int records_order(struct kiln_case_ctx *t)
{
    snprintf(ran + strlen(ran), sizeof ran - strlen(ran), "%s ", t->c->name);
    return CASE_PASS;
}
/* a SIGINT arrives while the case runs a command: the command fails with EINTR, as node_exec's does */
static int interrupted(struct kiln_case_ctx *t)
{
    kiln_interrupted = SIGINT;
    return case_fail(t, "cannot run a command on node0: %s", strerror(EINTR));
}
static const struct kiln_case cut = {.name = "cut", .area = "x", .run = interrupted};

static const struct kiln_case crasher = {.name = "crasher", .area = "x", .run = records_order, .crashes_node = true};
static const struct kiln_case first = {.name = "first", .area = "x", .run = records_order};
static const struct kiln_case second = {.name = "second", .area = "x", .run = records_order};

static const struct kiln_case cases[] = {
    {.name = "a_pass1", .area = "x", .run = pass},
    {.name = "a_pass2", .area = "x", .run = pass},
    {.name = "b_nics2", .area = "x", .run = pass, .requires = {.nics = 2}},
    {.name = "c_gpu", .area = "x", .run = pass, .requires = {.features = FEAT_GPU}},
    {.name = "d_flaky", .area = "x", .run = flaky},
    {.name = "e_fails", .area = "x", .run = fails},
    {.name = "f_skips", .area = "x", .run = skips},
    {.name = "g_nics3", .area = "x", .run = pass, .requires = {.nics = 3}},
    {.name = "h_nics3_again", .area = "x", .run = pass, .requires = {.nics = 3}},
    {.name = "i_timeout", .area = "x", .run = slow},
    {.name = "j_nics4", .area = "x", .run = pass, .requires = {.nics = 4}},
};

static const struct kiln_result *find(const struct kiln_results *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (streq(r->v[i].id, id)) return &r->v[i];
    return NULL;
}

static struct kiln_results run(long concurrency, long mem, const struct kiln_selected *sel, size_t n,
                               struct kiln_runbook *rb, const char *dir)
{
    struct kiln_platform_ctx p = {.rb = rb, .ops = &fake, .run_dir = (char *)dir, .key_path = "/dev/null"};
    struct kiln_notifiers ns = {0};
    struct kiln_results res = {.dir = xstrdup(dir), .name = xstrdup("t")};
    struct kiln_sched_opts o = {.pctx = &p, .sel = sel, .nsel = n, .concurrency = concurrency, .notifiers = &ns,
                                .host_memory_mb = mem};
    sched_run(&o, &res);
    return res;
}

/* platform.keep_environment: which runs keep their environments, and that every environment
 * ends either way (kept ones when the caller ends them). */
static void keep_environment(struct kiln_runbook *rb, const char *dir)
{
    struct kiln_selected passing[2] = {{.c = &cases[0], .times = 1, .timeout_s = 60},
                                       {.c = &cases[2], .times = 1, .timeout_s = 60}};
    struct kiln_selected failing[1] = {{.c = &cases[5], .times = 1, .timeout_s = 60}};
    /* one shape: a worker that takes both cases (a busy host starts the other late) deploys
     * once, so environments deployed = workers that ran a case = environments kept (passing's
     * two shapes made one worker deploy twice and keep one: "got 1, want 2" under load) */
    struct kiln_selected same_shape[2] = {{.c = &cases[0], .times = 1, .timeout_s = 60},
                                          {.c = &cases[1], .times = 1, .timeout_s = 60}};
    const struct {
        int keep;
        const struct kiln_selected *sel;
        size_t nsel;
        long concurrency;
        int want_kept; /* -1: every environment deployed (with 2 workers and 2 cases a busy host
                        * may let one worker take both, so 1 or 2 environments) */
        const char *what;
    } t[] = {
        {KEEP_NO, failing, 1, 1, 0, "keep_environment: no keeps nothing, even after a failure"},
        {KEEP_ALWAYS, passing, 2, 1, 1, "always keeps the environment left after the last case"},
        {KEEP_ALWAYS, same_shape, 2, 2, -1, "always keeps each worker's environment"},
        {KEEP_FAILED, passing, 2, 1, 0, "failed keeps nothing when every case passed"},
        {KEEP_FAILED, failing, 1, 1, 1, "failed keeps the environment when a case failed"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
        rb->platform.keep_environment = t[i].keep;
        deploys = destroys = live = 0;
        struct sched_kept *kept = NULL;
        struct kiln_platform_ctx p = {.rb = rb, .ops = &fake, .run_dir = (char *)dir, .key_path = "/dev/null"};
        struct kiln_notifiers ns = {0};
        struct kiln_results res = {.dir = xstrdup(dir), .name = xstrdup("t")};
        struct kiln_sched_opts o = {.pctx = &p, .sel = t[i].sel, .nsel = t[i].nsel, .concurrency = t[i].concurrency,
                                    .notifiers = &ns, .host_memory_mb = 100000, .kept = &kept};
        sched_run(&o, &res);
        int want = t[i].want_kept;
        if (want < 0) {
            ok(deploys >= 1 && deploys <= 2, "one environment per worker that ran a case");
            want = deploys;
        }
        size_t nkept = 0;
        if (kept) free(sched_kept_envs(kept, &nkept));
        is_int(nkept, want, t[i].what);
        ok(!kept == !want, "a handle exactly when something is kept");
        is_int(live, want, "the kept environments are still deployed, the others destroyed");
        sched_kept_end(kept);
        is_int(live, 0, "sched_kept_end ends them");
        is_int(foreign_destroys, 0, "each on the thread that deployed it, alive until then");
        results_free(&res);
    }
    rb->platform.keep_environment = KEEP_ALWAYS;
    struct kiln_results res = run(1, 100000, passing, 2, rb, dir);
    is_int(live, 0, "without a place to keep them (kept NULL), always destroys every environment");
    results_free(&res);
    rb->platform.keep_environment = KEEP_NO;
    struct kiln_result v[2] = {{.status = ST_PASSED}, {.status = ST_FLAKY}};
    struct kiln_results r = {.n = 2, .v = v};
    ok(!sched_keep_wanted(KEEP_FAILED, &r), "failed: a flaky case (passed on retry) is no failure");
    v[1].status = ST_FAILED;
    ok(sched_keep_wanted(KEEP_FAILED, &r), "failed: a failed case is");
    ok(!sched_keep_wanted(KEEP_NO, &r), "no never keeps");
}

/* perf follows a node's VM across a restart: the platform answers another pid once the guest
 * rebooted (qemu's process ended and another began), and the samples go on with it. */
static _Atomic pid_t vm_pid;
static atomic_int pid_asked;
static pid_t current_pid(void *ctx, struct kiln_node *n)
{
    (void)ctx, (void)n;
    atomic_fetch_add(&pid_asked, 1);
    return atomic_load(&vm_pid);
}

static pid_t idle_child(void)
{
    pid_t p = fork();
    if (p == 0) {
        pause();
        _exit(0);
    }
    return p;
}

static void perf_follows_restart(const char *dir)
{
    pid_t a = idle_child(), b = idle_child();
    struct kiln_node node = {.name = "node0"};
    struct kiln_node *nodes[] = {&node};
    atomic_store(&vm_pid, a);
    struct perf *p = perf_start(nodes, 1, current_pid, NULL);
    /* the sampler asks at once, then each second: its second question comes after its first
     * sample was taken (of a: a is alive until then); waited for, not timed */
    for (int i = 0; i < 3000 && atomic_load(&pid_asked) < 2; i++) usleep(10000);
    atomic_store(&vm_pid, b);
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    _cleanup_free_ char *path = path_join(dir, "perf.json");
    perf_finish(p, path); /* its last sample is of b */
    kill(b, SIGKILL);
    waitpid(b, NULL, 0);
    json_t *j = json_load_file(path, 0, NULL), *h = json_object_get(json_object_get(j, "host"), "node0");
    json_t *smp = json_object_get(h, "samples");
    size_t n = json_array_size(smp);
    ok(n >= 2, "perf sampled both processes (%zu samples)", n);
    is_int(json_integer_value(json_object_get(json_array_get(smp, 0), "pid")), a, "the first sample is of the first VM process");
    is_int(json_integer_value(json_object_get(json_array_get(smp, n ? n - 1 : 0), "pid")), b,
           "the last is of the process that replaced it, not cut off where the first ended");
    is_int(json_integer_value(json_object_get(h, "restarts")), 1, "one restart counted");
    ok(json_real_value(json_object_get(h, "cpu_s")) >= 0, "CPU time summed per process is not negative");
    json_decref(j);
}

int main(void)
{
    char dir[] = "/tmp/kiln-sched-XXXXXX";
    mkdtemp(dir);
    struct kiln_runbook rb = {0};
    rb.platform.admin_username = "root";
    struct kiln_selected sel[ARRAY_SIZE(cases)];
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        sel[i] = (struct kiln_selected){.c = &cases[i], .times = 1, .retry = 0, .timeout_s = 60};
    sel[4].retry = 1;
    sel[9].timeout_s = 1;
    sel[0].times = 3;

    struct kiln_results r = run(1, 100000, sel, ARRAY_SIZE(sel), &rb, dir);
    is_int(r.n, ARRAY_SIZE(cases) + 2, "times: 3 gives three results");
    ok(find(&r, "a_pass1#3") && find(&r, "a_pass1#3")->status == ST_PASSED, "repeated case ids are numbered");
    const struct kiln_result *gpu = find(&r, "c_gpu");
    is_int(gpu->status, ST_SKIPPED, "unmet requirement skips");
    is_str(gpu->reason, "needs feature gpu, fake has none", "skip reason names the dimension");
    is_int(find(&r, "d_flaky")->status, ST_FLAKY, "fail then pass on retry is flaky");
    is_int(find(&r, "d_flaky")->attempts, 2, "two attempts");
    is_int(find(&r, "e_fails")->status, ST_FAILED, "failing case");
    is_str(find(&r, "e_fails")->reason, "value 3, expected 4", "fail reason kept");
    is_int(find(&r, "f_skips")->status, ST_SKIPPED, "case-level skip");
    is_int(find(&r, "g_nics3")->status, ST_FAILED, "deploy failure fails the case");
    has(find(&r, "g_nics3")->reason, "no SSH after", "with the deploy reason");
    has(find(&r, "h_nics3_again")->reason, "deployment failed earlier", "same spec fails fast afterwards");
    has(find(&r, "i_timeout")->reason, "timed out after 1 s", "timeout reason");
    is_int(find(&r, "j_nics4")->status, ST_PASSED, "a deployment that fails once is retried");
    is_int((int)find(&r, "j_nics4")->nnotes, 1, "and the case says so");
    has(find(&r, "j_nics4")->notes[0], "the first deployment failed and the second succeeded; the first: IO-APIC",
        "naming the first failure");
    ok(find(&r, "a_pass2")->nnotes == 0, "no note where nothing happened");
    /* envs: {nics1} for the plain cases, {nics2}, {nics3} failing twice (the deployment is
     * retried once at once; the next case needing nics3 deploys nothing), {nics4} twice */
    is_int(deploys, 6, "environments are reused across cases with the same needs");
    is_int(live, 0, "every environment destroyed");
    is_int(results_exit_code(&r), 1, "exit code 1 with failures");
    results_free(&r);

    deploys = max_live = destroys = 0;
    flaky_calls = 0;
    struct kiln_selected par[4];
    for (int i = 0; i < 4; i++) par[i] = (struct kiln_selected){.c = &cases[2], .times = 1, .timeout_s = 60};
    /* each env costs 1000+256 MiB; a 2600 MiB budget fits two at once */
    r = run(4, 2600, par, 4, &rb, dir);
    ok(max_live <= 2, "memory admission: at most 2 environments at once (saw %d)", max_live);
    ok(deploys >= 2, "concurrency used more than one environment (%d)", deploys);
    is_int(live, 0, "all destroyed");
    results_free(&r);

    r = run(1, 500, par, 1, &rb, dir);
    has(r.v[0].reason, "needs 1256 MiB of host memory", "an environment that can never fit is refused with numbers");
    results_free(&r);

    deploys = 0;
    struct kiln_selected seq[3] = {
        {.c = &cases[0], .times = 1, .timeout_s = 60},
        {.c = &breaker, .times = 1, .timeout_s = 60},
        {.c = &cases[1], .times = 1, .timeout_s = 60},
    };
    r = run(1, 100000, seq, 3, &rb, dir);
    is_int(deploys, 2, "a case that broke its node makes the next case get a fresh environment");
    ok(!streq(r.v[0].env, r.v[2].env), "the case after the breaker ran on %s, not %s", r.v[2].env, r.v[0].env);
    ok(streq(r.v[0].env, r.v[1].env), "cases before it shared one environment");
    is_int(live, 0, "all destroyed");
    results_free(&r);

    /* a case that crashes its node (verify_kdump) runs after the others of its environment,
     * though selected first (examples/hpc.yml: area hpc, then verify_kdump; here the other way) */
    struct kiln_selected crash[3] = {
        {.c = &crasher, .times = 1, .timeout_s = 60},
        {.c = &first, .times = 1, .timeout_s = 60},
        {.c = &second, .times = 1, .timeout_s = 60},
    };
    r = run(1, 100000, crash, 3, &rb, dir);
    is_str(ran, "first second crasher ", "the crashing case runs last in its environment");
    is_str(r.v[0].id, "crasher", "results keep the selection order");
    results_free(&r);

    /* an interrupt inside a case: attempted, with the plain reason other cases get */
    struct kiln_selected cutsel[2] = {{.c = &cut, .times = 1, .timeout_s = 60}, {.c = &first, .times = 1, .timeout_s = 60}};
    r = run(1, 100000, cutsel, 2, &rb, dir);
    kiln_interrupted = 0;
    is_int(r.v[0].status, ST_ATTEMPTED, "a case the interrupt cut is attempted");
    is_str(r.v[0].reason, "run interrupted", "with the plain reason, not the errno of the command it cut");
    is_str(r.v[1].reason, "run interrupted", "as the case the interrupt kept from starting");
    _cleanup_free_ char *cutlog = NULL;
    _cleanup_free_ char *cutpath = xasprintf("%s/cases/cut/log.txt", dir);
    read_file(cutpath, 1 << 16, &cutlog, NULL);
    has(cutlog, "attempt result: failed: cannot run a command on node0: Interrupted system call",
        "the case's own words stay in its log");
    results_free(&r);

    /* libssh gives no text for a channel refused on a dropped session (the kdump log's "cannot
     * open an SSH channel: "): the reason is never empty */
    ssh_session none = ssh_new();
    is_str(node_ssh_why(none), "the session closed (the guest dropped the connection: a crash or a reboot?)",
           "an SSH failure without libssh's words says the session closed");
    ssh_free(none);
    keep_environment(&rb, dir);
    perf_follows_restart(dir);
    rm_rf(dir);
    return tap_done();
}
