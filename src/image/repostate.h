/* The state of a package repository, read from the one file a package manager reads first:
 * apt's dists/SUITE/InRelease (or Release) and dnf's repodata/repomd.xml. `kiln build` puts it
 * in the rootfs cache key (a repository that changed means a new package tree) and in the
 * manifest (the snapshot the tree was built from). Both parsers take untrusted bytes (a
 * mirror's answer): bounded by their input, never more than one pass over it. Signatures are
 * not checked here: the package manager checks them when it builds the tree. */
#pragma once
#include <stddef.h>

/* A Release or InRelease file (Debian repository format,
 * https://wiki.debian.org/DebianRepository/Format; InRelease is the same text clearsigned as
 * RFC 4880 section 7 describes). */
struct repo_release {
    char *date;        /* the Date field as written (RFC 2822 UTC), NULL when absent */
    char indexes[65];  /* SHA-256 (hex) over the SHA256 entries of the package indexes a build
                        * reads: COMPONENT/binary-ARCH/Packages* and COMPONENT/binary-all/Packages*
                        * for the given components; "" when none is listed */
    size_t nindexes;   /* how many entries went into indexes */
};

/* Parses text[0..len) (NUL bytes allowed; only the first paragraph counts, as apt reads it).
 * arch is Debian's name (amd64, arm64). Returns 0 with *out filled (free with
 * repo_release_free); -EBADMSG with *reterr when the text is not a Release file: a clearsigned
 * message without its signature block, or a paragraph with none of Suite, Codename and
 * SHA256 (an HTML error page served as 200, say). */
int repo_release_parse(const char *text, size_t len, const char *const *components, size_t ncomponents,
                       const char *arch, struct repo_release *out, char **reterr);
void repo_release_free(struct repo_release *r);

/* repomd.xml (createrepo's format: a <repomd> root with <revision> and one <data> per
 * metadata file, each with a <timestamp> in seconds since the epoch). */
struct repo_repomd {
    char *revision;      /* <revision>'s text (at most 128 bytes kept), NULL when absent */
    long long timestamp; /* the newest <data><timestamp>, -1 when none is a whole number */
};

/* Parses with libxml2 (no network, no entity expansion, no DTD loading). Returns 0 with *out
 * filled (free with repo_repomd_free); -EBADMSG with *reterr when the text is not XML or its root
 * is not <repomd>. */
int repo_repomd_parse(const char *text, size_t len, struct repo_repomd *out, char **reterr);
void repo_repomd_free(struct repo_repomd *r);
