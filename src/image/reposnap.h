/* A snapshot of the package repositories a build installs from: each repository's Release /
 * InRelease (apt) or repomd.xml (dnf), fetched the way the package manager fetches it, from
 * http(s):// (libcurl) or file:// URLs. `kiln build` keys its cached package trees on it and
 * records it in the manifest (docs/image.md). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct json_t;

/* One repository as the package manager reads it. */
struct repo_src {
    char *url;          /* base URL without a trailing '/', http(s):// or file:// (dnf's
                         * $releasever and $basearch expanded) */
    char *suite;        /* apt: the suite, read from URL/dists/SUITE/; NULL: an rpm repository */
    char **components;  /* apt: the components the build reads */
    size_t ncomponents;
    char *signed_by;    /* apt: the keyring of a spec's repository (sources.list signed-by), or NULL */
};
void repo_srcs_free(struct repo_src *s, size_t n);

struct repo_state {
    const char *url, *suite; /* the source's (not copied) */
    const char *file;        /* what was read: "InRelease", "Release" or "repodata/repomd.xml" */
    char sha256[65];         /* of that file's bytes */
    char *date;              /* Release's Date field; for rpm the newest repomd <timestamp>, RFC 3339 UTC */
    char *revision;          /* rpm: repomd's <revision> */
    char key[65];            /* what the cache key takes: apt, the digest over the package indexes the
                              * build reads for its components and arch (Release changes that touch
                              * none of them, such as a new Date, keep the key), else sha256 */
    char *error;             /* set when the repository could not be read; then only url and suite are */
};

/* Limits per file: 8 MiB (Debian's InRelease is about 150 KiB), timeout_s in all (connect
 * within 10 s). apt's order: dists/SUITE/InRelease, then Release when InRelease is not there
 * (HTTP 404/410, or no such file). Returns 0 when every repository was read; else -EIO,
 * -ENOENT, -EFBIG, -ETIMEDOUT or -EBADMSG of the first that could not be (its error says what
 * and where; the others are still tried). *out always gets n states (free with
 * repo_states_free). */
int repo_snapshot(const struct repo_src *src, size_t n, const char *deb_arch, long timeout_s, struct repo_state **out);
void repo_states_free(struct repo_state *s, size_t n);

/* The manifest's "repositories": [{url, suite (apt), file, sha256, date, revision (rpm)} or
 * {url, suite, error}], in the sources' order. */
struct json_t *repo_states_json(const struct repo_state *s, size_t n);
