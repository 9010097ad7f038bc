/* Software bills of materials for an OS image: SPDX 2.3 JSON and CycloneDX 1.5 JSON, both from
 * the package list the image's own database gives (trust/pkgdb.h). Output is deterministic: the
 * same image and creation time give the same bytes. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct sbom_subject {
    const char *name, *version; /* the image (or os-release NAME/VERSION_ID for a stock image) */
    const char *arch;           /* the image's architecture ("x86_64", "aarch64"), or NULL when unknown */
    const char *family;         /* "deb" | "rpm" */
    json_t *os_release;         /* object, may be empty */
    const char *file;           /* the image file described, or NULL */
    const char *sha256;         /* its digest, or NULL */
    int64_t created;            /* unix time (SOURCE_DATE_EPOCH in builds) */
    json_t *licenses;           /* sbom_licenses' object for the packages, or NULL */
    json_t *digests;            /* pkgdb_file_digests' object, or NULL */
};

enum sbom_format { SBOM_SPDX, SBOM_CYCLONEDX };

/* One document for the image and its packages (pkgdb_list's array). A package's declared
 * license is the SPDX expression s->licenses gives for its name (NOASSERTION without one), its
 * checksum the SHA-256 s->digests gives for it. */
json_t *sbom_make(enum sbom_format f, const struct sbom_subject *s, json_t *pkgs);
/* The license a Debian machine-readable copyright file declares (DEP-5, "copyright-format 1.0",
 * https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/): the License: names of
 * its Files paragraphs (the header's when there are none) as one SPDX license expression, the
 * paragraphs joined by AND. Debian short names SPDX knows are translated (GPL-2+ becomes
 * GPL-2.0-or-later, Expat MIT, BSD-3-clause BSD-3-Clause); any other name, and "X with Y
 * exception", becomes LicenseRef-NAME, whose text (the stand-alone License paragraph, else the
 * name and where it was found) is set in refs. NULL when the text is not such a file or names
 * no license. text need not be NUL-terminated; doc is the file's path, for the texts. */
char *sbom_dep5_license(const char *text, size_t len, const char *doc, json_t *refs);
/* {NAME: {"declared": EXPRESSION, "refs": {"LicenseRef-…": TEXT}}} for the deb packages of
 * pkgs whose /usr/share/doc/NAME/copyright in the tree rootfd is machine-readable (read inside
 * the tree, at most SBOM_COPYRIGHT_MAX bytes each); an empty object for rpm packages, whose
 * database carries their license. */
#define SBOM_COPYRIGHT_MAX (1u << 20)
json_t *sbom_licenses(int rootfd, const char *family, json_t *pkgs);
/* "spdx" | "cyclonedx" (also "cdx") → format; false when unknown. */
bool sbom_format_parse(const char *s, enum sbom_format *f);
/* A comma-separated list of those ("spdx,cyclonedx") → a set, bit 1 << format; false when a
 * name is unknown or the list is empty. */
bool sbom_formats_parse(const char *s, unsigned *set);
/* File name suffix: ".spdx.json" | ".cdx.json". */
const char *sbom_suffix(enum sbom_format f);
