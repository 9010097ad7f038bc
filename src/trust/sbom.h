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
};

enum sbom_format { SBOM_SPDX, SBOM_CYCLONEDX };

json_t *sbom_make(enum sbom_format f, const struct sbom_subject *s, json_t *pkgs);
/* "spdx" | "cyclonedx" (also "cdx") → format; false when unknown. */
bool sbom_format_parse(const char *s, enum sbom_format *f);
/* File name suffix: ".spdx.json" | ".cdx.json". */
const char *sbom_suffix(enum sbom_format f);
