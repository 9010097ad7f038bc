/* A tiny TAP producer for unit tests. */
#pragma once
#include <stdbool.h>

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
bool tap_is_str(const char *got, const char *want, const char *file, int line, const char *what);
bool tap_has(const char *hay, const char *needle, const char *file, int line, const char *what);
int tap_done(void);

#define ok(cond, ...) tap_ok((cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, what) tap_is_str((got), (want), __FILE__, __LINE__, (what))
#define has(hay, needle, what) tap_has((hay), (needle), __FILE__, __LINE__, (what))
bool tap_is_int(long got, long want, const char *file, int line, const char *what);
#define is_int(got, want, what) tap_is_int((long)(got), (long)(want), __FILE__, __LINE__, (what))
