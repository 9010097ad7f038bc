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

void secret_add(const char *value);
void secret_clear(void);
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
/* write_file_atomic of the masked text. */
int secret_write_file(const char *path, const char *data, size_t len, unsigned mode);
/* fprintf with every secret masked, then fflush. */
void secret_fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void secret_vfprintf(FILE *f, const char *fmt, va_list ap);

/* Writes through the streams above that failed (ENOSPC, EIO ...): how many, and the first
 * error (positive errno) in *first. A run checks it before saying its logs are complete. */
unsigned long secret_write_failures(int *first);
