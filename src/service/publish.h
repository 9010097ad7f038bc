/* Self-service publishing (kiln serve): a job submitted with publish {channel, files} is, once
 * it passed, published into its tenant's gallery DATA/galleries/TENANT through gallery_publish,
 * the same gates as `kiln publish` (every file signed by a key the tenant trusts, digests,
 * SBOMs and provenance agree, the job's run passed the gallery's required selection and booted
 * this version's image, the version newer than the channel's). The gallery's catalog is signed
 * with the server's gallery key (kiln serve --gallery-key), which the gallery trusts beside the
 * tenant's keys.
 *
 * Where the name and version come from: the version's manifest, read only after its signature
 * verified with one of the tenant's trusted keys; the signature's trusted comment, when it
 * names a file (kiln sign's "file:NAME"), must name that manifest, and the manifest must have
 * been submitted as NAME-VERSION.manifest.json. The names of the other files are the ones the
 * signed manifest lists; the submission only says which upload (digest) holds each.
 *
 * Messages given to the tenant name its files, never the server's paths. */
#pragma once
#include "service/store.h"
#include "trust/minisign.h"

struct kiln_publisher {
    const char *data;            /* DATA: galleries/ under it, images/DIGEST the uploads, jobs/ID the runs */
    const struct ms_seckey *key; /* the server's gallery key */
    const char *key_pub;         /* its public key file */
    long require_priority;       /* a new gallery's required selection: built-in cases at or below */
};

/* Publishes job j (taken with kiln_store_publish_take) for its tenant. 1: published (*reterr
 * says what: "NAME VERSION in channel C"); 0: refused (*reterr says why: the job did not pass,
 * no trusted key, a file unsigned or changed, the run short of the policy, an older version).
 * Nothing is published unless every gate passed. */
int kiln_publish_job(const struct kiln_publisher *p, struct kiln_store *st, const struct kiln_job *j, char **reterr);

/* Publishes a server stopped in the middle of are resumed this many times, then refused. */
#define KILN_PUBLISH_TAKES_MAX 3

/* Takes the next job to publish (kiln_store_publish_take), publishes it holding a lock of its
 * own under DATA/galleries/.publishing while it runs, and records the outcome. A resumed
 * publish (taken before) whose version the gallery's channel already holds with the same
 * manifest is published: the stopped server had committed it. 1: one was handled; 0: none;
 * -errno (*reterr) from the store. */
int kiln_publish_next(const struct kiln_publisher *p, struct kiln_store *st, char **reterr);
/* Publishes left "publishing" since before taken_before_ms whose lock no live server holds (the
 * server publishing it was stopped: kill -9, a crash, power): pending again, so the next
 * kiln_publish_next resumes it, or refused after KILN_PUBLISH_TAKES_MAX takes. Returns how
 * many were handled, or -errno. */
int kiln_publish_recover(const struct kiln_publisher *p, struct kiln_store *st, int64_t taken_before_ms, char **reterr);
