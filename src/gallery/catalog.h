/* The gallery's catalog files, as bytes ↔ checked JSON (the format is kiln's own; docs/trust.md):
 *
 *   index/<serial>.json   {schema: "kiln.gallery.index/v1", gallery: 32 hex digits (random, set
 *                          at init), serial: 0.., previous_sha256: sha256 of index <serial-1>'s
 *                          bytes (null only at serial 0), updated: UTC time,
 *                          images: [{name, version, arch?, channels: [..], entry_sha256}]}
 *   images/NAME/VERSION/entry.json
 *                         {schema: "kiln.gallery.entry/v1", name, version, arch?, channel, published,
 *                          support_end, supersedes: version | null, manifest_sha256,
 *                          run: {results_sha256 (of run/results.json), ..} | null,
 *                          files: [{file, sha256, signed_by}]}
 *   arch: the manifest's (image/manifest.h: x86_64 for a manifest without one), written by every
 *   publish; an entry or index item written before kiln recorded it has none.
 *
 * Each file has a minisign signature beside it (FILE.minisig). These functions only parse: the
 * caller verifies the signature over exactly the bytes it then passes here. Input is bounded
 * (CATALOG_*_MAX); anything unexpected (a duplicate key, a wrong type, an unsafe name, a
 * duplicate version) is an error with a message saying what and where, never a partial result. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CATALOG_INDEX_SCHEMA "kiln.gallery.index/v1"
#define CATALOG_ENTRY_SCHEMA "kiln.gallery.entry/v1"
#define CATALOG_INDEX_MAX (16u << 20) /* bytes: about 50,000 versions */
#define CATALOG_ENTRY_MAX (1u << 20)
#define CATALOG_SERIAL_MAX ((uint64_t)1 << 53) /* exact in any JSON reader */

/* Names, versions and channels become directory names: a strict charset without '/', 1..128
 * bytes, no leading '.' or '-', no "..". */
bool catalog_safe_name(const char *s);
/* 0 and *out (the parsed index), or -EINVAL with *reterr saying what is wrong. */
int catalog_parse_index(const char *data, size_t len, json_t **out, char **reterr);
int catalog_parse_entry(const char *data, size_t len, json_t **out, char **reterr);
/* The bytes kiln signs: sorted keys, 2-space indent, a trailing newline. NULL on ENOMEM. */
char *catalog_dump(const json_t *j);
/* "index/0000000007.json"-style base names: catalog_index_name(7) → "0000000007.json";
 * catalog_index_serial accepts exactly the names catalog_index_name makes. */
char *catalog_index_name(uint64_t serial);
bool catalog_index_serial(const char *name, uint64_t *serial);
