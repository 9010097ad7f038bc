/* Small helpers with no kiln knowledge: memory, strings, cleanup attributes. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* kiln's one error convention (docs/architecture.md, "Conventions"): a function returns 0 or a
 * negative errno, and the message, when there is one, goes out through `char **reterr`: a
 * malloc'd sentence the caller frees. reterr may be NULL (the caller wants no message).
 * err_setf replaces any earlier message with the formatted one; err_appendf adds the formatted
 * text to the end of it (or sets it when there is none). Both return r, so
 * `return err_setf(reterr, -EINVAL, "...")` says and fails in one line. The arguments may name
 * *reterr itself: the new text is formatted before the old one is freed. */
int err_setf(char **reterr, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* err_setf for a wrapper that takes its own variable arguments. */
int err_vsetf(char **reterr, int r, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
int err_appendf(char **reterr, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Grows *arr (element size sz) so index n fits; capacity tracked in *cap. */
void *grow_array(void *arr, size_t sz, size_t n, size_t *cap);
#define APPEND(arr, n, cap) ((arr) = grow_array((arr), sizeof(*(arr)), (n) + 1, &(cap)), &(arr)[(n)++])

static inline void freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ __attribute__((cleanup(freep)))

bool streq(const char *a, const char *b);
bool startswith(const char *s, const char *prefix);
bool endswith(const char *s, const char *suffix);
char *strstrip(char *s);
size_t levenshtein(const char *a, const char *b);
/* Shell-quotes s in single quotes for a POSIX sh. */
char *shell_quote(const char *s);
char *base64_encode(const void *data, size_t len);
/* Parses a whole decimal integer; false on garbage or overflow. */
bool parse_long(const char *s, long *out);
/* The same for what a person types as an option: only "0" or digits not starting with 0,
 * optionally after one '-' ("0100", " 5", "+5", "5.", "-0" and overflow are refused), so a
 * number has one spelling. */
bool parse_long_strict(const char *s, long *out);
/* A whole decimal number as programs print measurements ("12", "-0.5", "1.5e3"): digits, '.',
 * a sign and an exponent only, finite. No hex float, inf, nan, blanks or trailing text. */
bool parse_double(const char *s, double *out);

/* Growable string buffer. */
struct sbuf {
    char *s;
    size_t len, cap;
};
void sbuf_append(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sbuf_steal(struct sbuf *b);
void sbuf_free(struct sbuf *b);
