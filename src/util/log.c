#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#include "util/utf8.h"
#include "util/util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int threshold = LOG_INFO;
static bool stamps;
static FILE *logfile;

void log_set_stamps(bool on) { stamps = on; }

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
        char when[32] = "";
        if (stamps) {
            time_t t = time(NULL);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ ", &tm);
        }
        if (level >= LOG_WARN) fprintf(stderr, "%skiln: %s: %s\n", when, names[level], msg);
        else fprintf(stderr, "%s%s\n", when, msg);
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
