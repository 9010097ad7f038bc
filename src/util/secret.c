#include "util/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/strv.h"
#include "util/util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct strv secrets; /* guarded by lock */
static atomic_ulong write_failures;
static atomic_int first_failure;

void secret_add(const char *value)
{
    if (!value || !*value) return;
    pthread_mutex_lock(&lock);
    if (!strv_find(&secrets, value)) strv_push(&secrets, value);
    pthread_mutex_unlock(&lock);
}

size_t secret_mark(void)
{
    pthread_mutex_lock(&lock);
    size_t n = secrets.n;
    pthread_mutex_unlock(&lock);
    return n;
}

void secret_release(size_t mark)
{
    pthread_mutex_lock(&lock);
    while (secrets.n > mark) free(secrets.v[--secrets.n]);
    pthread_mutex_unlock(&lock);
}

void secret_clear(void)
{
    pthread_mutex_lock(&lock);
    strv_clear(&secrets);
    pthread_mutex_unlock(&lock);
}

size_t secret_max_len(void)
{
    pthread_mutex_lock(&lock);
    size_t m = 0;
    for (size_t i = 0; i < secrets.n; i++) m = MAX(m, strlen(secrets.v[i]));
    pthread_mutex_unlock(&lock);
    return m;
}

bool secret_contains(const char *s)
{
    if (!s) return false;
    pthread_mutex_lock(&lock);
    bool found = false;
    for (size_t i = 0; i < secrets.n && !found; i++) found = strstr(s, secrets.v[i]) != NULL;
    pthread_mutex_unlock(&lock);
    return found;
}

/* Secrets one after the other, as a secret may contain another. */
static void mask_locked(const char *s, size_t len, struct sbuf *out)
{
    struct sbuf cur = {0};
    sbuf_append(&cur, s, len);
    for (size_t i = 0; i < secrets.n; i++) {
        const char *sec = secrets.v[i];
        size_t l = strlen(sec);
        if (!memmem(cur.s, cur.len, sec, l)) continue;
        struct sbuf b = {0};
        const char *p = cur.s, *end = cur.s + cur.len, *q;
        while ((q = memmem(p, (size_t)(end - p), sec, l))) {
            sbuf_append(&b, p, (size_t)(q - p));
            sbuf_puts(&b, SECRET_MASK);
            p = q + l;
        }
        sbuf_append(&b, p, (size_t)(end - p));
        sbuf_free(&cur);
        cur = b;
    }
    if (!cur.s) sbuf_append(&cur, "", 0);
    *out = cur;
}

char *secret_mask_n(const char *s, size_t len)
{
    struct sbuf b;
    pthread_mutex_lock(&lock);
    mask_locked(s ? s : "", s ? len : 0, &b);
    pthread_mutex_unlock(&lock);
    return sbuf_steal(&b);
}

char *secret_mask(const char *s)
{
    return secret_mask_n(s, s ? strlen(s) : 0);
}

static size_t cut_locked(const char *s, size_t len, size_t max)
{
    size_t c = MIN(max, len);
    for (bool moved = true; moved;) {
        moved = false;
        for (size_t i = 0; i < secrets.n; i++) {
            size_t l = strlen(secrets.v[i]);
            for (size_t st = c >= l ? c - l + 1 : 0; st < c; st++)
                if (memcmp(s + st, secrets.v[i], MIN(len - st, l)) == 0) {
                    c = st;
                    moved = true;
                    break;
                }
        }
    }
    return c;
}

size_t secret_cut(const char *s, size_t len, size_t max)
{
    pthread_mutex_lock(&lock);
    size_t c = cut_locked(s, len, max);
    pthread_mutex_unlock(&lock);
    return c;
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

static void count_failure(int err)
{
    int none = 0;
    atomic_compare_exchange_strong(&first_failure, &none, err ? err : EIO);
    atomic_fetch_add(&write_failures, 1);
}

unsigned long secret_write_failures(int *first)
{
    if (first) *first = atomic_load(&first_failure);
    return atomic_load(&write_failures);
}

/* ---- the masking stream (fopencookie) ---- */

struct mstream {
    int fd;       /* the file, or -1 when writing to under */
    FILE *under;
    struct sbuf pend; /* bytes not yet known not to start a secret */
    bool failed;
};

static int emit(struct mstream *m, const char *s, size_t len)
{
    if (!len || m->failed) return m->failed ? -1 : 0;
    if (m->under) {
        if (fwrite(s, 1, len, m->under) != len || fflush(m->under) != 0) goto fail;
        return 0;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(m->fd, s + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto fail;
        off += (size_t)n;
    }
    return 0;
fail:
    count_failure(errno);
    m->failed = true;
    return -1;
}

/* Masks and writes pend up to where a secret could still be starting (all of it when final). */
static int drain(struct mstream *m, bool final)
{
    struct sbuf out;
    pthread_mutex_lock(&lock);
    size_t ready = final ? m->pend.len : cut_locked(m->pend.s, m->pend.len, m->pend.len);
    mask_locked(m->pend.s, ready, &out);
    pthread_mutex_unlock(&lock);
    int r = emit(m, out.s, out.len);
    sbuf_free(&out);
    memmove(m->pend.s, m->pend.s + ready, m->pend.len - ready);
    m->pend.len -= ready;
    m->pend.s[m->pend.len] = 0;
    return r;
}

static ssize_t ms_write(void *cookie, const char *buf, size_t size)
{
    struct mstream *m = cookie;
    sbuf_append(&m->pend, buf, size);
    /* stdio treats 0 as an error and sets the stream's error flag */
    return drain(m, false) < 0 ? 0 : (ssize_t)size;
}

static int ms_close(void *cookie)
{
    struct mstream *m = cookie;
    int r = m->pend.len ? drain(m, true) : 0;
    if (m->fd >= 0 && close(m->fd) < 0 && r == 0) {
        count_failure(errno);
        r = -1;
    }
    sbuf_free(&m->pend);
    free(m);
    return r;
}

static FILE *ms_open(int fd, FILE *under)
{
    struct mstream *m = xcalloc(1, sizeof *m);
    m->fd = fd;
    m->under = under;
    FILE *f = fopencookie(m, "w", (cookie_io_functions_t){.write = ms_write, .close = ms_close});
    if (!f) free(m);
    return f;
}

FILE *secret_fopen(const char *path, bool append, unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), mode);
    if (fd < 0) return NULL;
    FILE *f = ms_open(fd, NULL);
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

FILE *secret_fwrap(FILE *under)
{
    return ms_open(-1, under);
}

int secret_write_file(const char *path, const char *data, size_t len, unsigned mode)
{
    struct sbuf m;
    pthread_mutex_lock(&lock);
    mask_locked(data ? data : "", data ? len : 0, &m);
    pthread_mutex_unlock(&lock);
    int r = write_file_atomic(path, m.s, m.len, mode);
    sbuf_free(&m);
    if (r < 0) count_failure(-r);
    return r;
}

int secret_write_structured(const char *path, const char *data, size_t len, unsigned mode)
{
    int r = write_file_atomic(path, data ? data : "", data ? len : 0, mode);
    if (r < 0) count_failure(-r);
    return r;
}
