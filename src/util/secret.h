/* Secrets (runbook variables marked is_secret, -v s:NAME=VALUE, passphrases) and the one
 * masking writer every file and line kiln produces goes through.
 *
 * A registered secret is replaced by "******" wherever it occurs. Text is masked where its
 * bytes are written, not where it is built, and anything that shortens text first asks
 * secret_cut() where it may cut, so a cut never leaves the first bytes of a secret behind. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SECRET_MASK "******"
/* Secrets a user gives (runbook variables, -v s:) shorter than this are refused where they are
 * defined: every occurrence of one to three bytes ("a", "1", a quote) would be masked in every
 * log and report, leaving none readable, and kiln would refuse to start any program whose
 * arguments hold such bytes. Reports stay well-formed whatever is registered (see
 * secret_write_structured). */
#define SECRET_MIN_LEN 4

void secret_add(const char *value);
void secret_clear(void);
/* How many secrets are registered, and forgetting those registered after such a mark: a
 * long-running process that loads other people's runbooks (kiln serve checking a tenant's)
 * masks with their secrets while it answers, then drops them, so they neither outlive the
 * request nor pile up. Callers serialise mark and release against other registrations. */
size_t secret_mark(void);
void secret_release(size_t mark);
/* True when some registered secret occurs in s. */
bool secret_contains(const char *s);
/* s with every secret replaced by SECRET_MASK; newly allocated, NUL-terminated. */
char *secret_mask(const char *s);
char *secret_mask_n(const char *s, size_t len);
/* Where text s[0..len) may be cut at or before max (max <= len): max itself unless a secret
 * occurrence would straddle it, else the start of that occurrence. Bytes past len are
 * unknown, so a secret's first bytes at the very end of s count as an occurrence. */
size_t secret_cut(const char *s, size_t len, size_t max);
/* The longest registered secret, bytes (0 without secrets). */
size_t secret_max_len(void);

/* A write-only stream whose bytes are masked before they reach path (created with mode, or
 * appended to when append is true). Data that could be the start of a secret is held back
 * until the next write or fclose, so secrets split across writes are masked too. */
FILE *secret_fopen(const char *path, bool append, unsigned mode);
/* The same onto an open stream (stderr, stdout); fclose of the result leaves under open. */
FILE *secret_fwrap(FILE *under);
/* write_file_atomic of the masked text. For text only (logs): masking serialised JSON, XML or
 * HTML would rewrite their syntax when a secret is a quote, a brace or a substring of markup. */
int secret_write_file(const char *path, const char *data, size_t len, unsigned mode);
/* write_file_atomic of a structured file (JSON, XML, HTML) whose writer passed every value
 * through secret_mask() before serialising it (so the encoder escapes the mask, and the
 * syntax is never touched): written as it is, counted like the other writes. Names, keys and
 * fixed words of the format (status names, dates, numbers) are the format's own, not data. */
int secret_write_structured(const char *path, const char *data, size_t len, unsigned mode);
/* fprintf with every secret masked, then fflush. */
void secret_fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void secret_vfprintf(FILE *f, const char *fmt, va_list ap);

/* Writes through the streams above that failed (ENOSPC, EIO ...): how many, and the first
 * error (positive errno) in *first. A run checks it before saying its logs are complete. */
unsigned long secret_write_failures(int *first);
