/* A bounded parallel for: the same work over many independent items (hashing gigabytes of
 * artifacts, checking signatures) on a few threads, the caller waiting for all of them. */
#pragma once
#include <stddef.h>

/* Calls fn(i, arg) once for every i in [0, n), at most `threads` calls at a time (0 counts as
 * 1; at most 64): the calling thread and up to threads - 1 more each take the next index when
 * they finish one, so one large item does not hold up the rest. fn writes its result into
 * arg's slot i: calls for different i share nothing else. Returns when every call has
 * returned; when no thread can be started, the caller makes every call itself. */
void parallel_for(size_t n, unsigned threads, void (*fn)(size_t i, void *arg), void *arg);
