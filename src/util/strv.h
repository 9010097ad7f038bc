/* String vectors: a growable array of owned strings (struct strv), the one helper that frees
 * any counted array of strings (strv_free), and a thread-safe set of strings (struct strset)
 * for the process-wide lists (loaded YAML file names, directories already uploaded). */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct strv {
    char **v;
    size_t n, cap;
};

/* Appends a copy of s (never NULL). */
void strv_push(struct strv *sv, const char *s);
/* Appends s itself: the vector owns it from now on. */
void strv_consume(struct strv *sv, char *s);
/* The stored string equal to s, or NULL. */
const char *strv_find(const struct strv *sv, const char *s);
/* Frees every string and the array; the vector is empty and reusable after. */
void strv_clear(struct strv *sv);

/* Frees v[0..n) and v (NULL entries and a NULL v are fine). */
void strv_free(char **v, size_t n);

/* A set of strings behind its own lock; stored strings keep their address until strset_clear. */
struct strset {
    pthread_mutex_t lock;
    struct strv sv;
};
#define STRSET_INIT {PTHREAD_MUTEX_INITIALIZER, {0}}

/* The stored copy of s, added when it was not there. */
const char *strset_intern(struct strset *set, const char *s);
bool strset_contains(struct strset *set, const char *s);
/* Empties the set, freeing its strings (earlier strset_intern results become invalid). */
void strset_clear(struct strset *set);
