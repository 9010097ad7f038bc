/* A gallery: a directory of published image versions that only accepts validated, signed
 * images. Layout (docs/trust.md):
 *
 *   GALLERY/gallery.yml                 policy and channels (people edit it)
 *   GALLERY/keys/<KEYID>.pub            trusted minisign public keys (several: key rotation)
 *   GALLERY/index.json                  the catalog; replaced atomically, readers see only it
 *   GALLERY/images/NAME/VERSION/        one version: artifacts, manifest, SBOMs, provenance, each
 *                                       with its .minisig, run/results.json, entry.json
 *   GALLERY/.lock                       serialises publishers (flock)
 *
 * A version directory is filled under images/NAME/.incoming-*, checked there, then renamed
 * into place, and only then listed in index.json. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/yaml.h"

struct gallery_channel {
    char *name;
    long support_days;
};

struct gallery {
    char *dir;
    char **keys; /* trusted public key files */
    size_t nkeys;
    /* what a linked validation run must show */
    bool require_run;
    long max_priority; /* every built-in case at or below it must pass; -1: none by priority */
    char **areas, **cases;
    size_t nareas, ncases;
    bool allow_skipped;
    long max_failures;
    struct gallery_channel *channels;
    size_t nchannels;
};

/* Writes gallery.yml (default policy, required priority max_priority) and trusts the keys. */
int gallery_init(const char *dir, const char *const *pubkeys, size_t nkeys, long max_priority, const char *const *areas,
                 size_t nareas, char **err);
/* Loads gallery.yml (errors with file:line:col in d) and the trusted keys. */
int gallery_open(const char *dir, struct gallery **out, struct diags *d, char **err);
void gallery_free(struct gallery *g);
/* Copies a public key into keys/<KEYID>.pub (rotation: the old keys stay trusted). */
int gallery_trust(const char *dir, const char *pubkey, char *key_id_out, char **err);

struct publish_req {
    const char *prefix;  /* out/NAME-VERSION: PREFIX.manifest.json and what it lists */
    const char *channel;
    const char *run_dir; /* the validation run (results.json), or NULL */
    long support_days;   /* <0: the channel's */
};
/* Checks everything (signatures by trusted keys, digests, SBOMs, provenance, run vs policy,
 * version order in the channel) and publishes atomically. *err says why on refusal. */
int gallery_publish(struct gallery *g, const struct publish_req *r, char **err);

/* The catalog (index.json), or an empty one. */
json_t *gallery_index(const struct gallery *g);
/* Resolves NAME[@VERSION] (latest in channel when no version; any channel when channel NULL). */
json_t *gallery_find(json_t *index, const char *name, const char *version, const char *channel, char **err);
/* Copies a published version into a temp dir under out_dir, checks every copy (signature by
 * a trusted key, digest against the signed manifest), then moves them into out_dir. artifact
 * (a manifest kind: qcow2, raw, vhd-fixed, vhd, tar, kernel, initrd) limits the disk files to
 * one kind; NULL takes all. Nothing appears in out_dir on failure. */
int gallery_pull(struct gallery *g, json_t *entry, const char *artifact, const char *const *pubkeys, size_t npub,
                 const char *out_dir, char **err);
