#include "run/perf.h"

#include <jansson.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "util/util.h"

struct host_sample {
    pid_t pid; /* the VM's process this sample is of: a restarted VM's CPU time starts again */
    double t, cpu_s;
    long long rss_kib, read_bytes, write_bytes;
};

struct guest_counters {
    bool ok;
    long long cpu_busy, cpu_total; /* clock ticks */
    long long mem_total_kib, mem_avail_kib;
    long long disk_read, disk_write; /* bytes, whole disks */
    long long net_rx, net_tx;        /* bytes, all interfaces but lo */
    char boot_id[40];                /* counters restart when it changes */
};

struct perf_node {
    struct kiln_node *node;
    struct host_sample *s;
    size_t ns, cap;
    struct guest_counters g0, g1;
};

struct perf {
    struct perf_node *n;
    size_t nn;
    perf_pid_fn pid_of;
    void *ctx;
    double t0;
    pthread_t th;
    bool running, stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static bool host_sample(pid_t pid, double t, struct host_sample *out)
{
    char path[64];
    char *text = NULL;
    *out = (struct host_sample){.pid = pid, .t = t, .rss_kib = -1, .read_bytes = -1, .write_bytes = -1};
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_file(path, 1 << 16, &text, NULL) < 0) return false;
    /* after "pid (comm) ": state is field 3, utime and stime are fields 14 and 15 */
    char *p = strrchr(text, ')');
    unsigned long long ut = 0, st = 0;
    bool ok = p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2;
    free(text);
    if (!ok) return false;
    out->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_file(path, 1 << 16, &text, NULL) == 0) {
        char *r = strstr(text, "VmRSS:");
        if (r) out->rss_kib = strtoll(r + 6, NULL, 10);
        free(text);
    }
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    if (read_file(path, 1 << 16, &text, NULL) == 0) {
        char *r = strstr(text, "\nread_bytes:"), *w = strstr(text, "\nwrite_bytes:");
        if (r) out->read_bytes = strtoll(r + 12, NULL, 10);
        if (w) out->write_bytes = strtoll(w + 13, NULL, 10);
        free(text);
    }
    return true;
}

/* vda, sdb, xvdc, nvme0n1: whole disks (partitions and device-mapper would count twice). */
static bool whole_disk(const char *name)
{
    size_t l = strlen(name);
    if ((startswith(name, "vd") || startswith(name, "sd") || startswith(name, "xvd")) && l > 2)
        return name[l - 1] >= 'a' && name[l - 1] <= 'z';
    if (startswith(name, "nvme")) return !strchr(name + 4, 'p');
    return false;
}

static void guest_read(struct kiln_node *n, struct guest_counters *g)
{
    *g = (struct guest_counters){0};
    if (!n || n->bad || !n->ssh) return;
    _cleanup_free_ char *out = NULL;
    if (node_read_counters(n, 10, &out) < 0) return;
    const char *section = "";
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (startswith(line, "== ")) {
            section = line + 3;
            continue;
        }
        if (streq(section, "stat") && startswith(line, "cpu ")) {
            long long v[10] = {0};
            int k = sscanf(line + 4, "%lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                           &v[6], &v[7]);
            for (int i = 0; i < k; i++) g->cpu_total += v[i];
            g->cpu_busy = g->cpu_total - v[3] - v[4]; /* minus idle and iowait */
        } else if (streq(section, "meminfo")) {
            if (startswith(line, "MemTotal:")) g->mem_total_kib = strtoll(line + 9, NULL, 10);
            else if (startswith(line, "MemAvailable:")) g->mem_avail_kib = strtoll(line + 13, NULL, 10);
        } else if (streq(section, "diskstats")) {
            char name[64];
            long long rd = 0, wr = 0;
            if (sscanf(line, "%*u %*u %63s %*u %*u %lld %*u %*u %*u %lld", name, &rd, &wr) == 3 && whole_disk(name)) {
                g->disk_read += rd * 512;
                g->disk_write += wr * 512;
            }
        } else if (streq(section, "sys/kernel/random/boot_id")) {
            snprintf(g->boot_id, sizeof g->boot_id, "%s", strstrip(line));
        } else if (streq(section, "net/dev")) {
            char *colon = strchr(line, ':');
            if (!colon) continue;
            *colon = 0;
            long long rx = 0, tx = 0;
            if (!streq(strstrip(line), "lo") &&
                sscanf(colon + 1, "%lld %*d %*d %*d %*d %*d %*d %*d %lld", &rx, &tx) == 2) {
                g->net_rx += rx;
                g->net_tx += tx;
            }
        }
    }
    g->ok = g->cpu_total > 0 && g->mem_total_kib > 0;
}

static void sample_all(struct perf *p)
{
    double t = now_s() - p->t0;
    for (size_t i = 0; i < p->nn; i++) {
        struct perf_node *pn = &p->n[i];
        struct host_sample s;
        pid_t pid = p->pid_of(p->ctx, pn->node);
        if (pid > 0 && host_sample(pid, t, &s)) *APPEND(pn->s, pn->ns, pn->cap) = s;
    }
}

