#include <pthread.h>

#include "model/case.h"
#include "util/util.h"

/* Bounds of the linker section that KILN_CASE fills. */
extern const struct kiln_case *const __start_kiln_cases[] __attribute__((weak));
extern const struct kiln_case *const __stop_kiln_cases[] __attribute__((weak));

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct kiln_case **all;
static size_t nall, capall, nbuiltin;
static bool loaded;

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const struct kiln_case *const *)a)->name, (*(const struct kiln_case *const *)b)->name);
}

static void load_builtin(void)
{
    if (loaded) return;
    loaded = true;
    for (const struct kiln_case *const *p = __start_kiln_cases; p && p < __stop_kiln_cases; p++)
        *APPEND(all, nall, capall) = *p;
    nbuiltin = nall;
    qsort(all, nall, sizeof *all, by_name);
}

const struct kiln_case *const *registry_all(size_t *n)
{
    pthread_mutex_lock(&lock);
    load_builtin();
    *n = nall;
    pthread_mutex_unlock(&lock);
    return (const struct kiln_case *const *)all;
}

void registry_add(const struct kiln_case *c)
{
    pthread_mutex_lock(&lock);
    load_builtin();
    *APPEND(all, nall, capall) = c;
    qsort(all + nbuiltin, nall - nbuiltin, sizeof *all, by_name);
    pthread_mutex_unlock(&lock);
}

const struct kiln_case *registry_find(const char *name)
{
    size_t n;
    const struct kiln_case *const *v = registry_all(&n);
    for (size_t i = 0; i < n; i++)
        if (streq(v[i]->name, name)) return v[i];
    return NULL;
}
