/* Build provenance: an in-toto Statement v1 whose predicate is SLSA Provenance v1
 * (https://slsa.dev/spec/v1.0/provenance). Subjects are the build's outputs; the spec file and
 * its digest are the external parameters; every installed package is a resolved dependency
 * with the digest of the package file it was installed from. */
#pragma once
#include <jansson.h>
#include <stdint.h>

struct provenance_in {
    const char *spec_path;   /* the spec file as given */
    const char *spec_sha256;
    const char *family;      /* "deb" | "rpm" */
    json_t *os_release;
    json_t *packages;        /* pkgdb_list */
    json_t *digests;         /* pkgdb_file_digests: the package files' sha256, or NULL */
    json_t *subjects;        /* [{name, digest: {sha256}}] */
    json_t *parameters;      /* anything else the build was asked for (outputs, layout, epoch) */
    int64_t started, finished;
};

json_t *provenance_make(const struct provenance_in *in);

/* in-toto / SLSA constants, also checked by `kiln publish` */
#define INTOTO_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define SLSA_PROVENANCE_TYPE "https://slsa.dev/provenance/v1"
#define KILN_BUILD_TYPE "urn:kiln:build-type:image:v1"
