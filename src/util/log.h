/* Logging to stderr and to the run's kiln.log. Every line passes through the
 * secret mask, so a secret can never reach a terminal or a log file. */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>

#include "util/secret.h"

enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERR };

void log_set_level(int level);      /* threshold for stderr */
void log_set_stamps(bool on);       /* stderr lines start with the UTC time (2026-12-02T03:04:05Z) */
void log_set_file(FILE *f);         /* all levels; NULL to stop */
/* Logs and returns -abs(err) (or -EINVAL when err is 0) so callers can `return log_error(...)`. */
int log_full(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_full(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, 0, __VA_ARGS__)
#define log_warn(...) log_full(LOG_WARN, 0, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, 0, __VA_ARGS__)
#define log_error_errno(err, ...) log_full(LOG_ERR, (err), __VA_ARGS__)
