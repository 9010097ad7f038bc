/* Emptying kiln's cache directory (kiln clean): kiln_cache_path's directory. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The names directly under the cache directory that kiln writes (every kiln_cache_path caller
 * names one of these first): only they are removed, anything else there is left alone. */
extern const char *const kiln_cache_entries[];

struct cache_item {
    char *path;     /* under the cache directory */
    uint64_t bytes; /* allocated (st_blocks * 512, directories too, as du counts), each inode once */
    int err;        /* 0, or -errno: the first thing under path that could not be removed */
    char *why;      /* with err: what and where ("P is a mount point: ...") */
};
struct cache_report {
    char *dir; /* the cache directory, as given */
    struct cache_item *v;
    size_t n, cap;
    uint64_t bytes; /* the sum of v[].bytes */
    char **foreign; /* entries there that are not kiln's, left alone */
    size_t nforeign, fcap;
};

/* Removes kiln's entries (kiln_cache_entries; each child of a directory one as its own item)
 * under dir, or with dry_run only measures them. Never follows a symlink (one is removed as a
 * link), never descends into another filesystem or a mount point (that item's err is -EXDEV,
 * the rest go on). dir missing: 0 and no items. -EPERM with why when dir is a symlink, or is /
 * or $HOME or one of its parents (a mistaken KILN_CACHE must not empty a home); other -errno
 * when dir cannot be opened. An item that could not be removed whole is 0 returned with its
 * err set. r is filled in either case; cache_report_free frees it. */
int cache_clean(const char *dir, bool dry_run, struct cache_report *r, char **reterr);
void cache_report_free(struct cache_report *r);