static void *sampler(void *arg)
{
    struct perf *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        pthread_mutex_unlock(&p->lock);
        sample_all(p);
        pthread_mutex_lock(&p->lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (!p->stop) pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct perf *perf_start(struct kiln_node **nodes, size_t n, perf_pid_fn pid_of, void *ctx)
{
    struct perf *p = xcalloc(1, sizeof *p);
    p->n = xcalloc(n ? n : 1, sizeof *p->n);
    p->nn = n;
    p->pid_of = pid_of;
    p->ctx = ctx;
    p->t0 = now_s();
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (size_t i = 0; i < n; i++) {
        p->n[i].node = nodes[i];
        guest_read(nodes[i], &p->n[i].g0);
    }
    /* sampled while the platform has processes to ask about, even a VM off at the start */
    if (pid_of) p->running = pthread_create(&p->th, NULL, sampler, p) == 0;
    return p;
}

static json_t *guest_json(const struct guest_counters *a, const struct guest_counters *b)
{
    if (!b->ok) return json_null();
    /* the guest rebooted during the case (smoke, lifecycle, tests asking for it): its
     * counters started again, so the figures cover the time since that boot */
    bool rebooted = a->ok && (!streq(a->boot_id, b->boot_id) || b->cpu_total < a->cpu_total);
    static const struct guest_counters zero = {.ok = true};
    const struct guest_counters *first = a;
    if (rebooted) a = &zero;
    else if (!a->ok) return json_null();
    double ticks = (double)(b->cpu_total - a->cpu_total);
    json_t *o = json_object();
    json_object_set_new(o, "cpu_busy_pct", json_real(ticks > 0 ? 100.0 * (double)(b->cpu_busy - a->cpu_busy) / ticks : 0));
    json_object_set_new(o, "mem_total_kib", json_integer(b->mem_total_kib));
    json_object_set_new(o, "mem_used_kib_start", json_integer(first->mem_total_kib - first->mem_avail_kib));
    json_object_set_new(o, "mem_used_kib_end", json_integer(b->mem_total_kib - b->mem_avail_kib));
    json_object_set_new(o, "disk_read_bytes", json_integer(b->disk_read - a->disk_read));
    json_object_set_new(o, "disk_write_bytes", json_integer(b->disk_write - a->disk_write));
    json_object_set_new(o, "net_rx_bytes", json_integer(b->net_rx - a->net_rx));
    json_object_set_new(o, "net_tx_bytes", json_integer(b->net_tx - a->net_tx));
    if (rebooted) json_object_set_new(o, "rebooted", json_true());
    return o;
}

static json_t *host_json(const struct perf_node *pn)
{
    if (pn->ns == 0) return json_null();
    const struct host_sample *f = &pn->s[0], *l = &pn->s[pn->ns - 1];
    json_t *o = json_object(), *arr = json_array();
    long long rss_max = 0, rd = 0, wr = 0;
    double cpu = 0;
    int restarts = 0;
    bool io = true;
    for (size_t i = 0; i < pn->ns; i++) {
        const struct host_sample *s = &pn->s[i];
        rss_max = MAX(rss_max, s->rss_kib);
        /* counters are per process: a restarted VM's count from its own first sample */
        if (i && s->pid == s[-1].pid) {
            cpu += s->cpu_s - s[-1].cpu_s;
            io = io && s->read_bytes >= 0 && s[-1].read_bytes >= 0;
            if (io) rd += s->read_bytes - s[-1].read_bytes, wr += s->write_bytes - s[-1].write_bytes;
        } else if (i) restarts++;
        json_array_append_new(arr, json_pack("{s:i, s:f, s:f, s:I, s:I, s:I}", "pid", (int)s->pid, "t", s->t, "cpu_s", s->cpu_s,
                                             "rss_kib", (json_int_t)s->rss_kib, "read_bytes", (json_int_t)s->read_bytes,
                                             "write_bytes", (json_int_t)s->write_bytes));
    }
    double span = l->t - f->t;
    json_object_set_new(o, "pid", json_integer(f->pid));
    json_object_set_new(o, "restarts", json_integer(restarts));
    json_object_set_new(o, "cpu_s", json_real(cpu));
    json_object_set_new(o, "cpu_pct", json_real(span > 0 ? 100.0 * cpu / span : 0));
    json_object_set_new(o, "rss_max_kib", json_integer(rss_max));
    if (io && f->read_bytes >= 0) {
        json_object_set_new(o, "read_bytes", json_integer(rd));
        json_object_set_new(o, "write_bytes", json_integer(wr));
    }
    json_object_set_new(o, "samples", arr);
    return o;
}

void perf_finish(struct perf *p, const char *path)
{
    if (!p) return;
    if (p->running) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->th, NULL);
        sample_all(p);
    }
    json_t *host = json_object(), *guest = json_object();
    for (size_t i = 0; i < p->nn; i++) {
        struct perf_node *pn = &p->n[i];
        guest_read(pn->node, &pn->g1);
        const char *name = pn->node ? pn->node->name : "node";
        json_object_set_new(host, name, host_json(pn));
        json_object_set_new(guest, name, guest_json(&pn->g0, &pn->g1));
        free(pn->s);
    }
    json_t *doc = json_pack("{s:f, s:i, s:o, s:o}", "duration_s", now_s() - p->t0, "interval_s", 1, "host", host, "guest", guest);
    json_write_file(path, doc);
    json_decref(doc);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->n);
    free(p);
}
