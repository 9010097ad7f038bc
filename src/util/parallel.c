#include "util/parallel.h"

#include <pthread.h>

#include "util/util.h"

enum { PARALLEL_MAX_THREADS = 64 };

struct pfor {
    size_t n, next;
    void (*fn)(size_t i, void *arg);
    void *arg;
};

static void *pfor_worker(void *p)
{
    struct pfor *j = p;
    for (;;) {
        size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_SEQ_CST);
        if (i >= j->n) return NULL;
        j->fn(i, j->arg);
    }
}

void parallel_for(size_t n, unsigned threads, void (*fn)(size_t i, void *arg), void *arg)
{
    struct pfor j = {.n = n, .fn = fn, .arg = arg};
    pthread_t th[PARALLEL_MAX_THREADS];
    unsigned want = MIN(MAX(threads, 1u), (unsigned)PARALLEL_MAX_THREADS), started = 0;
    if (n < want) want = (unsigned)n;
    /* the caller is one of the workers: threads - 1 more (all the work is its own when none start) */
    for (unsigned i = 1; i < want; i++)
        if (pthread_create(&th[started], NULL, pfor_worker, &j) == 0) started++;
    pfor_worker(&j);
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
}
