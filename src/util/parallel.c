#include "util/parallel.h"

#include <pthread.h>

#include "util/util.h"

struct pf {
    size_t n, next;
    void (*fn)(size_t i, void *ctx);
    void *ctx;
};

static void *worker(void *arg)
{
    struct pf *p = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_SEQ_CST);
        if (i >= p->n) return NULL;
        p->fn(i, p->ctx);
    }
}

void parallel_for(size_t n, unsigned threads, void (*fn)(size_t i, void *ctx), void *ctx)
{
    struct pf p = {.n = n, .fn = fn, .ctx = ctx};
    threads = threads ? MIN(threads, 64u) : 1;
    if (threads > n) threads = n ? (unsigned)n : 1;
    pthread_t th[64];
    unsigned started = 0;
    for (unsigned i = 0; i < threads && threads > 1; i++)
        if (pthread_create(&th[started], NULL, worker, &p) == 0) started++;
    if (!started) worker(&p);
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
}
