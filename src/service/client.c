/* The service's HTTP client: see client.h. */
#include "service/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/util.h"

#define RESP_MAX (4 << 20)

struct kiln_client {
    char *base;
    char *auth; /* "Authorization: Bearer ..." */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int kiln_client_new(const char *base, const char *token, struct kiln_client **out, char **reterr)
{
    /* credentials in the URL would be printed with it in every message: refuse, unechoed */
    const char *auth = strstr(base, "://");
    size_t alen = auth ? strcspn(auth + 3, "/?#") : 0;
    if (auth && memchr(auth + 3, '@', alen)) {
        *reterr = xstrdup("--server: the URL holds a user name or password (user:password@host); give the "
                       "server's address only and the token in KILN_TOKEN or KILN_WORKER_TOKEN");
        return -EINVAL;
    }
    /* a token goes into a header: anything but its own alphabet could add headers */
    size_t tl = token ? strlen(token) : 0;
    if (tl > 256 || (token && token[strspn(token, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")])) {
        *reterr = xstrdup("the token holds characters a kiln token never has (tokens are kt_ or kw_ and 64 hex "
                       "digits, as kiln tenant add and kiln worker add print them)");
        return -EINVAL;
    }
    if (!startswith(base, "http://") && !startswith(base, "https://")) {
        *reterr = xasprintf("--server %s: want an http:// or https:// URL, e.g. http://127.0.0.1:8470", base);
        return -EINVAL;
    }
    pthread_once(&once, global_init);
    struct kiln_client *c = xcalloc(1, sizeof(*c));
    c->base = xstrdup(base);
    size_t n = strlen(c->base);
    while (n && c->base[n - 1] == '/') c->base[--n] = 0;
    c->auth = xasprintf("Authorization: Bearer %s", token ? token : "");
    *out = c;
    return 0;
}

void kiln_client_free(struct kiln_client *c)
{
    if (!c) return;
    explicit_bzero(c->auth, strlen(c->auth));
    free(c->auth);
    free(c->base);
    free(c);
}

struct sink {
    struct sbuf b;
    FILE *f;
    int fd;
    bool over;
};

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = sz * n;
    if (s->fd >= 0) return write(s->fd, p, len) == (ssize_t)len ? len : 0;
    if (s->f) return fwrite(p, 1, len, s->f);
    if (s->b.len + len > RESP_MAX) {
        s->over = true;
        return 0;
    }
    sbuf_append(&s->b, p, len);
    return len;
}

/* What every request sets: method, URL, headers, where the answer goes, the timeouts. */
static void set_common(CURL *k, const struct kiln_http *h, const char *url, struct curl_slist *hdr, struct sink *sk, char *ebuf)
{
    curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, h->method);
    curl_easy_setopt(k, CURLOPT_URL, url);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, sk);
    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https");
    if (h->timeout_s) curl_easy_setopt(k, CURLOPT_TIMEOUT, h->timeout_s);
    /* a dead connection ends a stream or an upload: under 1 byte/s for a minute */
    curl_easy_setopt(k, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(k, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(k, CURLOPT_ERRORBUFFER, ebuf);
}

int kiln_client_do(struct kiln_client *c, const struct kiln_http *h, long *status, char **resp, char **reterr)
{
    CURL *k = curl_easy_init();
    if (!k) return -ENOMEM;
    _cleanup_free_ char *url = xasprintf("%s%s", c->base, h->path);
    struct curl_slist *hdr = curl_slist_append(NULL, c->auth);
    hdr = curl_slist_append(hdr, h->upload ? "Content-Type: application/octet-stream" : "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    struct sink sk = {.fd = h->stream_fd};
    _cleanup_free_ char *tmp = NULL;
    int tfd = -1;
    if (h->download && h->stream_fd < 0) {
        tfd = open_beside(h->download, 0644, &tmp);
        if (tfd < 0) {
            *reterr = xasprintf("cannot write %s: %s", h->download, strerror(-tfd));
            curl_slist_free_all(hdr);
            curl_easy_cleanup(k);
            return tfd;
        }
        sk.f = fdopen(tfd, "w");
    }
    FILE *up = NULL;
    if (h->upload) {
        up = fopen(h->upload, "rb");
        struct stat sb;
        if (!up || fstat(fileno(up), &sb) < 0) {
            int e = errno;
            *reterr = xasprintf("cannot read %s: %s", h->upload, strerror(e));
            if (up) fclose(up);
            if (sk.f) fclose(sk.f), unlink(tmp);
            curl_slist_free_all(hdr);
            curl_easy_cleanup(k);
            return -e;
        }
        curl_easy_setopt(k, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(k, CURLOPT_READDATA, up);
        curl_easy_setopt(k, CURLOPT_INFILESIZE_LARGE, (curl_off_t)sb.st_size);
    } else if (h->body || streq(h->method, "POST")) {
        curl_easy_setopt(k, CURLOPT_POSTFIELDS, h->body ? h->body : "");
        curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(h->body ? h->body_len : 0));
    }
    char ebuf[CURL_ERROR_SIZE] = "";
    set_common(k, h, url, hdr, &sk, ebuf);
    CURLcode cr = curl_easy_perform(k);
    *status = 0;
    curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, status);
    if (h->retry_after_s) {
        curl_off_t ra = 0;
        *h->retry_after_s = curl_easy_getinfo(k, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0 ? (long)MIN(ra, 86400) : 0;
    }
    int r = 0;
    if (cr != CURLE_OK && !(*status && cr == CURLE_WRITE_ERROR && sk.over)) {
        r = cr == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
        *reterr = xasprintf("%s %s: %s", h->method, url, *ebuf ? ebuf : curl_easy_strerror(cr));
    }
    if (up) fclose(up);
    if (sk.f) {
        bool ok = r == 0 && *status / 100 == 2;
        if (fflush(sk.f) != 0 || fsync(fileno(sk.f)) != 0) ok = false;
        fclose(sk.f);
        if (ok && rename(tmp, h->download) == 0) { /* done */
        } else {
            unlink(tmp);
            if (r == 0 && *status / 100 == 2) {
                r = -EIO;
                *reterr = xasprintf("cannot write %s: %s", h->download, strerror(errno));
            }
        }
    }
    if (resp) *resp = sbuf_steal(&sk.b);
    else sbuf_free(&sk.b);
    if (resp && !*resp) *resp = xstrdup("");
    curl_slist_free_all(hdr);
    curl_easy_cleanup(k);
    return r;
}

int kiln_client_unpack(const char *request, const char *resp, json_t **out, char **reterr, const char *fmt, ...)
{
    json_error_t je;
    json_t *j = json_loads(resp ? resp : "", 0, &je);
    int r = 0;
    if (!json_is_object(j)) {
        *reterr = xasprintf("the server's reply to %s is not a JSON object (%.80s): is the URL a kiln server's?", request,
                         resp ? resp : "");
        r = -EBADMSG;
    } else {
        va_list ap;
        va_start(ap, fmt);
        if (json_vunpack_ex(j, &je, 0, fmt, ap) < 0) {
            *reterr = xasprintf("the server's reply to %s lacks what kiln needs: %s (a server of another version, or not "
                             "a kiln server; check --server)",
                             request, je.text);
            r = -EBADMSG;
        }
        va_end(ap);
    }
    if (r < 0) {
        json_decref(j);
        j = NULL;
    }
    *out = j;
    return r;
}

char *kiln_client_error_text(long status, const char *resp)
{
    json_t *j = resp ? json_loads(resp, 0, NULL) : NULL;
    const char *e = json_string_value(json_object_get(j, "error")), *f = json_string_value(json_object_get(j, "field"));
    /* a reply with no body (a HEAD, or a proxy's) still says what the status means */
    const char *plain = status == 401 ? "the server refused the token: check --token (or $KILN_TOKEN, $KILN_WORKER_TOKEN)"
                        : status == 403 ? "forbidden"
                        : status == 404 ? "not found on the server"
                        : status == 413 ? "too large for the server"
                        : status == 429 ? "too many requests; try again later"
                        : status >= 500 ? "the server failed; try again later" : "the server refused the request";
    char *out = e ? (f ? xasprintf("HTTP %ld: %s: %s", status, f, e) : xasprintf("HTTP %ld: %s", status, e))
                  : resp && *resp ? xasprintf("HTTP %ld: %.200s", status, resp)
                                  : xasprintf("HTTP %ld: %s", status, plain);
    json_decref(j);
    return out;
}

long kiln_client_backoff_s(long status, long retry_after_s)
{
    if ((status != 503 && status != 429) || retry_after_s <= 0) return 0;
    return retry_after_s < KILN_RETRY_AFTER_MAX_S ? retry_after_s : KILN_RETRY_AFTER_MAX_S;
}
