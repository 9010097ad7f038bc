/* A gallery: a directory of published image versions that only accepts validated, signed
 * images, and whose catalog is signed too. Layout (docs/trust.md):
 *
 *   GALLERY/gallery.yml                 policy and channels (people edit it)
 *   GALLERY/keys/<KEYID>.pub            trusted minisign public keys (several: key rotation)
 *   GALLERY/index/<serial>.json         the catalog, one file per change, each signed
 *                                       (.minisig) and chained to the one before by its
 *                                       sha256; the highest serial is the current one
 *   GALLERY/images/NAME/VERSION/        one version: artifacts, manifest, SBOMs, provenance, each
 *                                       with its .minisig, run/results.json, entry.json (+.minisig)
 *   GALLERY/.lock                       publishers hold it (flock, exclusive) while they commit;
 *                                       readers hold it shared while they read the catalog
 *
 * A version directory is filled under images/NAME/.incoming-*, checked there, then renamed
 * into place, and only then listed by a new index. Readers trust nothing unsigned: the current
 * index must verify with a trusted key, every entry it lists must exist with the digest and
 * signature it names, and every version directory must be listed. A client remembers the
 * highest serial it saw of each gallery (a state file), so a gallery rolled back to an older
 * signed index is refused. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "trust/minisign.h"
#include "util/yaml.h"

/* The most kiln copies or reads of a version's JSON files (manifest, SBOMs, provenance) and
 * of a linked run's results.json; a disk artifact is bounded by the size its manifest states. */
#define GALLERY_JSON_MAX (64u << 20)

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
    /* how readers check the catalog (set by the caller after gallery_open) */
    const char *const *pin_keys; /* verify with these instead of keys/ (client-side pinning) */
    size_t npin;
    uint64_t min_serial; /* refuse an index older than this */
    const char *state;   /* the client's state file (highest serial seen per gallery), or NULL */
    /* What images/ holds beyond the index's versions (a directory a cut-off publish left, a
     * stray file) fails the load, or with skip_unlisted is left out and named in the
     * catalog's "unlisted" (paths): the update server's view, where one such entry must not
     * stop every image's updates (a rolled-back index is still caught by state). */
    bool skip_unlisted;
    /* when set, gallery_pull tells it each file it pulled (name, size in bytes), signatures
     * apart, once all of them are verified and moved in (set by the caller) */
    void (*pulled)(void *ctx, const char *name, uint64_t bytes);
    void *pulled_ctx;
    /* when set, gallery_publish tells it each file of the version (name, size in bytes),
     * signatures apart, as soon as it is copied into the gallery's staging directory (the long
     * part of a publish); checks follow, so a file told may still be refused */
    void (*staged)(void *ctx, const char *name, uint64_t bytes);
    void *staged_ctx;
};

/* Writes gallery.yml (default policy, required priority max_priority), trusts the keys and
 * writes index serial 0 (no versions, a new random gallery id) signed with key, which must be
 * one of pubkeys. */
int gallery_init(const char *dir, const char *const *pubkeys, size_t nkeys, const struct ms_seckey *key, long max_priority,
                 const char *const *areas, size_t nareas, char **reterr);
/* Loads gallery.yml (errors with file:line:col in d) and the trusted keys. */
int gallery_open(const char *dir, struct gallery **out, struct diags *d, char **reterr);
void gallery_free(struct gallery *g);
/* Copies a public key into keys/<KEYID>.pub (rotation: the old keys stay trusted). */
int gallery_trust(const char *dir, const char *pubkey, char *key_id_out, char **reterr);

struct publish_req {
    const char *prefix;  /* out/NAME-VERSION: PREFIX.manifest.json and what it lists */
    const char *channel;
    const char *run_dir; /* the validation run (results.json), or NULL */
    long support_days;   /* <0: the channel's */
};
/* Checks everything (signatures by trusted keys, digests, SBOMs, provenance, run vs policy,
 * version order in the channel against the verified catalog) and publishes atomically: a
 * signed entry.json, the version directory, then a new index signed with key (one of the
 * gallery's trusted keys). *reterr says why on refusal; a refused or failed publish leaves
 * nothing in the gallery. On success *reterr may hold a warning (g->state not updated). */
int gallery_publish(struct gallery *g, const struct publish_req *r, const struct ms_seckey *key, char **reterr);

/* A publish cut off between moving NAME/VERSION into images/ and writing the index that lists
 * it (its process killed) leaves a directory no index lists, which makes the gallery
 * unreadable. Under the writers' lock, with the newest index verified, removes
 * images/NAME/VERSION when that index does not list it (*dropped set); nothing when it is
 * listed or absent. For a publisher resuming its own cut-off publish (kiln serve). */
int gallery_drop_cut_off(struct gallery *g, const char *name, const char *version, bool *dropped, char **reterr);
/* The verified catalog: {gallery, serial, sha256, file, signed_by, images: [entry]}, each entry
 * being entry.json's fields plus channels, path and entry_sha256 from the index. Fails (naming
 * the file) on a missing, unsigned, damaged or rolled-back index, an entry that is missing,
 * changed or unsigned, and a version directory the index does not list (with g->skip_unlisted
 * the catalog's "unlisted": [path] names it instead). Records the serial in g->state. */
int gallery_load(struct gallery *g, json_t **catalog, char **reterr);
/* The validation run's results.json kept with a version (an entry of gallery_load's catalog)
 * is the one its signed entry names (run.results_sha256); 0 when the entry has no run. */
int gallery_check_run(const struct gallery *g, json_t *entry, char **reterr);
/* Resolves NAME[@VERSION] in a catalog (latest in channel when no version; any channel when
 * channel NULL). */
json_t *gallery_find(json_t *catalog, const char *name, const char *version, const char *channel, char **reterr);
/* Copies a published version (an entry of gallery_load's catalog) into a temp dir inside
 * out_dir (created, with any missing parents, when absent), checks every copy (signature by a
 * trusted key, digest against the signed manifest), checks that no target exists (force:
 * regular files and symlinks may be replaced; never a directory), then moves them in, undoing
 * the moves made if one fails. artifact (a manifest kind: qcow2, raw, vhd-fixed, vhd, tar,
 * kernel, initrd) limits the disk files to one kind; NULL takes all. On failure *wrote says
 * whether out_dir was left changed (an undo that failed too; *reterr names what is left). */
int gallery_pull(struct gallery *g, json_t *entry, const char *artifact, const char *out_dir, bool force, bool *wrote,
                 char **reterr);

/* Moves the files names[0..n) from dir into out_dir, all or nothing: every target checked
 * first (absent; with force, a regular file or symlink), renames that never replace a file
 * without force, and on any failure the moves made so far undone (replaced files restored).
 * *wrote: out_dir was left changed. Exposed for tests. */
int gallery_move_all(const char *dir, const char *out_dir, const char *const *names, size_t n, bool force, bool *wrote,
                     char **reterr);

/* The default client state file: $KILN_STATE_DIR, else $XDG_STATE_HOME/kiln, else
 * ~/.local/state/kiln; then gallery-seen.json. */
char *gallery_state_path(void);
