/* A bounded parallel for: fn(i, ctx) for every i in [0, n), on at most `threads` threads that
 * take the next index as they finish one (so one slow item does not hold the others back).
 * For work that is I/O and hashing bound over a few large files (artifacts of a build, files of
 * a gallery version). fn must be safe to call concurrently for different i; the order of the
 * calls is not defined, only that each i is done once before parallel_for returns. When no
 * thread can be started, the calling thread does all of it. */
#pragma once
#include <stddef.h>

void parallel_for(size_t n, unsigned threads, void (*fn)(size_t i, void *ctx), void *ctx);
