#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#include "util/util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int threshold = LOG_INFO;
static FILE *logfile;
static char **secrets;
static size_t nsecrets, capsecrets;

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

void secret_add(const char *value)
{
    if (!value || !*value) return;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nsecrets; i++)
        if (streq(secrets[i], value)) goto out;
    *APPEND(secrets, nsecrets, capsecrets) = xstrdup(value);
out:
    pthread_mutex_unlock(&lock);
}

void secret_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nsecrets; i++) free(secrets[i]);
    free(secrets);
    secrets = NULL;
    nsecrets = capsecrets = 0;
    pthread_mutex_unlock(&lock);
}

static char *mask_locked(const char *s)
{
    char *cur = xstrdup(s);
    for (size_t i = 0; i < nsecrets; i++) {
        const char *sec = secrets[i];
        size_t sl = strlen(sec);
        if (!strstr(cur, sec)) continue;
        struct sbuf b = {0};
        const char *p = cur, *q;
        while ((q = strstr(p, sec))) {
            sbuf_append(&b, p, (size_t)(q - p));
            sbuf_puts(&b, "******");
            p = q + sl;
        }
        sbuf_puts(&b, p);
        free(cur);
        cur = sbuf_steal(&b);
    }
    return cur;
}

char *secret_mask(const char *s)
{
    pthread_mutex_lock(&lock);
    char *r = mask_locked(s ? s : "");
    pthread_mutex_unlock(&lock);
    return r;
}

void secret_vfprintf(FILE *f, const char *fmt, va_list ap)
{
    char *raw = xvasprintf(fmt, ap);
    char *m = secret_mask(raw);
    fputs(m, f);
    fflush(f);
    free(m);
    free(raw);
}

void secret_fprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    secret_vfprintf(f, fmt, ap);
    va_end(ap);
}

int log_full(int level, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *raw = xvasprintf(fmt, ap);
    va_end(ap);
    static const char *names[] = {"debug", "info", "warning", "error"};
    pthread_mutex_lock(&lock);
    char *msg = mask_locked(raw);
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
