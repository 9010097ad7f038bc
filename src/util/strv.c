#include "util/strv.h"

#include <stdlib.h>

#include "util/util.h"

void strv_push(struct strv *sv, const char *s)
{
    strv_consume(sv, xstrdup(s));
}

void strv_consume(struct strv *sv, char *s)
{
    *APPEND(sv->v, sv->n, sv->cap) = s;
}

const char *strv_find(const struct strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (streq(sv->v[i], s)) return sv->v[i];
    return NULL;
}

void strv_clear(struct strv *sv)
{
    strv_free(sv->v, sv->n);
    *sv = (struct strv){0};
}

void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

const char *strset_intern(struct strset *set, const char *s)
{
    pthread_mutex_lock(&set->lock);
    const char *p = strv_find(&set->sv, s);
    if (!p) {
        strv_push(&set->sv, s);
        p = set->sv.v[set->sv.n - 1];
    }
    pthread_mutex_unlock(&set->lock);
    return p;
}

bool strset_contains(struct strset *set, const char *s)
{
    pthread_mutex_lock(&set->lock);
    bool found = strv_find(&set->sv, s) != NULL;
    pthread_mutex_unlock(&set->lock);
    return found;
}

void strset_clear(struct strset *set)
{
    pthread_mutex_lock(&set->lock);
    strv_clear(&set->sv);
    pthread_mutex_unlock(&set->lock);
}
