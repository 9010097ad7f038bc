#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#include "util/utf8.h"
#include "util/util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int threshold = LOG_INFO;
static FILE *logfile;

void log_set_level(int level)
{
    threshold = level;
}

void log_set_file(FILE *f)
{
    pthread_mutex_lock(&lock);
    logfile = f;
    pthread_mutex_unlock(&lock);
}

int log_full(int level, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *raw = xvasprintf(fmt, ap);
    va_end(ap);
    static const char *names[] = {"debug", "info", "warning", "error"};
    /* messages quote guests, images and servers: their control characters are escaped, so a
     * log line cannot drive the terminal it is shown on */
    char *masked = secret_mask(raw), *msg = utf8_escape_controls(masked, strlen(masked), true);
    free(masked);
    pthread_mutex_lock(&lock);
    if (level >= threshold) {
        if (level >= LOG_WARN) fprintf(stderr, "kiln: %s: %s\n", names[level], msg);
        else fprintf(stderr, "%s\n", msg);
    }
    if (logfile) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char when[32];
        strftime(when, sizeof when, "%H:%M:%S", &tm);
        fprintf(logfile, "%s.%03ld %-7s %s\n", when, ts.tv_nsec / 1000000, names[level], msg);
        fflush(logfile);
    }
    pthread_mutex_unlock(&lock);
    free(msg);
    free(raw);
    if (err < 0) err = -err;
    return -(err ? err : EINVAL);
}
